"""The source cache: a TTL per entry, one fetch per key at a time, stale copies kept for outages."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from connector.sources.base import SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """A cached value and its times (epoch seconds)."""

    value: Any
    stored_at: float
    fresh_until: float
    keep_until: float
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Loaded:
    """What a lookup through the cache gave: the value, its age, and whether it is stale."""

    value: Any
    stored_at: float
    from_cache: bool
    stale_error: SourceError | None = None
    revalidating: bool = False


class MemoryCache:
    """An in-process LRU of entries; each entry is fresh until its TTL, kept until its stale TTL."""

    def __init__(self, maxsize: int = 20_000, clock: Callable[[], float] = time.time) -> None:
        self._entries: LRUCache[str, Entry] = LRUCache(maxsize=maxsize)
        self._tags: dict[str, set[str]] = {}
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

    def put(self, key: str, value: Any, ttl_s: float, stale_ttl_s: float,
            tags: Iterable[str] = ()) -> Entry:
        """Store a value fresh for ttl_s and kept for outages stale_ttl_s longer."""
        now = self.clock()
        entry = Entry(value, now, now + ttl_s, now + ttl_s + stale_ttl_s, frozenset(tags))
        with self._lock:
            self._entries[key] = entry
            for tag in entry.tags:
                self._tags.setdefault(tag, set()).add(key)
            if len(self._tags) > 4 * (self._entries.maxsize or 1):
                self._reindex()
        return entry

    def invalidate_tags(self, tags: Iterable[str], prefix: str = "") -> int:
        """Drop every entry carrying one of the tags (an identifier) whose key starts with
        prefix (a source); how many were dropped."""
        dropped = 0
        with self._lock:
            for tag in tags:
                keys = self._tags.get(tag, set())
                for key in [k for k in keys if k.startswith(prefix)]:
                    keys.discard(key)
                    if self._entries.pop(key, None) is not None:
                        dropped += 1
        return dropped

    def _reindex(self) -> None:
        self._tags = {}
        for key, entry in self._entries.items():
            for tag in entry.tags:
                self._tags.setdefault(tag, set()).add(key)


@dataclass(frozen=True)
class Policy:
    """How long a value stays fresh, is served while refreshed, is kept for outages; its tags."""

    ttl_for: Callable[[Any], float]
    stale_ttl_s: float
    revalidate_s: float = 0.0
    tags_for: Callable[[Any], Iterable[str]] = lambda _value: ()


class SingleFlight:
    """Loads through a cache so that one key is fetched by one thread while the others wait;
    a value just past its TTL is served at once while a background refresh runs."""

    def __init__(self, cache: MemoryCache, refresher: Executor | None = None) -> None:
        self.cache = cache
        self.refresher = refresher
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._refreshing: set[str] = set()
        self._refresh_failed: dict[str, SourceError] = {}

    def load(self, key: str, loader: Callable[[], Any], policy: Policy) -> Loaded:
        """A fresh cached value, else a new one; on SourceError the stale value if there is one."""
        entry = self.cache.get(key)
        now = self.cache.clock()
        if entry is not None and entry.fresh_until > now:
            return Loaded(entry.value, entry.stored_at, from_cache=True)
        in_grace = entry is not None and now < entry.fresh_until + policy.revalidate_s
        failed = self._refresh_failed.get(key)  # as known when this lookup came in
        if entry is not None and in_grace and self._refresh_later(key, loader, policy):
            return Loaded(entry.value, entry.stored_at, from_cache=True, stale_error=failed,
                          revalidating=failed is None)
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
            stored = self._store(key, value, policy)
            return Loaded(value, stored.stored_at, from_cache=False)

    def _store(self, key: str, value: Any, policy: Policy) -> Entry:
        return self.cache.put(key, value, policy.ttl_for(value), policy.stale_ttl_s,
                              policy.tags_for(value))

    def _refresh_later(self, key: str, loader: Callable[[], Any], policy: Policy) -> bool:
        """Start one background refresh of key; False when there is no refresher."""
        if self.refresher is None:
            return False
        with self._guard:
            if key in self._refreshing:
                return True
            self._refreshing.add(key)

        def refresh() -> None:
            try:
                with self._key_lock(key):
                    self._store(key, loader(), policy)
                self._refresh_failed.pop(key, None)
            except SourceError as exc:
                self._refresh_failed[key] = exc
                log.info("background refresh of a %s entry failed: %s", key.split(":")[1], exc)
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        self.refresher.submit(refresh)
        return True

    def _key_lock(self, key: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())
