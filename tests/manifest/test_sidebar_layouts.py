"""A layout per helpdesk and blocks folded by default: checked with their paths, then followed
by the record (the helpdesk's own blocks, `data-fold` on the folded ones)."""

from __future__ import annotations

from pathlib import Path

from connector.manifest import load_manifest
from connector.widgets.page import render_sidebar_page
from connector.widgets.record import layout_of, render_context

from ..widgets.test_blocks_more import pauline_full
from .test_cards import HEAD, errors_of, write

LAYOUTS = HEAD + """\
sidebar:
  blocks:
    - summary
    - identity
    - orders
    - card: {key: refs, title: Réfs, fields: [{label: Nom, path: identity.last_name}]}
    - freshness
  helpdesks:
    helpscout: [summary, {block: orders, sources: [erp]}]
  folded: [freshness, refs]
"""

BROKEN = HEAD + """\
sidebar:
  blocks: [summary, identity]
  helpdesks:
    zendeks: [summary]
    helpscout: [summary, horoscope, {block: orders, sources: [pos]}]
  folded: [orders, timeline]
"""


def test_each_error_of_the_per_helpdesk_layouts_and_folds_has_its_path(tmp_path: Path) -> None:
    assert errors_of(tmp_path, BROKEN) == [
        "sidebar.helpdesks.zendeks: unknown helpdesk (one of: chatwoot, django_helpdesk, "
        "freescout, freshdesk, helpscout, zendesk, embed)",
        "sidebar.helpdesks.helpscout[1]: unknown block 'horoscope' (one of: summary, identity, "
        "badges, kpis, sentiment, contacts, tabs, reviews, orders, loyalty, notes, campaigns, "
        "complaints, timeline, freshness)",
        "sidebar.helpdesks.helpscout[2].sources[0]: unknown source 'pos' (declared: erp)",
        "sidebar.folded[1]: 'timeline' is neither a block of the layout nor a card's key (the "
        "layout has: identity, orders, summary)",
    ]


def test_an_empty_helpdesk_layout_is_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HEAD + "sidebar:\n  helpdesks:\n    freescout: []\n")
    assert errors == ["sidebar.helpdesks.freescout: list should have at least 1 item after "
                      "validation, not 0"]


def test_a_helpdesk_gets_its_own_blocks_and_others_the_main_layout(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, LAYOUTS), env={})
    assert [s.block for s in layout_of(manifest)] == [
        "summary", "identity", "orders", "card", "freshness"]
    assert [s.block for s in layout_of(manifest, "zendesk")] == [
        "summary", "identity", "orders", "card", "freshness"]
    helpscout = layout_of(manifest, "helpscout")
    assert [s.block for s in helpscout] == ["summary", "orders"]
    assert helpscout[1].sources == frozenset({"erp"})


def test_folded_blocks_and_cards_are_marked_for_the_page_script(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, LAYOUTS), env={})
    ctx = render_context(manifest, {}, "fr")
    html = render_sidebar_page(pauline_full(), layout_of(manifest), ctx)
    sections = {part.split('"', 1)[0]: part.split(">", 1)[0]
                for part in html.split('<section class="block block--')[1:]}
    assert "data-fold" in sections["freshness"] and "data-fold" in sections["card"]
    assert "data-fold" not in sections["orders"] and "data-fold" not in sections["identity"]
