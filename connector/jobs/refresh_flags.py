"""The scheduled jobs' work (when and by which process: `connector.jobs.runner`).

- `refresh_flags`: a flag can change with no ticket at all (a review left yesterday, a
  loyalty tier lost overnight). The people helpdesks asked about lately are looked up again,
  from the sources rather than the cache, and their flags written back to every helpdesk that
  takes write-backs, through the event worker's own write-back building.
- `purge`: what is older than its retention is deleted (SEED-NOTES, "Privacy": purge what
  is stale), audited by counts only.

Each returns counts: what `connector jobs`, the admin page and the run history show.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine, and_, delete

from connector.events.log import DONE, FAILED
from connector.events.worker import EventWorker, flag_write_back
from connector.events.writeback import FAILED as WRITEBACK_FAILED
from connector.jobs.config import PurgeJob, RefreshFlagsJob
from connector.jobs.history import RUNNING
from connector.models import CustomerProfile, SourceState
from connector.store.engine import audit_entry
from connector.store.schema import contacts, helpdesk_people, job_runs, ticket_events, writebacks

log = logging.getLogger(__name__)
Counts = dict[str, int]
# a source that answered with these states may be missing a flag's evidence: writing that
# back would remove a tag that still holds
TRUSTED = {SourceState.OK, SourceState.NOT_FOUND}


def refresh_flags(worker: EventWorker, rules: RefreshFlagsJob,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> Counts:
    """Look up again the people seen within `seen_days` in a helpdesk that takes write-backs
    (at most `max_people`, one at a time, `pause_s` apart) and queue their flags for it."""
    counts = {"people": 0, "queued": 0, "incomplete": 0, "unknown": 0, "deferred": 0}
    helpdesks = sorted(kind for kind, config in worker.configs.items()
                       if config.write_back.enabled and kind in worker.writers)
    if not helpdesks:
        return counts
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=rules.seen_days)
    people = worker.events.requesters_since(since, helpdesks, rules.max_people)
    deadline = clock() + rules.lease_s * 0.8  # never outlive the lease: the rest waits
    for n, (customer_id, targets) in enumerate(people.items()):
        if clock() > deadline:
            counts["deferred"] = len(people) - n
            break
        if n and rules.pause_s:
            sleep(rules.pause_s)
        counts["people"] += 1
        profile, complete = _fresh_profile(worker, customer_id)
        if profile is None:
            counts["unknown"] += 1
        elif not complete:
            counts["incomplete"] += 1
        else:
            counts["queued"] += _queue_flags(worker, profile, targets)
    return counts


def _fresh_profile(worker: EventWorker,
                   customer_id: str) -> tuple[CustomerProfile | None, bool]:
    """The person as the sources describe them now (their cached answers dropped first), and
    whether every source answered."""
    assembler = worker.assembler
    ids = assembler.resolver.person(customer_id).identifiers
    if not ids:  # forgotten or merged into another record since
        return None, False
    assembler.invalidate(ids)
    found = assembler.lookup(ids, customer_id=customer_id)
    complete = all(status.status in TRUSTED for status in found.sources.values())
    return found.profile, complete


def _queue_flags(worker: EventWorker, profile: CustomerProfile,
                 targets: list[tuple[str, str]]) -> int:
    """Queue the person's flags to each helpdesk person they are; how many were queued."""
    queued = 0
    for helpdesk, requester_id in targets:
        change = flag_write_back(worker.configs[helpdesk].write_back, helpdesk, profile,
                                 requester_id=requester_id, ticket_id=None, new_ticket=False)
        if change is not None:
            worker.queue.enqueue(change)
            queued += 1
    return queued


def purge(engine: Engine, rules: PurgeJob, now: dt.datetime | None = None) -> Counts:
    """Delete what is older than its retention; the audit trail keeps the counts."""
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
        "job_runs": delete(job_runs).where(and_(
            job_runs.c.outcome != RUNNING,
            job_runs.c.started_at < before(rules.job_runs_days))),
    }
    with engine.begin() as connection:
        counts = {name: int(connection.execute(statement).rowcount or 0)
                  for name, statement in statements.items()}
        audit_entry(connection, "job:purge", "purge", None, summary_text(counts))
    return counts


def summary_text(counts: Counts) -> str:
    """Counts as one short line: `people=12 queued=10`."""
    return " ".join(f"{name}={value}" for name, value in counts.items())
