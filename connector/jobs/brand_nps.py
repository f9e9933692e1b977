"""The brand's NPS per month, counted by the `segments` job (`connector.jobs.segments`) over the
survey answers of every source that declares a `surveys` listing (`connector.customer.brand_nps`
says what is counted). The counts of each month of the job's window replace the last run's, in
one transaction; months before the window stay as last counted."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Engine, delete, insert

from connector.customer.brand_nps import NPS_KIND, month_of, monthly_nps, nps_category
from connector.jobs.history import Counts
from connector.jobs.progress import Tally
from connector.sources.base import ListedAnswer
from connector.store.schema import brand_nps

log = logging.getLogger(__name__)


class AnswerLister(Protocol):
    """A source that can list every survey answer since a date."""

    def surveys(self, since: dt.date) -> Iterator[ListedAnswer]: ...


def answer_listers(sources: Mapping[str, object]) -> dict[str, AnswerLister]:
    """The sources whose manifest entry declares a `surveys` listing."""
    return {name: source for name, source in sources.items()  # type: ignore[misc]
            if getattr(getattr(source, "config", None), "surveys", None) is not None
            and callable(getattr(source, "surveys", None))}


def window_start(today: dt.date, window_days: int) -> dt.date:
    """The first day of the month the window starts in: whole months only are counted."""
    return (today - dt.timedelta(days=window_days)).replace(day=1)


def count_brand_nps(sources: Mapping[str, AnswerLister], engine: Engine, window_days: int,
                    now: dt.datetime | None = None, tally: Tally | None = None) -> Counts:
    """Count each month's NPS answers since the start of the window's first month and replace
    those months' counts (nothing is touched when no source lists answers)."""
    if not sources:
        return {}
    now = now or dt.datetime.now(dt.UTC)
    today = now.date()
    since = window_start(today, window_days)
    tally = tally or Tally()
    kept: list[tuple[dt.date, Decimal]] = []
    for name, source in sources.items():
        dropped = 0
        for answer in tally.through(source.surveys(since)):
            if answer.kind != NPS_KIND or not since <= answer.at <= today:
                continue
            if nps_category(answer.score) is None:
                dropped += 1
                continue
            kept.append((answer.at, answer.score))
        if dropped:
            log.info("source %s: %d NPS answers dropped (score: not a whole number from 0 to "
                     "10)", name, dropped)
    found = monthly_nps(kept)
    rows = [{"month": month, "promoters": counts.promoters, "passives": counts.passives,
             "detractors": counts.detractors, "computed_at": now}
            for month, counts in found.items()]
    with engine.begin() as connection:
        connection.execute(delete(brand_nps).where(brand_nps.c.month >= month_of(since)))
        if rows:
            connection.execute(insert(brand_nps), rows)
    log.info("brand NPS: %d answers over %d months", len(kept), len(found))
    return {"nps_answers": len(kept), "nps_months": len(found)}
