"""Pagination for REST requests: page numbers, offsets, cursors, next URLs and Link headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import Field

from connector.config import Strict
from connector.sources.http import Answer
from connector.sources.mapping import search


class Pagination(Strict):
    """How to ask for the next page; at most `max_pages` are read (the sidebar needs recent
    history, not everything)."""

    type: Literal["page", "offset", "cursor", "next_url", "link"]
    param: str | None = None
    size_param: str | None = None
    size: int = Field(default=50, ge=1, le=1000)
    start: int = 0
    next: str | None = None
    in_body: bool = False
    max_pages: int = Field(default=5, ge=1, le=50)


# One page: (extra query params, extra body keys, absolute URL or None) -> the answer
Fetch = Callable[[dict[str, Any], dict[str, Any], str | None], Answer]


def collect(fetch: Fetch, paging: Pagination, items: str) -> list[Any]:
    """Every item of every page, up to the cap, all of them read by the one deadline of the
    lookup (`base.deadline_at`): a page asked past it raises SourceTimeout, never a part."""
    return [item for batch in pages(fetch, paging, items, paging.max_pages) for item in batch]


def pages(fetch: Fetch, paging: Pagination, items: str, max_pages: int) -> Iterator[list[Any]]:
    """The items of each page in turn, up to `max_pages` (a listing of the whole base reads
    far more pages than a lookup's cap)."""
    cursor: Any = None
    url: str | None = None
    for page in range(max_pages):
        query, body = _position(paging, page, cursor)
        answer = fetch(query, body, url)
        found = search(items, answer.data) if answer.data is not None else None
        batch = found if isinstance(found, list) else []
        yield batch
        cursor, url = _next(paging, answer, batch)
        if cursor is None and url is None:
            break


def _position(paging: Pagination, page: int, cursor: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    place: dict[str, Any] = {}
    if paging.size_param:
        place[paging.size_param] = paging.size
    if paging.type == "page" and paging.param:
        place[paging.param] = paging.start + page
    elif paging.type == "offset" and paging.param:
        place[paging.param] = paging.start + page * paging.size
    elif paging.type == "cursor" and paging.param and cursor is not None:
        place[paging.param] = cursor
    return ({}, place) if paging.in_body else (place, {})


def _next(paging: Pagination, answer: Answer, batch: list[Any]) -> tuple[Any, str | None]:
    """The next cursor (or page marker) and next absolute URL; both None at the end."""
    if paging.type in ("page", "offset"):
        return (True, None) if len(batch) >= paging.size else (None, None)
    if paging.type == "cursor":
        value = search(paging.next or "cursor", answer.data)
        return (value or None), None
    if paging.type == "next_url":
        url = search(paging.next or '"@odata.nextLink"', answer.data)
        return None, (str(url) if url else None)
    return None, answer.links.get("next")
