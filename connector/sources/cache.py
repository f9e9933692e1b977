"""The source cache: a TTL per entry, one fetch per key at a time (awaited no longer than the
caller's deadline), stale copies kept for outages and slow answers, bounded in entries and bytes."""

from __future__ import annotations

import copy
import hashlib
import logging
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from connector.sources.base import SourceError, SourceTimeout, current_deadline, time_left

log = logging.getLogger(__name__)

MAX_ENTRIES = 20_000
TTL_SPREAD = 0.1  # an answer's TTL is shortened by up to this share of it, by key (`spread`)
MAX_BYTES = 256 * 1024 * 1024


def size_of(value: Any) -> int:
    """Roughly how many bytes a value holds: its pickled length (measured once, when stored;
    in memory it takes a few times that)."""
    try:
        return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return sys.getsizeof(value)


def source_of(key: str) -> str:
    """The source a cache key belongs to (`src:<source>:…`, `detail:<source>:…`)."""
    parts = key.split(":")
    return parts[1] if len(parts) > 1 else "?"


@dataclass(frozen=True)
class Entry:
    """A cached value and its times (epoch seconds)."""

    value: Any
    stored_at: float
    fresh_until: float
    keep_until: float
    tags: frozenset[str] = frozenset()
    size: int = 0


@dataclass(frozen=True)
class Loaded:
    """What a lookup through the cache gave: the value, its age, and whether it is stale."""

    value: Any
    stored_at: float
    from_cache: bool
    stale_error: SourceError | None = None
    revalidating: bool = False
    fresh_until: float = 0.0  # when the entry holding it stops being fresh (epoch seconds)


def cached(entry: Entry, *, stale_error: SourceError | None = None,
           revalidating: bool = False) -> Loaded:
    """An entry's value as a lookup through the cache gives it."""
    return Loaded(entry.value, entry.stored_at, from_cache=True, stale_error=stale_error,
                  revalidating=revalidating, fresh_until=entry.fresh_until)


class MemoryCache:
    """An in-process LRU of entries; each entry is fresh until its TTL, kept until its stale TTL.
    It holds at most `maxsize` entries and `max_bytes` (their estimated sizes); a value larger
    than `max_entry_bytes` (by default a 32nd of the budget) is not kept at all."""

    def __init__(self, maxsize: int = MAX_ENTRIES, clock: Callable[[], float] = time.time, *,
                 max_bytes: int = MAX_BYTES, max_entry_bytes: int | None = None) -> None:
        self._entries: LRUCache[str, Entry] = LRUCache(maxsize=max_bytes,
                                                       getsizeof=lambda entry: entry.size)
        self.max_entries = maxsize
        self.max_entry_bytes = min(max_entry_bytes or max_bytes // 32, max_bytes)
        self._tags: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.clock = clock

    @property
    def size_bytes(self) -> int:
        """The estimated bytes the entries hold now."""
        return int(self._entries.currsize)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        """The entry for a key, fresh or stale, or None once it is past keeping."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.keep_until <= self.clock():
                del self._entries[key]
                return None
            return entry

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        """The entries for these keys, in their order (as `get`)."""
        return [self.get(key) for key in keys]

    def stamps(self, keys: Sequence[str]) -> list[tuple[float, float] | None]:
        """When each key's entry was stored and until when it is fresh (None: no entry), without
        its value: whether a page made of these answers still shows what the cache holds."""
        return [None if entry is None else (entry.stored_at, entry.fresh_until)
                for entry in self.get_many(keys)]

    def put(self, key: str, value: Any, ttl_s: float, stale_ttl_s: float,
            tags: Iterable[str] = ()) -> Entry:
        """Store a value fresh for ttl_s and kept for outages stale_ttl_s longer (a value too
        large to keep is returned as an entry, not stored)."""
        now = self.clock()
        entry = Entry(value, now, now + ttl_s, now + ttl_s + stale_ttl_s, frozenset(tags),
                      size_of(value))
        if entry.size > self.max_entry_bytes:
            log.info("a %s answer (%d KB) is larger than a cache entry may be (%d KB): not "
                     "cached", source_of(key), entry.size // 1024, self.max_entry_bytes // 1024)
            return entry
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem()
            for tag in entry.tags:
                self._tags.setdefault(tag, set()).add(key)
            if len(self._tags) > 4 * self.max_entries:
                self._reindex()
        return entry

    def clear(self) -> None:
        """Drop every entry (a shared cache's stand-in, once the shared one is back)."""
        with self._lock:
            self._entries.clear()
            self._tags = {}

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


def spread(key: str, ttl_s: float) -> float:
    """ttl_s shortened by up to `TTL_SPREAD` of it, by key (a key always by the same share):
    answers fetched together — a morning's first tickets, a burst of webhooks, a cluster
    started — do not all expire together, nor the pages made of them (each key's period its
    own, they drift apart at each refresh); never longer than the manifest's `ttl_s`."""
    share = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=2).digest(), "big")
    return ttl_s * (1 - TTL_SPREAD * share / 65536)


@dataclass(frozen=True)
class Policy:
    """How long a value stays fresh, is served while refreshed, is kept for outages; its tags."""

    ttl_for: Callable[[Any], float]
    stale_ttl_s: float
    revalidate_s: float = 0.0
    tags_for: Callable[[Any], Iterable[str]] = lambda _value: ()


