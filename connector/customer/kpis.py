"""Activity figures, sentiment and the contact summary, computed from the merged sections."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

from jmespath.exceptions import JMESPathError

from connector.customer.rules import DedupeRule
from connector.models import (
    ContactEvent,
    Contacts,
    Kpis,
    LastContact,
    NpsAnswer,
    Order,
    Sentiment,
    SurveyAnswer,
    TrendPoint,
)
from connector.sources.mapping import search
from connector.sources.values import in_survey_scale

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
TREND_POINTS = 10


def nps_category(score: int) -> str:
    """0–6 detractor, 7–8 passive, 9–10 promoter (tool 35 of the management toolbox)."""
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def compute_kpis(
    purchases: list[Order],
    surveys: list[SurveyAnswer],
    *,
    exclude_statuses: list[str],
    satisfaction_window: int,
    currency: str,
) -> Kpis:
    """Spend, basket, recency and count over purchases as placed (returns included, cancellations
    excluded); satisfaction = mean of the last csat answers on 0–10."""
    counted = [p for p in purchases if p.status not in exclude_statuses]
    totals = [p.total for p in counted if p.total is not None]
    total = sum(totals, Decimal(0)) if totals else None
    dates = [p.date for p in counted if p.date is not None]
    csat = _newest_first(_of_kind(surveys, "csat"))[:satisfaction_window]
    satisfaction = _mean([s.score for s in csat], TENTH)
    return Kpis(
        total_spend=total.quantize(CENT) if total is not None else None,
        average_basket=(total / len(counted)).quantize(CENT, ROUND_HALF_UP) if total else None,
        last_order_date=max(dates) if dates else None,
        orders_count=len(counted),
        satisfaction=satisfaction,
        currency=currency,
    )


def one_sale_once(lists: Mapping[str, list[Order]], rules: Sequence[DedupeRule],
                  sources: Sequence[str]) -> dict[str, list[Order]]:
    """The purchase lists with each sale several sources hold kept once (`kpis.dedupe`): in
    the source declared first in the manifest (`sources`; on a tie, the rule's first list),
    the others named in its `also_in`; the order of each list is kept."""
    kept_lists = {kind: list(items) for kind, items in lists.items()}
    rank = {name: n for n, name in enumerate(sources)}
    for rule in rules:
        held = sorted(((kind, n, order) for kind in rule.lists
                       for n, order in enumerate(kept_lists.get(kind, []))),
                      key=lambda t: (rank.get(t[2].source or "", len(rank)),
                                     rule.lists.index(t[0]), t[1]))
        first: dict[tuple[str, ...], tuple[str, int]] = {}
        gone: set[tuple[str, int]] = set()
        for kind, n, order in held:
            key = sale_key(order, rule.key)
            if key is None:
                continue
            if key not in first:
                first[key] = (kind, n)
                continue
            kept_kind, kept_n = first[key]
            kept = kept_lists[kept_kind][kept_n]
            other = order.source or kind
            if other != kept.source and other not in kept.also_in:
                kept_lists[kept_kind][kept_n] = kept.model_copy(
                    update={"also_in": [*kept.also_in, other]})
            gone.add((kind, n))
        kept_lists = {kind: [o for n, o in enumerate(items) if (kind, n) not in gone]
                      for kind, items in kept_lists.items()}
    return kept_lists


def sale_key(order: Order, key: Sequence[str]) -> tuple[str, ...] | None:
    """What identifies a sale across sources (each expression's value, as text); None when
    one of them has no value: such a purchase is never merged."""
    document = order.model_dump(mode="json")
    values = []
    for expression in key:
        try:
            value = search(expression, document)
        except JMESPathError:
            return None
        text = "" if value is None else str(value).strip()
        if not text or value in ([], {}):
            return None
        values.append(text)
    return tuple(values)


def compute_sentiment(surveys: list[SurveyAnswer]) -> Sentiment:
    """Last satisfaction, its trend (oldest first), last NPS answer and mean effort score."""
    csat = _newest_first(_of_kind(surveys, "csat"))
    nps = _newest_first(_of_kind(surveys, "nps"))
    ces = [s.score for s in _of_kind(surveys, "ces")]
    last_nps = None
    if nps:
        score = int(nps[0].score)
        last_nps = NpsAnswer.model_validate(
            {"score": score, "category": nps_category(score), "date": nps[0].date})
    return Sentiment(
        last_satisfaction=csat[0].score if csat else None,
        trend=[TrendPoint(date=s.date, score=s.score) for s in reversed(csat[:TREND_POINTS])],
        nps=last_nps,
        ces=_mean(ces, TENTH),
    )


def compute_contacts(events: list[ContactEvent], repeat_window_days: int) -> Contacts:
    """Count per channel, the last contact, and the repeat-contact rate: the share of contacts
    that come within `repeat_window_days` of the customer's previous contact."""
    dated = sorted((e for e in events if e.date is not None), key=lambda e: e.date)  # type: ignore[arg-type, return-value]
    by_channel: dict[str, int] = {}
    for event in events:
        channel = event.channel or "other"
        by_channel[channel] = by_channel.get(channel, 0) + 1
    window = dt.timedelta(days=repeat_window_days)
    repeats = sum(
        after.date - before.date <= window  # type: ignore[operator]
        for before, after in itertools.pairwise(dated)
    )
    last = dated[-1] if dated else None
    return Contacts(
        count=len(events),
        by_channel=dict(sorted(by_channel.items(), key=lambda kv: -kv[1])),
        last=LastContact.model_validate(last.model_dump(include=set(LastContact.model_fields)))
        if last else None,
        repeat_rate=(Decimal(repeats) / len(dated)).quantize(CENT) if dated else None,
    )


def _of_kind(answers: list[SurveyAnswer], kind: str) -> list[SurveyAnswer]:
    """The answers of one kind on its scale (the mapping drops the others; this holds for
    answers that came another way)."""
    return [s for s in answers if s.kind == kind and in_survey_scale(kind, s.score)]


def _newest_first(answers: list[SurveyAnswer]) -> list[SurveyAnswer]:
    return sorted(answers, key=lambda s: s.date or dt.date.min, reverse=True)


def _mean(values: list[Decimal], quantum: Decimal) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(quantum, ROUND_HALF_UP)
