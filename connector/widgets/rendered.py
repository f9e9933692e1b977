"""Rendered blocks kept per record version: a warm sidebar re-renders only what changed.

A block's HTML depends on the record, on the page's render context and on the clock. It is
kept under a key made of a digest of the record (the whole canonical customer: any change of
any source, note, contact or flag is a new version), the context's stable fields, the block's
place on the page, the age the block's header shows and every source's age as the page words
it ("il y a 3 min": so ages stay exact), and the minute: judgments over time (a complaint
past its reply target, a review of yesterday) are at most a minute late.

The sealed link's token is in several of a page's fields (forms, detail and timeline links)
and differs at each opening: blocks are rendered with a stand-in for it, put back in the
kept HTML at each use. A block whose output the stand-in would change in any other way (a
transformation of the token this module does not know) is found out the first time: a miss
renders the block both ways, and a block whose two renderings differ is not kept.

Bounded by bytes (`CONNECTOR_RENDER_CACHE_MB`, per process, least recently used first out) and
by time: the minute being in the key, nothing is kept past two minutes. Nothing is shared
across processes: the shared cache keeps the sources' answers, which are what is slow to get
again.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import quote

from cachetools import TTLCache
from markupsafe import escape

from connector.models import CustomerProfile
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.freshness import source_line

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
# The minute is in the key, so a block is of no use once the next minute starts: none stays
# in memory longer than this (an erased person's record among them).
KEPT_S = 120
ENTRY_OVERHEAD = 400  # bytes a kept block costs besides its HTML (key, entry, LRU links)
# Fields of the context kept out of the key: the clock (the minute and the ages stand for it),
# the page's nonce (no block shows it), and what the manifest gives once per process, which
# is compared by identity instead.
_UNKEYED = frozenset({"now", "nonce", "source_labels", "details", "flag_rules",
                      "source_sections", "value_labels", "anchors", "rendered"})
_BLOCK_KEYED = ("block_age", "anchor", "fold")  # set by the page for each block
_PAGE_KEYED = tuple(f.name for f in fields(RenderContext)
                    if f.name not in _UNKEYED and f.name not in _BLOCK_KEYED)


@dataclass(frozen=True)
class _Kept:
    html: str | None
    refs: tuple[object, ...]  # the manifest's objects the block was rendered with


class TokenStandIns:
    """Stand-ins for a sealed link's token, raw and URL-quoted, in a page's HTML: letters and
    digits only, so no escaping or quoting alters them (what kept HTML holds in the token's
    place, put back at each use)."""

    def __init__(self, prefix: str, raw: str | None = None, quoted: str | None = None) -> None:
        self.raw = raw or f"{prefix}t{secrets.token_hex(12)}"
        self.quoted = quoted or f"{prefix}q{secrets.token_hex(12)}"

    def stood(self, html: str, token: str) -> str:
        """The HTML with the token's places (escaped, raw or quoted) as stand-ins."""
        if not token:
            return html
        return (html.replace(str(escape(quote(token, safe=""))), self.quoted)
                .replace(str(escape(token)), self.raw))

    def put_back(self, html: str, token: str) -> str:
        """The HTML with the stand-ins as this token, escaped as HTML shows it."""
        if not token:
            return html
        return (html.replace(self.quoted, str(escape(quote(token, safe=""))))
                .replace(self.raw, str(escape(token))))


def _unnoted(_hit: bool, _size_bytes: int) -> None:
    """No one counts the blocks (no metrics)."""


