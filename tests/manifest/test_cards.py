"""Custom cards and the layout in the manifest: every error with its path, exactly as printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.customer.paths import profile_path_problems
from connector.manifest import ManifestError, load_manifest
from connector.widgets.base import BlockSpec
from connector.widgets.layout import DEFAULT_BLOCKS
from connector.widgets.page import BLOCKS
from tests.conftest import MANIFEST

HEAD = """\
version: 1
sources:
  erp:
    type: rest
    base_url: https://erp.example.com
    requests: [{name: c, path: /c, params: {email: "{email}"}}]
    sections: {identity: {path: c, fields: {last_name: name}}}
"""

BROKEN_CARDS = HEAD + """\
sidebar:
  blocks:
    - identity
    - card:
        key: preferences
        title: {fr: "Préférences", en: "Preferences"}
        fields:
          - {label: {fr: "Pointure", en: "Shoe size"}, path: "identity.external_ids.pos["}
          - {label: "Points", path: loyalty.pointz, format: number}
          - {label: "Total", path: orders.total, format: money}
          - {label: "Magasin", path: magasin}
          - {label: "Quand", path: loyalty.card, format: when}
          - {label: {de: "Punkte"}, path: loyalty.points}
          - {label: "Carte", path: "loyalty.card != null", format: boolean}
          - {label: "Ville", path: identity.address.town}
          - {label: "Points", path: "loyalty[*].points"}
    - card: {title: Vide, fields: []}
    - card: {key: Bad Key, title: X, fields: [{label: A, path: loyalty.card}]}
    - {block: orders, card: {title: X, fields: [{label: A, path: loyalty.card}]}}
    - {sources: [erp]}
"""

SECTIONS = ("customer_id, matched, identity, status, kpis, flags, sentiment, contacts, orders, "
            "store_purchases, loyalty, consent, reviews, campaigns, notes, agenda, documents, "
            "requests, surveys, sources, identity_checked, "
            "unavailable")

EXPECTED = [
    "sidebar.blocks[1].card.fields[0].path: invalid JMESPath expression "
    "'identity.external_ids.pos[' (Invalid jmespath expression: Incomplete expression:)",
    "sidebar.blocks[1].card.fields[1].path: unknown field 'pointz' of loyalty "
    "(one of: card, points, tier, vouchers_used, previous_tier, tier_changed_at, account_id)",
    "sidebar.blocks[1].card.fields[2].path: orders is a list: write orders[0].total (the "
    "first) or orders[*].total (each)",
    f"sidebar.blocks[1].card.fields[3].path: unknown section 'magasin' of the customer "
    f"(one of: {SECTIONS})",
    "sidebar.blocks[1].card.fields[4].format: input should be 'text', 'number', 'money', "
    "'date', 'datetime', 'boolean' or 'list'",
    "sidebar.blocks[1].card.fields[5].label: give a text, or a text per language (fr, en), "
    'e.g. {fr: "Pointure", en: "Shoe size"}',
    f"sidebar.blocks[1].card.fields[6].path: unknown section 'null' of the customer "
    f"(one of: {SECTIONS}); the literal null is written `null`",
    "sidebar.blocks[1].card.fields[7].path: unknown field 'town' of identity.address "
    "(one of: line1, postcode, city, country)",
    "sidebar.blocks[1].card.fields[8].path: loyalty is not a list: [*] gives nothing",
    "sidebar.blocks[2].card.fields: a card needs at least one field",
    "sidebar.blocks[3].card.key: lower case letters, digits, - and _, starting with a letter "
    "(max 40)",
    "sidebar.blocks[4]: give either a block name (block: orders) or a card (card: …)",
    "sidebar.blocks[5]: give either a block name (block: orders) or a card (card: …)",
]

MISPLACED = HEAD + """\
sidebar:
  blocks:
    - card: {key: prefs, title: A, fields: [{label: A, path: loyalty.card}]}
    - {card: {title: B, fields: [{label: A, path: loyalty.card}]}, sources: [erp]}
    - card: {key: prefs, title: C, fields: [{label: A, path: loyalty.card}]}
    - card
    - horoscope
