"""Classes that need the whole customer base: ABC (the toolbox's tool 17) and RFM scores (tool
18). Pure functions over each customer's purchases; a job over a source that lists customers
feeds them and stores the result with its date (issue 13), the record shows it.

ABC: customers sorted by revenue over the window, largest first; a customer is `A` while the
revenue of those before them is under 80 % of the total (so class A holds at least 80 % of
revenue), `B` under 95 %, `C` after; `P` (prospect) for a customer with no revenue in the
window. The split is configurable; an admin's override (`AbcOverride`: a status tag, a list of
customers) is applied on top: the list by the job, tags when the record is assembled (a
source's tags are only read then).

RFM: recency (days since the last purchase: more recent scores higher), frequency (purchases)
and monetary value (revenue) each scored 1–5 against cut points; by default the quintiles of
the base itself (20 % of customers in each score, ties kept together), or fixed bins from the
manifest. `score` is r + f + m (3–15).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pydantic import Field, field_validator
from sqlalchemy import Engine, select
from sqlalchemy.sql import Select

from connector.config import Strict
from connector.models import RfmScores
from connector.sources.base import Purchase
from connector.store.engine import by_source_ids, reading, source_ids
from connector.store.schema import segments

PROSPECT = "P"
DEFAULT_SPLIT = (Decimal(80), Decimal(15), Decimal(5))
AbcLetter = Literal["A", "B", "C"]
OUR_ID = re.compile(r"^cus_[0-9a-f]{20}$")
SOURCE_ID = re.compile(r"^([a-z_][a-z0-9_]*):(\S.*)$")


class AbcOverride(Strict):
    """An admin's ABC classes over the computed ones: by a source's status tag (`tags`: tag →
    class, case ignored, the first tag listed that the customer carries wins) or by customer
    (`customers`: class → our ids `cus_…` or a source's own ids `source:id`); a listed
    customer's class wins over a tag's."""

    tags: dict[str, AbcLetter] = Field(default_factory=dict)
    customers: dict[AbcLetter, list[str]] = Field(default_factory=dict)

    @field_validator("customers")
    @classmethod
    def _customers(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        problems: list[str] = []
        seen: dict[str, str] = {}
        for letter, listed in value.items():
            for n, ref in enumerate(listed):
                if not OUR_ID.match(ref) and not SOURCE_ID.match(ref):
                    problems.append(f"'{ref}' ({letter}[{n}]) is neither our customer id "
                                    "(cus_ and 20 hex digits) nor a source's own id "
                                    "(source:id, e.g. erp:C0042)")
                elif seen.setdefault(ref, letter) != letter:
                    problems.append(f"'{ref}' ({letter}[{n}]) is listed in class "
                                    f"{seen[ref]} too")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def by_tags(self, tags: Iterable[str]) -> str | None:
        """The class the customer's tags give, if any."""
        carried = {tag.strip().casefold() for tag in tags}
        return next((letter for tag, letter in self.tags.items()
                     if tag.strip().casefold() in carried), None)

    def listed(self) -> dict[str, str]:
        """Each listed customer (`cus_…` or `source:id`) → their class."""
        return {ref: letter for letter, refs in self.customers.items() for ref in refs}


class Kept(NamedTuple):
    """What the `segments` job kept for a customer."""

    abc_class: str
    rfm: RfmScores
    computed_at: dt.datetime
    overridden: bool  # the class is an admin's (`jobs.segments.abc_override`)


@dataclass(frozen=True)
class Rfm:
    """A customer's RFM scores, 1–5 each, and their sum."""

    r: int
    f: int
    m: int

    @property
    def score(self) -> int:
        """r + f + m, 3 to 15."""
        return self.r + self.f + self.m


@dataclass(frozen=True)
class Totals:
    """What RFM and ABC read of one customer's purchases in the window."""

    last: dt.date
    count: int
    revenue: Decimal


def totals(purchases: Iterable[Purchase], since: dt.date | None = None,
           until: dt.date | None = None) -> dict[str, Totals]:
    """Each customer's last purchase, purchase count and revenue within [since, until]."""
    found: dict[str, Totals] = {}
    for each in purchases:
        if (since is not None and each.at < since) or (until is not None and each.at > until):
            continue
        seen = found.get(each.customer_id)
        if seen is None:
            found[each.customer_id] = Totals(each.at, 1, each.amount)
        else:
            found[each.customer_id] = Totals(max(seen.last, each.at), seen.count + 1,
                                             seen.revenue + each.amount)
    return found


def abc_classes(revenue: Mapping[str, Decimal], customers: Iterable[str] = (),
                split: Sequence[Decimal] = DEFAULT_SPLIT) -> dict[str, str]:
    """Each customer's ABC class by revenue (`customers` adds those with none: `P`). `split`
    is the share of revenue of A, B and C in percent (80/15/5); it must add up to 100."""
    if len(split) != 3 or sum(split) != 100 or any(share <= 0 for share in split):
        raise ValueError("the ABC split is three positive percentages adding up to 100")
    classes = {customer: PROSPECT for customer in [*customers, *revenue]}
    paying = sorted(((amount, customer) for customer, amount in revenue.items() if amount > 0),
                    key=lambda pair: (-pair[0], pair[1]))
    total = sum((amount for amount, _ in paying), Decimal(0))
    a_until = total * split[0] / 100
    b_until = total * (split[0] + split[1]) / 100
    before = Decimal(0)
    for amount, customer in paying:
        classes[customer] = "A" if before < a_until else "B" if before < b_until else "C"
        before += amount
    return classes


def stored(engine: Engine, external_ids: Mapping[str, str]) -> Kept | None:
    """The class and scores the `segments` job kept for this customer (by their ids in the
    sources that list purchases), the most recent if several sources know them."""
    params = source_ids(external_ids)
    if not params:
        return None
    with reading(engine) as connection:
        row = connection.execute(_stored_statement(len(params) // 2), params).first()
    if row is None:
        return None
    at = row.computed_at if row.computed_at.tzinfo else row.computed_at.replace(tzinfo=dt.UTC)
    return Kept(row.abc_class, RfmScores(r=row.rfm_r, f=row.rfm_f, m=row.rfm_m,
                                         score=row.rfm_r + row.rfm_f + row.rfm_m), at,
                bool(row.abc_overridden))


@functools.lru_cache(maxsize=16)
def _stored_statement(count: int) -> Select[Any]:
    return (select(segments.c.abc_class, segments.c.rfm_r, segments.c.rfm_f, segments.c.rfm_m,
                   segments.c.computed_at, segments.c.abc_overridden)
            .where(by_source_ids(segments, count))
            .order_by(segments.c.computed_at.desc()).limit(1))


def quintile_cuts(values: Sequence[float]) -> list[float]:
    """The four cut points that split values into five groups of about a fifth each."""
    if len(set(values)) < 2:
        return []
    return statistics.quantiles(values, n=5, method="inclusive")


def score(value: float, cuts: Sequence[float], higher_is_better: bool = True) -> int:
    """1–5: how many cut points the value is above (equal to a cut point counts as below)."""
    above = bisect.bisect_left(list(cuts), value)
    rank = min(5, 1 + above)
    return rank if higher_is_better else 6 - rank


def rfm_scores(found: Mapping[str, Totals], today: dt.date,
               bins: Mapping[str, Sequence[float]] | None = None) -> dict[str, Rfm]:
    """Each customer's RFM scores: against the manifest's fixed `bins` (`recency_days`,
    `frequency`, `monetary`: four ascending cut points each) where given, else against the
    quintiles of the base."""
    recency = {c: float((today - t.last).days) for c, t in found.items()}
    frequency = {c: float(t.count) for c, t in found.items()}
    monetary = {c: float(t.revenue) for c, t in found.items()}
    given = bins or {}
    cuts = {name: list(given.get(name) or quintile_cuts(list(values.values())))
            for name, values in (("recency_days", recency), ("frequency", frequency),
                                 ("monetary", monetary))}
    return {customer: Rfm(score(recency[customer], cuts["recency_days"], higher_is_better=False),
                          score(frequency[customer], cuts["frequency"]),
                          score(monetary[customer], cuts["monetary"]))
            for customer in found}
