"""The `segments` job (when and by which process: `connector.jobs.runner`): the classes that
need the whole customer base, ABC and RFM (`connector.customer.ranking`), computed over the
purchases of every source that declares a `purchases` listing, and kept in the `segments`
table with their date (classes and scores only: no amount). Its counts are what `connector
jobs`, the admin page and the run history show.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Protocol

from sqlalchemy import Engine, delete, insert

from connector.customer.ranking import abc_classes, rfm_scores, totals
from connector.jobs.config import SegmentsJob
from connector.jobs.history import Counts
from connector.sources.base import Purchase
from connector.store.schema import segments

log = logging.getLogger(__name__)


class Lister(Protocol):
    """A source that can list every purchase since a date."""

    def purchases(self, since: dt.date) -> Iterator[Purchase]: ...


def listers(sources: Mapping[str, object]) -> dict[str, Lister]:
    """The sources whose manifest entry declares a `purchases` listing."""
    return {name: source for name, source in sources.items()  # type: ignore[misc]
            if getattr(getattr(source, "config", None), "purchases", None) is not None
            and callable(getattr(source, "purchases", None))}


def compute_segments(sources: Mapping[str, Lister], engine: Engine, rules: SegmentsJob,
                     now: dt.datetime | None = None) -> Counts:
    """Read each listing over the window, class its customers, and replace that source's rows
    (in one transaction: a failed read keeps the last run's classes)."""
    now = now or dt.datetime.now(dt.UTC)
    today = now.date()
    since = today - dt.timedelta(days=rules.window_days)
    counts: Counts = {"sources": 0, "purchases": 0, "customers": 0}
    classes_seen: Counter[str] = Counter()
    for name, source in sources.items():
        bought = list(source.purchases(since))
        found = totals(bought, since, today)
        classes = abc_classes({c: t.revenue for c, t in found.items()}, split=rules.abc_split)
        scores = rfm_scores(found, today, {str(k): v for k, v in rules.rfm_bins.items()})
        rows = [{"source": name, "external_id": customer[:120], "abc_class": classes[customer],
                 "rfm_r": score.r, "rfm_f": score.f, "rfm_m": score.m, "computed_at": now}
                for customer, score in scores.items()]
        with engine.begin() as connection:
            connection.execute(delete(segments).where(segments.c.source == name))
            if rows:
                connection.execute(insert(segments), rows)
        counts["sources"] += 1
        counts["purchases"] += len(bought)
        counts["customers"] += len(rows)
        classes_seen.update(classes[customer] for customer in scores)
        log.info("segments of %s: %d customers from %d purchases", name, len(rows), len(bought))
    for letter in "ABC":
        counts[f"class_{letter.lower()}"] = classes_seen[letter]
    return counts
