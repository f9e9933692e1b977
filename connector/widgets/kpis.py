"""The KPI block: five tiles (spend, basket, last order, orders, satisfaction), the last request
and the computed lifetime value."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from connector import i18n
from connector.models import CustomerProfile
from connector.widgets.base import (
    BlockSpec,
    FieldDescription,
    Item,
    RenderContext,
    date_text,
    describe,
    render_template,
    translated,
)


def money(value: Decimal | None, profile: CustomerProfile, ctx: RenderContext) -> str | None:
    """Format an amount in the KPI currency, or the brand's when the source gives none."""
    if value is None:
        return None
    return i18n.format_money(value, profile.kpis.currency or ctx.currency, ctx.locale)


def number(value: Decimal | int | None, ctx: RenderContext) -> str | None:
    """Format an optional number in the page's locale."""
    return i18n.format_number(value, ctx.locale) if value is not None else None


def explained(text: str | None, title: str, ctx: RenderContext) -> Item | None:
    """A figure with what it counts in its tooltip."""
    return Item(text, title=i18n.text(title, ctx.locale)) if text is not None else None


def last_request(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the date and time of the last contact, with its channel, in the agents' zone."""
    last = profile.contacts.last
    if last is None or last.date is None:
        return None
    moment = i18n.format_datetime(last.date, ctx.locale, tz=ZoneInfo(ctx.timezone))
    channel = translated("channel", last.channel, ctx.locale)
    return Item(f"{moment} · {channel}" if channel else moment, title=last.reason or "")


def lifetime_value(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the computed lifetime value, its formula in the tooltip (docs/segments.md)."""
    text = money(profile.kpis.lifetime_value, profile, ctx)
    if text is None:
        return None
    return Item(text, title=i18n.text("kpi.lifetime_value_title", ctx.locale))


TILE_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription(
        "total_spend", "kpi.total_spend", lambda p, c: money(p.kpis.total_spend, p, c)
    ),
    FieldDescription(
        "average_basket", "kpi.average_basket", lambda p, c: money(p.kpis.average_basket, p, c)
    ),
    FieldDescription(
        "last_order", "kpi.last_order", lambda p, c: date_text(p.kpis.last_order_date, c)
    ),
    FieldDescription("orders_count", "kpi.orders_count", lambda p, c: explained(
        number(p.kpis.orders_count, c), "kpi.orders_count_title", c)),
    FieldDescription("satisfaction", "kpi.satisfaction", lambda p, c: explained(
        number(p.kpis.satisfaction, c), "kpi.satisfaction_title", c)),
)

DETAIL_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription("last_request", "kpi.last_request", last_request),
    FieldDescription("lifetime_value", "kpi.lifetime_value", lifetime_value),
)


class KpisBlock:
    """The customer's activity at a glance: a row of tiles, each a value over a small label."""

    key = "kpis"
    tiles = TILE_FIELDS
    details = DETAIL_FIELDS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the tiles and details, or None when no figure is known."""
        tiles = describe(self.tiles, profile, ctx)
        details = describe(self.details, profile, ctx)
        if not tiles and not details:
            return None
        return render_template("kpis.html", ctx, block=self.key, tiles=tiles, details=details)
