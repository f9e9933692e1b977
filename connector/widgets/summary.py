"""The summary strip, first in the record: who the customer is, what they are worth, how they
feel, and the one or two alerts that matter, each a link to the block that holds its evidence.

It answers the agent's first questions above the fold (the first 300 px of a 320 px sidebar);
the blocks under it hold the detail. It carries the badges' content (status pills, flags), so
the default layout has no badges block; a manifest may still list both.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector import i18n
from connector.models import SECTIONS, CustomerProfile, Flag, Review
from connector.widgets.badges import BADGE_FIELDS, flag_icon, flag_item, without_repeats
from connector.widgets.base import BlockSpec, Item, RenderContext, describe, render_template
from connector.widgets.identity import display_name
from connector.widgets.kpis import money
from connector.widgets.sentiment import NPS_TONES, Face, face

ALERT_TONES = frozenset({"bad", "warn"})  # as the flag rules say: these tones are alerts
MAX_ALERTS = 2
# what a flag rule reads (its `over`) -> the blocks that show that evidence, first found wins
EVIDENCE: dict[str | None, tuple[str, ...]] = {
    "reviews": ("reviews", "timeline"),
    "surveys": ("sentiment", "timeline"),
    "contacts": ("complaints", "timeline", "contacts"),
    "orders": ("orders", "timeline"),
    "store_purchases": ("orders", "timeline"),
    "purchases": ("orders", "timeline"),
    None: ("kpis",),
}
# alerts the record makes without a rule of the manifest (the flag's key names its evidence)
KEY_EVIDENCE: dict[str, str | None] = {"negative_review": "reviews", "complaint": "contacts",
                                       "past_complaint": "contacts"}


@dataclass(frozen=True)
class Alert:
    """An alert as the strip shows it: its pill, its reason, and where its evidence is."""

    item: Item
    reason: str
    href: str | None
    over: str | None  # what its rule reads ("reviews"…)


@dataclass(frozen=True)
class Mood:
    """How the customer feels: the last satisfaction answer, the last NPS, the last review."""

    face: Face | None
    nps: Item | None
    review: Item | None


def alerts(profile: CustomerProfile, ctx: RenderContext) -> list[Alert]:
    """The first alerts of the record (flags in an alert tone, in the record's order)."""
    shown = []
    for flag in profile.flags:
        item = flag_item(flag, ctx)
        if item.tone not in ALERT_TONES:
            continue
        shown.append(Alert(Item(item.text, icon=item.icon, tone=item.tone, title=item.title),
                           flag.reason if item.detail else "", evidence(flag, ctx),
                           over_of(flag, ctx)))
        if len(shown) == MAX_ALERTS:
            break
    return shown


def over_of(flag: Flag, ctx: RenderContext) -> str | None:
    """What raised the flag: the list its rule reads (None: the record as a whole)."""
    rule = ctx.flag_rules.rules.get(flag.key)
    return rule.over if rule is not None else KEY_EVIDENCE.get(flag.key)


def evidence(flag: Flag, ctx: RenderContext) -> str | None:
    """The in-page link to the block showing what raised the flag, if it is on the page."""
    for block in EVIDENCE.get(over_of(flag, ctx), ()):
        if block in ctx.anchors:
            return f"#{ctx.anchors[block]}"
    return None


def pills(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """Who the customer is: segment, lifecycle, classes, tags, and the flags that are not
    alerts (VIP, win back, ambassador), each once."""
    rows = without_repeats(describe(BADGE_FIELDS, profile, ctx))
    items = []
    for row in rows:
        for item in row.items:
            if row.key == "flags" and item.tone in ALERT_TONES:
                continue  # said below, with its evidence
            items.append(Item(item.text, icon=item.icon, tone=item.tone,
                              title=" · ".join(p for p in (item.title, item.detail) if p)))
    return items


def since(profile: CustomerProfile, ctx: RenderContext) -> str | None:
    """"Client depuis 2014": the year the customer's account opened."""
    opened = profile.identity.customer_since
    return i18n.text("summary.since", ctx.locale, year=opened.year) if opened else None


def value(profile: CustomerProfile, ctx: RenderContext) -> list[str]:
    """What the customer is worth: total spend over how many purchases, the last one."""
    kpis = profile.kpis
    parts = []
    spend = money(kpis.total_spend, profile, ctx)
    if spend is not None:
        parts.append(spend)
    if kpis.orders_count:
        parts.append(i18n.plural_text("summary.purchases", kpis.orders_count, ctx.locale))
    if kpis.last_order_date is not None:
        parts.append(i18n.text("summary.last_purchase", ctx.locale,
                               date=i18n.format_date(kpis.last_order_date, ctx.locale)))
    return parts


def last_review(profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> Item | None:
    """The newest rated review: "★ 2/5 · Trustpilot", red when it is a negative one."""
    rated = [r for r in profile.reviews if r.rating is not None and spec.allows(r.source)]
    if not rated:
        return None
    review: Review = max(rated, key=lambda r: (r.date is not None, r.date))
    scale = review.max_rating or 5
    assert review.rating is not None
    share = review.rating / scale
    tone = "bad" if share <= ctx.flag_rules.negative_review_max_share else (
        "good" if share >= 0.8 else "warn")
    rating = "/".join(i18n.format_number(n, ctx.locale) for n in (review.rating, scale))
    text = " · ".join(p for p in (rating, review.site) if p)
    when = i18n.format_date(review.date, ctx.locale) if review.date else ""
    title = i18n.text("summary.last_review", ctx.locale, date=when) if when else ""
    return Item(text, icon=flag_icon("star"), tone=tone, title=title)


def nps(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """The last recommendation answer: "NPS 9 · promoteur"."""
    answer = profile.sentiment.nps
    if answer is None:
        return None
    category = i18n.text(f"nps.{answer.category}", ctx.locale)
    when = i18n.format_date(answer.date, ctx.locale) if answer.date else ""
    title = i18n.text("summary.last_nps", ctx.locale, date=when) if when else ""
    return Item(f"NPS {answer.score} · {category}", tone=NPS_TONES[answer.category], title=title)


class SummaryBlock:
    """Who, what they are worth, how they feel, what needs care: the first lines of a record."""

    key = "summary"
    sections = frozenset(SECTIONS)  # its age line speaks for the whole record

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """The strip, or None when the record says nothing it could sum up."""
        warned = alerts(profile, ctx)
        review = (None if any(a.over == "reviews" for a in warned)  # the alert says it
                  else last_review(profile, spec, ctx))
        mood = Mood(face(profile, ctx), nps(profile, ctx), review)
        shown = {
            "who": display_name(profile, ctx.locale),
            "pills": pills(profile, ctx),
            "since": since(profile, ctx),
            "value": value(profile, ctx),
            "mood": mood if (mood.face or mood.nps or mood.review) else None,
            "alerts": warned,
        }
        if not any(shown.values()):
            return None
        return render_template("summary.html", ctx, block=self.key, search_url=ctx.search_url,
                               **shown)
