"""The `segments` job (when and by which process: `connector.jobs.runner`): the classes that
need the whole customer base, ABC and RFM (`connector.customer.ranking`), computed over the
purchases of every source that declares a `purchases` listing, and kept in the `segments`
table with their date (classes and scores only: no amount); then the brand's NPS per month
over the survey answers of every source that declares a `surveys` listing
(`connector.jobs.brand_nps`): the same nightly, base-wide reading over the same window, so one
job, one schedule and one lock. Its counts are what `connector jobs`, the admin page and the
run history show.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Protocol

from sqlalchemy import Engine, delete, insert, select

from connector.customer.ranking import OUR_ID, AbcOverride, abc_classes, rfm_scores, totals
from connector.jobs.brand_nps import answer_listers, count_brand_nps
from connector.jobs.config import SegmentsJob
from connector.jobs.history import Counts
from connector.jobs.progress import Progress, Tally, no_progress
from connector.sources.base import Purchase
from connector.store.schema import links, segments

log = logging.getLogger(__name__)


class Lister(Protocol):
    """A source that can list every purchase since a date."""

    def purchases(self, since: dt.date) -> Iterator[Purchase]: ...


def listers(sources: Mapping[str, object]) -> dict[str, Lister]:
    """The sources whose manifest entry declares a `purchases` listing."""
    return {name: source for name, source in sources.items()  # type: ignore[misc]
            if getattr(getattr(source, "config", None), "purchases", None) is not None
            and callable(getattr(source, "purchases", None))}


def run_segments(sources: Mapping[str, object], engine: Engine, rules: SegmentsJob,
                 progress: Progress = no_progress, now: dt.datetime | None = None) -> Counts:
    """The job: the classes of the customers of the sources listing purchases, then the
    brand's NPS per month from those listing survey answers; `progress` counts the items
    read (their total known at the end)."""
    tally = Tally(progress)
    counts = compute_segments(listers(sources), engine, rules, now, tally)
    counts.update(count_brand_nps(answer_listers(sources), engine, rules.window_days, now,
                                  tally))
    tally.finish()
    return counts


def compute_segments(sources: Mapping[str, Lister], engine: Engine, rules: SegmentsJob,
                     now: dt.datetime | None = None, tally: Tally | None = None) -> Counts:
    """Read each listing over the window, class its customers, and replace that source's rows
    (in one transaction: a failed read keeps the last run's classes)."""
    now = now or dt.datetime.now(dt.UTC)
    tally = tally or Tally()
    today = now.date()
    since = today - dt.timedelta(days=rules.window_days)
    counts: Counts = {"sources": 0, "purchases": 0, "customers": 0}
    classes_seen: Counter[str] = Counter()
    for name, source in sources.items():
        bought = list(tally.through(source.purchases(since)))
        found = totals(bought, since, today)
        classes = abc_classes({c: t.revenue for c, t in found.items()}, split=rules.abc_split)
        scores = rfm_scores(found, today, {str(k): v for k, v in rules.rfm_bins.items()})
        admin = listed_classes(engine, name, rules.abc_override)
        classes.update((customer, admin[customer]) for customer in scores if customer in admin)
        rows = [{"source": name, "external_id": customer[:120], "abc_class": classes[customer],
                 "rfm_r": score.r, "rfm_f": score.f, "rfm_m": score.m, "computed_at": now,
                 "abc_overridden": customer in admin}
                for customer, score in scores.items()]
        with engine.begin() as connection:
            connection.execute(delete(segments).where(segments.c.source == name))
            if rows:
                connection.execute(insert(segments), rows)
        counts["sources"] += 1
        counts["purchases"] += len(bought)
        counts["customers"] += len(rows)
        if admin:  # only where an admin lists customers of this source
            counts["overridden"] = counts.get("overridden", 0) + sum(c in admin for c in scores)
        classes_seen.update(classes[customer] for customer in scores)
        log.info("segments of %s: %d customers from %d purchases", name, len(rows), len(bought))
    for letter in "ABC":
        counts[f"class_{letter.lower()}"] = classes_seen[letter]
    return counts


def listed_classes(engine: Engine, source: str, override: AbcOverride) -> dict[str, str]:
    """The source's own ids of the customers `abc_override.customers` lists → their class: a
    `source:id` as written, our `cus_…` ids through their identity links to this source (a
    customer never looked up has none yet: list them by the source's id)."""
    ours: dict[str, str] = {}
    found: dict[str, str] = {}
    for ref, letter in override.listed().items():
        named, _, external = ref.partition(":")
        if OUR_ID.match(ref):
            ours[ref] = letter
        elif named == source:
            found[external] = letter
    if ours:
        query = select(links.c.value, links.c.customer_id).where(
            links.c.kind == source, links.c.customer_id.in_(list(ours)))
        with engine.connect() as connection:
            for row in connection.execute(query):
                found.setdefault(row.value, ours[row.customer_id])
    return found
