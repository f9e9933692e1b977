"""The orders block: online orders and store purchases in one table, newest first.

One table with a channel column (rather than two sub-tables) keeps the sidebar short and shows
the customer's whole journey in order; a store purchase shows its store where an online order
shows its tracking number. Returned and cancelled orders are listed like the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from connector import i18n
from connector.models import CustomerProfile, Order
from connector.widgets.base import (
    BlockSpec,
    Item,
    RenderContext,
    date_text,
    render_template,
    safe_url,
    value_label,
)
from connector.widgets.details import detail_buttons
from connector.widgets.freshness import source_note
from connector.widgets.identity import action_item

MAX_ROWS = 10
STORE_CHANNEL = "store"

# Channels shown as a short chip ("channel_abbr.<key>"), full name ("channel.<key>") as tooltip;
# pictogram fonts vary too much between agents' machines. Unknown channels show as written.
CHANNELS = frozenset({"web", "app", "phone", "store", "email", "chat"})
CHANNEL_TONE = "channel"

# Order status -> (catalog key, tone of its pill). Unknown statuses are shown as written.
STATUSES: dict[str, tuple[str, str]] = {
    "delivered": ("order_status.delivered", "good"),
    "shipped": ("order_status.shipped", "info"),
    "returned": ("order_status.returned", "warn"),
    "cancelled": ("order_status.cancelled", "muted"),
    "canceled": ("order_status.cancelled", "muted"),
    "processing": ("order_status.processing", "muted"),
    "quotation": ("order_status.quotation", "muted"),
}
UNKNOWN_STATUS_TONE = "muted"

CellFn = Callable[[Order, CustomerProfile, RenderContext], Item | None]


@dataclass(frozen=True)
class Column:
    """One column of the orders table: its label and how a cell is drawn from an order."""

    key: str
    label: str  # i18n catalog key
    cell_fn: CellFn
    numeric: bool = False


def channel_cell(order: Order, profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the channel as a short chip ("Web", "Mag") with its full name as tooltip."""
    channel = (order.channel or "").strip().lower()
    if not channel:
        return None
    if channel not in CHANNELS:
        return Item(order.channel or "", tone=CHANNEL_TONE)
    name = i18n.text(f"channel.{channel}", ctx.locale)
    return Item(i18n.text(f"channel_abbr.{channel}", ctx.locale), tone=CHANNEL_TONE, title=name)


def number_cell(order: Order, profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the order number, linked to the back office when the source gives a link."""
    if not order.number:
        return None
    return Item(order.number, href=safe_url(order.back_office_url), external=True)


def status_cell(order: Order, profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the status as a coloured pill ("Livrée" in green, "Retournée" in orange…)."""
    raw = (order.status or "").strip()
    if not raw:
        return None
    key, tone = STATUSES.get(raw.lower(), ("", UNKNOWN_STATUS_TONE))
    named = value_label("orders.status", raw, ctx)
    return Item(named or (i18n.text(key, ctx.locale) if key else raw), tone=tone)


def tracking_cell(order: Order, profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the tracking number, or the store for a store purchase, with what it is (a
    narrow sidebar shows no header: the label goes before the value)."""
    value = order.tracking or order.store
    if not value:
        return None
    label = "orders.tracking_number" if order.tracking else "orders.store"
    return Item(value, title=i18n.text(label, ctx.locale))


def total_cell(order: Order, profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the total including tax in the order's currency (else the KPI or brand currency)."""
    if order.total is None:
        return None
    currency = order.currency or profile.kpis.currency or ctx.currency
    return Item(i18n.format_money(order.total, currency, ctx.locale))


def date_cell(order: Order, profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the order date."""
    shown = date_text(order.date, ctx)
    return Item(shown) if shown else None


COLUMNS: tuple[Column, ...] = (
    Column("channel", "orders.channel", channel_cell),
    Column("number", "orders.number", number_cell),
    Column("status", "orders.status", status_cell),
    Column("date", "orders.date", date_cell),
    Column("tracking", "orders.tracking", tracking_cell),
    Column("total", "orders.total", total_cell, numeric=True),
)


def order_actions(order: Order, ctx: RenderContext) -> list[Item]:
    """The actions the record offers on this order or store purchase, as links to their page."""
    if ctx.changes_url is None or not order.number:
        return []
    return [action_item(link) for link in ctx.actions
            if link.section in ("orders", "store_purchases")
            and (link.number or link.key) == order.number
            and link.source == order.source]


def visible_orders(profile: CustomerProfile, spec: BlockSpec) -> list[Order]:
    """Return online orders and store purchases allowed by the spec, newest first."""
    store = [
        order if order.channel else order.model_copy(update={"channel": STORE_CHANNEL})
        for order in profile.store_purchases
    ]
    allowed = [order for order in [*profile.orders, *store] if spec.allows(order.source)]
    return sorted(allowed, key=lambda order: order.date or date.min, reverse=True)


class OrdersBlock:
    """A compact orders table: channel, number, status, date, tracking or store, total; a button
    per on-demand detail (parcel tracking…) an order offers."""

    key = "orders"
    columns = COLUMNS
    max_rows = MAX_ROWS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the table of the latest orders, or None when there is none."""
        orders = visible_orders(profile, spec)
        if not orders:
            return None
        shown = orders[: self.max_rows]
        rows = [[column.cell_fn(order, profile, ctx) for column in self.columns] for order in shown]
        buttons = [
            detail_buttons(self.key, order, f"{self.key}-{index}", ctx)
            for index, order in enumerate(shown)
        ]
        actions = [order_actions(order, ctx) for order in shown]
        hidden = len(orders) - len(rows)
        more = i18n.plural_text("orders.more", hidden, ctx.locale) if hidden > 0 else None
        return render_template(
            "orders.html",
            ctx,
            block=self.key,
            columns=self.columns,
            rows=rows,
            origins=[source_note([order.source], profile, ctx) for order in shown],
            buttons=buttons if any(buttons) else None,
            actions=actions if any(actions) else None,
            more=more,
        )
