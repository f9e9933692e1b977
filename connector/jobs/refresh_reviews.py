"""The `refresh_reviews` job (when and by which process: `connector.jobs.runner`): a customer
who posts a 1★ review without contacting you is noticed. It reads only the reviews published
since its last run (each source's `changes.reviews` feed, from the cursor kept in the
database), matches each to a person we already know by the identifiers it carries (nobody is
created), looks them up fresh and queues their flags to every helpdesk that takes write-backs
and has seen them. When the fresh record carries an alert flag dated the review's day
(`alert_flags`), an internal note naming the review goes on the person's latest ticket in that
helpdesk, once per review: the row of `review_alerts` and the queued note are written in one
transaction, and the cursor only moves once the page is handled. With `alert: ticket`, a
helpdesk that knows the person (a requester id) but holds no recent ticket of theirs gets a
new ticket instead, the note its private first message, once per review the same way, when
its adapter opens tickets (`opens_tickets`); the others get the tags alone (`no_ticket`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging

from connector import i18n
from connector.customer.profile import Lookup
from connector.events.worker import EventWorker, flag_write_back
from connector.events.writeback import opens_tickets
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
from connector.models import Flag, Review, SurveyAnswer
from connector.sources.rest_changes import Change, FeedKind
from connector.store.engine import create_tables, insert_ignoring
from connector.store.schema import review_alerts

log = logging.getLogger(__name__)
SCALES = {"nps": 10, "csat": 10, "ces": 5}  # the record's scales (docs/flags.md)
FEEDS: tuple[FeedKind, ...] = ("reviews", "surveys")  # what this job reads, each its cursor
NEW_TICKET = "new"  # the ticket of a `review_alerts` row whose alert opened one
Ticket = tuple[str, str]  # (helpdesk, ticket id)


@dataclasses.dataclass(frozen=True)
class ReviewAlert:
    """One review to alert about: its source and feed key, the note, a new ticket's subject."""

    source: str
    key: str
    text: str
    subject: str


def refresh_reviews(worker: EventWorker, rules: RefreshReviewsJob,
                    now: dt.datetime | None = None, progress: Progress = no_progress) -> Counts:
    """Read each review feed from its cursor and handle every review (a source without the
    feed: nothing to do, `sources=0`); `progress` counts the reviews read."""
    now = now or dt.datetime.now(dt.UTC)
    counts = dict.fromkeys(("sources", "reviews", "answers", "matched", "unknown",
                            "flags_queued", "alerts", "incomplete", "errors"), 0)
    if rules.alert == "ticket":
        counts.update(tickets=0, no_ticket=0)
    engine = worker.queue.engine
    cursors = FeedCursors(engine)
    create_tables(engine, [review_alerts])
    region = worker.assembler.region
    for kind in FEEDS:
        for name, source in feed_sources(worker.assembler.sources, kind).items():
            counts["sources"] += 1
            for page in pages_of(source, name, kind, cursors, now, region,
                                 rules.max_reviews, counts):
                if not all(_review(worker, rules, name, change, now, counts)
                           for change in page.changes):
                    break  # a source did not answer: this page again next run
                progress(counts["reviews"] + counts["answers"], None)
    progress(counts["reviews"] + counts["answers"], counts["reviews"] + counts["answers"])
    return counts


def _review(worker: EventWorker, rules: RefreshReviewsJob, source: str, change: Change,
            now: dt.datetime, counts: Counts) -> bool:
    """Handle one review or survey answer; False when the person's sources did not all
    answer (stop here)."""
    answer = change.item if isinstance(change.item, SurveyAnswer) else None
    counts["answers" if answer is not None else "reviews"] += 1
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
    item = review or answer
    flags = _alert_flags(found, item, rules.alert_flags) if rules.alert != "off" else []
    alerted: set[str] = set()
    locale = worker.assembler.manifest.brand.locale
    alert = None
    if flags and review is not None:
        alert = ReviewAlert(source, change.key, alert_text(review, found, locale),
                            alert_subject(review, locale))
    elif flags and answer is not None:  # its own key space: never taken for a review's
        alert = ReviewAlert(source, f"surveys:{change.key}", answer_text(answer, found, locale),
                            answer_subject(answer, locale))
    if alert is not None:
        alerted = _alert(worker, rules, found, alert, requesters, now, counts)
    rest = [(helpdesk, requester) for helpdesk, requester in requesters
            if helpdesk not in alerted]
    counts["flags_queued"] += queue_flags(worker, found, rest)
    return True


