"""A process that stops moving is ended, so that it is started again (`CONNECTOR_STUCK_S`).

Two ways a process of `connector serve` can stop serving without dying, each seen by its own
watch:
- *Its request threads all wait on something that does not come* (a lock, a connection, a
  call with no timeout): its event loop still accepts connections on the port it shares with
  the other web processes and `/healthz` still answers on its own thread, but every request it
  takes waits for ever — a share of the agents' sidebars hang. Likewise an event worker whose
  threads all wait: the events pile up. Seen from inside (`connector.ops.progress.Progress`):
  requests (or events) under way and none ended for `stuck_s`. The process writes every
  thread's stack to its log (where each one waits: code, no data) and ends with `EXIT_STUCK`.
- *No thread of it runs at all* (one holds the interpreter in a C call: a runaway regular
  expression, a library's deadlock): nothing inside can see it. Seen from the supervisor of
  `serve --workers N` (`Heartbeats`): each process writes the time in a shared slot every
  second; one whose slot has not moved for `stuck_s` is sent SIGABRT (Python's
  `faulthandler` writes its threads' stacks without the interpreter's lock), then SIGKILL.

Either way the supervisor starts it again, as any child that ended on its own. A process
`serve` runs alone (`CONNECTOR_WORKERS=1`) ends the same way, for its own supervisor (systemd,
Docker, Kubernetes) to start again; one held by a C call is left to a liveness probe: its
`/healthz` does not answer either.
"""

from __future__ import annotations

import faulthandler
import logging
import mmap
import os
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence

from connector.ops.progress import Progress

log = logging.getLogger(__name__)
EXIT_STUCK = 75  # EX_TEMPFAIL: ended for not moving, to be started again
BEAT_S = 1.0  # how often a process tells it is moving
_SLOT = struct.Struct("d")


class Heartbeats:
    """One slot per child of a supervisor, in memory the children share with it (made before
    they are forked): the time (CLOCK_MONOTONIC, one clock for every process) each last said
    it moves; 0 while it starts."""

    def __init__(self, count: int) -> None:
        self._memory = mmap.mmap(-1, max(count, 1) * _SLOT.size)

    def reset(self, slot: int) -> None:
        """A child about to start in this slot: not judged until it beats."""
        _SLOT.pack_into(self._memory, slot * _SLOT.size, 0.0)

    def beat(self, slot: int) -> None:
        _SLOT.pack_into(self._memory, slot * _SLOT.size, time.monotonic())

    def silent_for(self, slot: int) -> float:
        """Seconds since the child in `slot` last beat; 0 while it has not beaten yet."""
        last: float = _SLOT.unpack_from(self._memory, slot * _SLOT.size)[0]
        return time.monotonic() - last if last > 0 else 0.0


_attached: tuple[Heartbeats, int] | None = None  # this child's slot, set after the fork


def attach(heartbeats: Heartbeats, slot: int) -> None:
    """In a child just forked: the slot its watch beats in."""
    global _attached
    _attached = (heartbeats, slot)


def ended_for_not_moving(stuck_s: float, progress: Progress) -> None:
    """Write every thread's stack to the log, say why, and end this process now (its threads
    cannot be joined: they wait for ever)."""
    log.error("no %s ended for %.0f s while %d were under way (CONNECTOR_STUCK_S): ending this "
              "process so that it is started again; where each thread waits follows",
              progress.what, stuck_s, progress.under_way)
    for handler in logging.getLogger().handlers:
        handler.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(EXIT_STUCK)


def watch(stuck_s: float, progresses: Sequence[Progress],
          on_stuck: Callable[[float, Progress], None] = ended_for_not_moving,
          noted: Callable[[str, float], None] = lambda _what, _seconds: None
          ) -> threading.Thread:
    """Start this process's watch (a daemon thread): each second, note how long each kind of
    its work (requests, events) has not moved (`noted`: the metrics), beat in the supervisor's
    slot (when there is one), and end the process when one has not moved for `stuck_s`
    (`on_stuck`; `stuck_s` 0: never). Also lets SIGABRT write every thread's stack."""
    if not faulthandler.is_enabled():
        faulthandler.enable(all_threads=True)

    def run() -> None:
        told = False
        while True:
            stalled = [(one, one.stuck_for()) for one in progresses]
            for one, seconds in stalled:
                try:  # a failing reading must not stop the watch (nor its heartbeat)
                    noted(one.what, seconds)
                except Exception:
                    if not told:
                        log.exception("the watchdog's readings are not noted")
                    told = True
            stuck = [one for one, seconds in stalled if 0 < stuck_s < seconds]
            if stuck:
                on_stuck(stuck_s, stuck[0])
                return
            if _attached is not None:
                _attached[0].beat(_attached[1])
            time.sleep(BEAT_S)

    thread = threading.Thread(target=run, name="watchdog", daemon=True)
    thread.start()
    return thread
