"""The tabs block: how many requests, orders, store purchases and campaigns the record holds,
and everything its timeline lists, each a link to the list it counts.

A tab's count is the length of the list its link opens: requests (and campaigns) are counted
in the timeline when the layout has one (its page filtered to them, on the full record), in
their own block otherwise (and in a fragment, which opens no page); orders and store
purchases in the orders table; "History" is every entry of the timeline. A tab whose list is
not on the page, or is empty, is a plain count; zero counts are dimmed. Each follows the
block's `sources`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from connector import i18n
from connector.customer.timeline import timeline_of
from connector.models import CustomerProfile
from connector.widgets.base import BlockSpec, RenderContext, render_template
from connector.widgets.timeline import link

Count = Callable[[CustomerProfile, BlockSpec], int]


def timeline_counts(profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> Counter[str]:
    """Entries the timeline lists, by kind and in all (`"all"`), as the block counts them:
    built once per tabs block (a timeline is every item of the record, sorted)."""
    counts = Counter(entry.kind for entry in timeline_of(profile, ctx.timezone)
                     if spec.allows(entry.source))
    counts["all"] = sum(counts.values())
    return counts


def requests(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Past contacts, every channel, as the contacts block counts them."""
    return profile.contacts.count


def orders(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Online orders, every status (as the orders table lists them)."""
    return sum(1 for order in profile.orders if spec.allows(order.source))


def store_purchases(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Purchases at the stores' tills (listed in the orders table too)."""
    return sum(1 for order in profile.store_purchases if spec.allows(order.source))


def campaigns(profile: CustomerProfile, spec: BlockSpec) -> int:
    """Marketing campaigns received."""
    return len(profile.campaigns)


@dataclass(frozen=True)
class Tab:
    """One tab: its catalog label, the block listing its items and how that block counts
    them, and the timeline's kind holding the same items (counted and opened there first)."""

    key: str
    label: str  # i18n catalog key
    count: Count | None  # None: only the timeline lists them
    target: str | None  # registry key of the block listing the items
    kind: str | None = None  # the timeline's kind of these items ("all": every entry)
    title: str | None = None  # i18n catalog key of a tooltip explaining the count


TABS: tuple[Tab, ...] = (
    Tab("requests", "tabs.requests", requests, "contacts", "request"),
    Tab("orders", "tabs.orders", orders, "orders"),
    Tab("store_purchases", "tabs.store_purchases", store_purchases, "orders"),
    Tab("campaigns", "tabs.campaigns", campaigns, "campaigns", "campaign"),
    Tab("history", "tabs.history", None, None, "all", "tabs.history_title"),
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


def counted(tab: Tab, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext,
            listed: Counter[str]) -> tuple[int, str | None]:
    """The tab's count and where its list is: the timeline's page filtered to the tab's kind
    (on the full record), the whole timeline block for "History", else the tab's own block
    (in a fragment, which opens no timeline page); `listed`: the timeline's counts."""
    if tab.kind is not None and "timeline" in ctx.anchors:
        kind = None if tab.kind == "all" else tab.kind
        page = link(ctx, kind) if kind is not None else f"#{ctx.anchors['timeline']}"
        if page is not None:
            return listed[tab.kind], page
    if tab.count is None:
        return 0, None
    anchor = ctx.anchors.get(tab.target) if tab.target else None
    return tab.count(profile, spec), f"#{anchor}" if anchor else None


def tab_view(tab: Tab, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext,
             listed: Counter[str]) -> TabView | None:
    """Count one tab and decide whether it links to its list (None: nothing to count)."""
    number, href = counted(tab, profile, spec, ctx, listed)
    if tab.count is None and href is None:
        return None  # "History" without a timeline on the page
    label = i18n.text(tab.label, ctx.locale)
    count = i18n.format_number(number, ctx.locale)
    return TabView(
        key=tab.key, label=label, count=count, zero=number == 0,
        href=href if number > 0 else None,
        aria_label=i18n.text("tabs.go_to", ctx.locale, label=label, count=count),
        title=i18n.text(tab.title, ctx.locale) if tab.title else "",
    )


class TabsBlock:
    """Counts of the record's lists, each a keyboard-reachable link to the block listing them."""

    key = "tabs"
    tabs = TABS
    sections = frozenset({"contacts", "orders", "store_purchases", "campaigns", "reviews",
                          "surveys", "agenda", "documents"})

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the tabs, or None when every count is zero."""
        listed = (timeline_counts(profile, spec, ctx) if "timeline" in ctx.anchors
                  else Counter[str]())
        views = [view for tab in self.tabs
                 if (view := tab_view(tab, profile, spec, ctx, listed)) is not None]
        if all(view.zero for view in views):
            return None
        return render_template("tabs.html", ctx, block=self.key, tabs=views)
