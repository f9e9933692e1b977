"""Each source's recent health, for the admin page: success, errors, latency, cache hits."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from connector.models import SourceState, SourceStatus

WINDOW = 500
FAILED = {SourceState.ERROR, SourceState.TIMEOUT, SourceState.CIRCUIT_OPEN, SourceState.STALE}


@dataclass(frozen=True)
class Observation:
    """One answer of a source to one lookup."""

    at: float
    state: SourceState
    latency_ms: float
    from_cache: bool
    error: str | None


@dataclass(frozen=True)
class HealthReport:
    """A source's health over its last answers."""

    lookups: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    cache_hit_rate: float | None
    last_success: float | None
    last_error: str | None
    last_error_at: float | None


class SourceHealth:
    """A rolling window of one source's answers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: deque[Observation] = deque(maxlen=WINDOW)
        self._lock = threading.Lock()
        self._clock = clock
        self._last_success: float | None = None
        self._last_error: tuple[float, str] | None = None

    def observe(self, status: SourceStatus, from_cache: bool) -> None:
        """Record one answer."""
        now = self._clock()
        seen = Observation(now, status.status, status.latency_ms or 0.0, from_cache, status.error)
        with self._lock:
            self._seen.append(seen)
            if status.status in (SourceState.OK, SourceState.NOT_FOUND):
                self._last_success = now
            elif status.error:
                self._last_error = (now, status.error)

    def report(self) -> HealthReport:
        """The figures over the window."""
        with self._lock:
            seen = list(self._seen)
            last_error = self._last_error
            last_success = self._last_success
        fetched = sorted(o.latency_ms for o in seen if not o.from_cache)
        return HealthReport(
            lookups=len(seen),
            error_rate=_share([o.state in FAILED for o in seen]),
            p50_ms=_percentile(fetched, 0.50),
            p95_ms=_percentile(fetched, 0.95),
            cache_hit_rate=_share([o.from_cache for o in seen]),
            last_success=last_success,
            last_error=last_error[1] if last_error else None,
            last_error_at=last_error[0] if last_error else None,
        )


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