"""

VALID = HEAD + """\
sidebar:
  blocks:
    - contacts
    - tabs
    - {block: orders, sources: [erp]}
    - card:
        key: preferences
        title: {fr: "Préférences", en: "Preferences"}
        fields:
          - {label: {fr: "Pointure", en: "Shoe size"}, path: identity.external_ids.pos}
          - {label: "Points", path: loyalty.points, format: number}
          - {label: {fr: "Dernière commande"}, path: "max_by(orders, &date).date", format: date}
          - {label: "Web", path: "length(orders[?channel == 'web'])", format: number}
          - {label: "États", path: "sources.*.status", format: list}
    - card: {title: Notes, fields: [{label: Texte, path: "notes[0].text"}]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, text), env={})
    return caught.value.errors


def test_every_card_error_is_listed_with_its_path(tmp_path: Path) -> None:
    assert errors_of(tmp_path, BROKEN_CARDS) == EXPECTED


def test_cards_misplaced_in_the_layout_are_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MISPLACED)
    assert errors[:3] == [
        "sidebar.blocks[1].sources: sources do not apply to a card (its paths choose the data)",
        "sidebar.blocks[3]: a card needs a title and fields "
        "(card: {title: …, fields: [{label: …, path: …}]})",
        f"sidebar.blocks[4]: unknown block 'horoscope' (one of: {', '.join(BLOCKS)})",
    ]
    assert errors[3:] == ["sidebar.blocks[2].card.key: 'prefs' is used by two cards"]


def test_a_valid_card_becomes_a_block_spec(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, VALID), env={})
    specs = [BlockSpec.of(entry) for entry in manifest.sidebar.blocks]
    assert [spec.block for spec in specs] == ["contacts", "tabs", "orders", "card", "card"]
    assert specs[2].sources == frozenset({"erp"}) and specs[2].card is None
    card = specs[3].card
    assert card is not None and card.key == "preferences"
    assert card.title == {"fr": "Préférences", "en": "Preferences"}
    assert card.fields[1].label == {"fr": "Points", "en": "Points"}  # a plain text: both
    assert [f.format for f in card.fields] == ["text", "number", "date", "number", "list"]
    assert specs[4].card is not None and specs[4].card.key is None


@pytest.mark.parametrize("path", [
    "identity.external_ids.pos", "orders[0].number", "orders[*].total", "orders[].number",
    "max_by(orders, &date).date", "sources.*.status", "[identity.emails, loyalty.card]",
    "identity.emails[0] || identity.phones[0]", "loyalty.card != `null`", "orders[-1:]",
    "contacts.last.reason", "sentiment.nps.score", "customer_id", "orders | [0].number",
    "{card: loyalty.card}", "sort_by(orders, &date)[-1].total",
])
def test_usable_paths_pass(path: str) -> None:
    assert profile_path_problems(path) == []


@pytest.mark.parametrize(("path", "problem"), [
    ("loyalty.points.x", "loyalty.points is a single value: it has no field 'x'"),
    ("max_by(orders, &dat).date", "unknown field 'dat' of orders (one of: channel, number, "
     "status, date, tracking, total, currency, back_office_url, store, source, "
     "also_in, source_id)"),
    ("orders[?chanel == 'web']", "unknown field 'chanel' of orders (one of: channel, number, "
     "status, date, tracking, total, currency, back_office_url, store, source, "
     "also_in, source_id)"),
    ("sources.*.stat", "unknown field 'stat' of sources (one of: status, fetched_at, age_s, "
     "latency_ms, error)"),
])
def test_paths_are_checked_inside_filters_functions_and_mappings(path: str, problem: str) -> None:
    assert profile_path_problems(path) == [problem]


def test_default_layout_puts_the_summary_then_the_tabs_first() -> None:
    assert DEFAULT_BLOCKS[:3] == ["summary", "tabs", "identity"]
    assert "badges" not in DEFAULT_BLOCKS  # the summary shows them
    manifest = load_manifest(MANIFEST, env={})
    blocks = [entry.block for entry in manifest.sidebar.blocks]
    assert blocks[:2] == ["summary", "tabs"]
    cards = [entry.card for entry in manifest.sidebar.blocks if entry.card is not None]
    assert [card.key for card in cards] == ["references"]
