"""The brand's Net Promoter Score per month (SEED-NOTES, "Rules with numbers"): of the NPS answers
given in a month, each as given (a customer who answered twice counts twice), the share of
promoters (9–10) minus the share of detractors (0–6), from −100 to 100. The `segments` job counts
the answers of the sources that list them and keeps the counts per month; the admin page and
/metrics read the last months back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select

from connector.store.schema import brand_nps

NPS_KIND = "nps"
SHOWN_MONTHS = 12  # what the admin page and /metrics show (a bounded label set)


@dataclass(frozen=True)
class MonthlyNps:
    """One month's NPS answers by category, and its score."""

    month: str  # YYYY-MM
    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        """Every NPS answer of the month."""
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float:
        """% promoters − % detractors (−100 to 100)."""
        return 100 * (self.promoters - self.detractors) / self.answers if self.answers else 0.0


def nps_category(score: Decimal) -> str | None:
    """`promoter` (9–10), `passive` (7–8) or `detractor` (0–6); None for a score that is not a
    whole number from 0 to 10 (dropped, never guessed)."""
    if score != score.to_integral_value() or not 0 <= score <= 10:
        return None
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def month_of(day: dt.date) -> str:
    """`YYYY-MM`."""
    return f"{day.year:04d}-{day.month:02d}"


def monthly_nps(answers: Iterable[tuple[dt.date, Decimal]]) -> dict[str, MonthlyNps]:
    """Each month's counts from (date, NPS score) pairs, oldest month first; a month with no
    answer is absent. Scores outside the scale are left out (the caller counts them)."""
    counts: dict[str, list[int]] = {}
    for day, score in answers:
        category = nps_category(score)
        if category is None:
            continue
        row = counts.setdefault(month_of(day), [0, 0, 0])
        row[("promoter", "passive", "detractor").index(category)] += 1
    return {month: MonthlyNps(month, *row) for month, row in sorted(counts.items())}


def first_month(today: dt.date, months: int) -> str:
    """The first of the `months` calendar months ending with today's (`YYYY-MM`)."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def recent_nps(engine: Engine, today: dt.date | None = None,
               months: int = SHOWN_MONTHS) -> list[MonthlyNps]:
    """The months among the last `months` calendar months (today's included) that have
    answers, as the `segments` job last counted them, oldest first."""
    today = today or dt.datetime.now(dt.UTC).date()
    query = (select(brand_nps.c.month, brand_nps.c.promoters, brand_nps.c.passives,
                    brand_nps.c.detractors)
             .where(brand_nps.c.month >= first_month(today, months),
                    brand_nps.c.month <= month_of(today))
             .order_by(brand_nps.c.month))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [MonthlyNps(row.month, row.promoters, row.passives, row.detractors)
            for row in rows]
