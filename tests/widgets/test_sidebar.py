"""The whole sidebar as the agent sees it: French and English pages, safety, failures."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connector.models import (
    Address,
    CustomerProfile,
    Identity,
    Kpis,
    Order,
    SourceState,
    SourceStatus,
    Status,
)
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import (
    BLOCKS,
    render_message_page,
    render_sidebar_fragment,
    render_sidebar_page,
)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CTX_FR = RenderContext(locale="fr", currency="EUR", now=NOW, other_locale_url="?lang=en")
CTX_EN = RenderContext(locale="en", currency="EUR", now=NOW, other_locale_url="?lang=fr")
LAYOUT = [BlockSpec(key) for key in ("identity", "badges", "kpis", "orders", "freshness")]
XSS = "<img src=x onerror=alert(1)>"
BACK_OFFICE = "https://bo.example.com/orders/997890"


def pauline() -> CustomerProfile:
    """Pauline Denève, the white paper's sample customer."""
    return CustomerProfile(
        customer_id="cust-1",
        identity=Identity(
            civility="MADAME",
            first_name="Pauline",
            last_name="Denève",
            emails=["pauline.deneve@easiware.fr"],
            phones=["+33653888890", "+32186953033"],
            address=Address(line1="1 AVENUE SPINOZA", postcode="77184", city="EMERAINVILLE"),
        ),
        status=Status(segment="VIP"),
        kpis=Kpis(
            total_spend=Decimal("1464.00"),
            average_basket=Decimal("488.00"),
            last_order_date=date(2017, 8, 5),
            orders_count=3,
            satisfaction=Decimal("8.5"),
        ),
        orders=[
            Order(
                number="997890",
                status="returned",
                date=date(2017, 8, 5),
                tracking="AU908764",
                total=Decimal("45.95"),
                back_office_url=BACK_OFFICE,
                source="erp",
            ),
            Order(
                number="120145",
                status="delivered",
                date=date(2017, 6, 10),
                tracking="34543-A",
                total=Decimal("989.00"),
                source="erp",
            ),
        ],
        sources={
            "erp": SourceStatus(status=SourceState.OK, age_s=180),
            "reviews": SourceStatus(status=SourceState.TIMEOUT, error="read timeout (2 s)"),
        },
    )


def plain(html: str) -> str:
    """Normalise Babel's no-break spaces so assertions can use ordinary spaces."""
    return html.replace("\u202f", " ").replace("\xa0", " ")


def body(html: str) -> str:
    """Return what follows the page's head (the inlined CSS names the same classes)."""
    return html.split("</head>", 1)[1]


def page(profile: CustomerProfile, ctx: RenderContext = CTX_FR) -> str:
    """Render the full sidebar page with the default layout, spaces normalised."""
    return plain(render_sidebar_page(profile, LAYOUT, ctx))


def test_french_page_shows_the_white_paper_figures() -> None:
    html = page(pauline())
    for expected in ("1 464,00 €", "488,00 €", "05/08/2017", "8,5", "Retournée", "AU908764"):
        assert expected in html
    assert "Livrée" in html and "989,00 €" in html and "45,95 €" in html
    assert "Mme Pauline Denève" in html
    assert "+33 6 53 88 88 90" in html and 'href="tel:+33653888890"' in html
    assert 'href="mailto:pauline.deneve@easiware.fr"' in html
    assert "77184 EMERAINVILLE" in html
    assert '<html lang="fr">' in html


def test_english_page_uses_english_labels_and_formats() -> None:
    html = page(pauline(), CTX_EN)
    for expected in ("€1,464.00", "€488.00", "5 Aug 2017", "8.5", "Returned", "Delivered"):
        assert expected in html
    for label in ("Full name", "Main email", "Total spend", "Average basket", "Order no."):
        assert label in html
    assert "Retournée" not in html and "Total TTC" not in html
    assert '<html lang="en">' in html


