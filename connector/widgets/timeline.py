"""The timeline block: the customer's story, newest first, filterable by kind; the first page
in the record, the next ones on demand (links that work without a script)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from connector import i18n
from connector.customer.timeline import (
    KINDS,
    InvalidCursor,
    TimelineEntry,
    page_of,
    timeline_of,
)
from connector.models import CustomerProfile
from connector.widgets.base import (
    BlockSpec,
    RenderContext,
    render_template,
    safe_url,
    translated,
    value_text,
)

FIRST_PAGE = 10
# kind -> the coded field its status is (named by the manifest's `sidebar.values`, else the
# catalog), or the catalog prefix it is translated through; other kinds' as given
STATUS_VALUES = {"request": "contacts.status", "order": "orders.status",
                 "store_visit": "orders.status"}
STATUS_TEXTS = {"agenda": "appointment_status", "document": "document_kind"}


@dataclass(frozen=True)
class EntryView:
    """One line of the timeline as the agent reads it."""

    kind: str
    kind_label: str
    when: str | None
    title: str
    detail: str | None
    status: str | None
    channel: str | None
    amount: str | None
    url: str | None


@dataclass(frozen=True)
class FilterChoice:
    """One filter of the timeline: its label, its count, its kind (None: all), whether chosen."""

    label: str
    count: int
    kind: str | None
    chosen: bool


@dataclass(frozen=True)
class Filters:
    """The timeline's filter row: one GET form to the timeline page (`action`) carrying the
    sealed link's token once, a button per kind."""

    action: str
    token: str
    choices: list[FilterChoice]


def when(value: dt.datetime | dt.date | None, ctx: RenderContext) -> str | None:
    """A day in the agent's locale, a moment also in the brand's time zone."""
    if isinstance(value, dt.datetime):
        return i18n.format_datetime(value, ctx.locale, tz=ZoneInfo(ctx.timezone))
    return i18n.format_date(value, ctx.locale) if value is not None else None


def entry_view(entry: TimelineEntry, ctx: RenderContext) -> EntryView:
    """An entry's texts, translated and formatted."""
    title = entry.title.upper() if entry.kind == "survey" and entry.title else entry.title
    coded, prefix = STATUS_VALUES.get(entry.kind), STATUS_TEXTS.get(entry.kind)
    status = (value_text(coded, entry.status, ctx) if coded
              else translated(prefix, entry.status, ctx.locale) if prefix else entry.status)
    amount = (i18n.format_money(entry.amount, entry.currency or ctx.currency, ctx.locale)
              if entry.amount is not None else None)
    return EntryView(
        kind=entry.kind, kind_label=i18n.text(f"timeline.kind.{entry.kind}", ctx.locale),
        when=when(entry.date, ctx),
        title=(title or "").strip() or i18n.text("timeline.untitled", ctx.locale),
        detail=entry.detail, status=status, amount=amount, url=safe_url(entry.url),
        channel=translated("channel", entry.channel, ctx.locale))


def link(ctx: RenderContext, kind: str | None, before: str | None = None) -> str | None:
    """The timeline page with this filter (and cursor), or None where none can be opened."""
    if ctx.timeline_url is None:
        return None
    asked = {k: v for k, v in (("kind", kind), ("before", before)) if v}
    return f"{ctx.timeline_url}&{urlencode(asked)}" if asked else ctx.timeline_url


def filters(entries: list[TimelineEntry], kind: str | None,
            ctx: RenderContext) -> Filters | None:
    """"All" and each kind the record holds, with its count; None where no timeline page can
    be opened (a fragment)."""
    if ctx.timeline_url is None:
        return None
    counts = Counter(entry.kind for entry in entries)
    shown = [FilterChoice(i18n.text("timeline.all", ctx.locale), len(entries), None,
                          kind is None)]
    shown += [FilterChoice(i18n.text(f"timeline.kinds.{k}", ctx.locale), counts[k], k,
                           kind == k) for k in KINDS if counts[k]]
    return Filters(ctx.timeline_url.partition("?")[0], ctx.token, shown)


class TimelineBlock:
    """Requests, orders, store visits, reviews, surveys, campaigns, appointments and
    documents in one list, newest first: the first ten, then more on demand."""

    key = "timeline"
    page_size = FIRST_PAGE
    sections = frozenset({"contacts", "orders", "store_purchases", "reviews", "surveys",
                          "campaigns", "agenda", "documents"})

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """The first page, or None when the record holds nothing dated or not."""
        return self.render_page(profile, spec, ctx)

    def render_page(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext,
                    kind: str | None = None, before: str | None = None,
                    part: bool = False) -> str | None:
        """One page of the timeline (a kind's entries only when `kind` is given); with `part`,
        its entries and "older" link only, for the record's script to append in place. In a
        fragment (no timeline page to open) the first entries, how many of how many, and no
        filter or link that could not work."""
        entries = [e for e in timeline_of(profile, ctx.timezone) if spec.allows(e.source)]
        if not entries:
            return None
        chosen = kind if kind in KINDS else None
        try:
            page = page_of(entries, [chosen] if chosen else (), before, self.page_size)
        except InvalidCursor:  # a link made by hand: the first page
            page = page_of(entries, [chosen] if chosen else (), None, self.page_size)
        lines = [entry_view(e, ctx) for e in page.entries]
        if ctx.timeline_url is None:  # a fragment: its "open the full record" has the rest
            shown = (i18n.text("timeline.shown", ctx.locale, shown=str(len(lines)),
                               total=str(page.total)) if page.next else None)
            return render_template("timeline.html", ctx, block=self.key, part=False,
                                   filters=[], lines=lines, more=None, shown=shown)
        more = link(ctx, chosen, page.next) if page.next else None
        return render_template("timeline.html", ctx, block=self.key, part=part,
                               filters=[] if part else filters(entries, chosen, ctx),
                               lines=lines, more=more, shown=None)


def render_entries(profile: CustomerProfile, ctx: RenderContext, kind: str | None = None,
                   before: str | None = None) -> str:
    """A page's entries (`<li>`) and its "older" link, to append under the list shown."""
    return TimelineBlock().render_page(profile, BlockSpec("timeline"), ctx, kind, before,
                                       part=True) or ""
