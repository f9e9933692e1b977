"""The customer's story in one list: requests, orders, store visits, reviews, survey answers,
campaigns, appointments and documents, newest first (undated last), paged by a cursor."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from connector.models import (
    Appointment,
    Campaign,
    Canonical,
    ContactEvent,
    CustomerProfile,
    Document,
    Order,
    Review,
    SurveyAnswer,
)

# the kinds, in the order the filter offers them
KINDS = ("request", "order", "store_visit", "review", "survey", "campaign", "agenda",
         "document")
MAX_LIMIT = 100
UNDATED = "z"  # the cursor's stamp of an undated entry: after every dated one


class InvalidCursor(ValueError):
    """A `before` that is neither a cursor this module gave nor an ISO date."""


class TimelineEntry(Canonical):
    """One thing that happened: its kind, when (a day, or a moment), a short title, a detail,
    and a link where the item has one; `id` is the cursor the next page starts after."""

    id: str
    kind: str
    date: dt.datetime | dt.date | None = None
    title: str | None = None
    detail: str | None = None
    status: str | None = None
    channel: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    url: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class TimelinePage:
    """One page of the timeline: its entries and the cursor of the next (None at the end)."""

    entries: list[TimelineEntry]
    next: str | None
    total: int  # entries of the asked kinds, every page together


def _request(event: ContactEvent) -> dict[str, Any]:
    return {"date": event.date, "title": event.reason, "status": event.status,
            "channel": event.channel, "detail": event.resolution, "source": event.source}


def _order(order: Order) -> dict[str, Any]:
    return {"date": order.date, "title": order.number, "status": order.status,
            "channel": order.channel, "amount": order.total, "currency": order.currency,
            "url": order.back_office_url, "source": order.source}


def _store_visit(order: Order) -> dict[str, Any]:
    return {"date": order.date, "title": order.store, "detail": order.number,
            "status": order.status, "amount": order.total, "currency": order.currency,
            "url": order.back_office_url, "source": order.source}


def _review(review: Review) -> dict[str, Any]:
    rating = (f"{review.rating.normalize():f}/{(review.max_rating or Decimal(5)).normalize():f}"
              if review.rating is not None else None)
    return {"date": review.date, "title": review.title or review.site, "detail": review.excerpt,
            "status": rating, "channel": review.site, "url": review.url,
            "source": review.source}


def _survey(answer: SurveyAnswer) -> dict[str, Any]:
    scale = 5 if answer.kind == "ces" else 10
    return {"date": answer.date, "title": answer.kind,
            "status": f"{answer.score.normalize():f}/{scale}", "detail": answer.comment}


def _campaign(campaign: Campaign) -> dict[str, Any]:
    return {"date": campaign.date, "title": campaign.subject or campaign.name,
            "detail": campaign.name if campaign.subject else None, "channel": campaign.channel}


def _appointment(item: Appointment) -> dict[str, Any]:
    return {"date": item.date, "title": item.title, "detail": item.place,
            "status": item.status, "source": item.source}


def _document(item: Document) -> dict[str, Any]:
    return {"date": item.date, "title": item.title, "status": item.kind, "url": item.url,
            "source": item.source}


# kind -> the record's list it reads and how one item reads as an entry
SECTIONS: dict[str, tuple[Callable[[CustomerProfile], Sequence[BaseModel]],
                          Callable[[Any], dict[str, Any]]]] = {
    "request": (lambda p: p.requests, _request),
    "order": (lambda p: p.orders, _order),
    "store_visit": (lambda p: p.store_purchases, _store_visit),
    "review": (lambda p: p.reviews, _review),
    "survey": (lambda p: p.surveys, _survey),
    "campaign": (lambda p: p.campaigns, _campaign),
    "agenda": (lambda p: p.agenda, _appointment),
    "document": (lambda p: p.documents, _document),
}


def timeline_of(profile: CustomerProfile, zone: str = "UTC") -> list[TimelineEntry]:
    """Every entry of the record, newest first, undated last; a day counts from its start in
    the brand's time zone `zone`. Ties keep a fixed order (kind, then content)."""
    tz = ZoneInfo(zone)
    entries: list[TimelineEntry] = []
    for kind, (items, read) in SECTIONS.items():
        seen: dict[str, int] = {}
        for item in items(profile):
            fields = read(item)
            digest = hashlib.sha1(item.model_dump_json().encode()).hexdigest()[:10]
            seen[digest] = seen.get(digest, 0) + 1  # the same item twice: two entries
            entry_id = f"{_stamp(fields['date'], tz)}.{kind}.{digest}{seen[digest]}"
            entries.append(TimelineEntry(id=entry_id, kind=kind, **fields))
    return sorted(entries, key=lambda entry: _order_key(entry.id))


def page_of(entries: Sequence[TimelineEntry], kinds: Iterable[str] = (),
            before: str | None = None, limit: int = 10) -> TimelinePage:
    """The entries of these kinds (all when none) after the cursor `before` (an entry's id, or
    an ISO date: the entries before that day), at most `limit`."""
    wanted = set(kinds) or set(KINDS)
    chosen = [entry for entry in entries if entry.kind in wanted]
    start = _cursor_key(before) if before else None
    after = [e for e in chosen if start is None or _order_key(e.id) > start]
    shown = after[:max(1, min(limit, MAX_LIMIT))]
    more = len(after) > len(shown)
    return TimelinePage(shown, shown[-1].id if more and shown else None, len(chosen))


def _stamp(value: dt.datetime | dt.date | None, tz: ZoneInfo) -> str:
    """Seconds since 1970 (13 digits, zero-padded), or UNDATED."""
    if value is None:
        return UNDATED
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tz)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f"{int(value.timestamp()) + 10**12:013d}"


def _order_key(entry_id: str) -> tuple[int, int, str, str]:
    """Newest first, undated last, then by kind and content."""
    stamp, kind, digest = entry_id.split(".", 2)
    if stamp == UNDATED:
        return (1, 0, kind, digest)
    return (0, -int(stamp), kind, digest)


def _cursor_key(before: str) -> tuple[int, int, str, str]:
    """Where the page starts: after an entry's id, or before the start of a day (UTC)."""
    parts = before.split(".", 2)
    if len(parts) == 3 and parts[1] in KINDS and (parts[0] == UNDATED or (
            parts[0].isascii() and parts[0].isdigit() and len(parts[0]) == 13)):
        return _order_key(before)
    try:
        day = dt.date.fromisoformat(before)
    except ValueError:
        raise InvalidCursor("before: give the `next` of the previous page or a day "
                            "(YYYY-MM-DD)") from None
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return (0, -(int(start.timestamp()) + 10**12), "~", "")
