"""What the change-feed job tests share: a review site and a loyalty club over real HTTP
(pytest-httpserver), each answering a lookup by email and a change feed after a cursor, and
recording the cursors it was asked from."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

Record = dict[str, Any]


@dataclass
class Feed:
    """Items served by email (`GET {prefix}/lookup?email=`) and as a change feed
    (`GET {prefix}/changes?since=&limit=`: the items whose cursor is after `since`)."""

    server: HTTPServer
    prefix: str
    items_key: str
    cursor_of: Callable[[Record], str]
    items: list[Record] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the `since` of every feed call

    def __post_init__(self) -> None:
        self.server.expect_request(f"{self.prefix}/lookup").respond_with_handler(self._lookup)
        self.server.expect_request(f"{self.prefix}/changes").respond_with_handler(self._changes)

    @property
    def url(self) -> str:
        return self.server.url_for(self.prefix)

    def add(self, **item: Any) -> Record:
        self.items.append(item)
        self.items.sort(key=self.cursor_of)
        return item

    def _lookup(self, request: Request) -> Response:
        email = request.args.get("email", "").lower()
        mine = [i for i in reversed(self.items) if str(i.get("email", "")).lower() == email]
        return _json({self.items_key: mine})

    def _changes(self, request: Request) -> Response:
        since = request.args.get("since", "")
        self.asked.append(since)
        limit = int(request.args.get("limit", "100"))
        after = [i for i in self.items if self.cursor_of(i) > since][:limit]
        return _json({self.items_key: after,
                      "cursor": self.cursor_of(after[-1]) if after else since})


def _json(data: Any) -> Response:
    return Response(json.dumps(data), 200, content_type="application/json")
