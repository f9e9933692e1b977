"""Whole sidebar pages kept per request, served again while nothing they were made of changed.

A warm sidebar is mostly reading: who the person is (the links), each source's cached answer,
what we keep (requests, notes, corrections, segments, tiers), then merging and rendering. A
page kept here is served after one check instead: one statement reads the versions of the
records it read (`store.versions`, which the database's own triggers keep, whoever writes) —
the invalidations of cached answers among them: when one happened somewhere, the page's
answers' stamps are checked in the cache too (one round trip, headers only).

What it was made of changing — a write to any record it read, one of its cached answers
dropped or replaced, or past the time the cache serves it while refreshing it — and the page
is made in the request. The time alone moving — another minute (judgments over time are a
minute late at most, as the kept blocks'), a source's age worded otherwise, an answer past its
TTL but still served while refreshed (`revalidate_s`) — and the kept page is served while it
is made again behind (one thread, once at a time per page).

The key is the request's own: the helpdesk's sealed context (who is asked about, by which
agent and role, for which ticket), the language and the query, the sealed link's token aside.
The token and the page's nonce differ at each opening: the page is kept with stand-ins for
them, put back at each use.

Kept only when it was made whole: every source answered from a fresh cached copy (or said it
does not know the person), what we keep was read, every statement read a table that tells its
changes by what the page read it by (and its versions were read before it ran: no write can
land between the data and its version unseen), and nothing was written meanwhile (a first
opening that learnt who the person is: made again behind, once).

Per process, bounded by bytes (`CONNECTOR_KEPT_PAGES_MB`, least recently used out) and by time
(`useful_s`: until the page could no longer pass its check, `KEPT_S` after it was made at
most). `clear` at an erasure in this process; other processes' copies fail their next check
(the erasure wrote) and leave memory within that time.

Shared too, when the source cache is shared (`SharedPages`: Redis): a page made in one process
is put there, compressed, for as long as a process could take it (`useful_s`), and a process
that has no copy of a request's page takes that one, after the same check (what it was made of
lives in the database and the shared cache, which every process reads alike). A page made
again for the time is looked for there first: one process a minute makes a page in use,
whichever asks first. The key is a digest of the request (no identifier in it), under the
manifest's namespace, the code's own digest and the database's (a process of another version,
or on another database, neither takes nor gives pages). An erasure clears them all, and a page
whose making was under way then is not put after it (the pages' erasure count, read before
the making, must be unchanged).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from cachetools import TLRUCache
from sqlalchemy import Engine

from connector.models import CustomerProfile, SourceStatus
from connector.store.engine import reading
from connector.store.versions import (
    CACHE_KEY,
    MadeOf,
    Pruner,
    Version,
    installed,
    read,
    watch,
)
from connector.widgets.base import PACKAGE_DIR, RenderContext, scripts, stylesheet
from connector.widgets.freshness import age_words
from connector.widgets.rendered import TokenStandIns

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
KEPT_S = 600  # at most, unused (a used one is checked at each use, made again each minute)
MAX_REFRESHING = 1024  # pages waiting to be made again in the background, at most
ENTRY_OVERHEAD = 1024  # bytes an entry costs besides its page (keys, versions, stamps)
RECHECK_S = 60.0  # how often a database without the change triggers is looked at again
MAX_SHARED_BYTES = 512 * 1024  # a page larger than this, compressed, is not shared
Stamps = Callable[[Sequence[str]], list[tuple[float, float] | None]]
# the shared pages' erasure count, as this thread read it before its making (`_taken`)
_cleared: ContextVar[str | None] = ContextVar("kept_pages_cleared", default=None)


class SharedPages(Protocol):
    """Where processes share kept pages (the shared cache): blobs by name for a time. Each call
    answers None/False/0 when the store does not answer (it says so itself)."""

    def page_get(self, name: str) -> tuple[bytes | None, str | None]:
        """The blob (None: none) and the pages' erasure count as it stands (None: unknown)."""

    def page_put(self, name: str, blob: bytes, ttl_s: float, cleared: str) -> bool:
        """Put unless the pages were cleared since their erasure count read `cleared`."""

    def page_clear(self) -> int: ...


