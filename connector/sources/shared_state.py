"""Flags every process sees, each for a while: "source X is paused for N s" (one host learning a
source is down spares the others from finding out again). Kept in the rate limits' storage
(`CONNECTOR_RATE_LIMIT_STORAGE=redis://…`, through the `limits` library's storage: an expiring
counter per flag); read at most once a second per flag by each process, so a source call does
not wait on Redis each time. A storage that does not answer counts as no flag (logged once):
each process then keeps its own circuits, as without it, and asks it again only some seconds
later (`connector.store.counters`: a call to it waits a quarter of a second at most)."""

from __future__ import annotations

import logging
import math
import threading
import time

from connector.store.counters import Backoff, shared_storage

log = logging.getLogger(__name__)
READ_EVERY_S = 1.0  # how stale this process's view of a flag may be


class SharedFlags:
    """Expiring flags under `prefix`, shared by every process using the same storage."""

    def __init__(self, storage_url: str, prefix: str) -> None:
        self.storage = shared_storage(storage_url, key_prefix=f"{prefix}:flags")
        self._seen: dict[str, tuple[float, float]] = {}  # flag -> (read at, raised until)
        self._lock = threading.Lock()
        self._away = False
        self.outage = Backoff()

    def raise_for(self, flag: str, seconds: float) -> None:
        """Raise `flag` for `seconds`, for every process."""
        until = time.time() + seconds
        with self._lock:
            self._seen[flag] = (time.monotonic(), until)
        if self.outage.skipping:
            return
        try:
            self.storage.clear(flag)
            self.storage.incr(flag, max(1, math.ceil(seconds)))
            self._back()
        except Exception as exc:  # the storage away: this process's own circuits stand
            self._gone(exc)

    def remaining_s(self, flag: str, max_age_s: float = READ_EVERY_S) -> float:
        """How long `flag` stays raised (0: not raised), as read within `max_age_s`."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(flag)
        if seen is None or now - seen[0] >= max_age_s:
            until = 0.0  # also while the storage is left alone after a failure
            if not self.outage.skipping:
                try:
                    if self.storage.get(flag):
                        until = float(self.storage.get_expiry(flag))  # type: ignore[arg-type]
                    self._back()
                except Exception as exc:
                    self._gone(exc)
            seen = (now, until)
            with self._lock:
                self._seen[flag] = seen
        return max(seen[1] - time.time(), 0.0)

    def lower(self, flag: str) -> None:
        """Lower `flag` for every process."""
        with self._lock:
            self._seen[flag] = (time.monotonic(), 0.0)
        if self.outage.skipping:
            return
        try:
            self.storage.clear(flag)
        except Exception as exc:
            self._gone(exc)

    def _gone(self, exc: Exception) -> None:
        self.outage.failed()
        if not self._away:
            self._away = True
            log.warning("shared flags storage unavailable (%s): each process keeps its own "
                        "circuits until it is back", type(exc).__name__)

    def _back(self) -> None:
        if self._away:
            self._away = False
            log.info("shared flags storage back")


def shared_flags_for(storage_url: str, prefix: str) -> SharedFlags | None:
    """Flags shared by the cluster when the rate limits are kept in a shared storage."""
    return None if storage_url.startswith("memory://") else SharedFlags(storage_url, prefix)
