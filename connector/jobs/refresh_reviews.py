"""The `refresh_reviews` job (when and by which process: `connector.jobs.runner`): a customer
who posts a 1★ review without contacting you is noticed. It reads only the reviews published
since its last run (each source's `changes.reviews` feed, from the cursor kept in the
database), matches each to a person we already know by the identifiers it carries (nobody is
created), looks them up fresh and queues their flags to every helpdesk that takes write-backs
and has seen them. When the fresh record carries an alert flag dated the review's day
(`alert_flags`), an internal note naming the review goes on the person's latest ticket in that
helpdesk, once per review: the row of `review_alerts` and the queued note are written in one
transaction, and the cursor only moves once the page is handled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging

from connector.customer.profile import Lookup
from connector.events.worker import EventWorker, flag_write_back
from connector.i18n import format_date
from connector.jobs.config import RefreshReviewsJob
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
from connector.models import Flag, Review
from connector.sources.rest_changes import Change
from connector.store.engine import create_tables, insert_ignoring
from connector.store.schema import review_alerts

log = logging.getLogger(__name__)
ALERT_TEXT = {
    "fr": "Nouvel avis : {rating} sur {site}, le {date}\n{url}",
    "en": "New review: {rating} on {site}, {date}\n{url}",
}
Ticket = tuple[str, str]  # (helpdesk, ticket id)


def refresh_reviews(worker: EventWorker, rules: RefreshReviewsJob,
                    now: dt.datetime | None = None, progress: Progress = no_progress) -> Counts:
    """Read each review feed from its cursor and handle every review (a source without the
    feed: nothing to do, `sources=0`); `progress` counts the reviews read."""
    now = now or dt.datetime.now(dt.UTC)
    counts = dict.fromkeys(("sources", "reviews", "matched", "unknown", "flags_queued",
                            "alerts", "incomplete", "errors"), 0)
    feeds = feed_sources(worker.assembler.sources, "reviews")
    engine = worker.queue.engine
    cursors = FeedCursors(engine)
    create_tables(engine, [review_alerts])
    region = worker.assembler.region
    for name, source in feeds.items():
        counts["sources"] += 1
        for page in pages_of(source, name, "reviews", cursors, now, region,
                             rules.max_reviews, counts):
            if not all(_review(worker, rules, name, change, now, counts)
                       for change in page.changes):
                break  # a source did not answer: this page again next run
            progress(counts["reviews"], None)
    progress(counts["reviews"], counts["reviews"])
    return counts


def _review(worker: EventWorker, rules: RefreshReviewsJob, source: str, change: Change,
            now: dt.datetime, counts: Counts) -> bool:
    """Handle one review; False when the person's sources did not all answer (stop here)."""
    counts["reviews"] += 1
    customer_id = known_customer(worker.assembler.resolver, change.ids)
    if customer_id is None:
        counts["unknown"] += 1
        return True
    counts["matched"] += 1
    found, complete = fresh_lookup(worker, customer_id)
    if found is None or found.profile is None:
        counts["unknown"] += 1
        return True
    if not complete:
        counts["incomplete"] += 1
        return False
    helpdesks = writing_helpdesks(worker)
    requesters = worker.events.requesters_of(customer_id, helpdesks)
    review = change.item if isinstance(change.item, Review) else None
    flags = _alert_flags(found, review, rules.alert_flags) if rules.alert == "note" else []
    noted: set[str] = set()
    if flags and review is not None:
        for ticket in _latest_tickets(worker, customer_id, helpdesks, now, rules.ticket_days):
            if _note(worker, found, source, change.key, review, ticket, requesters, now):
                counts["alerts"] += 1
                counts["flags_queued"] += 1
                noted.add(ticket[0])
    rest = [(helpdesk, requester) for helpdesk, requester in requesters if helpdesk not in noted]
    counts["flags_queued"] += queue_flags(worker, found, rest)
    return True


def _alert_flags(found: Lookup, review: Review | None, keys: list[str]) -> list[Flag]:
    """The alert flags this review raised: among `keys`, dated the review's day."""
    if review is None or review.date is None or found.profile is None:
        return []
    every = {flag.key: flag for flag in [*found.profile.flags, *found.flags]}
    return [flag for flag in every.values() if flag.key in keys and flag.since == review.date]


def _latest_tickets(worker: EventWorker, customer_id: str, helpdesks: list[str],
                    now: dt.datetime, days: int) -> list[Ticket]:
    """The person's most recent ticket in each helpdesk, seen within `days` (ticket status is
    not tracked: the latest recent one stands for the open one)."""
    since = now - dt.timedelta(days=days)
    latest: dict[str, str] = {}
    for (helpdesk, ticket_id), contact in worker.events.tickets_of(customer_id):  # newest first
        if helpdesk in helpdesks and helpdesk not in latest and contact.date is not None \
                and contact.date >= since:
            latest[helpdesk] = ticket_id
    return sorted(latest.items())


def _note(worker: EventWorker, found: Lookup, source: str, key: str, review: Review,
          ticket: Ticket, requesters: list[tuple[str, str]], now: dt.datetime) -> bool:
    """Queue the person's flags with a note on the ticket, unless this review was already
    noted in this helpdesk (one transaction: the alert's row and the note, or neither)."""
    helpdesk, ticket_id = ticket
    assert found.profile is not None
    requester = next((r for h, r in requesters if h == helpdesk), None)
    change = flag_write_back(worker.configs[helpdesk].write_back, helpdesk, found.profile,
                             found.flags, requester_id=requester, ticket_id=ticket_id,
                             new_ticket=False)
    if change is None:
        return False
    locale = worker.assembler.manifest.brand.locale
    change = dataclasses.replace(change, ticket_id=ticket_id,
                                 note=alert_text(review, found, locale))
    digest = hashlib.sha256(key.encode()).hexdigest()
    with worker.queue.engine.begin() as connection:
        taken = connection.execute(insert_ignoring(connection, review_alerts).values(
            source=source, review_key=digest, helpdesk=helpdesk,
            customer_id=found.profile.customer_id, ticket_id=ticket_id[:80], sent_at=now,
        ).returning(review_alerts.c.helpdesk)).first()
        if taken is None:
            return False  # noted by an earlier run
        worker.queue.enqueue(change, connection)
    log.info("review alert queued for customer %s on %s ticket %s", found.profile.customer_id,
             helpdesk, ticket_id)
    return True


def alert_text(review: Review, found: Lookup, locale: str) -> str:
    """The note: the review (rating on its scale, site, day, link), then the alert flags."""
    rating = "?" if review.rating is None else f"{review.rating:g}/{review.max_rating or 5:g}"
    day = format_date(review.date, locale) if review.date else "?"
    text = ALERT_TEXT.get(locale, ALERT_TEXT["en"]).format(
        rating=rating, site=review.site or review.source or "?", date=day, url=review.url or "")
    flags = "\n".join(f"• {flag.label} — {flag.reason}" for flag in found.flags)
    return f"{text.rstrip()}\n{flags}".rstrip()