@dataclass(frozen=True)
class Kept:
    """One kept page, with what it was made of."""

    html: str  # the token and the nonce as stand-ins
    keys: tuple[str, ...]  # the database's records it read
    versions: Mapping[str, Version]  # theirs, each read before the page read it
    entries: tuple[tuple[str, tuple[float, float]], ...]  # its cached answers: stored, fresh
    sources: tuple[tuple[str, SourceStatus], ...]  # to word their ages again
    ages: tuple[tuple[str, str | None], ...]  # the ages as the page words them
    locale: str
    minute: int  # the minute it was made in (`KeptPages.minute`)
    stand_ins: tuple[str, str, str]  # the token's (raw, quoted) and the nonce's in `html`


def _unnoted(_result: str, _size_bytes: int) -> None:
    """No one counts the pages (no metrics)."""


class KeptPages:
    """Sidebar pages by request, checked at each use (thread-safe; see the module's
    docstring)."""

    def __init__(self, max_bytes: int, engine: Engine | None, stamps: Stamps | None,
                 grace: Callable[[str], float] = lambda _entry: 0.0,
                 clock: Callable[[], float] = time.time,
                 shared: SharedPages | None = None) -> None:
        self.max_bytes = max_bytes
        self.engine = engine
        self.stamps = stamps
        self.shared = shared
        self._space = _space(engine) if shared is not None and engine is not None else ""
        self.grace = grace  # how long past its TTL a cached answer is served while refreshed
        self.clock = clock
        self._refreshing: set[str] = set()
        self._refresher = ThreadPoolExecutor(1, thread_name_prefix="kept-pages")
        self._last: Future[None] | None = None
        # each page until it could no longer pass its check, `KEPT_S` at most (`useful_s`)
        self._kept: TLRUCache[str, Kept] = TLRUCache(
            maxsize=max(max_bytes, 1), ttu=lambda _key, kept, now: now + self.useful_s(kept, now),
            timer=lambda: self.clock(), getsizeof=_size)
        self._lock = threading.Lock()
        self._token = TokenStandIns("cnp")
        self._nonce = "cnpn" + secrets.token_hex(12)  # letters and digits, as the token's
        self._checked_at: float | None = None
        self._usable = False
        self.pruner = Pruner(engine) if engine is not None else None
        # (hit, shared, kept, unkept; the bytes kept, 0 for a hit: they did not change)
        self.noted: Callable[[str, int], None] = _unnoted
        if engine is not None and max_bytes > 0:
            watch(engine)

    @property
    def enabled(self) -> bool:
        """Whether pages are kept: a budget, and a database whose tables tell their changes
        (looked at once, again every minute while it cannot be read or lacks them)."""
        if self.max_bytes <= 0 or self.engine is None or self.stamps is None:
            return False
        now = time.monotonic()
        if self._checked_at is not None and (self._usable or now - self._checked_at < RECHECK_S):
            return self._usable
        self._checked_at = now
        try:
            missing = installed(self.engine)
        except Exception as exc:
            log.info("kept pages off for now: the database cannot be read (%s)",
                     type(exc).__name__)
            return False
        if missing is not None:
            log.warning("kept pages off: %s", missing)
        self._usable = missing is None
        return self._usable

    def minute(self, key: str) -> int:
        """The minute a page under this key (a digest: `request_key`) is made in, each
        request's minutes starting at a second of its own (pages made again as their minute
        ends spread over the minute), the same in every process."""
        return int((self.clock() + int(key[:8], 16) % 60) // 60)

    def get(self, key: str) -> tuple[Kept, bool] | None:
        """The page kept under key (here, else in the shared cache), when nothing it was made
        of changed (one statement, one round trip to a shared cache), and whether it is still
        timely (its minute, its sources' ages in the same words, its cached answers fresh);
        None when something it was made of changed, or on any failure to check."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is None:
            return self._taken(key)
        timely = self._current(key, kept)
        if timely is not None:
            return kept, timely
        with self._lock:
            if self._kept.get(key) is kept:
                del self._kept[key]
        return self._taken(key, kept)  # another process may have made it again already

    def _taken(self, key: str, known: Kept | None = None) -> tuple[Kept, bool] | None:
        """The page another process made for key, from the shared cache, when current (then
        kept here too); None, unchecked, when it is the one already `known` here. Notes, for
        this thread's making that may follow, the shared pages' erasure count (`_cleared`)."""
        _cleared.set(None)
        if self.shared is None:
            return None
        blob, cleared = self.shared.page_get(self._space + key)
        _cleared.set(cleared)
        if blob is None:
            return None
        try:
            kept = decode(blob)
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            log.warning("a shared page could not be read (%s)", type(exc).__name__)
            return None
        if known is not None and _same(kept, known):
            return None
        timely = self._current(key, kept)
        if timely is None:
            return None
        with self._lock:
            if _size(kept) <= self.max_bytes:
                self._kept[key] = kept
            size = int(self._kept.currsize)
        self.noted("shared", size)
        return kept, timely

    def _current(self, key: str, kept: Kept) -> bool | None:
        """True: current and timely; False: current, but to be made again for the time; None:
        not current."""
        assert self.engine is not None and self.stamps is not None
        now = self.clock()
        timely = (kept.minute == self.minute(key)
                  and _ages(kept.sources, kept.locale, _utc(now)) == kept.ages)
        if self.useful_s(kept, now) <= 0:  # an answer past its TTL and its time to refresh
            return None
        if any(fresh <= now for _entry, (_stored, fresh) in kept.entries):
            timely = False  # past its TTL: the same answer served while it is refreshed
        try:
            with reading(self.engine) as connection:
                found = read(connection, kept.keys)
            if found != kept.versions and not self._still_cached(key, kept, found):
                return None
        except Exception as exc:
            log.debug("kept page not checked (%s)", type(exc).__name__)
            return None
        return timely

    def _still_cached(self, key: str, kept: Kept, found: Mapping[str, Version]) -> bool:
        """After an invalidation of cached answers (somewhere), whether this page's are still
        those cached (one round trip to a shared cache, headers only); if so, the page is kept
        with the invalidations' new version."""
        assert self.stamps is not None
        if any(found[k] != v for k, v in kept.versions.items() if k != CACHE_KEY):
            return False
        stamps = self.stamps([entry for entry, _ in kept.entries])
        if any(stamp is None or stamp[0] != stored
               for (_, (stored, _fresh)), stamp in zip(kept.entries, stamps, strict=True)):
            return False
        with self._lock:
            if self._kept.get(key) is kept:
                self._kept[key] = replace(kept, versions=dict(found))
        return True

    def refresh(self, key: str, make: Callable[[], object]) -> None:
        """Make key's page again in the background (once at a time per key), while the kept
        one is served: what the page was made of is unchanged, only the time moved (unless
        another process made it again already: then its page is taken)."""
        with self._lock:
            if key in self._refreshing or len(self._refreshing) >= MAX_REFRESHING:
                return
            self._refreshing.add(key)

        def made() -> None:
            try:
                with self._lock:
                    known = self._kept.get(key)
                taken = self._taken(key, known) if self.shared is not None else None
                if taken is None or not taken[1]:
                    make()
            except Exception:
                log.exception("a kept page was not made again")
                self.drop(key)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        try:
            self._last = self._refresher.submit(made)
        except RuntimeError:  # shut down
            with self._lock:
                self._refreshing.discard(key)

    def idle(self, timeout_s: float = 30.0) -> None:
        """Wait until the pages being made again in the background are made (one thread makes
        them in turn: once the last one asked is done, all are)."""
        last = self._last
        if last is not None:
            last.result(timeout=timeout_s)

    def drop(self, key: str) -> None:
        """Forget key's page (made again without a page to keep: the next request makes it)."""
        with self._lock:
            self._kept.pop(key, None)

    def served(self, kept: Kept, token: str, nonce: str) -> str:
        """The kept page for this request: its token and nonce put back."""
        self.noted("hit", 0)  # what is kept did not change: no lock taken to count it
        raw, quoted, kept_nonce = kept.stand_ins  # its maker's: this process's or another's
        return TokenStandIns("", raw, quoted).put_back(kept.html, token).replace(kept_nonce,
                                                                                nonce)

    def keep(self, key: str, html: str, token: str, nonce: str, made: MadeOf,
             profile: CustomerProfile, ctx: RenderContext) -> bool:
        """Keep the page just made for key, as made of `made`; False when it may not be."""
        found = made.versioned()
        if found is None or profile.unavailable or not profile.identity_checked:
            self.drop(key)  # the page kept before, if any, is not what the request would get
            self.noted("unkept", self.size_bytes)
            log.debug("page not kept: %s", made.unkept or "a part unread")
            return False
        sources = tuple(profile.sources.items())
        kept = Kept(self._stand_in(html, token, nonce), tuple(found), found,
                    tuple(sorted(made.entries.items())), sources,
                    _ages(sources, ctx.locale, ctx.now), ctx.locale,
                    self.minute(key), (self._token.raw, self._token.quoted, self._nonce))
        with self._lock:
            if _size(kept) <= self.max_bytes:
                self._kept[key] = kept
            size = int(self._kept.currsize)
        self.noted("kept", size)
        self._share(key, kept)
        return True

    def _share(self, key: str, kept: Kept) -> None:
        """Put the page just kept in the shared cache, for the other processes."""
        cleared = _cleared.get()
        _cleared.set(None)
        if self.shared is None or cleared is None:  # unknown: maybe made across an erasure
            return
        ttl_s = self.useful_s(kept, self.clock())
        if ttl_s <= 0:
            return
        blob = encode(kept)
        if blob is not None and len(blob) <= MAX_SHARED_BYTES:
            self.shared.page_put(self._space + key, blob, ttl_s, cleared)

    def useful_s(self, kept: Kept, now: float) -> float:
        """How long from `now` a page can still pass its check (`_current`): until its first
        cached answer is past its TTL and the time it is served while refreshed, `KEPT_S` at
        most — how long it is held, here and in the shared cache (a copy no process could
        take is dead weight, and an erased person's page leaves memory sooner)."""
        ends = (fresh + self.grace(entry) - now for entry, (_stored, fresh) in kept.entries)
        return min(KEPT_S, *ends) if kept.entries else KEPT_S

    def prune(self) -> None:
        """Prune `record_changes` when due (every few minutes), behind: called at each sidebar,
        kept pages on or off (the triggers write its rows either way)."""
        claimed = self.pruner.claim() if self.pruner is not None else None
        if claimed is not None:  # once per turn, whichever request claims it
            with contextlib.suppress(RuntimeError):  # shut down
                self._refresher.submit(self._pruned, claimed)

    def _pruned(self, now: float) -> None:
        assert self.pruner is not None
        try:
            self.pruner.run(now)
        except Exception as exc:
            log.warning("record_changes not pruned: %s", type(exc).__name__)

    def close(self) -> None:
        """Stop making pages again in the background."""
        self._refresher.shutdown(wait=False, cancel_futures=True)

    def clear(self) -> None:
        """Forget every kept page, here and shared (a record erased: none of it stays in
        memory; the shared cache not answering, its pages leave it within `KEPT_S` and fail
        their check meanwhile: the erasure wrote)."""
        with self._lock:
            self._kept.clear()
        if self.shared is not None:
            self.shared.page_clear()

    @property
    def size_bytes(self) -> int:
        """The bytes the kept pages are counted as (those that could still be served)."""
        with self._lock:
            self._kept.expire()
            return int(self._kept.currsize)

    def _stand_in(self, html: str, token: str, nonce: str) -> str:
        html = self._token.stood(html, token)
        return html.replace(nonce, self._nonce) if nonce else html


def _same(one: Kept, other: Kept) -> bool:
    """Whether two kept pages are one making (the same minute, the same things read)."""
    return (one.minute, one.versions, one.entries) == (other.minute, other.versions,
                                                       other.entries)


def _ages(sources: tuple[tuple[str, SourceStatus], ...], locale: str,
          now: dt.datetime) -> tuple[tuple[str, str | None], ...]:
    """Each source's age as the page words it at `now`."""
    return tuple((name, age_words(status, locale, now)) for name, status in sources)


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


# -- shared between processes -----------------------------------------------------------------

def request_key(*parts: Any) -> str:
    """A request's key (a digest of its parts: JSON values, dataclasses of them; no identifier
    can be read from it), the same in every process."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _space(engine: Engine) -> str:
    """Where this process's pages are shared: with processes of the same code on the same
    database (as its URL names it, less the password; a file's on this host only)."""
    where = engine.url.render_as_string(hide_password=True)
    if engine.url.get_backend_name() == "sqlite":
        where += "@" + socket.gethostname()
    return hashlib.sha256(f"{code_digest()}|{where}".encode()).hexdigest()[:16] + ":"


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, *(getattr(value, f.name) for f in dataclasses.fields(value))]
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"not in a request's key: {type(value).__name__}")


