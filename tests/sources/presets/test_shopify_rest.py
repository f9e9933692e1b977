"""The legacy `shopify_rest` preset against the Admin REST API's documented payloads: token
header, customer search, the customer's orders paged by Link header, online and POS apart."""

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

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify_rest"
API = "/admin/api/2025-01"
TOKEN = {"X-Shopify-Access-Token": "shpat_fake"}
ORDERS = f"{API}/customers/7320145678/orders.json"
ADMIN = "https://maison-exemple.myshopify.com/admin/orders/"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def shop(httpserver: HTTPServer, tmp_path: Path) -> Source:
    server = httpserver.url_for("/").rstrip("/")
    entry = presets()["shopify_rest"].example + (
        f"  api_url: {server}\n"
        '  location_names: {"655441491": Lyon Part-Dieu}\n')
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"SHOPIFY_ACCESS_TOKEN": "shpat_fake"})
    return build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))


def expect_orders(httpserver: HTTPServer) -> None:
    next_page = httpserver.url_for(ORDERS) + "?limit=50&page_info=eyJsYXN0X2lkIjo1ODAxfQ"
    httpserver.expect_ordered_request(
        ORDERS, query_string={"status": "any", "limit": "50"}, headers=TOKEN,
    ).respond_with_json(fixture("customer_orders_page1.json"),
                        headers={"Link": f'<{next_page}>; rel="next"'})
    httpserver.expect_ordered_request(
        ORDERS, query_string={"limit": "50", "page_info": "eyJsYXN0X2lkIjo1ODAxfQ"}, headers=TOKEN,
    ).respond_with_json(fixture("customer_orders_page2.json"))


def test_finds_by_email_and_splits_online_from_pos(httpserver: HTTPServer, shop: Source) -> None:
    httpserver.expect_ordered_request(
        f"{API}/customers/search.json", query_string={"query": "email:camille.durand@example.com"},
        headers=TOKEN,
    ).respond_with_json(fixture("customers_search.json"))
    expect_orders(httpserver)

    result = shop.fetch(Identifiers(emails=("camille.durand@example.com",)))
    httpserver.check_assertions()

    assert result.found and result.external_id == "7320145678"
    identity = result.sections["identity"]
    assert (identity.first_name, identity.last_name, identity.phones) == (
        "Camille", "Durand", ["+33612345678", "+33 4 78 00 00 00"])
    assert (identity.address.city, identity.address.country, str(identity.customer_since)) == (
        "Lyon", "FR", "2023-05-14")
    assert result.sections["status"].tags == ["VIP"]
    kpis = result.sections["kpis"]
    assert (kpis.orders_count, kpis.total_spend, kpis.currency) == (7, Decimal("1843.60"), "EUR")
    online = [(o.channel, o.number, o.status, str(o.date), o.total, o.tracking)
              for o in result.sections["orders"]]
    assert online == [
        ("web", "#1042", "shipped", "2025-02-24", Decimal("249.00"), "6A12345678901"),
        ("web", "#1031", "delivered", "2025-01-17", Decimal("129.00"), "6A10987654321"),
        ("web", "#1002", "returned", "2024-12-02", Decimal("89.00"), "6A10000000002"),
        ("web", "#1001", "cancelled", "2024-11-29", Decimal("35.00"), None),
    ]
    assert result.sections["orders"][0].back_office_url == ADMIN + "5801234567042"
    (pos,) = result.sections["store_purchases"]
    assert (pos.channel, pos.number, pos.store, pos.status, pos.total, pos.back_office_url) == (
        "store", "#1040", "Lyon Part-Dieu", "delivered", Decimal("64.90"), ADMIN + "5801234567040")
    assert result.dropped_values == 0


def test_finds_by_phone_when_the_email_is_unknown(httpserver: HTTPServer, shop: Source) -> None:
    httpserver.expect_ordered_request(
        f"{API}/customers/search.json", query_string={"query": "email:other@example.com"},
        headers=TOKEN).respond_with_json(fixture("customers_search_empty.json"))
    httpserver.expect_ordered_request(
        f"{API}/customers/search.json", query_string={"query": "phone:+33612345678"},
        headers=TOKEN).respond_with_json(fixture("customers_search.json"))
    expect_orders(httpserver)
    result = shop.fetch(Identifiers(emails=("other@example.com",), phones=("+33612345678",)))
    httpserver.check_assertions()
    assert result.found and result.external_id == "7320145678"


def test_unknown_customer_reads_no_orders(httpserver: HTTPServer, shop: Source) -> None:
    httpserver.expect_ordered_request(
        f"{API}/customers/search.json", headers=TOKEN,
    ).respond_with_json(fixture("customers_search_empty.json"))
    assert not shop.fetch(Identifiers(emails=("nobody@example.com",))).found
    httpserver.check_assertions()
    assert len(httpserver.log) == 1


def test_tracking_of_one_order_on_demand(httpserver: HTTPServer, shop: Source) -> None:
    httpserver.expect_ordered_request(
        f"{API}/orders.json", query_string={"name": "#1042", "status": "any",
                                            "fields": "id,name,fulfillments"}, headers=TOKEN,
    ).respond_with_json(fixture("order_by_name.json"))
    detail = shop.detail("tracking", "#1042")
    httpserver.check_assertions()
    assert detail == {
        "Carrier": "Colissimo", "Tracking number": "6A12345678901", "Shipment status": "in_transit",
        "Tracking link": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "Shipped on": "2025-02-25T09:30:00+01:00"}
