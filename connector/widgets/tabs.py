"""The tabs block: how many requests, orders, store purchases, campaigns and exchanges the
record holds, each a link to the block that lists them.

"Exchanges" are every interaction recorded with the customer, whichever side started it:
requests (past contacts, every channel) + campaigns received + reviews left + survey answers
the record keeps (the satisfaction answers of the trend and the last NPS answer). Purchases
are not exchanges: they have their own tabs.

A tab is an in-page link (`#block-orders`) when the block listing its items is in the layout
and the count is not zero, a plain count otherwise; zero counts are dimmed. Orders, store
purchases and reviews follow the block's `sources`; contacts and campaigns carry no source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector import i18n
from connector.models import CustomerProfile
from connector.widgets.base import BlockSpec, RenderContext, render_template

Count = Callable[[CustomerProfile, BlockSpec], int]


def requests(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Past contacts, every channel."""
    return profile.contacts.count


def orders(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Online orders, every status (as the orders table lists them)."""
    return sum(1 for order in profile.orders if spec.allows(order.source))


def store_purchases(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Purchases at the stores' tills."""
    return sum(1 for order in profile.store_purchases if spec.allows(order.source))


def campaigns(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Marketing campaigns received."""
    return len(profile.campaigns)


def survey_answers(profile: CustomerProfile) -> int:
    """Survey answers the record keeps: satisfaction answers of the trend, the last NPS."""
    return len(profile.sentiment.trend) + (1 if profile.sentiment.nps is not None else 0)


def exchanges(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Every recorded interaction: requests, campaigns received, reviews, survey answers."""
    reviews = sum(1 for review in profile.reviews if spec.allows(review.source))
    return (requests(profile, spec) + campaigns(profile, spec) + reviews
            + survey_answers(profile))


@dataclass(frozen=True)
class Tab:
    """One tab: its catalog label, how its count is taken, and the block that lists its items."""

    key: str
    label: str  # i18n catalog key
    count: Count
    target: str | None = None  # registry key of the block listing the items (None: no list)
    title: str | None = None  # i18n catalog key of a tooltip explaining the count


TABS: tuple[Tab, ...] = (
    Tab("requests", "tabs.requests", requests, "contacts"),
    Tab("orders", "tabs.orders", orders, "orders"),
    Tab("store_purchases", "tabs.store_purchases", store_purchases, "orders"),
    Tab("campaigns", "tabs.campaigns", campaigns, "campaigns"),
    Tab("exchanges", "tabs.exchanges", exchanges, None, "tabs.exchanges_title"),
)


@dataclass(frozen=True)
class TabView:
    """A tab as shown: label, formatted count, link (None: a plain count), tooltip."""

    key: str
    label: str
    count: str
    zero: bool
    href: str | None
    aria_label: str  # the link's accessible name ("Commandes : 3, aller à la liste")
    title: str


def tab_view(tab: Tab, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> TabView:
    """Count one tab and decide whether it links to its block."""
    number = tab.count(profile, spec)
    label = i18n.text(tab.label, ctx.locale)
    count = i18n.format_number(number, ctx.locale)
    anchor = ctx.anchors.get(tab.target) if tab.target and number > 0 else None
    return TabView(
        key=tab.key, label=label, count=count, zero=number == 0,
        href=f"#{anchor}" if anchor else None,
        aria_label=i18n.text("tabs.go_to", ctx.locale, label=label, count=count),
        title=i18n.text(tab.title, ctx.locale) if tab.title else "",
    )


class TabsBlock:
    """Counts of the record's lists, each a keyboard-reachable link to the block listing them."""

    key = "tabs"
    tabs = TABS
    sections = frozenset({"contacts", "orders", "store_purchases", "campaigns", "reviews",
                          "surveys"})

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the tabs, or None when every count is zero."""
        views = [tab_view(tab, profile, spec, ctx) for tab in self.tabs]
        if all(view.zero for view in views):
            return None
        return render_template("tabs.html", ctx, block=self.key, tabs=views)