class SingleFlight:
    """Loads through a cache so that one key is fetched by one thread while the others wait,
    each no longer than its deadline (then with the stale copy, if any); a value just past its
    TTL is served at once while a background refresh runs."""

    def __init__(self, cache: MemoryCache, refresher: Executor | None = None) -> None:
        self.cache = cache
        self.refresher = refresher
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._refreshing: set[str] = set()
        self._refresh_failed: dict[str, SourceError] = {}
        self._load_failed: dict[str, tuple[float, SourceError]] = {}  # when, and why

    def fresh_many(self, keys: Sequence[str]) -> list[Loaded | None]:
        """The cached values of these keys that are fresh (None for the others), at once: no
        lock, no thread, one round trip to a shared cache."""
        now = self.cache.clock()
        return [cached(entry) if entry is not None and entry.fresh_until > now else None
                for entry in self.cache.get_many(keys)]

    def kept(self, key: str, error: SourceError) -> Loaded | None:
        """What the cache keeps for key, marked stale by error unless it is fresh by now; None
        when nothing is kept (for a caller whose load missed its deadline)."""
        entry = self.cache.get(key)
        if entry is None:
            return None
        stale = entry.fresh_until <= self.cache.clock()
        return cached(entry, stale_error=error if stale else None)

    def load(self, key: str, loader: Callable[[], Any], policy: Policy,
             refresher: Executor | None = None) -> Loaded:
        """A fresh cached value, else a new one; on SourceError the stale value if there is one.
        Waiting for another thread's load of the same key ends at the caller's deadline
        (`base.deadline_at`): the stale value then, else SourceTimeout. A background refresh
        runs on `refresher` (the source's own threads), else on the cache's."""
        entry = self.cache.get(key)
        now = self.cache.clock()
        if entry is not None and entry.fresh_until > now:
            return cached(entry)
        in_grace = entry is not None and now < entry.fresh_until + policy.revalidate_s
        failed = self._refresh_failed.get(key)  # as known when this lookup came in
        if entry is not None and in_grace and self._refresh_later(
                key, loader, policy, refresher or self.refresher):
            return cached(entry, stale_error=failed, revalidating=failed is None)
        lock = self._key_lock(key)
        asked = time.monotonic()
        left = time_left(current_deadline())
        if not lock.acquire(timeout=-1 if left is None else left):
            return self._gave_up(key)
        try:
            return self._load_locked(key, loader, policy, asked)
        finally:
            lock.release()

    def _load_locked(self, key: str, loader: Callable[[], Any], policy: Policy,
                     asked: float) -> Loaded:
        """Load with key's lock held; a load that failed while this caller waited is its
        answer too (asking again, with less time left, would only fail again)."""
        entry = self.cache.get(key)
        if entry is not None and entry.fresh_until > self.cache.clock():
            return cached(entry)
        failed = self._load_failed.get(key)
        if failed is not None and failed[0] >= asked:
            return _stale_or_raise(entry, copy.copy(failed[1]))
        try:
            value = loader()
        except SourceError as exc:
            self._remember_failure(key, exc)
            return _stale_or_raise(entry, exc)
        self._load_failed.pop(key, None)
        stored = self._store(key, value, policy)
        return Loaded(value, stored.stored_at, from_cache=False, fresh_until=stored.fresh_until)

    def _remember_failure(self, key: str, error: SourceError) -> None:
        with self._guard:
            if len(self._load_failed) > 10_000:
                self._load_failed.clear()
            self._load_failed[key] = (time.monotonic(), _bare(error))

    def _gave_up(self, key: str) -> Loaded:
        """Another thread's load of key outlived this caller's deadline: the stale value."""
        late = SourceTimeout("no answer in time",
                             f"gave up waiting for a load of a {source_of(key)} entry")
        kept = self.kept(key, late)
        if kept is None:
            raise late
        return kept

    def _store(self, key: str, value: Any, policy: Policy) -> Entry:
        return self.cache.put(key, value, policy.ttl_for(value), policy.stale_ttl_s,
                              policy.tags_for(value))

    def _refresh_later(self, key: str, loader: Callable[[], Any], policy: Policy,
                       refresher: Executor | None) -> bool:
        """Start one background refresh of key; False when there is no refresher."""
        if refresher is None:
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
                self._refresh_failed[key] = _bare(exc)
                log.info("background refresh of a %s entry failed: %s", source_of(key), exc)
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        refresher.submit(refresh)
        return True

    def _key_lock(self, key: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())


def _bare(error: SourceError) -> SourceError:
    """A failure to keep (for the lookups that come while it holds): a copy without its
    traceback, whose frames (the call's locals, the loader, the pool…) would otherwise be
    kept too, then left as cyclic garbage each time another failure replaces it — only the
    full collections free that, and they pause every thread of the process."""
    return copy.copy(error).with_traceback(None)


def _stale_or_raise(entry: Entry | None, error: SourceError) -> Loaded:
    """The entry kept for outages, marked stale by error; error itself when none is kept."""
    if entry is None:
        raise error
    return cached(entry, stale_error=error)
