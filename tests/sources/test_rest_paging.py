"""Pagination: every page joined, in order, up to the cap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from connector.identifiers import Identifiers
from connector.sources.base import BuildContext
from connector.sources.rest import RestConfig, RestSource

EMAIL = Identifiers(emails=("p@x.fr",))


def source(httpserver: HTTPServer, paginate: dict[str, Any], items: str) -> RestSource:
    config = RestConfig.model_validate({
        "type": "rest", "base_url": httpserver.url_for("/api"),
        "requests": [{"name": "orders", "path": "/orders", "params": {"email": "{email}"},
                      "items": items, "paginate": paginate}],
        "sections": {"orders": {"items": "orders", "fields": {"number": "n"}}}})
    return RestSource("shop", config, BuildContext(Path(".")))


def numbers(result: Any) -> list[str]:
    return [o.number for o in result.sections["orders"]]


def test_page_numbers_until_a_short_page(httpserver: HTTPServer) -> None:
    for page, rows in ((1, ["1", "2"]), (2, ["3", "4"]), (3, ["5"])):
        httpserver.expect_ordered_request("/api/orders", query_string={
            "email": "p@x.fr", "page": str(page), "per_page": "2"}).respond_with_json(
            {"data": [{"n": n} for n in rows]})
    paging = {"type": "page", "param": "page", "size_param": "per_page", "size": 2, "start": 1}
    result = source(httpserver, paging, "data").fetch(EMAIL)
    httpserver.check_assertions()
    assert numbers(result) == ["1", "2", "3", "4", "5"]


def test_offsets_and_the_page_cap(httpserver: HTTPServer) -> None:
    for offset in (0, 2):
        httpserver.expect_ordered_request("/api/orders", query_string={
            "email": "p@x.fr", "offset": str(offset), "limit": "2"}).respond_with_json(
            [{"n": f"{offset}a"}, {"n": f"{offset}b"}])
    paging = {"type": "offset", "param": "offset", "size_param": "limit", "size": 2,
              "max_pages": 2}
    result = source(httpserver, paging, "@").fetch(EMAIL)
    httpserver.check_assertions()
    assert numbers(result) == ["0a", "0b", "2a", "2b"]  # a third page is never asked


@pytest.mark.parametrize("in_body", [False, True])
def test_cursor_in_query_or_body(httpserver: HTTPServer, in_body: bool) -> None:
    first: dict[str, Any] = {"json": {"limit": 1}} if in_body else {
        "query_string": {"email": "p@x.fr", "limit": "1"}}
    second: dict[str, Any] = {"json": {"limit": 1, "cursor": "c2"}} if in_body else {
        "query_string": {"email": "p@x.fr", "limit": "1", "cursor": "c2"}}
    httpserver.expect_ordered_request("/api/orders", **first).respond_with_json(
        {"rows": [{"n": "1"}], "next": "c2"})
    httpserver.expect_ordered_request("/api/orders", **second).respond_with_json(
        {"rows": [{"n": "2"}]})
    paging = {"type": "cursor", "param": "cursor", "next": "next", "size_param": "limit",
              "size": 1, "in_body": in_body}
    result = source(httpserver, paging, "rows").fetch(EMAIL)
    httpserver.check_assertions()
    assert numbers(result) == ["1", "2"]


def test_a_server_that_gives_the_same_cursor_again_is_not_read_twice(
        httpserver: HTTPServer) -> None:
    """A server that ignores the cursor answers the same page with the same next cursor: its
    orders would count twice (and up to the cap); the second time ends the reading."""
    httpserver.expect_request("/api/orders").respond_with_json(
        {"rows": [{"n": "1"}, {"n": "2"}], "next": "c2"})
    paging = {"type": "cursor", "param": "cursor", "next": "next", "max_pages": 5}
    result = source(httpserver, paging, "rows").fetch(EMAIL)
    assert numbers(result) == ["1", "2", "1", "2"]  # the page for c2, once
    assert len(httpserver.log) == 2
