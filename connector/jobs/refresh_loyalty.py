"""The `refresh_loyalty` job (when and by which process: `connector.jobs.runner`): a tier lost
or won overnight is a flag change. It reads only the loyalty cards changed since its last run
(each source's `changes.loyalty` feed, from the cursor kept in the database), keeps each known
customer's tier (`customer.tiers`: the tier before a change and its day are what the record's
`loyalty.previous_tier` and `loyalty.tier_changed_at` say), and for a tier change looks the
person up fresh and queues their flags to every helpdesk that takes write-backs and has seen
them. Cards of people we do not know are counted, never created.
"""

from __future__ import annotations

import datetime as dt
import logging

from connector.customer.tiers import TierChange, record_tier
from connector.events.worker import EventWorker
from connector.jobs.config import RefreshLoyaltyJob
from connector.jobs.feeds import (
    FeedCursors,
    feed_sources,
    fresh_lookup,
    known_customer,
    pages_of,
    queue_flags,
    writing_helpdesks,
)
from connector.jobs.history import Counts
from connector.jobs.progress import Progress, no_progress
from connector.models import Loyalty
from connector.sources.rest_changes import Change
from connector.store.engine import create_tables
from connector.store.schema import loyalty_tiers

log = logging.getLogger(__name__)


def refresh_loyalty(worker: EventWorker, rules: RefreshLoyaltyJob,
                    now: dt.datetime | None = None, progress: Progress = no_progress) -> Counts:
    """Read each loyalty feed from its cursor and keep every known customer's tier (a source
    without the feed: nothing to do, `sources=0`); `progress` counts the cards read."""
    now = now or dt.datetime.now(dt.UTC)
    counts = dict.fromkeys(("sources", "cards", "matched", "unknown", "tier_changes",
                            "flags_queued", "incomplete", "errors"), 0)
    engine = worker.queue.engine
    cursors = FeedCursors(engine)
    create_tables(engine, [loyalty_tiers])
    for name, source in feed_sources(worker.assembler.sources, "loyalty").items():
        counts["sources"] += 1
        for page in pages_of(source, name, "loyalty", cursors, now, worker.assembler.region,
                             rules.max_cards, counts):
            latest = _latest_per_card(page.changes)
            counts["cards"] += len(page.changes) - len(latest)
            if not all(_card(worker, name, change, now, counts) for change in latest):
                break  # a source did not answer: this page again next run
            progress(counts["cards"], None)
    progress(counts["cards"], counts["cards"])
    return counts


def _latest_per_card(changes: list[Change]) -> list[Change]:
    """A card's last change of the page stands for all of them (the feed is oldest first): a
    page read again never replays an older tier over a newer one."""
    last: dict[object, Change] = {}
    for change in changes:
        last.pop(change.own_id or tuple(change.ids.pairs()), None)
        last[change.own_id or tuple(change.ids.pairs())] = change
    return list(last.values())


def _card(worker: EventWorker, source: str, change: Change, now: dt.datetime,
          counts: Counts) -> bool:
    """Handle one card; False when the person's sources did not all answer (stop here)."""
    counts["cards"] += 1
    resolver = worker.assembler.resolver
    customer_id = known_customer(resolver, change.ids)
    member = change.own_id or next(iter(resolver.person(customer_id).identifiers.of(
        "external", source)), None) if customer_id else None
    if customer_id is None or member is None:  # unknown, or not known to the feed's source
        counts["unknown"] += 1
        return True
    counts["matched"] += 1
    card = change.item if isinstance(change.item, Loyalty) else Loyalty()
    with worker.queue.engine.begin() as connection:
        moved = record_tier(connection, source, member, customer_id, card.tier, now,
                            said_before=card.previous_tier)
    if moved is None:
        return True
    counts["tier_changes"] += 0 if moved.again else 1
    return _write_back(worker, moved, counts)


def _write_back(worker: EventWorker, moved: TierChange, counts: Counts) -> bool:
    """Look the person up fresh (their record now says the tier changed) and queue their
    flags; False when their sources did not all answer."""
    found, complete = fresh_lookup(worker, moved.customer_id)
    if found is None or found.profile is None:
        counts["unknown"] += 1
        return True
    if not complete:
        counts["incomplete"] += 1
        return False
    log.info("loyalty tier of customer %s changed on %s", moved.customer_id, moved.on)
    requesters = worker.events.requesters_of(moved.customer_id, writing_helpdesks(worker))
    counts["flags_queued"] += queue_flags(worker, found, requesters)
    return True