class RenderedBlocks:
    """Blocks' HTML by record version and context (thread-safe; see the module's docstring)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: TTLCache[Hashable, _Kept] = TTLCache(
            maxsize=max(max_bytes, 1), ttl=KEPT_S, getsizeof=_size)
        self._lock = threading.Lock()
        self._unkept: set[Hashable] = set()  # blocks the stand-in would change: never kept
        self._token = TokenStandIns("cnr")
        self.hits = 0
        self.misses = 0
        self.noted: Callable[[bool, int], None] = _unnoted  # (kept already?, bytes kept)

    def page(self, profile: CustomerProfile, ctx: RenderContext) -> PageBlocks | None:
        """The blocks of one page of this record (None when nothing is kept)."""
        if self.max_bytes <= 0:
            return None
        stable = self._stand_in(ctx)  # the key holds no token
        return PageBlocks(self, _PageKey((
            version_of(profile), _minute(ctx), _ages(profile, ctx),
            tuple(getattr(stable, name) for name in _PAGE_KEYED),
            tuple(sorted(ctx.anchors.items())), tuple(sorted(ctx.source_labels.items())),
            tuple(sorted(ctx.source_sections.items())))))

    def block(self, page: _PageKey, render: Callable[[RenderContext], str | None],
              spec: BlockSpec, ctx: RenderContext) -> str | None:
        """One block of a page (`page`: its key): kept, or rendered now and kept."""
        place = (spec.block, spec.sources, id(spec.card), ctx.anchor)
        key = (page, place, ctx.block_age, ctx.fold)
        refs = (spec.card, ctx.details, ctx.flag_rules, ctx.value_labels)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and all(a is b for a, b in zip(kept.refs, refs, strict=True)):
                self.hits += 1
            else:
                kept = None
                self.misses += 1
            size = int(self._kept.currsize)
        self.noted(kept is not None, size)
        if kept is not None:
            return self._put_back(kept.html, ctx.token)
        html = render(ctx)
        if not ctx.token:
            stood = html
        elif place in self._unkept:
            return html
        else:
            stood = render(self._stand_in(ctx))
            if self._put_back(stood, ctx.token) != html:
                self._unkept.add(place)  # the token is transformed in a way not stood in for
                return html
        entry = _Kept(None if stood is None else str(stood), refs)
        with self._lock:
            if _size(entry) <= self.max_bytes:
                self._kept[key] = entry
        return html

    def clear(self) -> None:
        """Forget every kept block (a record erased: nothing of it stays in memory)."""
        with self._lock:
            self._kept.clear()

    @property
    def size_bytes(self) -> int:
        """The bytes the kept blocks are counted as."""
        with self._lock:
            return int(self._kept.currsize)

    def _stand_in(self, ctx: RenderContext) -> RenderContext:
        token = ctx.token
        if not token:
            return ctx
        quoted = quote(token, safe="")
        raw, stood = self._token.raw, self._token.quoted
        changed: dict[str, Any] = {"token": raw}
        for name in _PAGE_KEYED:
            value = getattr(ctx, name)
            if name != "token" and isinstance(value, str) and value:
                changed[name] = value.replace(quoted, stood).replace(token, raw)
        return replace(ctx, **changed)

    def _put_back(self, html: str | None, token: str) -> str | None:
        return None if html is None else self._token.put_back(str(html), token)


class _PageKey:
    """A page's part of its blocks' keys, hashed once for all its blocks."""

    __slots__ = ("_hash", "parts")

    def __init__(self, parts: tuple[object, ...]) -> None:
        self.parts = parts
        self._hash = hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PageKey) and (self is other or self.parts == other.parts)


class PageBlocks:
    """The kept blocks of one page being rendered."""

    def __init__(self, kept: RenderedBlocks, key: _PageKey) -> None:
        self.kept = kept
        self.key = key

    def render(self, render: Callable[[RenderContext], str | None], spec: BlockSpec,
               ctx: RenderContext) -> str | None:
        """The block's HTML for this record version and context: kept, or rendered now."""
        return self.kept.block(self.key, render, spec, ctx)


# What changes at each lookup without changing the record: how long a source took, and the
# age of its data, which blocks show only as words (kept in the key as such: `_ages`).
_VOLATILE = {"sources": {"__all__": {"age_s", "fetched_at", "latency_ms"}}}


def version_of(profile: CustomerProfile) -> bytes:
    """A digest of the whole record: what blocks are kept under."""
    return hashlib.blake2b(profile.model_dump_json(exclude=_VOLATILE).encode(),
                           digest_size=16).digest()


def _minute(ctx: RenderContext) -> int:
    return int(ctx.now.timestamp() // 60)


def _ages(profile: CustomerProfile, ctx: RenderContext) -> tuple[tuple[str, str | None], ...]:
    return tuple((name, source_line(name, status, ctx).age)
                 for name, status in profile.sources.items())


def _size(entry: _Kept) -> int:
    return len(entry.html or "") + ENTRY_OVERHEAD
