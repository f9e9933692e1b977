"""The complaints block: has this customer complained before, and how was it handled?

A complaint is a contact whose reason matches the manifest's `flags.complaint_reasons`: the
rule of the past-complaint flag (`connector.customer.flags.is_complaint`), applied once when the
record is assembled (`contacts.complaints`). Each complaint shows its day, channel and reason,
how it was handled (the resolution, resolved or still open) and whether the first reply came
within the target delay, `flags.complaint_reply_hours` (24 h by default; tools 48–52 of the
toolbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from connector import i18n
from connector.models import ContactEvent, CustomerProfile
from connector.widgets.base import (
    BlockSpec,
    Item,
    PartDescription,
    RenderContext,
    describe_parts,
    render_template,
    translated,
    value_text,
)
from connector.widgets.freshness import source_note

SHOWN = 5
# Statuses (as the manifest maps them, lower case) that close a complaint; any other is open.
CLOSED_STATUSES = frozenset({"resolved", "closed", "solved"})
# (upper bound in seconds, catalog key, divisor): how long a reply took, the first bound wins.
DELAY_STEPS: tuple[tuple[float, str, int], ...] = (
    (3600, "complaint.delay_minutes", 60),
    (2 * 86400, "complaint.delay_hours", 3600),
    (float("inf"), "complaint.delay_days", 86400),
)


@dataclass(frozen=True)
class ComplaintView:
    """One complaint, ready to show: what it was about, then how it was handled."""

    meta: tuple[tuple[str, Item], ...]
    handling: tuple[tuple[str, Item], ...]
    closed: bool
    origin: str  # its source and that source's age, for a tooltip


def aware(moment: dt.datetime) -> dt.datetime:
    """A moment with a zone (a source that gives none is read as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def format_delay(seconds: float, locale: str) -> str:
    """Say how long something took: "35 min", "3 h", "4 j"."""
    seconds = max(seconds, 0.0)
    key, divisor = next((k, d) for bound, k, d in DELAY_STEPS if seconds < bound)
    return i18n.text(key, locale, n=max(1, int(seconds // divisor)))


def newest_first(complaint: ContactEvent) -> dt.datetime:
    """Sort key of complaints, newest first when reversed (undated last)."""
    return aware(complaint.date) if complaint.date else dt.datetime.min.replace(tzinfo=dt.UTC)


def is_closed(complaint: ContactEvent) -> bool:
    """Resolved or closed by its status, or, with no status given, by a resolution date."""
    status = (complaint.status or "").strip().lower()
    return status in CLOSED_STATUSES if status else complaint.resolved_at is not None


def day(complaint: ContactEvent, ctx: RenderContext) -> Item | None:
    """The day the customer complained, in the agents' zone; the tooltip names its source."""
    if complaint.date is None:
        return None
    local = aware(complaint.date).astimezone(ZoneInfo(ctx.timezone))
    title = i18n.format_datetime(local, ctx.locale)
    return Item(i18n.format_date(local.date(), ctx.locale), title=title)


def channel(complaint: ContactEvent, ctx: RenderContext) -> Item | None:
    """The channel the complaint came through."""
    name = translated("channel", complaint.channel, ctx.locale)
    return Item(name, tone="channel") if name else None


def reason(complaint: ContactEvent, ctx: RenderContext) -> Item | None:
    """Why the customer complained, as the helpdesk recorded it."""
    return Item(complaint.reason.strip()) if complaint.reason else None


def outcome(complaint: ContactEvent, ctx: RenderContext) -> Item | None:
    """Resolved (and when) or still open, as a pill; nothing when the source does not say."""
    if is_closed(complaint):
        when = complaint.resolved_at
        text = (i18n.text("complaint.resolved_on", ctx.locale, date=i18n.format_date(
            aware(when).astimezone(ZoneInfo(ctx.timezone)).date(), ctx.locale))
            if when else i18n.text("complaint.resolved", ctx.locale))
        return Item(text, icon="✓", tone="good")
    if not complaint.status:
        return None
    return Item(value_text("contacts.status", complaint.status, ctx) or complaint.status,
                tone="warn")


def resolution(complaint: ContactEvent, ctx: RenderContext) -> Item | None:
    """What was done for the customer ("avoir de 10 €", "remplacement")."""
    text = (complaint.resolution or "").strip()
    return Item(text, title=i18n.text("complaint.resolution", ctx.locale)) if text else None


def first_reply(complaint: ContactEvent, ctx: RenderContext) -> Item | None:
    """Whether the first reply came within the target delay (or how long it has been awaited)."""
    if complaint.date is None:
        return None
    hours = ctx.flag_rules.complaint_reply_hours
    title = i18n.text("complaint.reply_title", ctx.locale, hours=hours)
    target = dt.timedelta(hours=hours)
    start = aware(complaint.date)
    if complaint.first_reply_at is not None:
        took = aware(complaint.first_reply_at) - start
        delay = format_delay(took.total_seconds(), ctx.locale)
        if took <= target:
            return Item(i18n.text("complaint.reply_met", ctx.locale, delay=delay), icon="✓",
                        tone="good", title=title)
        return Item(i18n.text("complaint.reply_late", ctx.locale, delay=delay, hours=hours),
                    icon="✗", tone="bad", title=title)
    if is_closed(complaint) or not complaint.status:
        return None  # solved, or a source that does not say how it handles complaints
    waited = ctx.now - start
    if waited > target:
        return Item(i18n.text("complaint.no_reply", ctx.locale, hours=hours), icon="✗",
                    tone="bad", title=title)
    return Item(i18n.text("complaint.awaiting", ctx.locale), tone="warn", title=title)


# What a complaint was about, then how it was handled.
META_PARTS: tuple[PartDescription[ContactEvent], ...] = (
    PartDescription("date", day),
    PartDescription("channel", channel),
    PartDescription("reason", reason),
)
HANDLING_PARTS: tuple[PartDescription[ContactEvent], ...] = (
    PartDescription("outcome", outcome),
    PartDescription("resolution", resolution),
    PartDescription("reply", first_reply),
)


def complaint_view(complaint: ContactEvent, meta: Sequence[PartDescription[ContactEvent]],
                   handling: Sequence[PartDescription[ContactEvent]], ctx: RenderContext,
                   origin: str = "") -> ComplaintView:
    """Describe one complaint with the two tables of its parts."""
    return ComplaintView(describe_parts(meta, complaint, ctx),
                         describe_parts(handling, complaint, ctx), is_closed(complaint), origin)


class ComplaintsBlock:
    """Past complaints, newest first: what they were about and how they were handled."""

    key = "complaints"
    sections: frozenset[str] = frozenset({"contacts"})
    meta = META_PARTS
    handling = HANDLING_PARTS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the latest complaints, or None when the customer never complained."""
        complaints = sorted((c for c in profile.contacts.complaints if spec.allows(c.source)),
                            key=newest_first, reverse=True)
        if not complaints:
            return None
        views = [complaint_view(c, self.meta, self.handling, ctx,
                                source_note([c.source], profile, ctx))
                 for c in complaints[:SHOWN]]
        hidden = len(complaints) - len(views)
        more = i18n.plural_text("complaint.more", hidden, ctx.locale) if hidden > 0 else None
        return render_template("complaints.html", ctx, block=self.key, complaints=views,
                               more=more)
