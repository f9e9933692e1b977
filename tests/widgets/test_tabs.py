"""The tabs block: counts, each a link to the list it counts (a block, or the timeline filtered
to the tab's kind), French and English."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector import i18n
from connector.customer.timeline import timeline_of
from connector.models import (
    Campaign,
    ContactEvent,
    CustomerProfile,
    NpsAnswer,
    Order,
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
    assert "tab--history" not in html  # no timeline in this layout: nothing it could open


def test_counts_and_links_in_english() -> None:
    html = tabs_html(record(), FULL_LAYOUT, CTX_EN)
    assert 'aria-label="Record at a glance"' in html
    assert 'aria-label="Requests: 23, go to the list"' in tab(html, "requests")
    assert 'aria-label="Store purchases: 1, go to the list"' in tab(html, "store_purchases")
    assert "tab--history" not in html


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


def test_sources_of_the_block_filter_orders() -> None:
    profile = record()
    profile.orders = [Order(number="1", source="erp"), Order(number="2", source="web")]
    spec = BlockSpec("tabs", frozenset({"erp", "reviews"}))
    html = plain(TabsBlock().render(profile, spec, CTX_FR) or "")
    assert ">1<" in tab(html, "orders") and "tab--zero" in tab(html, "store_purchases")


TIMELINE_URL = "/helpdesk/embed/timeline?t=tok&lang=fr"


def story() -> CustomerProfile:
    """Three requests and a campaign in the timeline, though the contacts source counts 23."""
    profile = record()
    profile.requests = [ContactEvent(date=datetime(2024, 2, d, 9, tzinfo=UTC), channel="email",
                                     reason="SAV", source="contacts") for d in (1, 2, 3)]
    profile.campaigns = [Campaign(name="Soldes", date=date(2024, 1, 5))]
    return profile


def test_with_a_timeline_each_tab_counts_and_opens_the_timeline_list_it_names() -> None:
    profile = story()
    layout = [BlockSpec("tabs"), BlockSpec("orders"), BlockSpec("timeline")]
    page = plain(render_sidebar_page(profile, layout, replace(CTX_FR, timeline_url=TIMELINE_URL)))
    html = re.search(r'<section class="block block--tabs".*?</section>', page, re.S)[0]  # type: ignore[index]
    requests = tab(html, "requests")  # the timeline lists 3 requests: the tab says 3, not 23
    assert ">3<" in requests and 'href="/helpdesk/embed/timeline?t=tok&amp;lang=fr&amp;kind=' \
        'request"' in requests
    assert 'kind=campaign"' in tab(html, "campaigns") and ">1<" in tab(html, "campaigns")
    entries = timeline_of(profile, "Europe/Paris")
    history = tab(html, "history")
    assert f">{len(entries)}<" in history and 'href="#block-timeline"' in history
    timeline = re.search(r'<section class="block block--timeline".*?</section>', page, re.S)
    assert timeline is not None
    assert f'Tout <span class="timeline__count">{len(entries)}</span>' in timeline[0]
    assert 'Demandes <span class="timeline__count">3</span>' in timeline[0]


def test_in_a_fragment_a_kind_opens_its_own_block_and_history_the_timeline() -> None:
    layout = [BlockSpec("tabs"), BlockSpec("contacts"), BlockSpec("timeline")]
    html = tabs_html(story(), layout)
    assert 'href="#block-contacts"' in tab(html, "requests") and ">23<" in tab(html, "requests")
    assert 'href="#block-timeline"' in tab(html, "history")
    assert ">Historique<" in tab(html, "history") and "Tout ce que la chronologie liste" in html
    english = tabs_html(story(), layout, CTX_EN)
    assert ">History<" in tab(english, "history") and "Everything the timeline lists" in english


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
