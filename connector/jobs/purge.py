"""The `purge` job: what is older than its retention is deleted (SEED-NOTES, "Privacy": purge
what is stale), audited by counts only.

Every kind kept has its retention: the requests, events, write-backs, helpdesk ids (and when
each was last written to), agents' choices and runs by their own date; a person (links, name,
refusals, and what is kept of them nowhere else) once no trace of them is newer than
`people_days`; notes after their last edit or the person's last contact; the audit trail by its
date. No statement names anyone: each deletes by dates alone, so the audit entry and the run
history hold counts only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, Table, and_, delete, exists, func, or_, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Delete

from connector.events.log import DONE, FAILED
from connector.events.outbox import SETTLED
from connector.events.writeback import FAILED as WRITEBACK_FAILED
from connector.jobs.config import PurgeJob
from connector.jobs.history import RUNNING, Counts, summary_text
from connector.jobs.progress import Progress, no_progress
from connector.store.engine import audit_entry
from connector.store.guard import longer_statements
from connector.store.schema import (
    audit,
    blocked,
    changes,
    choices,
    contacts,
    helpdesk_people,
    job_runs,
    links,
    loyalty_tiers,
    notes,
    people,
    review_alerts,
    ticket_events,
    writeback_targets,
    writebacks,
)

PURGE_STATEMENT_S = 600  # a first purge of a large store may delete for a while (not a request)

# what a person is in the link store: their links, their name row, the links refused them
PERSON_TABLES = (links, people, blocked)
# the counts, in the order the summary gives them (the older kinds first)
ORDER = ("contacts", "events", "writebacks", "requesters", "choices", "targets", "job_runs",
         "people", "links", "names", "refusals", "tiers", "alerts", "changes", "notes", "audit")


# each table keyed by a person, and its dates that say a source confirmed them or a helpdesk
# (an agent, a job working for one) asked about them
TRACES: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (links, ("learned_at", "confirmed_at")),
    (blocked, ("blocked_at",)),  # an admin refused one of their links
    (people, ("updated_at",)),  # a source told us something new of them
    (helpdesk_people, ("last_seen",)),
    (contacts, ("at",)),
    (ticket_events, ("received_at",)),
    (choices, ("chosen_at",)),
    (notes, ("updated_at",)),
    (changes, ("updated_at",)),
    (review_alerts, ("sent_at",)),
    (loyalty_tiers, ("seen_at",)),
)


def quiet_since(customer_id: ColumnElement[str], since: dt.datetime) -> ColumnElement[bool]:
    """True for a person no table holds a trace of at or after `since`."""
    checks = []
    for table, dates in TRACES:
        trace = table.alias()  # a statement on that same table is not correlated with itself
        recent = or_(*(trace.c[date] >= since for date in dates))
        if _indexed_by_person(table):
            checks.append(~exists().where(trace.c.customer_id == customer_id, recent))
        else:  # read once, not scanned for each person (SQLite would)
            checks.append(customer_id.not_in(select(trace.c.customer_id).where(recent)))
    return and_(*checks)


def _indexed_by_person(table: Table) -> bool:
    """Whether an index of the table starts with its person (`customer_id`)."""
    firsts = [next(iter(index.columns)).name for index in table.indexes]
    firsts += [column.name for column in list(table.primary_key.columns)[:1]]
    return "customer_id" in firsts


def _person_statements(since: dt.datetime) -> dict[str, Delete]:
    """The rows of people quiet since `since`: their link store (links, name, refusals) and
    what is kept of them nowhere else (loyalty tiers, review alerts, settled changes)."""
    def of_quiet(table: Table) -> ColumnElement[bool]:
        return quiet_since(table.c.customer_id, since)

    return {
        "links": delete(links).where(of_quiet(links)),
        "names": delete(people).where(of_quiet(people)),
        "refusals": delete(blocked).where(of_quiet(blocked)),
        "tiers": delete(loyalty_tiers).where(of_quiet(loyalty_tiers)),
        "alerts": delete(review_alerts).where(of_quiet(review_alerts)),
        "changes": delete(changes).where(and_(changes.c.state.in_(sorted(SETTLED)),
                                              of_quiet(changes))),
    }


def _quiet_people(connection: Connection, since: dt.datetime) -> int:
    """How many people of the link store are quiet since `since` (counted, never listed)."""
    ids = union(*(select(table.c.customer_id).where(quiet_since(table.c.customer_id, since))
                  for table in PERSON_TABLES)).subquery()
    return int(connection.execute(select(func.count()).select_from(ids)).scalar() or 0)


def _notes_statement(since: dt.datetime) -> Delete:
    """Notes last edited before `since` whose person had no contact since then either."""
    recent = contacts.alias()
    return delete(notes).where(and_(notes.c.updated_at < since, ~exists().where(
        recent.c.customer_id == notes.c.customer_id, recent.c.at >= since)))


def _dated_statements(before: dict[str, dt.datetime]) -> dict[str, Delete]:
    """The kinds deleted by their own date alone."""
    return {
        "contacts": delete(contacts).where(contacts.c.at < before["contacts"]),
        "events": delete(ticket_events).where(and_(
            ticket_events.c.state.in_([DONE, FAILED]),
            ticket_events.c.done_at < before["events"])),
        # a failed write-back was last tried when it was last claimed
        "writebacks": delete(writebacks).where(and_(
            writebacks.c.state == WRITEBACK_FAILED,
            writebacks.c.claimed_at < before["writebacks"])),
        "requesters": delete(helpdesk_people).where(
            helpdesk_people.c.last_seen < before["requesters"]),
        # an agent's choice for a ticket lives as long as the helpdesk ids it was made for
        "choices": delete(choices).where(choices.c.chosen_at < before["requesters"]),
        # when a helpdesk id was last written to (its limits count seconds): as long as the ids
        "targets": delete(writeback_targets).where(
            writeback_targets.c.sent_at < before["requesters"]),
        "job_runs": delete(job_runs).where(and_(
            job_runs.c.outcome != RUNNING, job_runs.c.started_at < before["job_runs"])),
        "audit": delete(audit).where(audit.c.at < before["audit"]),
    }


def purge(engine: Engine, rules: PurgeJob, now: dt.datetime | None = None,
          progress: Progress = no_progress) -> Counts:
    """Delete what is older than its retention; the audit trail keeps the counts; `progress`
    counts the kinds done."""
    now = now or dt.datetime.now(dt.UTC)
    days = {"contacts": rules.contacts_days, "events": rules.events_days,
            "writebacks": rules.failed_writebacks_days, "requesters": rules.requesters_days,
            "job_runs": rules.job_runs_days, "people": rules.people_days,
            "notes": rules.notes_days, "audit": rules.audit_days}
    before = {kind: now - dt.timedelta(days=count) for kind, count in days.items()}
    # people and notes first: they are judged on the traces the other kinds' purge removes
    statements = {**_person_statements(before["people"]),
                  "notes": _notes_statement(before["notes"]),
                  **_dated_statements(before)}
    total = len(statements) + 1
    with engine.begin() as connection, longer_statements(connection, PURGE_STATEMENT_S):
        done: Counts = {"people": _quiet_people(connection, before["people"])}
        progress(1, total)
        for name, statement in statements.items():
            done[name] = int(connection.execute(statement).rowcount or 0)
            progress(len(done), total)
        counts = {name: done[name] for name in ORDER}
        audit_entry(connection, "job:purge", "purge", None, summary_text(counts))
    return counts
