"""The sentiment, contacts, reviews, loyalty and campaigns blocks; placement; detail buttons."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connector import i18n
from connector.customer.details import DetailOffer
from connector.customer.rules import FlagRules
from connector.models import (
    Campaign,
    Contacts,
    CustomerProfile,
    LastContact,
    Loyalty,
    NpsAnswer,
    Order,
    Review,
    Sentiment,
    TrendPoint,
)
from connector.widgets.base import BlockSpec, MoveAbove, RenderContext
from connector.widgets.campaigns import MAX_SUBJECT_CHARS, clipped
from connector.widgets.contacts import CONTACT_FIELDS
from connector.widgets.loyalty import LOYALTY_FIELDS
from connector.widgets.page import BLOCKS, arrange, render_sidebar_fragment, render_sidebar_page
from connector.widgets.sentiment import DIRECTIONS, MOODS, NPS_TONES, SENTIMENT_FIELDS

from .test_sidebar import CTX_EN, CTX_FR, NOW, XSS, body, pauline, plain

RECENT = (NOW - timedelta(days=20)).date()
OLD = (NOW - timedelta(days=400)).date()
REVIEW_URL = "https://fr.trustpilot.com/reviews/5f1e"
ALL_BLOCKS = [BlockSpec(key) for key in BLOCKS]
MANIFEST_ORDER = [BlockSpec(key) for key in ("identity", "kpis", "orders", "reviews", "freshness")]
DETAIL_URL = "/helpdesk/embed/details/{source}/{detail}?t=tok&key="
DETAILS = {
    "orders": (DetailOffer("erp", "tracking", {"fr": "Suivi du colis", "en": "Parcel tracking"},
                           "number"),),
    "loyalty": (DetailOffer("loyalty", "balance", {"fr": "Solde de points",
                                                   "en": "Points balance"}, "card"),),
}
CTX_DETAILS = replace(CTX_FR, details=DETAILS, detail_url=DETAIL_URL, nonce="n0nce-123")


def pauline_full(review_day: date = RECENT) -> CustomerProfile:
    """Pauline with every section the new blocks show; her 2/5 review left on `review_day`."""
    profile = pauline()
    profile.sentiment = Sentiment(
        last_satisfaction=Decimal(9),
        trend=[
            TrendPoint(date=date(2024, 1, 10), score=Decimal(8)),
            TrendPoint(date=date(2024, 2, 20), score=Decimal(9)),
        ],
        nps=NpsAnswer(score=9, category="promoter", date=date(2024, 2, 20)),
        ces=Decimal("2"),
    )
    profile.contacts = Contacts(
        count=23,
        by_channel={"phone": 8, "email": 12, "facebook": 3},
        last=LastContact(
            date=datetime(2019, 2, 23, 16, 54, tzinfo=UTC), channel="email",
            reason="Retour de la commande 997890",
        ),
        repeat_rate=Decimal("0.13"),
    )
    profile.reviews = [
        Review(site="Trustpilot", rating=Decimal(2), max_rating=Decimal(5), date=review_day,
               title="Retour compliqué", excerpt="Trois semaines pour être remboursée.",
               url=REVIEW_URL, source="reviews"),
        Review(site="Google", rating=Decimal(5), date=date(2016, 5, 2), title="Parfait"),
    ]
    profile.loyalty = Loyalty(card="29000123456", points=1240, tier="Or", vouchers_used=2)
    profile.campaigns = [
        Campaign(name=f"Soldes {i}", date=date(2024, 1, 1) + timedelta(days=7 * i), channel="email")
        for i in range(6)
    ]
    return profile


def render(key: str, profile: CustomerProfile, ctx: RenderContext = CTX_FR,
           spec: BlockSpec | None = None) -> str:
    """Render one block, failing the test when it has nothing to show."""
    html = BLOCKS[key].render(profile, spec or BlockSpec(key), ctx)
    assert html is not None
    return plain(html)


def order_of_blocks(html: str) -> list[str]:
    """The blocks of a page or fragment, in the order they are shown."""
    return re.findall(r'<section class="block block--([a-z_]+)"', html)


def test_sentiment_shows_a_face_the_score_a_sparkline_nps_and_ces() -> None:
    html = render("sentiment", pauline_full())
    assert '<svg class="face"' in html and "9/10" in html and "Très satisfait" in html
    assert "mood--good" in html
    assert '<svg class="spark"' not in html  # two answers draw a line, not a trend
    assert re.search(r'class="tone tone--good"[^>]*>9/10 · Promoteur<', html)
    assert "2/5 · plus bas, mieux c&#39;est" in html and "Effort (CES)" in html
    assert not re.search(r"[\U0001F300-\U0001FAFF]", html)  # no emoji: Debian has no such font
    profile = pauline_full()
    profile.sentiment.trend.insert(0, TrendPoint(date=date(2016, 3, 1), score=Decimal(6)))
    html = render("sentiment", profile)
    spark = re.search(r'<svg class="spark"[^>]*>', html)
    assert spark is not None
    assert 'role="img"' in spark[0] and \
        'aria-label="Évolution de la satisfaction sur 10 : 6, 8, 9"' in spark[0]
    assert "<polyline" in html and "en hausse" in html and "trend--good" in html
    english = render("sentiment", profile, CTX_EN)
    assert "Very satisfied" in english and "Promoter" in english and "rising" in english
    assert "2/5 · lower is better" in english


@pytest.mark.parametrize(
    ("score", "category", "tone", "mood"),
    [(3, "detractor", "bad", "very_dissatisfied"), (7, "passive", "warn", "satisfied")],
)
def test_sentiment_colours_follow_the_levels(score: int, category: str, tone: str,
                                             mood: str) -> None:
    profile = CustomerProfile(customer_id="x", sentiment=Sentiment(
        last_satisfaction=Decimal(score), trend=[TrendPoint(score=Decimal(score))],
        nps=NpsAnswer.model_validate({"score": score, "category": category})))
    html = render("sentiment", profile)
    assert f"tone--{tone}" in html and i18n.text(f"nps.{category}", "fr") in html
    assert i18n.text(f"mood.{mood}", "fr") in html
    assert '<svg class="spark"' not in html  # one answer makes no trend


def test_sentiment_trend_going_down_is_red() -> None:
    profile = CustomerProfile(customer_id="x", sentiment=Sentiment(
        trend=[TrendPoint(score=Decimal(9)), TrendPoint(score=Decimal(7)),
               TrendPoint(score=Decimal("4.5"))]))
    html = render("sentiment", profile)
    assert "trend--bad" in html and "en baisse" in html and "9, 7, 4,5" in html
    assert "4,5/10" in html and "Insatisfait" in html  # the last point stands for the last score


def test_contacts_show_count_channels_last_contact_and_repeat_rate() -> None:
    html = render("contacts", pauline_full())
    assert ">23<" in html
    assert html.index("Email · 12") < html.index("Téléphone · 8") < html.index("Facebook · 3")
    assert "23/02/2019 17:54 · Email" in html  # shown in Paris time
    assert "Retour de la commande 997890" in html
    assert 'title="Part des contacts survenus moins de 7 jours après le précédent">13 %<' in html
    english = render("contacts", pauline_full(), replace(CTX_EN, repeat_window_days=10))
    assert "Share of contacts that came within 10 days of the previous one" in english
    assert ">13%<" in english and "23 Feb 2019 17:54 · Email" in english


def test_reviews_show_site_stars_date_title_and_hide_the_verbatim() -> None:
    html = render("reviews", pauline_full())
    assert "Trustpilot" in html and "2/5" in html and "★" in html
    assert 'title="Note : 2 sur 5"' in html and RECENT.strftime("%d/%m/%Y") in html
    assert "Retour compliqué" in html
    verbatim = re.search(r"<details[^>]*>\s*<summary>Lire l'avis</summary>(.*?)</details>",
                         html.replace("&#39;", "'"), re.S)
    assert verbatim is not None and "Trois semaines" in verbatim[1]
    assert f'href="{REVIEW_URL}" target="_blank" rel="noopener noreferrer"' in html
    assert html.index("Trustpilot") < html.index("Google")  # newest first


def test_a_recent_negative_review_is_marked_an_old_one_is_not() -> None:
    recent = render("reviews", pauline_full(RECENT))
    assert recent.count("review--negative") == 1 and "Négatif récent" in recent
    old = render("reviews", pauline_full(OLD))
    assert "review--negative" not in old and "Négatif récent" not in old
    edge = render("reviews", pauline_full((NOW - timedelta(days=90)).date()))
    assert "review--negative" in edge


def test_review_links_are_http_only() -> None:
    profile = pauline_full()
    profile.reviews[0].url = "javascript:alert(1)"
    html = render("reviews", profile)
    assert "javascript:" not in html and "review__link" not in html


def test_a_recent_negative_review_goes_above_the_orders() -> None:
    html = render_sidebar_page(pauline_full(RECENT), MANIFEST_ORDER, CTX_FR)
    shown = order_of_blocks(body(html))
    assert shown.index("reviews") == shown.index("orders") - 1
    assert shown == ["identity", "kpis", "reviews", "orders", "freshness"]
    fragment = render_sidebar_fragment(pauline_full(RECENT), MANIFEST_ORDER, CTX_FR)
    assert order_of_blocks(fragment) == shown


def test_an_old_negative_review_keeps_the_manifest_order() -> None:
    html = render_sidebar_page(pauline_full(OLD), MANIFEST_ORDER, CTX_FR)
    assert order_of_blocks(body(html)) == ["identity", "kpis", "orders", "reviews", "freshness"]


def test_a_review_the_spec_hides_does_not_move_the_block() -> None:
    layout = [BlockSpec("orders"), BlockSpec("reviews", frozenset({"other"}))]
    assert arrange(pauline_full(RECENT), layout, CTX_FR) == layout


def test_placement_wishes_are_general_and_a_failing_one_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Eager:
        key = "campaigns"
        moves_above = (MoveAbove("identity", lambda p, s, c: True),)

        def render(self, profile: object, spec: object, ctx: object) -> str | None:
            return None

    class Broken(Eager):
        moves_above = (MoveAbove("identity", lambda p, s, c: 1 / 0 > 0),)

    layout = [BlockSpec(k) for k in ("identity", "kpis", "campaigns")]
    monkeypatch.setitem(BLOCKS, "campaigns", Eager())
    assert [s.block for s in arrange(pauline(), layout, CTX_FR)] == [
        "campaigns", "identity", "kpis"]
    monkeypatch.setitem(BLOCKS, "campaigns", Broken())
    assert arrange(pauline(), layout, CTX_FR) == layout
    assert arrange(pauline(), layout[::-1], CTX_FR) == layout[::-1]  # already above: unchanged


def test_loyalty_shows_card_points_tier_and_vouchers() -> None:
    html = render("loyalty", pauline_full())
    for expected in ("29000123456", "1 240", ">Or<", "Bons utilisés", "Palier"):
        assert expected in html
    assert "<button" not in html
    assert "1,240" in render("loyalty", pauline_full(), CTX_EN)


def test_campaigns_newest_first_five_at_most() -> None:
    html = render("campaigns", pauline_full())
    assert html.index("Soldes 5") < html.index("Soldes 4") < html.index("Soldes 1")
    assert "Soldes 0" not in html and "+ 1 autre campagne" in html
    assert "05/02/2024" in html and 'class="tone tone--channel">Email<' in html


def test_a_campaign_shows_its_subject_quietly_under_its_name() -> None:
    profile = pauline()
    sms = ("Pauline, 2 bons d'achat vous attendent à Paris Rivoli jusqu'au 31 mars : présentez "
           "votre carte Or en caisse, ou répondez STOP")
    profile.campaigns = [
        Campaign(name="Carte Or", date=date(2018, 3, 15), channel="SMS", subject=sms),
        Campaign(name="Black Friday", date=date(2018, 11, 23), channel="email",
                 subject="Black Friday : -30 %\n sur <b>tout</b> le salon"),
        Campaign(name="Newsletter", date=date(2019, 1, 9), channel="email", subject="newsletter"),
        Campaign(date=date(2019, 2, 1), channel="email", subject="Soldes d'hiver"),
    ]
    html = render("campaigns", profile)
    assert ('<span class="campaign__name">Black Friday<br><small class="campaign__subject">'
            "Black Friday : -30 % sur &lt;b&gt;tout&lt;/b&gt; le salon</small></span>") in html
    clipped = ('<small class="campaign__subject"><span title="Pauline, 2 bons d&#39;achat vous '
               "attendent à Paris Rivoli jusqu&#39;au 31 mars : présentez votre carte Or en "
               'caisse, ou répondez STOP">Pauline, 2 bons d&#39;achat vous attendent à Paris '
               "Rivoli jusqu&#39;au 31 mars : présentez votre…</span></small>")
    assert clipped in html
    assert ">Newsletter</span>" in html and ">newsletter<" not in html  # the name says it
    assert '<span class="campaign__name">Soldes d&#39;hiver</span>' in html  # no name: subject
    assert 'class="tone tone--channel">SMS<' in render("campaigns", profile, CTX_EN)


def test_a_subject_is_clipped_at_a_word() -> None:
    assert clipped("court") == "court"
    assert clipped("un  deux\ntrois") == "un deux trois"
    assert clipped("alpha beta gamma delta", 12) == "alpha beta…"
    assert clipped("a" * 30, 12) == "a" * 11 + "…"  # no word to cut at
    assert clipped("alpha beta, gamma", 13) == "alpha beta…"
    assert len(clipped("mot " * 60)) <= MAX_SUBJECT_CHARS


def test_source_text_in_the_new_blocks_is_escaped() -> None:
    profile = pauline_full()
    profile.reviews[0].title = XSS
    profile.reviews[0].excerpt = XSS
    profile.reviews[0].site = XSS
    profile.campaigns[5].name = XSS
    profile.campaigns[4].subject = XSS
    profile.contacts.last = LastContact(reason=XSS, channel=XSS)
    profile.loyalty.card = f'"{XSS}'
    html = render_sidebar_page(profile, ALL_BLOCKS, CTX_DETAILS)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert body(html).count("&lt;img") >= 7
    assert 'data-detail-key="&#34;&lt;img' in html


def test_detail_buttons_appear_per_order_and_for_the_loyalty_card() -> None:
    profile = pauline_full()
    profile.store_purchases = [Order(number="T-9", date=date(2017, 7, 1), source="pos")]
    html = body(render_sidebar_page(profile, ALL_BLOCKS, CTX_DETAILS))
    buttons = re.findall(r"<button [^>]*>[^<]*</button>", html)
    assert len(buttons) == 3  # two ERP orders and the card; the store purchase offers nothing
    first = buttons[0]
    assert 'type="button"' in first and 'aria-expanded="false"' in first
    assert 'data-detail-url="/helpdesk/embed/details/erp/tracking?t=tok&amp;key="' in first
    assert 'data-detail-key="997890"' in first and ">Suivi du colis<" in first
    for button in buttons:
        panel = re.search(r'aria-controls="([^"]+)"', button)
        assert panel is not None
        assert re.search(rf'id="{panel[1]}"[^>]*hidden', html)
    assert 'data-detail-url="/helpdesk/embed/details/loyalty/balance?t=tok&amp;key="' in buttons[2]
    assert 'data-detail-key="29000123456"' in buttons[2] and ">Solde de points<" in buttons[2]


def test_the_page_has_one_script_with_the_nonce_and_details_only_when_they_can_be_asked() -> None:
    html = render_sidebar_page(pauline_full(), ALL_BLOCKS, CTX_DETAILS)
    assert html.count("<script") == 1 and '<script nonce="n0nce-123"' in html
    assert "innerHTML" not in html and "src=" not in html.split("<script", 1)[1]
    assert "data-detail-url" in html.split("<script", 1)[1]  # the details' part of the script
    without = render_sidebar_page(pauline_full(), ALL_BLOCKS, replace(CTX_DETAILS, detail_url=None))
    assert without.count("<script") == 1 and "<button" not in without  # folding only
    assert "data-detail-url" not in without.split("<script", 1)[1]
    no_nonce = render_sidebar_page(pauline_full(), ALL_BLOCKS,
                                   replace(CTX_DETAILS, detail_url=None, nonce=""))
    assert "<script" not in no_nonce  # no nonce, no script (the CSP would refuse it)
    fragment = render_sidebar_fragment(pauline_full(), ALL_BLOCKS, CTX_DETAILS)
    assert "<script" not in fragment and "<button" not in fragment


def test_every_new_text_is_in_both_catalogs() -> None:
    keys = {f"block.{key}" for key in BLOCKS}
    keys |= {f.label for f in (*SENTIMENT_FIELDS, *CONTACT_FIELDS, *LOYALTY_FIELDS)}
    keys |= {f"mood.{mood.key}" for mood in MOODS} | {f"nps.{n}" for n in NPS_TONES}
    keys |= {f"trend.{direction.key}" for direction in DIRECTIONS.values()}
    keys |= {"sentiment.satisfaction", "sentiment.trend", "sentiment.trend_label",
             "sentiment.nps_title", "sentiment.answered", "sentiment.ces_title",
             "review.rating_title", "review.read", "review.open", "review.recent_negative",
             "review.more.one", "review.more.other", "contacts.repeat_title", "channel.other",
             "campaigns.more.one", "campaigns.more.other", "orders.details",
             "detail.loading", "detail.failed", "detail.fetched"}
    for locale in i18n.LOCALES:
        assert sorted(k for k in keys if not i18n.has_text(k, locale)) == [], locale
    assert i18n.text("contacts.repeat_title", "en", days=7) == (
        "Share of contacts that came within 7 days of the previous one")


def test_the_negative_review_rule_is_the_manifest_s() -> None:
    stricter = replace(CTX_FR, flag_rules=FlagRules(negative_review_days=10))
    html = render_sidebar_page(pauline_full(RECENT), MANIFEST_ORDER, stricter)
    assert "review--negative" not in body(html)  # RECENT is older than 10 days
    assert order_of_blocks(body(html)) == ["identity", "kpis", "orders", "reviews", "freshness"]
