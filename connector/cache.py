"""The source cache: a TTL per entry, one fetch per key at a time, stale copies kept for outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from connector.sources.base import SourceError


@dataclass(frozen=True)
class Entry:
    """A cached value and its times (epoch seconds)."""

    value: Any
    stored_at: float
    fresh_until: float
    keep_until: float


@dataclass(frozen=True)
class Loaded:
    """What a lookup through the cache gave: the value, its age, and whether it is stale."""

    value: Any
    stored_at: float
    from_cache: bool
    stale_error: SourceError | None = None


class MemoryCache:
    """An in-process LRU of entries; each entry is fresh until its TTL, kept until its stale TTL."""

    def __init__(self, maxsize: int = 20_000, clock: Callable[[], float] = time.time) -> None:
        self._entries: LRUCache[str, Entry] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self.clock = clock

    def get(self, key: str) -> Entry | None:
        """The entry for a key, fresh or stale, or None once it is past keeping."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.keep_until <= self.clock():
                del self._entries[key]
                return None
            return entry

    def put(self, key: str, value: Any, ttl_s: float, stale_ttl_s: float) -> Entry:
        """Store a value fresh for ttl_s and kept for outages stale_ttl_s longer."""
        now = self.clock()
        entry = Entry(value, now, now + ttl_s, now + ttl_s + stale_ttl_s)
        with self._lock:
            self._entries[key] = entry
        return entry

    def invalidate(self, prefix: str) -> int:
        """Drop every entry whose key starts with prefix; how many were dropped."""
        with self._lock:
            keys = [k for k in self._entries if k.startswith(prefix)]
            for key in keys:
                del self._entries[key]
        return len(keys)


class SingleFlight:
    """Loads through a cache so that one key is fetched by one thread while the others wait."""

    def __init__(self, cache: MemoryCache) -> None:
        self.cache = cache
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def load(
        self,
        key: str,
        loader: Callable[[], Any],
        ttl_for: Callable[[Any], float],
        stale_ttl_s: float,
    ) -> Loaded:
        """A fresh cached value, else a new one; on SourceError the stale value if there is one."""
        entry = self.cache.get(key)
        if entry is not None and entry.fresh_until > self.cache.clock():
            return Loaded(entry.value, entry.stored_at, from_cache=True)
        with self._key_lock(key):
            entry = self.cache.get(key)
            if entry is not None and entry.fresh_until > self.cache.clock():
                return Loaded(entry.value, entry.stored_at, from_cache=True)
            try:
                value = loader()
            except SourceError as exc:
                if entry is None:
                    raise
                return Loaded(entry.value, entry.stored_at, from_cache=True, stale_error=exc)
            stored = self.cache.put(key, value, ttl_for(value), stale_ttl_s)
            return Loaded(value, stored.stored_at, from_cache=False)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())
