"""The tabs block: counts, in-page links to the blocks that list them, French and English."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector import i18n
from connector.models import (
    Campaign,
    CustomerProfile,
    NpsAnswer,
    Order,
    Review,
    Sentiment,
    TrendPoint,
)
from connector.widgets.base import BlockSpec
from connector.widgets.page import render_sidebar_fragment, render_sidebar_page
from connector.widgets.tabs import TABS, TabsBlock

from .test_blocks_more import pauline_full
from .test_browser import FRAME
from .test_sidebar import CTX_EN, CTX_FR, plain

FULL_LAYOUT = [BlockSpec(key) for key in ("identity", "contacts", "tabs", "orders", "campaigns")]


def record() -> CustomerProfile:
    """Pauline with 23 contacts, 2 orders, 1 store purchase, 6 campaigns, 2 reviews, 3 answers."""
    profile = pauline_full()
    profile.store_purchases = [Order(number="T-1", date=date(2024, 1, 3), store="Paris Rivoli",
                                     total=Decimal("12"), source="pos")]
    profile.sentiment = Sentiment(
        trend=[TrendPoint(date=date(2024, 1, 10), score=Decimal(8)),
               TrendPoint(date=date(2024, 2, 20), score=Decimal(9))],
        nps=NpsAnswer(score=9, category="promoter", date=date(2024, 2, 20)),
    )
    return profile


def tabs_html(profile: CustomerProfile, layout: list[BlockSpec], ctx: Any = CTX_FR,
              spec: BlockSpec | None = None) -> str:
    """The tabs block as rendered inside a layout (so it knows which blocks are there)."""
    fragment = render_sidebar_fragment(profile, [*layout, *([spec] if spec else [])], ctx)
    found = re.search(r'<section class="block block--tabs".*?</section>', fragment, re.S)
    assert found is not None
    return plain(found[0])


def tab(html: str, key: str) -> str:
    """The markup of one tab."""
    found = re.search(rf'<(?:a|span) class="tab tab--{key}[ "].*?(?=\s*</li>)', html, re.S)
    assert found is not None, key
    return found[0]


def test_counts_and_links_in_french() -> None:
    html = tabs_html(record(), FULL_LAYOUT)
    assert 'aria-label="Dossier en bref"' in html
    requests = tab(html, "requests")
    assert 'href="#block-contacts"' in requests
    assert 'aria-label="Demandes : 23, aller à la liste"' in requests
    assert ">Demandes</span> <span class=\"tab__count\">23<" in requests
    assert 'href="#block-orders"' in tab(html, "orders") and ">2<" in tab(html, "orders")
    assert 'href="#block-orders"' in tab(html, "store_purchases")
    assert 'aria-label="Achats magasin : 1, aller à la liste"' in tab(html, "store_purchases")
    assert 'href="#block-campaigns"' in tab(html, "campaigns") and ">6<" in tab(html, "campaigns")
    exchanges = tab(html, "exchanges")  # 23 contacts + 6 campaigns + 2 reviews + 3 answers
    assert exchanges.startswith("<span") and ">34<" in exchanges
    assert 'title="Tous les échanges : demandes, campagnes reçues, avis et réponses aux ' \
        'enquêtes"' in exchanges


def test_counts_and_links_in_english() -> None:
    html = tabs_html(record(), FULL_LAYOUT, CTX_EN)
    assert 'aria-label="Record at a glance"' in html
    assert 'aria-label="Requests: 23, go to the list"' in tab(html, "requests")
    assert 'aria-label="Store purchases: 1, go to the list"' in tab(html, "store_purchases")
    assert ">Exchanges<" in tab(html, "exchanges") and "All exchanges: requests" in html


def test_every_link_points_at_a_block_of_the_page() -> None:
    html = render_sidebar_page(record(), FULL_LAYOUT, CTX_FR)
    targets = re.findall(r'<a class="tab[^"]*" href="#([^"]+)"', html)
    assert sorted(set(targets)) == ["block-campaigns", "block-contacts", "block-orders"]
    for target in targets:
        assert f'id="{target}"' in html


def test_a_block_missing_from_the_layout_gives_a_plain_count() -> None:
    html = tabs_html(record(), [BlockSpec("tabs"), BlockSpec("orders")])
    assert tab(html, "requests").startswith("<span") and ">23<" in tab(html, "requests")
    assert tab(html, "campaigns").startswith("<span")
    assert tab(html, "orders").startswith("<a")


def test_zero_counts_are_dimmed_and_never_links() -> None:
    profile = record()
    profile.campaigns, profile.store_purchases = [], []
    html = tabs_html(profile, FULL_LAYOUT)
    for key in ("campaigns", "store_purchases"):
        shown = tab(html, key)
        assert shown.startswith('<span class="tab tab--' + key + ' tab--zero"') and ">0<" in shown
    assert "tab--zero" not in tab(html, "orders")


def test_sources_of_the_block_filter_orders_and_reviews() -> None:
    profile = record()
    profile.reviews = [Review(site="Google", rating=Decimal(5), source="reviews"),
                       Review(site="Trustpilot", rating=Decimal(1), source="other")]
    profile.orders = [Order(number="1", source="erp"), Order(number="2", source="web")]
    spec = BlockSpec("tabs", frozenset({"erp", "reviews"}))
    html = plain(TabsBlock().render(profile, spec, CTX_FR) or "")
    assert ">1<" in tab(html, "orders") and "tab--zero" in tab(html, "store_purchases")
    assert ">33<" in tab(html, "exchanges")  # 23 + 6 + 1 review + 3 answers


def test_exchanges_count_every_kind_of_interaction() -> None:
    profile = CustomerProfile(customer_id="x", campaigns=[Campaign(name="Soldes")],
                              reviews=[Review(site="Google")],
                              sentiment=Sentiment(nps=NpsAnswer(score=3, category="detractor")))
    html = plain(TabsBlock().render(profile, BlockSpec("tabs"), CTX_FR) or "")
    assert ">3<" in tab(html, "exchanges") and "tab--zero" in tab(html, "requests")


def test_every_text_of_tabs_and_cards_is_in_both_catalogs() -> None:
    keys = {tab.label for tab in TABS} | {tab.title for tab in TABS if tab.title}
    keys |= {"block.tabs", "tabs.go_to", "card.yes", "card.no"}
    for locale in i18n.LOCALES:
        assert sorted(key for key in keys if not i18n.has_text(key, locale)) == [], locale


def test_nothing_to_count_renders_nothing() -> None:
    assert TabsBlock().render(CustomerProfile(customer_id="x"), BlockSpec("tabs"), CTX_FR) is None


@pytest.mark.browser
@pytest.mark.parametrize("ctx", [CTX_FR, CTX_EN], ids=["fr", "en"])
def test_tabs_wrap_in_320px_and_the_keyboard_follows_them(browser: Any, tmp_path: Path,
                                                        ctx: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    profile = record()
    profile.contacts.count = 12345  # wide counts: the tabs must wrap, never scroll
    html = render_sidebar_page(profile, FULL_LAYOUT, ctx)
    (tmp_path / "tabs.html").write_text(html, encoding="utf-8")
    (tmp_path / "host.html").write_text(FRAME.format(src="tabs.html", width=320, height=600),
                                        encoding="utf-8")
    browser.get((tmp_path / "host.html").as_uri())
    browser.switch_to.frame(browser.find_element("id", "f"))
    try:
        scroll, client = browser.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];")
        rows = browser.execute_script(
            "return new Set([...document.querySelectorAll('.tab')].map(t => t.offsetTop)).size;")
        orders = browser.find_element("css selector", "a.tab--orders")
        body = browser.find_element("tag name", "body")
        for _ in range(40):  # Tab from the top of the page until the orders tab has the focus
            body = browser.switch_to.active_element
            if body == orders:
                break
            body.send_keys(Keys.TAB)
        assert browser.switch_to.active_element == orders
        orders.send_keys(Keys.ENTER)
        where = browser.execute_script("return location.hash;")
    finally:
        browser.switch_to.default_content()
    assert client <= 320 and scroll <= client
    assert rows >= 2  # they wrapped onto several lines
    assert where == "#block-orders"
