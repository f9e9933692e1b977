"""Pagination for REST requests: page numbers, offsets, cursors, next URLs and Link headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal
from urllib.parse import urljoin

from pydantic import Field

from connector.config import Strict
from connector.sources.http import Answer
from connector.sources.mapping import search
from connector.sources.rest_graphql import next_cursor


class Pagination(Strict):
    """How to ask for the next page; at most `max_pages` are read (the sidebar needs recent
    history, not everything)."""

    type: Literal["page", "offset", "cursor", "next_url", "link", "graphql_cursor"]
    param: str | None = None
    size_param: str | None = None
    size: int = Field(default=50, ge=1, le=1000)
    start: int = 0
    next: str | None = None
    in_body: bool = False
    page_info: str | None = None  # graphql_cursor: where the connection's pageInfo is
    variable: str | None = None  # graphql_cursor: the query's cursor variable (`after`)
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
    seen: set[str] = set()  # cursors and URLs asked: a server that gives one back twice loops
    for page in range(max_pages):
        query, body = _position(paging, page, cursor)
        answer = fetch(query, body, url)
        found = search(items, answer.data) if answer.data is not None else None
        batch = found if isinstance(found, list) else []
        yield batch
        cursor, url = _next(paging, answer, batch)
        if cursor is None and url is None:
            break
        if paging.type not in ("page", "offset"):
            place = repr((cursor, url))
            if place in seen:
                break  # the same page again: its items would count twice
            seen.add(place)


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
    elif paging.type == "graphql_cursor" and paging.variable and cursor is not None:
        place[paging.variable] = cursor
    in_body = paging.in_body or paging.type == "graphql_cursor"  # GraphQL variables
    return ({}, place) if in_body else (place, {})


def _next(paging: Pagination, answer: Answer, batch: list[Any]) -> tuple[Any, str | None]:
    """The next cursor (or page marker) and next absolute URL; both None at the end."""
    if paging.type in ("page", "offset"):
        return (True, None) if len(batch) >= paging.size else (None, None)
    if paging.type == "cursor":
        value = search(paging.next or "cursor", answer.data)
        return (value or None), None
    if paging.type == "graphql_cursor":
        return next_cursor(answer.data, paging.page_info or "pageInfo"), None
    if paging.type == "next_url":
        url = search(paging.next or '"@odata.nextLink"', answer.data)
        return None, _absolute(answer, url)
    return None, _absolute(answer, answer.links.get("next"))


def _absolute(answer: Answer, link: Any) -> str | None:
    """A next link as an absolute URL: a relative one (`/customers?page=2`, `?page=2`) is
    read against the URL that answered, as a browser would."""
    if not isinstance(link, str) or not link.strip():
        return None
    return urljoin(answer.url, link.strip())
