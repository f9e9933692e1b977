"""The sources' own ids of what the record holds (`Order.source_id`, `Loyalty.account_id`):
mapped like any field, for the requests of actions, and never shown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from pytest_httpserver import HTTPServer

from connector.identifiers import Identifiers
from connector.models import Loyalty, Order
from connector.widgets.base import BlockSpec
from connector.widgets.page import BLOCKS, render_sidebar_page
from tests.sources.presets import test_tryton as tryton
from tests.sources.presets.test_square import PROFILES, build, expect, expect_orders, fixture
from tests.widgets.test_sidebar import CTX_EN, CTX_FR, pauline

ALL_BLOCKS = [BlockSpec(key) for key in BLOCKS]


def test_the_sidebar_is_the_same_with_the_sources_ids() -> None:
    plain = pauline()
    plain.loyalty = Loyalty(card="2900012345678", points=120, tier="Or")
    plain.store_purchases = [Order(channel="store", number="T-0088", status="delivered",
                                   date=dt.date(2017, 6, 3), total=Decimal("45.95"),
                                   store="Lyon Part-Dieu", source="pos")]
    with_ids = plain.model_copy(deep=True)
    with_ids.orders = [o.model_copy(update={"source_id": f"58012345670{n}"})
                       for n, o in enumerate(with_ids.orders)]
    with_ids.store_purchases = [o.model_copy(update={"source_id": f"gid-{n}"})
                                for n, o in enumerate(with_ids.store_purchases)]
    with_ids.loyalty = with_ids.loyalty.model_copy(
        update={"account_id": "79b807d2-d786-46a9-933b-918028d7a8c5"})
    assert with_ids.orders and with_ids.store_purchases  # something to show
    for ctx in (CTX_FR, CTX_EN):
        html = render_sidebar_page(with_ids, ALL_BLOCKS, ctx)
        assert html == render_sidebar_page(plain, ALL_BLOCKS, ctx)
        assert "58012345670" not in html and "gid-" not in html and "79b807d2" not in html


def test_square_maps_the_loyalty_account_id(httpserver: HTTPServer, tmp_path: Path) -> None:
    by_email = {"email_address": {"exact": "camille.durand@example.com"}}
    expect(httpserver, "/v2/customers/search", {"limit": 10, "query": {"filter": by_email}},
           fixture("customers_search.json"))
    expect_orders(httpserver)
    expect(httpserver, "/v2/loyalty/accounts/search",
           {"limit": 1, "query": {"customer_ids": PROFILES}},
           fixture("loyalty_accounts_search.json"))
    result = build(httpserver, tmp_path).fetch(Identifiers(emails=("camille.durand@example.com",)))
    httpserver.check_assertions()
    loyalty = result.sections["loyalty"]
    assert (loyalty.points, loyalty.account_id) == (120, "79b807d2-d786-46a9-933b-918028d7a8c5")


def test_tryton_maps_the_ids_of_sales_and_store_sales(httpserver: HTTPServer,
                                                      tmp_path: Path) -> None:
    tryton.expect_login(httpserver)
    tryton.expect(httpserver, "model.party.party.search_read", tryton.by_email(), "parties")
    tryton.expect(httpserver, "model.sale.sale.search_read", [["party", "in", [2]]], "sales")
    tryton.expect(httpserver, "model.sale.point.sale.search_read", [["party", "in", [2]]],
                  "store_sales")
    source = tryton.tryton_source(httpserver, tmp_path, store_sales_customer_field="party")
    result = source.fetch(Identifiers(emails=(tryton.EMAIL,)))
    tryton.all_expected_calls_made(httpserver)
    assert [(o.number, o.source_id) for o in result.sections["orders"]] == [
        ("1", "1"), (None, "3"), ("2", "2")]  # the cancelled quotation has no number, an id
    assert [(p.number, p.source_id) for p in result.sections["store_purchases"]] == [
        ("1", "1"), ("2", "2")]