def _alert(worker: EventWorker, rules: RefreshReviewsJob, found: Lookup, alert: ReviewAlert,
           requesters: list[tuple[str, str]], now: dt.datetime, counts: Counts) -> set[str]:
    """Note the review on the person's latest recent ticket in each helpdesk; with `alert:
    ticket`, open one where they have none and the helpdesk can. The helpdesks written to."""
    assert found.profile is not None
    helpdesks = writing_helpdesks(worker)
    latest: dict[str, str] = {}  # helpdesk -> the person's id there, most recently seen
    for helpdesk, requester in requesters:
        latest.setdefault(helpdesk, requester)
    tickets = _latest_tickets(worker, found.profile.customer_id, helpdesks, now,
                              rules.ticket_days)
    written: set[str] = set()
    for helpdesk, ticket_id in tickets:
        if _queue_alert(worker, found, alert, helpdesk, latest.get(helpdesk), ticket_id, now):
            counts["alerts"] += 1
            counts["flags_queued"] += 1
            written.add(helpdesk)
    if rules.alert != "ticket":
        return written
    noted = {helpdesk for helpdesk, _ in tickets}
    for helpdesk, requester in sorted(latest.items()):
        if helpdesk in noted:
            continue
        if not opens_tickets(worker.writers.get(helpdesk)):
            counts["no_ticket"] += 1  # the tags alone, as for anyone without a ticket
        elif _queue_alert(worker, found, alert, helpdesk, requester, None, now):
            counts["alerts"] += 1
            counts["tickets"] += 1
            counts["flags_queued"] += 1
            written.add(helpdesk)
    return written


def _alert_flags(found: Lookup, item: Review | SurveyAnswer | None,
                 keys: list[str]) -> list[Flag]:
    """The alert flags this review or answer raised: among `keys`, dated its day."""
    if item is None or item.date is None or found.profile is None:
        return []
    every = {flag.key: flag for flag in [*found.profile.flags, *found.flags]}
    return [flag for flag in every.values() if flag.key in keys and flag.since == item.date]


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


def _queue_alert(worker: EventWorker, found: Lookup, alert: ReviewAlert, helpdesk: str,
                 requester: str | None, ticket_id: str | None, now: dt.datetime) -> bool:
    """Queue the person's flags with the alert, as a note on the ticket or (no ticket) as a
    new ticket for the requester, unless this review was already alerted in this helpdesk
    (one transaction: the alert's row and the change, or neither)."""
    assert found.profile is not None
    change = flag_write_back(worker.configs[helpdesk].write_back, helpdesk, found.profile,
                             found.flags, requester_id=requester, ticket_id=ticket_id,
                             new_ticket=False)
    if change is None:
        return False
    if ticket_id is None:
        change = dataclasses.replace(change, note=alert.text, new_ticket_subject=alert.subject)
    else:
        change = dataclasses.replace(change, ticket_id=ticket_id, note=alert.text)
    digest = hashlib.sha256(alert.key.encode()).hexdigest()
    with worker.queue.engine.begin() as connection:
        taken = connection.execute(insert_ignoring(connection, review_alerts).values(
            source=alert.source, review_key=digest, helpdesk=helpdesk,
            customer_id=found.profile.customer_id, ticket_id=(ticket_id or NEW_TICKET)[:80],
            sent_at=now,
        ).returning(review_alerts.c.helpdesk)).first()
        if taken is None:
            return False  # alerted by an earlier run
        worker.queue.enqueue(change, connection)
    log.info("review alert queued for customer %s on %s ticket %s", found.profile.customer_id,
             helpdesk, ticket_id or "(new)")
    return True


def alert_subject(review: Review, locale: str) -> str:
    """A new ticket's subject: the rating and the site."""
    return i18n.text("alert.review_subject", locale, rating=_rating(review),
                     site=review.site or review.source or "?")


def alert_text(review: Review, found: Lookup, locale: str) -> str:
    """The note: the review (rating on its scale, site, day, link), then the alert flags."""
    rating = _rating(review)
    day = format_date(review.date, locale) if review.date else "?"
    text = i18n.text("alert.review", locale, rating=rating, site=review.site or review.source
                     or "?", date=day, url=review.url or "")
    flags = "\n".join(f"• {flag.label} — {flag.reason}" for flag in found.flags)
    return f"{text.rstrip()}\n{flags}".rstrip()



def answer_subject(answer: SurveyAnswer, locale: str) -> str:
    """A new ticket's subject for a survey answer: the question and the score."""
    return i18n.text("alert.answer_subject", locale, kind=answer.kind.upper(),
                     score=_score(answer))


def answer_text(answer: SurveyAnswer, found: Lookup, locale: str) -> str:
    """The note for a survey answer: the question, score, day and comment, then the flags."""
    day = format_date(answer.date, locale) if answer.date else "?"
    text = i18n.text("alert.answer", locale, kind=answer.kind.upper(), score=_score(answer),
                     date=day, comment=answer.comment or "")
    flags = "\n".join(f"• {flag.label} — {flag.reason}" for flag in found.flags)
    return f"{text.rstrip()}\n{flags}".rstrip()


def _score(answer: SurveyAnswer) -> str:
    """`3/10` on the record's scale of the question."""
    return f"{answer.score:g}/{SCALES.get(answer.kind, 10)}"


def _rating(review: Review) -> str:
    """`1/5` (on the review's own scale), `?` when it has none."""
    return "?" if review.rating is None else f"{review.rating:g}/{review.max_rating or 5:g}"
