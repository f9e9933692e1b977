"""The Square preset against the Square API's documented payloads: bearer token and
Square-Version, customer search, order search paged by a cursor in the body, cents read as
money, till sales apart, loyalty points."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext, Source
from connector.sources.preset import presets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "square"
HEADERS = {"Authorization": "Bearer EAAAl-fake-token", "Square-Version": "2025-01-23"}
PROFILES = ["JDKYHBWT1D4F8MFH63DBMEN8Y4", "A9641GZW2H7Z56YYSD41Q12HDW"]
ORDER_SEARCH = {
    "location_ids": ["L8A2Q1Z5XR3KT"], "limit": 50,
    "query": {"filter": {"customer_filter": {"customer_ids": PROFILES}},
              "sort": {"sort_field": "CREATED_AT", "sort_order": "DESC"}},
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def build(httpserver: HTTPServer, tmp_path: Path, extra: str = "") -> Source:
    entry = presets()["square"].example + (
        f"  api_url: {httpserver.url_for('/').rstrip('/')}\n"
        "  location_names: {L8A2Q1Z5XR3KT: Lyon Part-Dieu}\n" + extra)
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml",
                             env={"SQUARE_ACCESS_TOKEN": "EAAAl-fake-token"})
    return build_source("pos", manifest.sources["pos"], BuildContext(tmp_path))


@pytest.fixture
def square(httpserver: HTTPServer, tmp_path: Path) -> Source:
    return build(httpserver, tmp_path)


def expect(httpserver: HTTPServer, path: str, body: Any, answer: Any) -> None:
    httpserver.expect_ordered_request(path, method="POST", json=body, headers=HEADERS
                                      ).respond_with_json(answer)


def expect_orders(httpserver: HTTPServer) -> None:
    expect(httpserver, "/v2/orders/search", ORDER_SEARCH, fixture("orders_search_page1.json"))
    expect(httpserver, "/v2/orders/search",
           {**ORDER_SEARCH, "cursor": "NjQ5Mjk5YjMtN2VhYi00N2E3LWI1MGMtMDI0YjVmOTJjYWNm"},
           fixture("orders_search_page2.json"))


def test_finds_by_email_then_orders_of_every_profile(httpserver: HTTPServer,
                                                     square: Source) -> None:
    by_email = {"email_address": {"exact": "camille.durand@example.com"}}
    expect(httpserver, "/v2/customers/search", {"limit": 10, "query": {"filter": by_email}},
           fixture("customers_search.json"))
    expect_orders(httpserver)
    expect(httpserver, "/v2/loyalty/accounts/search",
           {"limit": 1, "query": {"customer_ids": PROFILES}},
           fixture("loyalty_accounts_search.json"))

    result = square.fetch(Identifiers(emails=("camille.durand@example.com",)))
    httpserver.check_assertions()

    assert result.found and result.external_id == PROFILES[0]
    identity = result.sections["identity"]
    assert (identity.first_name, identity.last_name, identity.emails, identity.phones) == (
        "Camille", "Durand", ["camille.durand@example.com"], ["+33612345678"])
    assert (identity.address.city, identity.address.postcode, str(identity.customer_since)) == (
        "Lyon", "69003", "2023-05-14")
    online = [(o.channel, o.number, o.status, str(o.date), o.total, o.currency, o.tracking)
              for o in result.sections["orders"]]
    assert online == [
        ("web", "CAISENgvlJ6jLWAzERDzjyHVybY", "processing", "2025-03-01", Decimal("89.00"), "EUR",
         None),
        ("web", "CAISEIqA0xT2vGZbMHdK2B5i4k8", "shipped", "2025-02-20", Decimal("129.00"), "EUR",
         "6A12345678901"),
        ("web", "CAISEOa1b2c3d4e5f6g7h8i9j0k", "cancelled", "2024-12-12", Decimal("50.00"), "EUR",
         None),
    ]
    tills = [(o.channel, o.store, o.status, o.total) for o in result.sections["store_purchases"]]
    assert tills == [("store", "Lyon Part-Dieu", "delivered", Decimal("45.95")),
                     ("store", "LQ2K3M4N5P6R7", "returned", Decimal("29.90"))]  # 2nd page
    assert result.sections["loyalty"].points == 120
    assert result.dropped_values == 0


def test_finds_by_phone_and_skips_loyalty_when_told(httpserver: HTTPServer,
                                                    tmp_path: Path) -> None:
    source = build(httpserver, tmp_path, "  loyalty: false\n  amount_scale: 0\n")
    expect(httpserver, "/v2/customers/search", {
        "limit": 10, "query": {"filter": {"phone_number": {"exact": "+33612345678"}}}},
        fixture("customers_search.json"))
    expect_orders(httpserver)
    result = source.fetch(Identifiers(phones=("+33612345678",)))
    httpserver.check_assertions()
    assert result.found and "loyalty" not in result.sections
    assert result.sections["store_purchases"][0].total == Decimal("4595")  # no minor unit
    assert len(httpserver.log) == 3


def test_unknown_customer_reads_no_orders(httpserver: HTTPServer, square: Source) -> None:
    expect(httpserver, "/v2/customers/search", {
        "limit": 10, "query": {"filter": {"email_address": {"exact": "nobody@example.com"}}}},
        fixture("customers_search_empty.json"))
    assert not square.fetch(Identifiers(emails=("nobody@example.com",))).found
    httpserver.check_assertions()
    assert len(httpserver.log) == 1


def test_shipment_of_one_order_on_demand(httpserver: HTTPServer, square: Source) -> None:
    httpserver.expect_ordered_request("/v2/orders/CAISEIqA0xT2vGZbMHdK2B5i4k8", method="GET",
                                      headers=HEADERS).respond_with_json(
        fixture("order_retrieve.json"))
    detail = square.detail("shipment", "CAISEIqA0xT2vGZbMHdK2B5i4k8")
    httpserver.check_assertions()
    assert detail == {
        "Carrier": "Colissimo", "Tracking number": "6A12345678901",
        "Tracking link": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "State": "COMPLETED", "Shipped on": "2025-02-21T08:30:00Z", "Expected on": None}
