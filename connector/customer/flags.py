"""The few alerts at the top of the record: the manifest's flag rules (`flags:`, over the
shipped preset `flag_rules.yaml`; docs/flags.md), each an expression over the record or over
one of its lists, evaluated in order of importance, each flag with the reason it holds."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from connector.customer.expressions import Evaluator, Expression, View, plain
from connector.customer.rules import FlagRule, FlagRules
from connector.i18n import format_date, format_number
from connector.models import Canonical, ContactEvent, CustomerProfile, Flag, Review, SurveyAnswer

log = logging.getLogger(__name__)
SEPARATOR = " · "
_WARNED: set[tuple[str, str]] = set()


def is_recent_negative(review: Review, rules: FlagRules, today: dt.date) -> bool:
    """A review rated at most `negative_review_max_share` of its scale, written within the last
    `negative_review_days` days: the one rule behind the flag and the reviews block."""
    if review.rating is None or review.date is None:
        return False
    if review.date < today - dt.timedelta(days=rules.negative_review_days):
        return False
    return review.rating <= (review.max_rating or Decimal(5)) * rules.negative_review_max_share


def is_complaint(contact: ContactEvent, rules: FlagRules) -> bool:
    """A contact whose reason contains one of `complaint_reasons` (any case): the one rule
    behind the past-complaint flag and the complaints block."""
    reason = (contact.reason or "").casefold()
    return bool(reason) and any(word.casefold() in reason for word in rules.complaint_reasons)


def complaints_of(contacts: list[ContactEvent], rules: FlagRules) -> list[ContactEvent]:
    """The contacts that are complaints, newest first (undated last)."""
    return sorted((c for c in contacts if is_complaint(c, rules)),
                  key=lambda c: c.date or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)


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
    surveys: Sequence[SurveyAnswer] = (),
) -> list[Flag]:
    """Every flag the manifest's rules raise (`flags.rules` over the shipped preset), most
    important first (`shown` keeps what the record displays; write-back takes those whose
    rule writes back: `written`). The contacts of the ticket being handled (`current`) are
    not past complaints; `surveys` are the record's answers (an input section)."""
    record = Record(profile, past_of(contacts, current), surveys, rules, today)
    flags = []
    for key, rule in rules.active():
        flag = _raise(key, rule, record, today, locale)
        if flag is not None:
            flags.append(flag)
    return flags


def written(flags: list[Flag], rules: FlagRules) -> list[Flag]:
    """The flags written back to helpdesks: those whose rule says `write_back` (all, by
    default; never only those shown)."""
    keep = {key for key, rule in rules.rules.items() if rule.write_back}
    return [flag for flag in flags if flag.key in keep]


class Record(dict[str, Any]):
    """The names an expression sees, each section turned into its view when first named."""

    def __init__(self, profile: CustomerProfile, past: list[ContactEvent],
                 surveys: Sequence[SurveyAnswer], settings: FlagRules, today: dt.date) -> None:
        super().__init__()
        self.profile, self.past, self.surveys = profile, past, list(surveys)
        self.update(settings=View(settings), today=today)
        self.evaluator = Evaluator(today)

    def __missing__(self, name: str) -> Any:
        if name == "surveys":
            value = plain(self.surveys)
        elif name == "customer":
            value = View(self.profile)
        elif name in CustomerProfile.model_fields:
            value = plain(getattr(self.profile, name))
        else:
            raise KeyError(name)
        self[name] = value
        return value

    def items_over(self, over: str) -> list[Canonical]:
        """The list a rule goes over."""
        lists: dict[str, list[Any]] = {
            "reviews": self.profile.reviews, "surveys": self.surveys, "contacts": self.past,
            "orders": self.profile.orders, "store_purchases": self.profile.store_purchases,
            "purchases": [*self.profile.orders, *self.profile.store_purchases]}
        return lists[over]


class Names(dict[str, Any]):
    """An item's fields over the record's names, each read when first named."""

    def __init__(self, record: Record, item: Canonical) -> None:
        super().__init__()
        self.record, self.item = record, item
        self.evaluator = record.evaluator

    def __missing__(self, name: str) -> Any:
        if name in type(self.item).model_fields:
            value = plain(getattr(self.item, name))
        elif name == "item":
            value = View(self.item)
        else:
            return self.record[name]
        self[name] = value
        return value


def _raise(key: str, rule: FlagRule, record: Record, today: dt.date,
           locale: str) -> Flag | None:
    """The flag of one rule for this record, or None."""
    where, when = rule.expression("where"), rule.expression("when")
    window = rule.window_days
    oldest = today - dt.timedelta(days=window) if window is not None else None
    if rule.over is None:
        if not _holds(key, "when", when, record):
            return None
        since_expression = rule.expression("since")
        since = (None if since_expression is None
                 else _day(_run(key, "since", since_expression, record)))
        if oldest is not None and since is not None and since < oldest:
            return None
        names: Record | Names = record
    else:
        dated = [(_day(getattr(i, "date", None)), i) for i in record.items_over(rule.over)]
        dated = [(day, i) for day, i in dated if oldest is None or day is None or day >= oldest]
        dated.sort(key=lambda pair: pair[0] or dt.date.min, reverse=True)
        items = [Names(record, i) for _, i in dated]
        items = [i for i in items if _holds(key, "where", where, i)]
        if rule.latest:
            items = items[:1]
        matched = [i for i in items if _holds(key, "when", when, i)]
        if len(matched) < rule.min_count:
            return None
        since = _day(getattr(matched[0].item, "date", None))
        names = matched[0]
        names["count"] = len(matched)
    return Flag(key=key, label=rule.label_in(locale), icon=rule.icon, tone=rule.tone,
                reason=_reason(key, rule, names, locale), since=since)


def _holds(key: str, part: str, expression: Expression | None, names: Record | Names) -> bool:
    """Whether `where` (absent: true) or `when` holds; an expression that fails on this
    record (a comparison with a missing value) does not."""
    return expression is None or bool(_run(key, part, expression, names))


def _run(key: str, part: str, expression: Expression, names: Record | Names) -> Any:
    try:
        return names.evaluator.run(expression, names)
    except Exception as exc:  # a rule failing on one record never takes the record down
        if (key, part) not in _WARNED:  # once per process: the log names the rule, not data
            _WARNED.add((key, part))
            log.warning("flag rule %s: its %s failed on a record (%s) and counts as false; "
                        "check it handles missing values", key, part, type(exc).__name__)
        return None


def _reason(key: str, rule: FlagRule, names: Record | Names, locale: str) -> str:
    """The reason under the badge: the rule's template, each value in the agent's language
    (dates and numbers), an empty value's separator dropped."""
    text = "".join(part if isinstance(part, str)
                   else _shown(_run(key, "reason", part, names), locale)
                   for part in rule.reason_in(locale))
    pieces = [piece.strip() for piece in text.split(SEPARATOR)]
    return SEPARATOR.join(piece for piece in pieces if piece)


def _shown(value: Any, locale: str) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, dt.datetime):
        return format_date(value.date(), locale)
    if isinstance(value, dt.date):
        return format_date(value, locale)
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float | Decimal):
        return format_number(Decimal(str(value)).normalize() if isinstance(value, float)
                             else value, locale)
    if isinstance(value, list):
        return ", ".join(text for v in value if (text := _shown(v, locale)))
    return str(value)


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def shown(flags: list[Flag], rules: FlagRules) -> list[Flag]:
    """The flags the record displays: the first `rules.max_shown` (never a limit on what is
    written back)."""
    return flags[: rules.max_shown]
