"""Custom cards as the agent sees them: formats in French and English, escaping, empty cards."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connector.manifest import load_manifest
from connector.models import (
    Contacts,
    CustomerProfile,
    Identity,
    LastContact,
    Loyalty,
    Order,
    Status,
)
from connector.widgets.base import BlockSpec
from connector.widgets.card import CardBlock
from connector.widgets.layout import Card
from connector.widgets.page import render_sidebar_fragment
from tests.conftest import MANIFEST

from .test_sidebar import CTX_EN, CTX_FR, XSS, pauline, plain

FIELDS: list[dict[str, Any]] = [
    {"label": {"fr": "Pointure", "en": "Shoe size"}, "path": "identity.external_ids.pos"},
    {"label": "Points", "path": "loyalty.points", "format": "number"},
    {"label": {"fr": "Dernier achat", "en": "Last purchase"}, "path": "orders[0].total",
     "format": "money"},
    {"label": {"fr": "Commandé le", "en": "Ordered on"}, "path": "orders[0].date",
     "format": "date"},
    {"label": {"fr": "Dernier contact", "en": "Last contact"}, "path": "contacts.last.date",
     "format": "datetime"},
    {"label": "VIP", "path": "contains(status.tags, 'vip')", "format": "boolean"},
    {"label": "Emails", "path": "identity.emails", "format": "list"},
    {"label": "Tags", "path": "status.tags"},
]


def card(fields: list[dict[str, Any]] = FIELDS, **extra: Any) -> Card:
    """A card as the manifest would give it."""
    return Card.model_validate({"key": "preferences", "title": {"fr": "Préférences",
                                                                "en": "Preferences"},
                                "fields": fields, **extra})


def customer() -> CustomerProfile:
    """A customer filling every field of the sample card."""
    return CustomerProfile(
        customer_id="c1",
        identity=Identity(emails=["a@example.fr", "b@example.fr"], external_ids={"pos": "38"}),
        status=Status(tags=["vip", "Abonné"]),
        loyalty=Loyalty(points=12400),
        orders=[Order(number="1", date=date(2017, 8, 5), total=Decimal("1464.5"))],
        contacts=Contacts(count=1, last=LastContact(date=datetime(2019, 2, 23, 16, 54,
                                                                  tzinfo=UTC))),
    )


def render(profile: CustomerProfile, spec_card: Card, ctx: Any = CTX_FR) -> str | None:
    html = CardBlock().render(profile, BlockSpec("card", card=spec_card), ctx)
    return plain(html) if html is not None else None


def lines(html: str) -> dict[str, list[str]]:
    """Label -> the lines shown for it."""
    found = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.S)
    return {label: re.findall(r'<span class="line">(.*?)</span>', dd) for label, dd in found}


def test_every_format_in_french() -> None:
    html = render(customer(), card())
    assert html is not None
    assert '<h2 class="block__title">Préférences</h2>' in html
    assert lines(html) == {
        "Pointure": ["38"],
        "Points": ["12 400"],
        "Dernier achat": ["1 464,50 €"],
        "Commandé le": ["05/08/2017"],
        "Dernier contact": ["23/02/2019 17:54"],  # on the agents' clock (Paris)
        "VIP": ["Oui"],
        "Emails": ["a@example.fr", "b@example.fr"],  # list: one line each
        "Tags": ["vip, Abonné"],  # text: one line
    }


def test_every_format_in_english() -> None:
    html = render(customer(), card(), CTX_EN)
    assert html is not None
    assert '<h2 class="block__title">Preferences</h2>' in html
    assert lines(html) == {
        "Shoe size": ["38"],
        "Points": ["12,400"],
        "Last purchase": ["€1,464.50"],
        "Ordered on": ["5 Aug 2017"],
        "Last contact": ["23 Feb 2019 17:54"],
        "VIP": ["Yes"],
        "Emails": ["a@example.fr", "b@example.fr"],
        "Tags": ["vip, Abonné"],
    }


def test_a_label_given_in_one_language_serves_both() -> None:
    only_fr = card([{"label": {"fr": "Points fidélité"}, "path": "loyalty.points"}])
    html = render(customer(), only_fr, CTX_EN)
    assert html is not None and "<dt>Points fidélité</dt>" in html


def test_fields_without_value_are_left_out_and_false_is_a_value() -> None:
    profile = CustomerProfile(customer_id="c2", loyalty=Loyalty(points=0))
    html = render(profile, card())
    assert html is not None
    assert lines(html) == {"Points": ["0"], "VIP": ["Non"]}


def test_a_card_with_no_value_renders_nothing() -> None:
    empty = card([{"label": "Pointure", "path": "identity.external_ids.pos"},
                  {"label": "Emails", "path": "identity.emails", "format": "list"}])
    assert render(CustomerProfile(customer_id="c3"), empty) is None
    fragment = render_sidebar_fragment(CustomerProfile(customer_id="c3"),
                                       [BlockSpec("card", card=empty)], CTX_FR)
    assert "block--card" not in fragment


def test_values_are_escaped_not_interpreted() -> None:
    profile = customer()
    profile.identity.external_ids["pos"] = XSS
    profile.identity.emails = [XSS]
    html = render(profile, card(title=XSS, fields=[
        {"label": XSS, "path": "identity.external_ids.pos"},
        {"label": "Emails", "path": "identity.emails", "format": "list"},
    ]))
    assert html is not None
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") == 5  # title ×2, label, two values


def test_a_value_that_does_not_read_as_its_format_is_shown_as_written() -> None:
    profile = customer()
    profile.identity.external_ids["pos"] = "quarante"
    html = render(profile, card([
        {"label": "N", "path": "identity.external_ids.pos", "format": "number"},
        {"label": "D", "path": "identity.external_ids.pos", "format": "date"},
        {"label": "B", "path": "identity.external_ids.pos", "format": "boolean"},
    ]))
    assert html is not None
    assert lines(html) == {"N": ["quarante"], "D": ["quarante"], "B": ["quarante"]}


def test_a_path_failing_on_this_customer_leaves_its_field_out() -> None:
    profile = customer()
    profile.orders.append(Order(number="2"))  # no date: max_by cannot compare null
    html = render(profile, card([
        {"label": "Max", "path": "max_by(orders, &date).number"},
        {"label": "Points", "path": "loyalty.points", "format": "number"},
    ]))
    assert html is not None and lines(html) == {"Points": ["12 400"]}


def test_cards_get_stable_ids_in_the_page() -> None:
    keyed, unkeyed = card(), card(key=None)
    layout = [BlockSpec("identity"), BlockSpec("card", card=keyed),
              BlockSpec("card", card=unkeyed), BlockSpec("card", card=unkeyed)]
    html = render_sidebar_fragment(customer(), layout, CTX_FR)
    ids = re.findall(r'<section class="block block--card" id="([^"]+)"', html)
    assert ids == ["card-preferences", "card-1", "card-2"]


def test_the_default_manifest_card_shows_the_demo_customer() -> None:
    manifest = load_manifest(MANIFEST, env={})
    spec = next(BlockSpec.of(e) for e in manifest.sidebar.blocks if e.card is not None)
    profile = pauline()
    profile.identity.external_ids = {"erp": "C100997"}
    profile.orders[0].channel = profile.orders[1].channel = "web"
    assert spec.card is not None
    html = render(profile, spec.card)
    assert html is not None
    assert lines(html) == {"N° client ERP": ["C100997"], "Commandes web": ["2"]}
    english = render(profile, spec.card, CTX_EN)
    assert english is not None and "ERP customer no." in english and "Web orders" in english
