"""The REST engine: templated requests, auth, JMESPath mapping, failures classified once."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.identifiers import Identifiers
from connector.sources.base import (
    BuildContext,
    SourceError,
    SourceMisconfigured,
    SourceTimeout,
    SourceUnavailable,
)
from connector.sources.rest import RestConfig, RestSource, render

PAULINE = Identifiers(emails=("pauline.deneve@easiware.fr",), phones=("+33653888890",))


def erp(httpserver: HTTPServer, **overrides: Any) -> RestSource:
    config: dict[str, Any] = {
        "type": "rest",
        "base_url": httpserver.url_for("/api"),
        "auth": {"type": "bearer", "token": "t0ken"},
        "lookup_by": ["email", "phone"],
        "timeout_s": 1,
        "requests": [
            {"name": "customer", "path": "/customers", "params": {"email": "{email}",
                                                                   "phone": "{phone}"}},
            {"name": "orders", "path": "/customers/{customer.items[0].id}/orders"},
        ],
        "id": "customer.items[0].id",
        "sections": {
            "identity": {"path": "customer.items[0]",
                         "fields": {"last_name": "name", "phones": "[mobile, phone]",
                                    "address.city": "addr.city"}},
            "orders": {"items": "orders.data", "fields": {
                "number": "ref", "total": "amount", "date": "day",
                "status": {"path": "state", "map": {"done": "delivered"}}}},
        },
        **overrides,
    }
    return RestSource("erp", RestConfig.model_validate(config), BuildContext(Path(".")))


def test_finds_then_follows_and_maps(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(
        "/api/customers", query_string={"email": "pauline.deneve@easiware.fr"},
        headers={"Authorization": "Bearer t0ken"},
    ).respond_with_json({"items": [{"id": "C-1", "name": "Denève", "mobile": "06 53 88 88 90",
                                    "phone": None, "addr": {"city": "EMERAINVILLE"}}]})
    httpserver.expect_ordered_request("/api/customers/C-1/orders").respond_with_json(
        {"data": [{"ref": 997890, "amount": "45.95", "day": "2017-08-05", "state": "done"},
                  {"ref": "x", "amount": "not money", "day": "2017-08-05", "state": "odd"}]})
    result = erp(httpserver).fetch(PAULINE)
    httpserver.check_assertions()
    assert result.found and result.external_id == "C-1"
    identity = result.sections["identity"]
    assert (identity.last_name, identity.phones, identity.address.city) == (
        "Denève", ["06 53 88 88 90"], "EMERAINVILLE")
    first, second = result.sections["orders"]
    assert (first.number, first.total, first.status, first.source) == (
        "997890", Decimal("45.95"), "delivered", "erp")
    assert (second.total, second.status) == (None, "odd")  # unreadable value dropped, not the row
    assert result.dropped_values == 1


def test_tries_the_next_identifier_when_the_first_finds_nobody(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/customers", query_string={
        "email": "pauline.deneve@easiware.fr"}).respond_with_json({"items": []})
    httpserver.expect_ordered_request("/api/customers", query_string={
        "phone": "+33653888890"}).respond_with_json({"items": [{"id": "C1"}]})
    httpserver.expect_ordered_request("/api/customers/C1/orders").respond_with_json({"data": []})
    result = erp(httpserver).fetch(PAULINE)
    httpserver.check_assertions()
    assert result.found and result.external_id == "C1"


def test_not_found_when_no_identifier_matches(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers").respond_with_json({"items": []})
    assert not erp(httpserver).fetch(PAULINE).found
    assert not erp(httpserver).fetch(Identifiers(cards=("123",))).found  # cannot search by card


def test_a_404_means_not_found(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers").respond_with_json({"error": "no"}, status=404)
    assert not erp(httpserver).fetch(PAULINE).found


@pytest.mark.parametrize(("status", "error", "public"), [
    (500, SourceUnavailable, "server error (500)"),
    (503, SourceUnavailable, "server error (503)"),
    (429, SourceUnavailable, "rate-limited (429)"),
    (401, SourceMisconfigured, "refused our credentials (401)"),
    (403, SourceMisconfigured, "refused our credentials (403)"),
    (400, SourceMisconfigured, "rejected the request (400)"),
])
def test_http_failures_are_classified(httpserver: HTTPServer, status: int,
                                      error: type[SourceError], public: str) -> None:
    httpserver.expect_request("/api/customers").respond_with_data("nope", status=status)
    with pytest.raises(error) as caught:
        erp(httpserver).fetch(PAULINE)
    assert caught.value.public == public
    assert "t0ken" not in str(caught.value)


def test_invalid_json_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers").respond_with_data("<html>oops</html>")
    with pytest.raises(SourceError) as caught:
        erp(httpserver).fetch(PAULINE)
    assert caught.value.public == "answered with invalid JSON"


def test_oversized_answer_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers").respond_with_data(b"[" + b"0," * 3_000_000 + b"0]")
    with pytest.raises(SourceError) as caught:
        erp(httpserver).fetch(PAULINE)
    assert caught.value.public == "answer larger than 5 MB"


def test_slow_answer_times_out(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.8)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/customers").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        erp(httpserver, timeout_s=0.2).fetch(PAULINE)
    assert time.monotonic() - started < 0.7
    time.sleep(0.8)  # the test server answers one request at a time: let it finish this one


def test_unreachable_source(httpserver: HTTPServer) -> None:
    source = erp(httpserver, base_url="http://127.0.0.1:9")
    with pytest.raises(SourceUnavailable) as caught:
        source.fetch(PAULINE)
    assert caught.value.public == "unreachable at http://127.0.0.1:9"  # the URL it tried


def test_api_key_in_query_and_basic_auth(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/customers", query_string={
        "email": "pauline.deneve@easiware.fr", "key": "k3y"}).respond_with_json({"items": []})
    erp(httpserver, auth={"type": "api_key", "name": "key", "value": "k3y", "where": "query"}
        ).fetch(Identifiers(emails=("pauline.deneve@easiware.fr",)))
    httpserver.expect_ordered_request("/api/customers", headers={
        "Authorization": "Basic dTpw"}).respond_with_json({"items": []})
    erp(httpserver, auth={"type": "basic", "username": "u", "password": "p"}
        ).fetch(Identifiers(emails=("pauline.deneve@easiware.fr",)))
    httpserver.check_assertions()


def test_templates() -> None:
    context = {"email": "a+b@x.fr", "customer": {"items": [{"id": "C 1"}]}}
    assert render("/c/{customer.items[0].id}", context, quote_values=True) == "/c/C%201"
    assert render("{email}", context) == "a+b@x.fr"
    assert render("/c/{phone}", context) is None


@pytest.mark.parametrize(("key", "path"), [("..", "/orders/%2E%2E/tracking"),
                                           (".", "/orders/%2E/tracking"),
                                           ("../../admin", "/orders/..%2F..%2Fadmin/tracking"),
                                           ("A.1", "/orders/A.1/tracking")])
def test_a_key_is_one_path_segment_never_a_climb(key: str, path: str) -> None:
    assert render("/orders/{key}/tracking", {"key": key}, quote_values=True) == path
