"""The contacts block: how often and through which channels the customer reached us, and why.

The repeat-contact rate (taux de réitération) is the share of contacts that came within the
manifest's `kpis.repeat_window_days` (7 by default) of the customer's previous contact; its
tooltip says so in the agent's language.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from connector import i18n
from connector.models import CustomerProfile
from connector.widgets.base import (
    BlockSpec,
    FieldDescription,
    Item,
    RenderContext,
    describe,
    render_template,
    translated,
)


def count(profile: CustomerProfile, ctx: RenderContext) -> str | None:
    """Return the number of past contacts, when there was any."""
    total = profile.contacts.count
    return i18n.format_number(total, ctx.locale) if total > 0 else None


def channels(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """Return one chip per channel with its count, the busiest channel first."""
    ranked = sorted(profile.contacts.by_channel.items(), key=lambda pair: -pair[1])
    return [
        Item(f"{translated('channel', channel, ctx.locale) or channel} · "
             f"{i18n.format_number(number, ctx.locale)}", tone="neutral")
        for channel, number in ranked
        if number > 0
    ]


def last_contact(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """Return the last contact: its moment in the agents' zone and channel, then its reason."""
    last = profile.contacts.last
    if last is None:
        return []
    moment = (
        i18n.format_datetime(last.date, ctx.locale, tz=ZoneInfo(ctx.timezone))
        if last.date is not None
        else None
    )
    head = " · ".join(p for p in (moment, translated("channel", last.channel, ctx.locale)) if p)
    return [Item(head), Item(last.reason or "")]


def repeat_rate(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the repeat-contact rate as a percentage, its definition as the tooltip."""
    rate = profile.contacts.repeat_rate
    if rate is None:
        return None
    title = i18n.text("contacts.repeat_title", ctx.locale, days=ctx.repeat_window_days)
    return Item(i18n.format_share(rate, ctx.locale), title=title)


CONTACT_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription("count", "contacts.count", count),
    FieldDescription("channels", "contacts.channels", channels),
    FieldDescription("last", "contacts.last", last_contact),
    FieldDescription("repeat_rate", "contacts.repeat_rate", repeat_rate),
)


class ContactsBlock:
    """Past contacts across channels: how many, where, the last one, how often they repeat."""

    key = "contacts"
    fields = CONTACT_FIELDS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the contact summary, or None when the customer never contacted us; when the
        requests recorded from helpdesk events cannot be read (our database is down), the
        block says so above what the sources gave."""
        rows = describe(self.fields, profile, ctx)
        missing = "contacts" in profile.unavailable
        if not rows and not missing:
            return None
        return render_template("contacts.html", ctx, block=self.key, rows=rows,
                               store_unavailable=missing)
