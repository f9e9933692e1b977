"""Every block knows how old its data is: its sources' age in its title's tooltip, said in its
header only when a copy is old or a source failed (the summary strip says the record's age
once); values that name their source carry it in a tooltip."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from connector.models import CustomerProfile, SourceState, SourceStatus
from connector.widgets.base import BlockSpec
from connector.widgets.freshness import BLOCK_SECTIONS, block_age, block_sections
from connector.widgets.page import BLOCKS, render_block, render_blocks

from .test_sidebar import CTX_EN, CTX_FR, NOW, pauline, plain

SECTIONS = {
    "erp": frozenset({"identity", "status", "orders"}),
    "pos": frozenset({"store_purchases", "identity"}),
    "reviews": frozenset({"reviews", "surveys"}),
}
LABELS = {"erp": "ERP", "pos": "Caisses", "reviews": "Avis"}
CTX = replace(CTX_FR, source_sections=SECTIONS, source_labels=LABELS)


def with_sources(**states: SourceStatus) -> CustomerProfile:
    """Pauline, her sources answering as given."""
    profile = pauline()
    profile.sources = dict(states)
    return profile


def ok(age_s: float) -> SourceStatus:
    return SourceStatus(status=SourceState.OK, age_s=age_s)


def head(key: str, profile: CustomerProfile, ctx: object = CTX,
         spec: BlockSpec | None = None) -> str:
    """The header of a block as rendered in the page: the head with its age, or the title
    whose tooltip holds the age of fresh data."""
    html = render_block(BLOCKS[key], profile, spec or BlockSpec(key), ctx)  # type: ignore[arg-type]
    assert html is not None
    match = re.search(r'<div class="block__head">.*?</div>|<h2 class="block__title" title=.*?</h2>',
                      plain(str(html)), re.S)
    return match.group(0) if match else ""


def test_a_block_shows_its_oldest_source_s_age_and_names_them_all_in_the_tooltip() -> None:
    profile = with_sources(erp=ok(180), pos=ok(7200), reviews=ok(30))
    orders = head("orders", profile)
    assert "age age--ok" not in orders  # fresh data: the age is in the title's tooltip
    assert 'title="il y a 2 h\nERP : à jour · il y a 3 min\nCaisses : à jour · il y a 2 h"' \
        in orders
    assert "Avis" not in orders  # the review feed does not feed the orders
    identity = head("identity", with_sources(erp=ok(180), reviews=ok(30)))
    assert 'title="il y a 3 min\n' in identity


def test_in_english() -> None:
    profile = with_sources(erp=ok(180))
    html = head("orders", profile, replace(CTX_EN, source_sections=SECTIONS,
                                           source_labels=LABELS))
    assert 'title="3 min ago\nERP: up to date · 3 min ago"' in html


def test_an_old_copy_and_a_failed_source_are_marked_quietly() -> None:
    stale = SourceStatus(status=SourceState.STALE, age_s=5400, error="server error (503)")
    down = SourceStatus(status=SourceState.TIMEOUT, error="no answer within 2 s")
    html = head("orders", with_sources(erp=stale, pos=ok(60)))
    assert 'age age--stale' in html and "dot dot--stale" in html
    assert "copie ancienne · il y a 1 h" in html
    html = head("orders", with_sources(erp=ok(60), pos=down))
    assert 'age age--down' in html and "il y a 1 min · Caisses : délai dépassé" in html
    assert "Caisses : délai dépassé" in html.split("title=")[1]


def test_sources_that_do_not_know_the_customer_or_are_filtered_out_do_not_count() -> None:
    missing = SourceStatus(status=SourceState.NOT_FOUND)
    html = head("orders", with_sources(erp=ok(60), pos=missing))
    assert "Caisses" not in html and 'title="il y a 1 min\n' in html
    only_pos = BlockSpec("orders", frozenset({"pos"}))
    profile = with_sources(erp=ok(60), pos=ok(600))
    profile.orders[0] = profile.orders[0].model_copy(update={"source": "pos"})
    html = head("orders", profile, spec=only_pos)
    assert "ERP" not in html and 'title="il y a 10 min\n' in html


def test_without_known_sources_the_header_is_unchanged() -> None:
    html = str(render_block(BLOCKS["orders"], with_sources(erp=ok(60)), BlockSpec("orders"),
                            CTX_FR))
    assert "block__head" not in html and '<h2 class="block__title">Commandes</h2>' in html
    assert block_age(frozenset({"orders"}), CustomerProfile(customer_id="x"),
                     BlockSpec("orders"), CTX) is None


def test_the_freshness_block_carries_no_marker() -> None:
    profile = with_sources(erp=ok(60), pos=ok(60), reviews=ok(60))
    html = str(render_block(BLOCKS["freshness"], profile, BlockSpec("freshness"), CTX))
    assert "block__head" not in html and '<h2 class="block__title">' in html
    assert block_sections(BLOCKS["freshness"]) == frozenset()
    assert 'title="il y a 1 min\n' in head("badges", profile)


def test_a_block_without_declared_sections_is_fed_by_its_layout_sources() -> None:
    class Card:
        key = "custom_card"

    assert block_sections(Card()) is None
    profile = with_sources(erp=ok(60), pos=ok(6000))
    age = block_age(None, profile, BlockSpec("custom_card", frozenset({"pos"})), CTX)
    assert age is not None and age.text == "il y a 1 h" and age.title.startswith("Caisses")
    assert block_age(None, profile, BlockSpec("custom_card"), CTX) is None


@pytest.mark.parametrize("key", sorted(BLOCK_SECTIONS))
def test_the_table_names_only_registered_blocks_and_canonical_sections(key: str) -> None:
    from connector.models import SECTIONS

    assert key in BLOCKS
    assert BLOCK_SECTIONS[key] <= set(SECTIONS)


def test_orders_and_reviews_name_their_source_and_its_age_on_each_item() -> None:
    profile = with_sources(erp=ok(180), pos=ok(60))
    html = plain("".join(render_blocks(profile, [BlockSpec("orders")], CTX)))
    assert html.count('<tr class="order" title="ERP : à jour · il y a 3 min">') == 2
    profile.sources["erp"] = SourceStatus(status=SourceState.OK, fetched_at=NOW - timedelta(
        minutes=12))
    html = plain("".join(render_blocks(profile, [BlockSpec("orders")], CTX)))
    assert 'title="ERP : à jour · il y a 12 min"' in html


def test_a_card_is_aged_by_the_sources_its_paths_read() -> None:
    from connector.widgets.layout import Card, CardField
    from connector.widgets.page import CARD

    card = Card(key="ref", title="Repères", fields=[
        CardField(label="N° ERP", path="identity.external_ids.erp"),
        CardField(label="Dernier avis", path="reviews[0].date", format="date")])
    spec = BlockSpec("card", card=card)
    profile = with_sources(erp=ok(180), pos=ok(7200), reviews=ok(30))
    profile.identity.external_ids = {"erp": "C100997"}
    assert block_sections(CARD, spec) == frozenset({"identity", "reviews"})
    html = plain(str(render_block(CARD, profile, spec, CTX)))
    # the POS also gives identities: the oldest source's age, then each source's
    assert 'title="il y a 2 h\nERP : à jour · il y a 3 min\nCaisses : à jour · il y a 2 h\n' \
        'Avis : à jour' in html
    only_loyalty = Card(title="Fidélité", fields=[CardField(label="Points", path="loyalty.points")])
    assert block_sections(CARD, BlockSpec("card", card=only_loyalty)) == frozenset({"loyalty"})
