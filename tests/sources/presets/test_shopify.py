"""The shipped `shopify` preset against a real GraphQL server shaped like Shopify's Admin API
(tests/sources/shopify_graphql.py): access-token header, customer search by email then phone,
orders paged by cursor, online orders and POS purchases apart, tracking on demand."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceUnavailable
from connector.sources.guard import Circuit, SourceGuard
from connector.sources.preset import presets
from tests.sources.graphql_server import GraphQLServer, serving
from tests.sources.shopify_graphql import THROTTLED, shopify_server

ADMIN = "https://maison-exemple.myshopify.com/admin/orders/"
CAMILLE = Identifiers(emails=("camille.durand@example.com",))


@pytest.fixture
def server() -> Iterator[GraphQLServer]:
    with serving(shopify_server()) as running:
        yield running


@pytest.fixture
def shop(server: GraphQLServer, tmp_path: Path) -> Source:
    entry = presets()["shopify"].example + (
        f"  api_url: {server.url}\n"
        '  location_names: {"Part-Dieu": Lyon Part-Dieu}\n')
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"SHOPIFY_ACCESS_TOKEN": "shpat_fake"})
    return build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))


def test_finds_by_email_and_splits_online_from_pos(server: GraphQLServer, shop: Source) -> None:
    result = shop.fetch(CAMILLE)

    assert [r["variables"] for r in server.received] == [
        {"q": 'email:"camille.durand@example.com"'},
        {"id": "gid://shopify/Customer/7320145678"}]
    assert result.found and result.external_id == "7320145678"
    identity = result.sections["identity"]
    assert (identity.first_name, identity.last_name, identity.emails, identity.phones) == (
        "Camille", "Durand", ["camille.durand@example.com"], ["+33612345678", "+33 4 78 00 00 00"])
    assert (identity.address.line1, identity.address.city, identity.address.country,
            str(identity.customer_since)) == ("12 rue des Lilas", "Lyon", "FR", "2023-05-14")
    assert result.sections["status"].tags == ["VIP"]
    kpis = result.sections["kpis"]
    assert (kpis.orders_count, kpis.total_spend, kpis.currency) == (7, Decimal("1843.60"), "EUR")
    online = [(o.channel, o.number, o.status, str(o.date), o.total, o.tracking)
              for o in result.sections["orders"]]
    assert online == [
        ("app", "#1050", "processing", "2025-03-01", Decimal("59.00"), None),
        ("web", "#1042", "shipped", "2025-02-24", Decimal("249.00"), "6A12345678901"),
        ("web", "#1031", "delivered", "2025-01-17", Decimal("129.00"), "6A10987654321"),
        ("web", "#1002", "returned", "2024-12-02", Decimal("89.00"), "6A10000000002"),
        ("web", "#1001", "cancelled", "2024-11-29", Decimal("35.00"), None),
    ]
    assert result.sections["orders"][1].back_office_url == ADMIN + "5801234567042"
    (pos,) = result.sections["store_purchases"]
    assert (pos.channel, pos.number, pos.store, pos.status, pos.total, pos.back_office_url) == (
        "store", "#1040", "Lyon Part-Dieu", "delivered", Decimal("64.90"), ADMIN + "5801234567040")
    assert result.dropped_values == 0


def test_sends_the_query_verbatim_with_the_token(server: GraphQLServer, shop: Source) -> None:
    shop.fetch(CAMILLE)
    query = server.received[0]["query"]
    assert "customers(first: 1, query: $q) {" in query  # braces and `$q` untouched
    assert "camille" not in query  # the identifier travels in the variables only


def test_finds_by_phone_when_the_email_is_unknown(server: GraphQLServer, shop: Source) -> None:
    result = shop.fetch(Identifiers(emails=("other@example.com",), phones=("+33612345678",)))
    assert [r["variables"].get("q") for r in server.received[:2]] == [
        'email:"other@example.com"', 'phone:"+33612345678"']
    assert result.found and result.external_id == "7320145678"


def test_unknown_customer_reads_no_orders(server: GraphQLServer, shop: Source) -> None:
    assert not shop.fetch(Identifiers(emails=("nobody@example.com",))).found
    assert len(server.received) == 1


def test_an_email_with_quotes_is_searched_intact(server: GraphQLServer, shop: Source) -> None:
    result = shop.fetch(Identifiers(emails=('"jean dupont"@example.fr',)))
    assert server.received[0]["variables"] == {"q": 'email:"\\"jean dupont\\"@example.fr"'}
    assert result.found and result.external_id == "7320145699"
    assert result.sections["identity"].emails == ['"jean dupont"@example.fr']


def test_tracking_of_one_order_on_demand(server: GraphQLServer, shop: Source) -> None:
    detail = shop.detail("tracking", "#1042")
    assert server.received[0]["variables"] == {"q": 'name:"#1042"'}
    assert detail == {
        "Carrier": "Colissimo", "Tracking number": "6A12345678901", "Shipment status": "IN_TRANSIT",
        "Tracking link": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "Shipped on": "2025-02-25T09:30:00+01:00"}


def test_throttled_is_transient_and_pauses_the_source(server: GraphQLServer,
                                                      shop: Source) -> None:
    server.refuse_answer = THROTTLED
    guard = SourceGuard(2, shop.config.circuit, 2.0, name="shop")  # type: ignore[attr-defined]
    with pytest.raises(SourceUnavailable) as failed:
        guard.run(lambda: shop.fetch(CAMILLE))
    guard.close()
    assert failed.value.public == "GraphQL error: Throttled"
    assert failed.value.retry_after_s == pytest.approx(2.0)  # (752 - 652) / 50 points a second
    assert guard.state is Circuit.OPEN  # not called again until the bucket has refilled
