"""The source cache shared on Redis (`CONNECTOR_CACHE_URL=redis://…`): the memory cache's
semantics (TTL, stale copies kept `stale_ttl_s`, not-found answers capped by their policy, a
byte bound per entry) for every process at once, one fetch per key across processes (a
`SET NX PX` lock, waited for no longer than the caller's deadline), and this process's memory
standing in while Redis does not answer (a warning once per outage, `degraded`, Redis tried
again after a short back-off).

Keys are `{prefix}:{manifest digest}:{kind}:{source}:{hash}`: identifiers never appear in a
Redis key, and a changed manifest (another mapping) starts from an empty namespace. Values are
compact JSON (zlib-compressed when that pays); never pickle, so a value read from Redis can only
ever rebuild plain data and the canonical section models."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from connector.models import SECTIONS
from connector.sources.base import SourceCandidate, SourceResult, current_deadline, time_left
from connector.sources.cache import (
    Entry,
    Loaded,
    MemoryCache,
    Policy,
    SingleFlight,
    cached,
    source_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
LOCAL = "local"  # a lock "held" while Redis is away: this process's own key lock is all there is
HEADER = struct.Struct("!dddB")  # stored_at, fresh_until, keep_until, flags
ZLIB = 1
COMPRESS_FROM = 512  # bytes of JSON below which compression never pays
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")
# a kept page put only if no erasure cleared the pages since its making began (KEYS[2]: their
# erasure count, read then: ARGV[2])
_PAGE_PUT = ("if (redis.call('get', KEYS[2]) or '0') ~= ARGV[2] then return 0 end "
             "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1")
CLEARED_TTL_S = 86_400  # the pages' erasure count, kept a day after the last erasure


class Unshareable(TypeError):
    """A value the codec cannot write (an object it could not rebuild)."""


def namespace(prefix: str, manifest_path: Path | None) -> str:
    """`{prefix}:{digest of the manifest}`: each brand/manifest its own keys in one Redis."""
    try:
        text = manifest_path.read_bytes() if manifest_path is not None else b""
    except OSError:
        text = str(manifest_path).encode()
    return f"{prefix}:{hashlib.sha256(text).hexdigest()[:12]}"


def _digest(text: str) -> str:
    """96 bits of hash in 16 characters (no two customers' keys ever meet in practice)."""
    return base64.urlsafe_b64encode(hashlib.blake2b(text.encode(), digest_size=12).digest()
                                    ).decode()


def _hashed(key: str) -> str:
    """A cache key as kept in Redis: its kind and source, then a hash of the identifiers."""
    parts = key.split(":", 2)
    return f"{parts[0]}:{parts[1]}:{_digest(parts[2])}" if len(parts) == 3 else _digest(key)


def _tag_key(tag: str) -> str:
    """The hash (a small Redis hash, compactly encoded) listing the keys an identifier tags."""
    return "t:" + _digest(tag)


# -- the codec: compact JSON, SourceResult and its section models rebuilt by type -----------

def _plain(value: Any) -> Any:
    if isinstance(value, SourceResult):
        sections = {}
        for name, section in value.sections.items():
            if name not in SECTIONS:
                raise Unshareable(f"section {name}")
            sections[name] = ([item.model_dump(mode="json", exclude_defaults=True)
                               for item in section] if isinstance(section, list)
                              else section.model_dump(mode="json", exclude_defaults=True))
        return {"$r": [value.found, sections, value.external_id, value.dropped_values,
                       [[c.external_id, c.name, c.postcode] for c in value.candidates]]}
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$a": value.isoformat()}
    raise Unshareable(type(value).__name__)


def _rebuilt(obj: dict[str, Any]) -> Any:
    if len(obj) != 1:
        return obj
    if "$r" in obj:
        found, sections, external_id, dropped, candidates = obj["$r"]
        models = {}
        for name, data in sections.items():
            model, is_list = SECTIONS[name]
            models[name] = ([model.model_validate(item) for item in data] if is_list
                            else model.model_validate(data))
        return SourceResult(found, models, external_id, dropped,
                            [SourceCandidate(*c) for c in candidates])
    if "$d" in obj:
        return Decimal(obj["$d"])
    if "$t" in obj:
        return dt.datetime.fromisoformat(obj["$t"])
    if "$a" in obj:
        return dt.date.fromisoformat(obj["$a"])
    return obj


def encode(entry: Entry) -> bytes:
    """An entry as bytes: its three times, then its value as JSON (compressed if it pays);
    Unshareable when the value holds an object the codec cannot rebuild."""
    text = json.dumps(entry.value, default=_plain, separators=(",", ":"),
                      ensure_ascii=False).encode()
    flags = 0
    if len(text) >= COMPRESS_FROM:
        packed = zlib.compress(text, 6)
        if len(packed) < len(text):
            text, flags = packed, ZLIB
    return HEADER.pack(entry.stored_at, entry.fresh_until, entry.keep_until, flags) + text


def decode(blob: bytes) -> Entry:
    """The entry `encode` wrote (its tags are kept apart, in Redis sets)."""
    stored_at, fresh_until, keep_until, flags = HEADER.unpack_from(blob)
    body = blob[HEADER.size:]
    if flags & ZLIB:
        body = zlib.decompress(body)
    return Entry(json.loads(body, object_hook=_rebuilt), stored_at, fresh_until, keep_until,
                 size=len(blob))


# -- the cache -------------------------------------------------------------------------------

class _Down(Exception):
    """Redis did not answer (or is in its back-off): this process's memory answers instead."""


def _unnoted(_what: str) -> None:
    """No one counts the outages (no metrics)."""


class RedisCache:
    """The source cache in Redis, with `MemoryCache`'s interface (`get`, `put`,
    `invalidate_tags`, `clock`) plus a lock per key for `SharedSingleFlight`. While Redis does
    not answer, every call goes to `fallback` (this process's memory), and Redis is tried again
    `retry_s` after the last failure; when it answers again, what the outage left in memory is
    dropped (it missed other processes' invalidations) and the invalidations made during the
    outage are applied to Redis."""

    def __init__(self, url: str, namespace: str, *, fallback: MemoryCache | None = None,
                 clock: Callable[[], float] = time.time, timeout_s: float = 0.25,
                 retry_s: float = 2.0, lock_ttl_s: float = 30.0) -> None:
        self.fallback = fallback if fallback is not None else MemoryCache(clock=clock)
        self.fallback.clock = clock
        self.clock = clock
        self.namespace = namespace
        self.retry_s = retry_s
        self.lock_ttl_s = lock_ttl_s
        self.max_entry_bytes = self.fallback.max_entry_bytes
        self.degraded = False
        self.fallbacks = 0  # calls this process's memory answered instead of Redis
        self.outages = 0
        self.noted: Callable[[str], None] = _unnoted  # "fallback", "outage", "back"
        self._down_until = 0.0
        self._state = threading.Lock()
        self._missed: list[tuple[tuple[str, ...], str]] = []  # invalidations made while away
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0), retry_on_timeout=False, health_check_interval=0)
        self._release = self._redis.register_script(_RELEASE)
        self._page_put = self._redis.register_script(_PAGE_PUT)

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{_hashed(key)}"

    def _call(self, op: Callable[[redis.Redis], T]) -> T:
        """op against Redis; _Down (and the outage noted) when it does not answer."""
        if self._down_until > time.monotonic():
            self.fallbacks += 1
            self.noted("fallback")
            raise _Down
        try:
            result = op(self._redis)
        except (redis.RedisError, OSError) as exc:
            self._went_down(exc)
            raise _Down from exc
        if self.degraded:
            self._came_back()
        return result

    def _went_down(self, exc: BaseException) -> None:
        with self._state:
            self.fallbacks += 1
            self._down_until = time.monotonic() + self.retry_s
            began = not self.degraded
            if began:
                self.degraded = True
                self.outages += 1
        self.noted("fallback")
        if not began:
            return
        self.noted("outage")
        log.warning("shared cache (Redis) unavailable (%s): serving from this process's memory, "
                    "trying Redis again every %g s", type(exc).__name__, self.retry_s)

    def _came_back(self) -> None:
        with self._state:
            if not self.degraded:
                return
            self.degraded = False
            missed, self._missed = self._missed, []
        self.noted("back")
        self.fallback.clear()
        log.info("shared cache (Redis) answers again: back to it (%d invalidations made "
                 "meanwhile to apply)", len(missed))
        for done, (tags, prefix) in enumerate(missed):
            try:
                self._invalidate(tags, prefix)
            except (redis.RedisError, OSError) as exc:
                with self._state:
                    self._missed[:0] = missed[done:]  # applied at the next return
                self._went_down(exc)
                return

    def ping(self) -> float:
        """Milliseconds for a PING; raises while Redis does not answer (for `/readyz`)."""
        started = time.monotonic()
        try:
            self._call(lambda r: r.ping())
        except _Down:
            raise ConnectionError("shared cache unavailable") from None
        return round((time.monotonic() - started) * 1000, 2)

    def __len__(self) -> int:
        return len(self.fallback)

    @property
    def size_bytes(self) -> int:
        """The bytes this process's memory holds (Redis' own memory is Redis' to report)."""
        return self.fallback.size_bytes

    def get(self, key: str) -> Entry | None:
        """The entry for a key, fresh or stale, or None once it is past keeping."""
        try:
            blob = self._call(lambda r: r.get(self._key(key)))
        except _Down:
            return self.fallback.get(key)
        return self._entry(key, blob)  # type: ignore[arg-type]

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        """The entries for these keys, in their order, in one round trip (MGET)."""
        if not keys:
            return []
        try:
            blobs = self._call(lambda r: r.mget([self._key(key) for key in keys]))
        except _Down:
            return self.fallback.get_many(keys)
        return [self._entry(key, blob) for key, blob in zip(keys, blobs, strict=True)]  # type: ignore[arg-type]

    def stamps(self, keys: Sequence[str]) -> list[tuple[float, float] | None]:
        """When each key's entry was stored and until when it is fresh (None: no entry), in one
        round trip that reads each entry's header only (GETRANGE), not its value."""
        if not keys:
            return []

        def heads(r: redis.Redis) -> list[bytes]:
            pipe = r.pipeline(transaction=False)
            for key in keys:
                pipe.getrange(self._key(key), 0, HEADER.size - 1)
            return pipe.execute()  # type: ignore[no-any-return]

        try:
            found = self._call(heads)
        except _Down:
            return self.fallback.stamps(keys)
        now = self.clock()
        stamps: list[tuple[float, float] | None] = []
        for key, head in zip(keys, found, strict=True):
            if not head:  # none in Redis: an answer the codec could not write is kept here
                stamps.extend(self.fallback.stamps([key]))
                continue
            try:
                stored_at, fresh_until, keep_until, _flags = HEADER.unpack(head)
            except struct.error:
                stamps.append(None)
                continue
            stamps.append((stored_at, fresh_until) if keep_until > now else None)
        return stamps

    def _entry(self, key: str, blob: bytes | None) -> Entry | None:
        if blob is None:  # or an answer the codec cannot write, kept here
            return self.fallback.get(key)
        try:
            entry = decode(blob)
        except (ValueError, KeyError, TypeError, struct.error, zlib.error):
            log.warning("unreadable %s entry in the shared cache: dropped", source_of(key))
            return None
        return entry if entry.keep_until > self.clock() else None

    def put(self, key: str, value: Any, ttl_s: float, stale_ttl_s: float,
            tags: Iterable[str] = ()) -> Entry:
        """Store a value fresh for ttl_s and kept stale_ttl_s longer, for every process."""
        now = self.clock()
        tags = frozenset(tags)
        entry = Entry(value, now, now + ttl_s, now + ttl_s + stale_ttl_s, tags)
        try:
            blob = encode(entry)
        except (Unshareable, ValueError) as exc:
            log.info("a %s answer cannot be shared (%s): kept in this process", source_of(key),
                     exc)
            return self.fallback.put(key, value, ttl_s, stale_ttl_s, tags)
        if len(blob) > self.max_entry_bytes:
            log.info("a %s answer (%d KB) is larger than a cache entry may be (%d KB): not "
                     "cached", source_of(key), len(blob) // 1024, self.max_entry_bytes // 1024)
            return entry
        keep_ms = max(1, int((ttl_s + stale_ttl_s) * 1000))
        member = _hashed(key)

        def store(r: redis.Redis) -> None:
            pipe = r.pipeline(transaction=False)
            pipe.set(self._key(key), blob, px=keep_ms)
            for tag in tags:
                tag_key = f"{self.namespace}:{_tag_key(tag)}"
                pipe.hset(tag_key, member, b"")
                pipe.pexpire(tag_key, keep_ms, nx=True)
                pipe.pexpire(tag_key, keep_ms, gt=True)
            pipe.execute()

        try:
            self._call(store)
        except _Down:
            return self.fallback.put(key, value, ttl_s, stale_ttl_s, tags)
        return Entry(value, entry.stored_at, entry.fresh_until, entry.keep_until, tags,
                     len(blob))

    def invalidate_tags(self, tags: Iterable[str], prefix: str = "") -> int:
        """Drop every entry carrying one of the tags whose key starts with prefix, for every
        process (while Redis is away: here, and in Redis once it is back); how many."""
        tags = tuple(tags)
        dropped = self.fallback.invalidate_tags(tags, prefix)
        try:
            return self._call(lambda _r: self._invalidate(tags, prefix))
        except _Down:
            with self._state:
                if len(self._missed) < 10_000:
                    self._missed.append((tags, prefix))
            return dropped

    def _invalidate(self, tags: tuple[str, ...], prefix: str) -> int:
        dropped = 0
        for tag in tags:
            tag_key = f"{self.namespace}:{_tag_key(tag)}"
            members = [m.decode() if isinstance(m, bytes) else str(m)
                       for m in self._redis.hkeys(tag_key)]  # type: ignore[union-attr]
            chosen = [m for m in members if m.startswith(prefix)]
            if chosen:
                pipe = self._redis.pipeline(transaction=False)
                pipe.delete(*[f"{self.namespace}:{m}" for m in chosen])
                pipe.hdel(tag_key, *chosen)
                dropped += int(pipe.execute()[0])
        return dropped

    def lock(self, key: str) -> str | None:
        """Take key's cross-process load lock: a token to release it with, or None when
        another process holds it (LOCAL while Redis is away). It expires by itself after
        lock_ttl_s, so a holder that dies does not block the key."""
        token = secrets.token_hex(8)
        try:
            taken = self._call(lambda r: r.set(f"{self.namespace}:lock:{_hashed(key)}", token,
                                               nx=True, px=int(self.lock_ttl_s * 1000)))
        except _Down:
            return LOCAL
        return token if taken else None

    def unlock(self, key: str, token: str) -> None:
        """Release a lock this process took (only if it still holds it)."""
        if token == LOCAL:
            return
        with contextlib.suppress(_Down):  # else it expires by itself
            self._call(lambda _r: self._release(keys=[f"{self.namespace}:lock:{_hashed(key)}"],
                                                args=[token]))

    # -- kept sidebar pages (`widgets.kept.SharedPages`) -------------------------------------

    def page_get(self, name: str) -> tuple[bytes | None, str | None]:
        """A kept page another process put (None: none), and the pages' erasure count as it
        stands (for `page_put`); (None, None) when Redis is away."""
        try:
            found = self._call(lambda r: r.mget(f"{self.namespace}:page:{name}",
                                                f"{self.namespace}:pages-cleared"))
        except _Down:
            return None, None
        blob, cleared = (value if isinstance(value, bytes) else None for value in found)
        return blob, (cleared or b"0").decode()

    def page_put(self, name: str, blob: bytes, ttl_s: float, cleared: str) -> bool:
        """Put a kept page for the other processes, for ttl_s, unless an erasure cleared the
        pages since their erasure count read `cleared` (`page_get`, before the page was made:
        a page made while a person was erased is not put back after the erasure); False when
        not put."""
        try:
            put = self._call(lambda r: self._page_put(
                keys=[f"{self.namespace}:page:{name}", f"{self.namespace}:pages-cleared"],
                args=[blob, cleared, max(1, int(ttl_s * 1000))], client=r))
        except _Down:
            return False
        return bool(put)

    def page_clear(self) -> int:
        """Drop every kept page of this namespace (an erasure); how many (0: Redis away, the
        pages leaving by their TTL). The pages' erasure count goes up first: a page whose
        making was under way is not put after (`page_put`)."""
        def cleared(r: redis.Redis) -> int:
            count = f"{self.namespace}:pages-cleared"
            with r.pipeline() as pipe:
                pipe.incr(count)
                pipe.expire(count, CLEARED_TTL_S)
                pipe.execute()
            dropped = 0
            batch: list[bytes] = []
            for key in r.scan_iter(match=f"{self.namespace}:page:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    dropped += int(r.unlink(*batch))  # type: ignore[arg-type]
                    batch = []
            if batch:
                dropped += int(r.unlink(*batch))  # type: ignore[arg-type]
            return dropped

        try:
            return self._call(cleared)
        except _Down:
            log.warning("shared kept pages not cleared (Redis away): they leave it by their TTL "
                        "and fail their check meanwhile")
            return 0

    def close(self) -> None:
        """Close the connections."""
        self._redis.close()


class SharedSingleFlight(SingleFlight):
    """`SingleFlight` over a `RedisCache`: one fetch per key across every process. A caller
    that finds the key locked by another process polls the lock (a few ms apart) and, once it
    is free, finds the value that process stored; it waits no longer than its deadline (then
    the stale copy, else SourceTimeout). A background refresh runs in one process only."""

    def __init__(self, cache: RedisCache, refresher: Executor | None = None,
                 poll_s: float = 0.005, max_poll_s: float = 0.05) -> None:
        super().__init__(cache, refresher)  # type: ignore[arg-type]
        self.shared = cache
        self.poll_s = poll_s
        self.max_poll_s = max_poll_s
        self._held: dict[str, str] = {}

    def _load_locked(self, key: str, loader: Callable[[], Any], policy: Policy,
                     asked: float) -> Loaded:
        entry = self.cache.get(key)
        if entry is not None and entry.fresh_until > self.cache.clock():
            return cached(entry)
        token = self._claim(key)
        try:
            return super()._load_locked(key, loader, policy, asked)
        finally:
            self.shared.unlock(key, token)

    def _claim(self, key: str) -> str:
        """Key's cross-process lock, waited for (its holder stores, then releases); past the
        caller's deadline, the stale copy is the answer (raised through `_gave_up`)."""
        if key in self._held:  # this process's own refresh holds it, queued behind us
            return LOCAL
        left = time_left(current_deadline())
        # with no deadline, past the lock's own expiry (a holder that died): then it is ours
        until = time.monotonic() + (self.shared.lock_ttl_s * 1.5 + 0.1 if left is None else left)
        pause = self.poll_s
        while True:
            token = self.shared.lock(key)
            if token is not None:
                return token
            if time.monotonic() + pause >= until:
                raise _GaveUp
            time.sleep(pause)
            pause = min(pause * 2, self.max_poll_s)

    def load(self, key: str, loader: Callable[[], Any], policy: Policy,
             refresher: Executor | None = None) -> Loaded:
        try:
            return super().load(key, loader, policy, refresher)
        except _GaveUp:
            return self._gave_up(key)

    def _refresh_later(self, key: str, loader: Callable[[], Any], policy: Policy,
                       refresher: Executor | None) -> bool:
        if refresher is None:
            return False
        with self._guard:
            if key in self._refreshing:
                return True
        token = self.shared.lock(key)
        if token is None:
            return True  # another process refreshes it
        self._held[key] = token

        def locked_loader() -> Any:
            try:
                return loader()
            except BaseException:
                self._release_held(key)
                raise

        return super()._refresh_later(key, locked_loader, policy, refresher)

    def _store(self, key: str, value: Any, policy: Policy) -> Entry:
        try:
            return super()._store(key, value, policy)
        finally:
            self._release_held(key)

    def _release_held(self, key: str) -> None:
        token = self._held.pop(key, None)
        if token is not None:
            self.shared.unlock(key, token)


class _GaveUp(Exception):
    """Waited for another process's load past the caller's deadline."""
