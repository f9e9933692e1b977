"""The few alerts at the top of the record: a table of rules, evaluated in order of importance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from connector.customer.rules import FlagRules
from connector.i18n import format_date
from connector.models import ContactEvent, CustomerProfile, Flag, Review

Reason = tuple[str, dt.date | None]  # (reason text, since)


@dataclass(frozen=True)
class FlagRule:
    """One alert: its key, pictogram, labels, and the test giving its reason (or None)."""

    key: str
    icon: str
    labels: dict[str, str]
    test: Callable[[CustomerProfile, list[ContactEvent], FlagRules, dt.date, str], Reason | None]


def is_recent_negative(review: Review, rules: FlagRules, today: dt.date) -> bool:
    """A review rated at most `negative_review_max_share` of its scale, written within the last
    `negative_review_days` days: the one rule behind the flag and the reviews block."""
    if review.rating is None or review.date is None:
        return False
    if review.date < today - dt.timedelta(days=rules.negative_review_days):
        return False
    return review.rating <= (review.max_rating or Decimal(5)) * rules.negative_review_max_share


def _negative_review(p: CustomerProfile, _c: list[ContactEvent], r: FlagRules, today: dt.date,
                     locale: str) -> Reason | None:
    for review in sorted(p.reviews, key=lambda x: x.date or dt.date.min, reverse=True):
        if is_recent_negative(review, r, today):
            text = f"{review.rating:g}/{review.max_rating or 5:g} · {review.site or ''} · "
            return text + format_date(review.date, locale), review.date  # type: ignore[arg-type]
    return None


def _detractor(p: CustomerProfile, _c: list[ContactEvent], _r: FlagRules, _t: dt.date,
               locale: str) -> Reason | None:
    nps = p.sentiment.nps
    if nps is not None and nps.category == "detractor":
        when = f" · {format_date(nps.date, locale)}" if nps.date else ""
        return f"NPS {nps.score}/10{when}", nps.date
    return None


def is_complaint(contact: ContactEvent, rules: FlagRules) -> bool:
    """A contact whose reason contains one of `complaint_reasons` (any case): the one rule
    behind the past-complaint flag and the complaints block."""
    reason = (contact.reason or "").casefold()
    return bool(reason) and any(word.casefold() in reason for word in rules.complaint_reasons)


def complaints_of(contacts: list[ContactEvent], rules: FlagRules) -> list[ContactEvent]:
    """The contacts that are complaints, newest first (undated last)."""
    return sorted((c for c in contacts if is_complaint(c, rules)),
                  key=lambda c: c.date or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)


def _past_complaint(_p: CustomerProfile, contacts: list[ContactEvent], r: FlagRules,
                    _t: dt.date, locale: str) -> Reason | None:
    complaints = complaints_of(contacts, r)
    if not complaints:
        return None
    last = complaints[0].date
    when = f" · {format_date(last.date(), locale)}" if last else ""
    return f"{len(complaints)} × {complaints[0].reason}{when}", last.date() if last else None


def _vip(p: CustomerProfile, _c: list[ContactEvent], r: FlagRules, _t: dt.date,
         _l: str) -> Reason | None:
    if p.status.segment in r.vip_segments:
        return p.status.segment or "", None
    tags = [t for t in p.status.tags if t in r.vip_tags]
    return (", ".join(tags), None) if tags else None


RULES: tuple[FlagRule, ...] = (
    FlagRule("negative_review", "⚠", {"fr": "Avis négatif récent", "en": "Recent negative review"},
             _negative_review),
    FlagRule("detractor", "☹", {"fr": "Détracteur", "en": "Detractor"}, _detractor),
    FlagRule("past_complaint", "✉", {"fr": "A déjà réclamé", "en": "Past complaint"},
             _past_complaint),
    FlagRule("vip", "★", {"fr": "VIP", "en": "VIP"}, _vip),
)


def past_of(contacts: list[ContactEvent],
            current: Sequence[ContactEvent] = ()) -> list[ContactEvent]:
    """The contacts before the one being handled: those of the ticket in context (`current`,
    the very objects of `contacts`) never count as its own past."""
    ours = {id(c) for c in current}
    return [c for c in contacts if id(c) not in ours]


def evaluate_flags(
    profile: CustomerProfile,
    contacts: list[ContactEvent],
    rules: FlagRules,
    today: dt.date,
    locale: str,
    current: Sequence[ContactEvent] = (),
) -> list[Flag]:
    """Every flag that applies, most important first (`shown` keeps what the record displays;
    write-back takes them all). The contacts of the ticket being handled (`current`) are not
    past complaints."""
    past = past_of(contacts, current)
    flags = []
    for rule in RULES:
        reason = rule.test(profile, past, rules, today, locale)
        if reason is not None:
            text, since = reason
            flags.append(Flag(key=rule.key, label=rule.labels[locale], icon=rule.icon,
                              reason=text, since=since))
    return flags


def shown(flags: list[Flag], rules: FlagRules) -> list[Flag]:
    """The flags the record displays: the first `rules.max_shown` (never a limit on what is
    written back)."""
    return flags[: rules.max_shown]
