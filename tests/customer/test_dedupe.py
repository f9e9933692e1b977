"""One sale once: an in-store order held by the e-shop's back office and by the POS export counts
once in spend, basket and count (`kpis.dedupe`), kept in the first source of the manifest."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from connector.customer.kpis import one_sale_once
from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.customer.rules import DedupeRule
from connector.identifiers import Identifiers
from connector.manifest import Manifest, ManifestError, load_manifest
from connector.models import Order
from connector.sources.base import SourceResult
from connector.sources.cache import MemoryCache, SingleFlight

MANIFEST = """\
version: 1
sources:
  shop: {{type: files, path: a.csv, match: {{email: e}},
         sections: {{orders: {{items: rows, fields: {{number: n}}}}}}}}
  pos: {{type: files, path: b.csv, match: {{email: e}},
        sections: {{store_purchases: {{items: rows, fields: {{number: n}}}}}}}}
kpis:
{kpis}
"""
EMAIL = Identifiers(emails=("p@x.fr",))
DAY = dt.date(2026, 11, 3)


class Fake:
    """A source answering what the test says."""

    def __init__(self, name: str, answer: SourceResult) -> None:
        self.name, self.answer, self.provides = name, answer, frozenset()

    def fetch(self, ids: Identifiers) -> SourceResult:
        return self.answer


def manifest(tmp_path: Path, kpis: str) -> Manifest:
    (tmp_path / "manifest.yaml").write_text(MANIFEST.format(kpis=kpis))
    return load_manifest(tmp_path / "manifest.yaml", env={})


def order(number: str, total: str, source: str, store: str | None = None) -> Order:
    return Order(number=number, total=Decimal(total), date=DAY, source=source, store=store)


def looked_up(manifest: Manifest) -> tuple[Decimal | None, Decimal | None, int, list[Order],
                                           list[Order]]:
    shop = SourceResult(found=True, sections={"orders": [
        order("W-1", "100", "shop"), order("S-7", "60", "shop", "Lyon")]})
    pos = SourceResult(found=True, sections={"store_purchases": [
        order("S-7", "60", "pos", "Lyon"), order("S-8", "20", "pos", "Lyon")]})
    assembler = ProfileAssembler(
        manifest, {"shop": Fake("shop", shop), "pos": Fake("pos", pos)},
        SingleFlight(MemoryCache()), ThreadPoolExecutor(2),
        Resolver(LinkStore("sqlite://"), manifest.identity))
    profile = assembler.lookup(EMAIL).profile
    assert profile is not None
    kpis = profile.kpis
    return (kpis.total_spend, kpis.average_basket, kpis.orders_count, profile.orders,
            profile.store_purchases)


def test_without_a_rule_the_in_store_order_counts_twice(tmp_path: Path) -> None:
    spend, basket, count, _, _ = looked_up(manifest(tmp_path, "  purchases: [orders, "
                                                              "store_purchases]"))
    assert (spend, basket, count) == (Decimal("240.00"), Decimal("60.00"), 4)


def test_with_a_rule_it_counts_once_kept_in_the_first_source(tmp_path: Path) -> None:
    rules = "  dedupe: [{lists: [orders, store_purchases], key: number}]"
    spend, basket, count, orders, store = looked_up(manifest(tmp_path, rules))
    assert (spend, basket, count) == (Decimal("180.00"), Decimal("60.00"), 3)
    assert [(o.number, o.source, o.also_in) for o in orders] == [
        ("W-1", "shop", []), ("S-7", "shop", ["pos"])]
    assert [o.number for o in store] == ["S-8"]


def test_a_key_of_several_fields_must_all_match() -> None:
    lists = {"orders": [order("7", "60", "shop", "Lyon")],
             "store_purchases": [order("7", "60", "pos", "Lyon"),
                                 order("7", "35", "pos", "Paris"), order("9", "5", "pos")]}
    rule = DedupeRule.model_validate({"key": ["number", "store"]})
    kept = one_sale_once(lists, [rule], ["shop", "pos"])
    assert [(o.store, o.also_in) for o in kept["orders"]] == [("Lyon", ["pos"])]
    assert [(o.number, o.store) for o in kept["store_purchases"]] == [("7", "Paris"),
                                                                       ("9", None)]


def test_the_first_source_of_the_manifest_keeps_the_sale() -> None:
    lists = {"orders": [order("7", "60", "shop")], "store_purchases": [order("7", "60", "pos")]}
    rule = DedupeRule.model_validate({"key": "number"})
    kept = one_sale_once(lists, [rule], ["pos", "shop"])
    assert kept["orders"] == []
    assert [(o.source, o.also_in) for o in kept["store_purchases"]] == [("pos", ["shop"])]


@pytest.mark.parametrize(("rules", "error"), [
    ("  dedupe: [{lists: [orders, tickets], key: number}]",
     "kpis.dedupe[0].lists[1]: input should be 'orders' or 'store_purchases'"),
    ("  dedupe: [{key: numbr}]",
     "kpis.dedupe[0].key: unknown field 'numbr' of purchase (one of: channel, number, status, "
     "date, tracking, total, currency, back_office_url, store, source, also_in, source_id)"),
    ("  dedupe: [{lists: [orders]}]", "kpis.dedupe[0].key: required"),
])
def test_a_wrong_rule_is_refused_with_its_path(tmp_path: Path, rules: str, error: str) -> None:
    with pytest.raises(ManifestError) as refused:
        manifest(tmp_path, rules)
    assert refused.value.errors == [error]
