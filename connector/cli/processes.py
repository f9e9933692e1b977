"""Several processes for one service: `connector serve --workers N` binds the port once, then
forks N web processes that serve it (each with its own interpreter: sidebars no longer share one
GIL) and one process for the event worker and the jobs, so a webhook's acknowledgement and a
sidebar never wait behind event work; `connector worker` runs that last part alone, for a
cluster whose web processes run with `--no-worker`.

The parent only supervises: it starts nothing that runs threads before forking, forwards
SIGTERM and SIGINT to its children, waits for them to drain, and starts again a child that died
on its own after it had run a while (after a pause). A child is sent SIGTERM when the parent
dies, however it died (Linux), so none is left serving the port alone. A child that fails as
it starts (a manifest or a schema it cannot run on: starting again would fail again) stops
them all, with its code.
The processes' metrics are shared (`connector.ops.metrics.share_between_processes`), so a
scrape answered by any of them counts them all.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from connector.cli.watchdog import EXIT_STUCK, Heartbeats, attach, watch
from connector.settings import Settings

log = logging.getLogger(__name__)
RESTART_PAUSE_S = 2.0  # before a child that died on its own is started again
WATCH_S = 0.25  # how often the supervisor looks for ended and silent children
ABORT_S = 5.0  # after SIGABRT, a child still there is sent SIGKILL
STARTING_S = 15.0  # a child ending with an error sooner than this failed to start
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies
Child = Callable[[], int]


class Supervisor:
    """Forks the children it is given, keeps them running, stops them all on a signal; ends
    a child whose heartbeat stopped for `stuck_s` (`connector.cli.watchdog`; 0: never)."""

    def __init__(self, children: dict[str, Child],
                 ended: Callable[[int], None] = lambda _pid: None,
                 stuck_s: float = 0.0,
                 restarted: Callable[[str], None] = lambda _why: None) -> None:
        self.children = children
        self.ended = ended  # told each child's pid once it has ended
        self.restarted = restarted  # told why each child is started again
        self.stuck_s = stuck_s
        self.pids: dict[int, str] = {}
        self.started: dict[int, float] = {}
        self.aborted: dict[int, float] = {}  # children sent SIGABRT for not moving, when
        self.stopping = threading.Event()
        self.slots = {name: n for n, name in enumerate(children)}
        self.heartbeats = Heartbeats(len(children))

    def run(self) -> int:
        """Start every child, supervise until SIGTERM or SIGINT, then stop them; 0, or the
        code of a child that could not start."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for name in self.children:
            self._start(name)
        code = 0
        while self.pids:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:  # none ended: look at their heartbeats, then again
                self._watch()
                time.sleep(WATCH_S)
                continue
            name = self.pids.pop(pid, "")
            began = self.started.pop(pid, 0.0)
            silent = self.aborted.pop(pid, None) is not None
            self.ended(pid)
            if not name or self.stopping.is_set():
                continue
            failed = os.waitstatus_to_exitcode(status)
            if failed == EXIT_STUCK:
                log.error("process %s (%s) ended for not moving: started again", pid, name)
                self.restarted("stuck")
                self._start(name)
                continue
            if failed > 0 and time.monotonic() - began < STARTING_S:
                log.error("process %s (%s) could not start (exit %s): stopping the others",
                          pid, name, failed)
                code = failed
                self._on_signal(signal.SIGTERM, None)
                continue
            log.warning("process %s (%s) ended on its own (status %s): started again in %.0f s",
                        pid, name, status, RESTART_PAUSE_S)
            if self.stopping.wait(RESTART_PAUSE_S):
                continue
            self.restarted("silent" if silent else "died")
            self._start(name)
        return code

    def _watch(self) -> None:
        """A child whose heartbeat stopped for `stuck_s` (no thread of it runs: one holds the
        interpreter) is sent SIGABRT — its stacks go to the log — and SIGKILL if it is still
        there `ABORT_S` later; it is then started again."""
        if self.stuck_s <= 0 or self.stopping.is_set():
            return
        now = time.monotonic()
        for pid, name in list(self.pids.items()):
            aborted = self.aborted.get(pid)
            if aborted is not None:
                if now - aborted > ABORT_S:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                continue
            silent = self.heartbeats.silent_for(self.slots[name])
            if silent > self.stuck_s:
                log.error("process %s (%s) has not moved for %.0f s (CONNECTOR_STUCK_S): "
                          "ending it (its threads' stacks follow in its log), to start it "
                          "again", pid, name, silent)
                self.aborted[pid] = now
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGABRT)

    def _start(self, name: str) -> None:
        parent = os.getpid()
        self.heartbeats.reset(self.slots[name])
        pid = os.fork()
        if pid == 0:  # the child: its own signal handlers come with what it runs
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            _stop_with(parent)
            attach(self.heartbeats, self.slots[name])
            code = 1
            try:
                code = self.children[name]()
            except BaseException:  # a child never returns into the parent's loop
                log.exception("process %s failed", name)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pids[pid] = name
        self.started[pid] = time.monotonic()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()
        for pid in list(self.pids):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue


def _stop_with(parent: int) -> None:
    """In a child: be sent SIGTERM (and so drain and stop) when the supervisor dies, even by
    SIGKILL or the OOM killer — never left serving the port alone (Linux's PR_SET_PDEATHSIG;
    elsewhere nothing). A supervisor gone before this ran: stop now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # no prctl here: the supervisor's SIGTERM only
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def listening_socket(settings: Settings) -> socket.socket:
    """The service's port, bound once by the parent and shared by the web processes."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def settle_heap() -> None:
    """Leave what the start built (the code's modules, the manifest, the app: about 150,000
    objects) out of the garbage collector's full passes from now on: each would otherwise go
    over them all again, about 100 ms during which no request of this process moves
    (bench/RESULTS.md). What requests and caches make later is collected as usual."""
    gc.collect()
    gc.freeze()


def lower_priority(by: int) -> None:
    """This process's CPU priority lowered `by` steps (nice(2)), so that on a host it shares
    with web processes the kernel runs an acknowledgement or a sidebar first and gives the
    events what is left (bench/RESULTS.md: acks p99 15 ms instead of 34-146 ms at 200 events/s
    with 1 s sources). Never raised (that needs privileges); where the system refuses, as is."""
    if by <= 0 or not hasattr(os, "nice"):
        return
    try:
        os.nice(by)
    except OSError as exc:
        log.warning("worker priority not lowered (%s)", exc.strerror or exc)


def run_worker(settings: Settings) -> int:
    """The event worker, the outbox and the jobs, at `worker_nice` below the web processes'
    CPU priority, until SIGTERM or SIGINT; 0."""
    from connector.app import build_services

    lower_priority(settings.worker_nice)
    services = build_services(settings)
    settle_heap()
    watch(settings.stuck_s, [services.worker.progress], noted=services.metrics.note_stalled)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    services.worker.start()
    services.jobs.start()
    niceness = f", nice {os.nice(0)}" if hasattr(os, "nice") else ""
    print(f"connector: worker running (pid {os.getpid()}{niceness})", file=sys.stderr,
          flush=True)
    stop.wait()  # a signal's handler sets it
    started = time.monotonic()
    services.close()
    log.info("worker stopped in %.1f s", time.monotonic() - started)
    return 0