def test_page_header_has_the_name_and_the_language_switch() -> None:
    html = page(pauline())
    assert re.search(r'<h1 class="topbar__name">Mme Pauline Denève</h1>', html)
    assert 'href="?lang=en"' in html and ">EN</a>" in html
    no_switch = body(page(pauline(), RenderContext(locale="fr", currency="EUR", now=NOW)))
    assert 'class="switch"' not in no_switch


def test_source_text_is_escaped_everywhere() -> None:
    profile = pauline().model_copy(deep=True)
    profile.identity.full_name = XSS
    profile.orders[0].number = XSS
    profile.orders[1].back_office_url = "javascript:alert(1)"
    html = render_sidebar_page(profile, LAYOUT, CTX_FR)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("&lt;img") >= 3  # header, identity line, order number
    assert "javascript:" not in html


def test_a_timed_out_source_is_shown_and_other_blocks_still_render() -> None:
    html = body(page(pauline()))
    assert "délai dépassé" in html and "read timeout (2 s)" in html
    assert "dot--down" in html and "dot--ok" in html
    assert "il y a 3 min" in html
    for block in ("identity", "badges", "kpis", "orders", "freshness"):
        assert f"block--{block}" in html


def test_an_empty_profile_renders_without_error() -> None:
    empty = CustomerProfile(customer_id="nobody")
    html = body(page(empty))
    assert "Client sans nom" in html and "Aucune donnée" in html
    assert "block--" not in html
    fragment = render_sidebar_fragment(empty, LAYOUT, CTX_EN)
    assert "Nothing to show" in fragment


def test_the_page_loads_nothing_from_outside() -> None:
    html = page(pauline())
    assert "<script" not in html and "<link" not in html and "url(" not in html
    assert "@import" not in html and "<style>" in html
    assert "http" not in html.replace(BACK_OFFICE, "")


def test_fragment_holds_the_blocks_only() -> None:
    fragment = plain(render_sidebar_fragment(pauline(), LAYOUT, CTX_FR))
    assert "<html" not in fragment and "<style" not in fragment
    assert "1 464,00 €" in fragment and 'lang="fr"' in fragment


def test_layout_order_and_subset_are_followed() -> None:
    html = page(pauline()).split("<main>")[1]
    only = render_sidebar_fragment(pauline(), [BlockSpec("orders"), BlockSpec("kpis")], CTX_FR)
    assert only.index("block--orders") < only.index("block--kpis")
    assert "block--identity" not in only
    assert html.index("block--identity") < html.index("block--freshness")


def test_unknown_block_key_raises_key_error() -> None:
    with pytest.raises(KeyError):
        render_sidebar_page(pauline(), [BlockSpec("identity"), BlockSpec("horoscope")], CTX_FR)


def test_a_failing_block_is_replaced_by_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        key = "kpis"

        def render(self, profile: object, spec: object, ctx: object) -> str | None:
            raise ValueError("boom")

    monkeypatch.setitem(BLOCKS, "kpis", Broken())
    html = body(page(pauline()))
    assert "Ce bloc n'a pas pu être affiché." in html.replace("&#39;", "'")
    assert "block--identity" in html and "block--orders" in html


def test_registry_holds_the_blocks_in_priority_order() -> None:
    assert list(BLOCKS) == [
        "summary", "identity", "badges", "kpis", "sentiment", "contacts", "tabs", "reviews",
        "orders", "loyalty", "notes", "campaigns", "complaints", "timeline", "freshness",
    ]
    assert all(block.key == key for key, block in BLOCKS.items())


def test_message_page_is_a_complete_escaped_page() -> None:
    html = render_message_page(
        "Aucun client trouvé", "Pas de fiche pour ce contact.", CTX_FR, detail=f"pauline@x.fr {XSS}"
    )
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fr">' in html
    assert "Aucun client trouvé" in html and "Pas de fiche pour ce contact." in html
    assert "&lt;img" in html and "<img" not in html
    assert "<style>" in html and "http" not in html
    assert "message__detail" not in body(render_message_page("Lien expiré", "Rouvrez.", CTX_FR))
