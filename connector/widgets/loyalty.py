"""The loyalty block: card number, points, tier and vouchers used; the live balance on demand."""

from __future__ import annotations

from connector import i18n
from connector.models import CustomerProfile
from connector.widgets.base import (
    BlockSpec,
    FieldDescription,
    Item,
    RenderContext,
    describe,
    render_template,
    value_label,
)
from connector.widgets.details import detail_buttons


def number(value: int | None, ctx: RenderContext) -> str | None:
    """Format an optional count in the page's locale ("1 240")."""
    return i18n.format_number(value, ctx.locale) if value is not None else None


def tier(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the loyalty tier as a pill."""
    value = (profile.loyalty.tier or "").strip()
    if not value:
        return None
    return Item(value_label("loyalty.tier", value, ctx) or value, tone="neutral")


LOYALTY_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription("card", "loyalty.card", lambda p, c: p.loyalty.card),
    FieldDescription("points", "loyalty.points", lambda p, c: number(p.loyalty.points, c)),
    FieldDescription("tier", "loyalty.tier", tier),
    FieldDescription(
        "vouchers_used", "loyalty.vouchers_used", lambda p, c: number(p.loyalty.vouchers_used, c)
    ),
)


class LoyaltyBlock:
    """The customer's loyalty membership, with a button per live detail the sources offer."""

    key = "loyalty"
    fields = LOYALTY_FIELDS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the membership lines, or None when the customer holds no card."""
        rows = describe(self.fields, profile, ctx)
        if not rows:
            return None
        buttons = detail_buttons(self.key, profile.loyalty, self.key, ctx)
        return render_template("loyalty.html", ctx, block=self.key, rows=rows, buttons=buttons)
