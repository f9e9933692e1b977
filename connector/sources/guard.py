"""Protects a source and the sidebar from each other: the source's own threads (a bulkhead: a
stuck source holds only its own), a concurrency cap, a circuit breaker that stops calling a
failing or slow source for a while, and `Retry-After` honoured."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from enum import StrEnum
from typing import TypeVar

from connector.models import SourceState
from connector.sources.base import (
    CircuitConfig,
    SourceError,
    SourceUnavailable,
    current_deadline,
    time_left,
)
from connector.sources.shared_state import SharedFlags

T = TypeVar("T")
log = logging.getLogger(__name__)


class CircuitOpen(SourceUnavailable):
    """The source is not called for now: it failed too often, or asked us to wait."""

    state = SourceState.CIRCUIT_OPEN


STUCK_MARGIN_S = 0.5  # past its deadline by this much, a call that still runs is stuck


class Circuit(StrEnum):
    """The breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class SourceGuard:
    """Runs calls to one source within its limits, on its own threads when submitted. A call
    slower than `slow_s` counts as a failure, even when it answers."""

    def __init__(self, max_concurrency: int, circuit: CircuitConfig, wait_s: float,
                 clock: Callable[[], float] = time.monotonic, *, slow_s: float | None = None,
                 name: str = "source", shared: SharedFlags | None = None) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._config = circuit
        self._wait_s = wait_s
        self._slow_s = slow_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self._paused_for = 0.0
        self._trial = False
        self._running: dict[object, float] = {}  # calls under way, when each began
        # the cluster's word on this source: a circuit another process opened pauses it here
        self._shared = shared
        self._name = name
        self._flag = f"circuit/{name}"
        self.threads = ThreadPoolExecutor(max_workers=max_concurrency,
                                          thread_name_prefix=f"source-{name}")

    def submit(self, task: Callable[[], T]) -> Future[T]:
        """Run a task on this source's own threads (never on another source's, so a source that
        hangs makes only its own work wait)."""
        return self.threads.submit(task)

    def close(self) -> None:
        """Stop the source's threads (tasks not started are dropped)."""
        self.threads.shutdown(wait=False, cancel_futures=True)

    @property
    def state(self) -> Circuit:
        """Closed (calling), open (not calling), or half-open (one trial call allowed)."""
        with self._lock:
            if self._open_until == 0.0:
                return Circuit.CLOSED
            return Circuit.OPEN if self._clock() < self._open_until else Circuit.HALF_OPEN

    def run(self, call: Callable[[], T]) -> T:
        """Call the source, or raise CircuitOpen / SourceUnavailable without calling it (a free
        slot is awaited no longer than the caller's deadline)."""
        self._admit()
        if not self._slots.acquire(timeout=time_left(current_deadline(self._wait_s))):
            self._release_trial()
            raise SourceUnavailable("too many lookups in flight")
        started = self._clock()
        token = object()
        with self._lock:
            self._running[token] = started
        try:
            result = call()
        except SourceUnavailable as exc:
            self._failed(exc.retry_after_s)
            raise
        except SourceError:
            self._failed(None)
            raise
        finally:
            with self._lock:
                del self._running[token]
            self._slots.release()
        if self._slow_s is not None and self._clock() - started > self._slow_s:
            self._failed(None)  # an answer past its deadline is a failure all the same
        else:
            self._succeeded()
        return result

    def paused(self) -> CircuitOpen | None:
        """Why a call would be refused now (open, or half-open with its trial call under way,
        here or in another process), without taking the trial; None when it would be made."""
        elsewhere = self._elsewhere()
        if elsewhere is not None:
            return elsewhere
        with self._lock:
            return self._refusal() if self._open_until != 0.0 else None

    def stuck(self) -> bool:
        """Whether a call is still under way past the longest a call may take (`slow_s`, its
        deadline, and a margin): one the source's own bounds did not end."""
        if self._slow_s is None:
            return False
        limit = self._clock() - self._slow_s - STUCK_MARGIN_S
        with self._lock:
            return any(began < limit for began in self._running.values())

    def overdue(self) -> None:
        """A call still running past its caller's deadline, which the source's own bounds did
        not end (a driver that waits on a server that never answers): a failure, so that a
        source whose calls hang opens its circuit instead of holding every lookup for its
        whole timeout. If it ends some day, it is counted then as any call is."""
        self._failed(None)

    def _admit(self) -> None:
        elsewhere = self._elsewhere()
        if elsewhere is not None:
            raise elsewhere
        with self._lock:
            if self._open_until == 0.0:
                return
            refused = self._refusal()
            if refused is not None:
                raise refused
            self._trial = True

    def _elsewhere(self) -> CircuitOpen | None:
        """Another process opened this source's circuit (read while ours is closed)."""
        if (self._shared is not None and self._open_until == 0.0
                and self._shared.remaining_s(self._flag) > 0):
            return CircuitOpen("paused after errors (seen by another process)")
        return None

    def _refusal(self) -> CircuitOpen | None:
        """With the lock held and the circuit not closed: why a call is refused, if it is."""
        if self._open_until > self._clock():  # the pause's length, not what is left of it:
            # the text is in the record, whose rendered blocks are kept while it is the same
            return CircuitOpen(f"paused for {self._paused_for:.0f} s after errors")
        if self._trial:
            return CircuitOpen("paused: a trial call is under way")
        return None

    def _release_trial(self) -> None:
        with self._lock:
            self._trial = False

    def _failed(self, retry_after_s: float | None) -> None:
        with self._lock:
            self._trial = False
            self._failures += 1
            opened = 0.0
            if retry_after_s:
                opened = retry_after_s
            elif self._failures >= self._config.failures or self._open_until:
                opened = self._config.cooldown_s
            if opened:
                self._open_until = self._clock() + opened
                self._paused_for = opened
            failures = self._failures
        if opened:  # said once here: the lookups it turns away meanwhile are not logged
            why = "it asked us to wait" if retry_after_s else f"{failures} failure(s) in a row"
            log.warning("source %s paused for %g s (%s): records show it unavailable, "
                        "older copies stand in where kept", self._name, opened, why)
        if opened and self._shared is not None:
            self._shared.raise_for(self._flag, opened)

    def _succeeded(self) -> None:
        with self._lock:
            self._trial = False
            self._failures = 0
            reopened, self._open_until = self._open_until != 0.0, 0.0
        if reopened:
            log.info("source %s answers again: calls resumed", self._name)
        if reopened and self._shared is not None:  # this process's trial call succeeded
            self._shared.lower(self._flag)
