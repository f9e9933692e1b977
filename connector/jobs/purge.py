"""The `purge` job: what is older than its retention is deleted (SEED-NOTES, "Privacy": purge
what is stale), audited by counts only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, and_, delete

from connector.events.log import DONE, FAILED
from connector.events.writeback import FAILED as WRITEBACK_FAILED
from connector.jobs.config import PurgeJob
from connector.jobs.history import RUNNING, Counts, summary_text
from connector.jobs.progress import Progress, no_progress
from connector.store.engine import audit_entry
from connector.store.guard import longer_statements
from connector.store.schema import (
    choices,
    contacts,
    helpdesk_people,
    job_runs,
    ticket_events,
    writebacks,
)

PURGE_STATEMENT_S = 600  # a first purge of a large store may delete for a while (not a request)


def purge(engine: Engine, rules: PurgeJob, now: dt.datetime | None = None,
          progress: Progress = no_progress) -> Counts:
    """Delete what is older than its retention; the audit trail keeps the counts; `progress`
    counts the tables done."""
    now = now or dt.datetime.now(dt.UTC)

    def before(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    statements = {
        "contacts": delete(contacts).where(contacts.c.at < before(rules.contacts_days)),
        "events": delete(ticket_events).where(and_(
            ticket_events.c.state.in_([DONE, FAILED]),
            ticket_events.c.done_at < before(rules.events_days))),
        # a failed write-back was last tried when it was last claimed
        "writebacks": delete(writebacks).where(and_(
            writebacks.c.state == WRITEBACK_FAILED,
            writebacks.c.claimed_at < before(rules.failed_writebacks_days))),
        "requesters": delete(helpdesk_people).where(
            helpdesk_people.c.last_seen < before(rules.requesters_days)),
        # an agent's choice for a ticket lives as long as the helpdesk ids it was made for
        "choices": delete(choices).where(choices.c.chosen_at < before(rules.requesters_days)),
        "job_runs": delete(job_runs).where(and_(
            job_runs.c.outcome != RUNNING,
            job_runs.c.started_at < before(rules.job_runs_days))),
    }
    with engine.begin() as connection, longer_statements(connection, PURGE_STATEMENT_S):
        counts: Counts = {}
        for name, statement in statements.items():
            counts[name] = int(connection.execute(statement).rowcount or 0)
            progress(len(counts), len(statements))
        audit_entry(connection, "job:purge", "purge", None, summary_text(counts))
    return counts