@cache
def code_digest() -> str:
    """A digest of this package's files (code, templates, locales): pages made by another
    version of the code are not this one's."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def _inlined() -> tuple[tuple[str, str], ...]:
    """What every page holds word for word — its inline style and scripts, the larger part of
    it — and the stand-in a shared page holds instead (a NUL byte, which no page holds
    otherwise: `encode` shares no page that does)."""
    parts = [str(stylesheet()), *(str(script) for script in scripts().values())]
    return tuple((part, f"\0{n}") for n, part in enumerate(parts))


@cache
def _dictionary() -> bytes:
    """zlib's preset dictionary for shared pages: the sidebar's templates, whose markup every
    page repeats (the same in every process of the same code: `code_digest` is in the shared
    pages' names). zlib looks 32 KB back at most: the templates' last 32 KB."""
    templates = sorted((PACKAGE_DIR / "templates").glob("*.html"))
    return b"".join(path.read_bytes() for path in templates)[-32768:]


def encode(kept: Kept) -> bytes | None:
    """A kept page as the shared cache holds it, compressed: what it was made of as compact
    JSON, a line break, then its HTML less its inline style and scripts (a demo page: 48 KB of
    HTML in 5 KB); None for a page that holds a NUL byte (not shared)."""
    if "\0" in kept.html:
        return None
    html = kept.html
    for part, stand_in in _inlined():
        html = html.replace(part, stand_in)
    plain = {"keys": list(kept.keys),
             "versions": {key: list(version) for key, version in kept.versions.items()},
             "entries": [[key, stored, fresh] for key, (stored, fresh) in kept.entries],
             "sources": [[name, status.model_dump(mode="json")]
                         for name, status in kept.sources],
             "ages": [list(age) for age in kept.ages], "locale": kept.locale,
             "minute": kept.minute, "stand_ins": list(kept.stand_ins)}
    text = json.dumps(plain, separators=(",", ":"), ensure_ascii=False) + "\n" + html
    packer = zlib.compressobj(6, zdict=_dictionary())
    return packer.compress(text.encode()) + packer.flush()


def decode(blob: bytes) -> Kept:
    """A kept page from the shared cache (`encode`); ValueError, KeyError or TypeError when it
    is not one."""
    unpacker = zlib.decompressobj(zdict=_dictionary())
    head, html = (unpacker.decompress(blob) + unpacker.flush()).decode().split("\n", 1)
    if not unpacker.eof:
        raise ValueError("a shared page cut short")
    for part, stand_in in reversed(_inlined()):
        html = html.replace(stand_in, part)
    plain = json.loads(head)
    versions = {str(key): (int(c), int(m), int(s)) for key, (c, m, s) in
                plain["versions"].items()}
    raw, quoted, nonce = (str(part) for part in plain["stand_ins"])
    return Kept(html, tuple(str(key) for key in plain["keys"]), versions,
                tuple((str(key), (float(stored), float(fresh)))
                      for key, stored, fresh in plain["entries"]),
                tuple((str(name), SourceStatus.model_validate(status))
                      for name, status in plain["sources"]),
                tuple((str(name), None if age is None else str(age))
                      for name, age in plain["ages"]),
                str(plain["locale"]), int(plain["minute"]), (raw, quoted, nonce))


def _size(kept: Kept) -> int:
    return len(kept.html) + ENTRY_OVERHEAD
