"""How fast the write-back queue may call each helpdesk: `calls` per `per_s` seconds, and not
at all while the helpdesk asked us to wait (a 429's Retry-After). In one process the budget is
kept in memory (`LocalBudget`); with the rate limits' storage in Redis
(`CONNECTOR_RATE_LIMIT_STORAGE=redis://…`) it is the cluster's (`SharedBudget`, the `limits`
library's moving window and an expiring pause key): two processes together never exceed the
helpdesk's limit, and a 429 seen by one pauses them all. A call is counted when it is granted,
before it is made: a failed call was made too."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter

from connector.helpdesk.base import Limits
from connector.sources.shared_state import SharedFlags
from connector.store.counters import shared_storage

log = logging.getLogger(__name__)


class CallBudget(Protocol):
    """A helpdesk's call budget, asked before each call."""

    def acquire(self, helpdesk: str, limits: Limits) -> float:
        """0 and the call counted, or how many seconds to wait before asking again."""
        ...

    def pause(self, helpdesk: str, seconds: float) -> None:
        """No call to this helpdesk for `seconds` (it answered 429)."""
        ...


class LocalBudget:
    """This process's budget (`clock`: monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[str, list[float]] = {}  # helpdesk -> recent calls
        self._paused: dict[str, float] = {}  # helpdesk -> when it may resume
        self._lock = threading.Lock()

    def acquire(self, helpdesk: str, limits: Limits) -> float:
        now = self._clock()
        with self._lock:
            paused = self._paused.get(helpdesk, 0.0) - now
            recent = [t for t in self._sent.get(helpdesk, []) if t > now - limits.per_s]
            self._sent[helpdesk] = recent
            full = recent[0] + limits.per_s - now if len(recent) >= limits.calls else 0.0
            wait = max(paused, full, 0.0)
            if wait == 0:
                recent.append(now)
        return wait

    def pause(self, helpdesk: str, seconds: float) -> None:
        with self._lock:
            self._paused[helpdesk] = self._clock() + seconds


class SharedBudget:
    """The cluster's budget in the rate limits' storage; this process's own while that
    storage does not answer (said once per outage; asked again some seconds after a failure,
    a call to it waiting a quarter of a second at most: `connector.store.counters`)."""

    def __init__(self, storage_url: str, prefix: str, fallback: LocalBudget | None = None) -> None:
        self.storage = shared_storage(storage_url, key_prefix=f"{prefix}:writeback")
        self.window = MovingWindowRateLimiter(self.storage)
        self.pauses = SharedFlags(storage_url, prefix)  # a 429's pause, for every process
        self.fallback = fallback or LocalBudget()
        self._away = False

    def acquire(self, helpdesk: str, limits: Limits) -> float:
        # read afresh at each call: another process's 429 must stop this one's next call
        paused = self.pauses.remaining_s(f"writeback-pause/{helpdesk}", max_age_s=0)
        if paused > 0:
            return paused
        if self.pauses.outage.skipping:  # the storage failed a moment ago: left alone
            return self.fallback.acquire(helpdesk, limits)
        try:
            item = RateLimitItemPerSecond(limits.calls, max(1, math.ceil(limits.per_s)))
            if self.window.hit(item, "calls", helpdesk):
                self._back()
                return 0.0
            reset = self.window.get_window_stats(item, "calls", helpdesk).reset_time
            return max(reset - time.time(), 0.1)
        except Exception as exc:  # the storage away: this process's budget stands in
            self._gone(exc)
            return self.fallback.acquire(helpdesk, limits)

    def pause(self, helpdesk: str, seconds: float) -> None:
        self.fallback.pause(helpdesk, seconds)  # this process waits whatever happens below
        self.pauses.raise_for(f"writeback-pause/{helpdesk}", seconds)

    def _gone(self, exc: Exception) -> None:
        self.pauses.outage.failed()  # one storage: the pauses leave it alone too
        if not self._away:
            self._away = True
            log.warning("write-back budget storage unavailable (%s): each process keeps its "
                        "own until it is back", type(exc).__name__)

    def _back(self) -> None:
        if self._away:
            self._away = False
            log.info("write-back budget storage back: the budget is the cluster's again")


def budget_for(storage_url: str, prefix: str) -> CallBudget:
    """The cluster's budget when the rate limits are kept in a shared storage, else this
    process's."""
    if storage_url.startswith("memory://"):
        return LocalBudget()
    return SharedBudget(storage_url, prefix)
