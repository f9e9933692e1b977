"""The `refresh_flags` job (when and by which process: `connector.jobs.runner`): a flag can
change with no ticket at all (a review left yesterday, a loyalty tier lost overnight). The people
helpdesks asked about lately are looked up again, from the sources rather than the cache, and
their flags written back to every helpdesk that takes write-backs, through the event worker's own
write-back building. It returns counts: what `connector jobs`, the admin page and the run
history show.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from connector.events.worker import EventWorker, flag_write_back
from connector.jobs.config import RefreshFlagsJob
from connector.jobs.feeds import fresh_lookup
from connector.jobs.history import Counts
from connector.jobs.progress import Progress, no_progress
from connector.models import CustomerProfile, Flag

log = logging.getLogger(__name__)


def refresh_flags(worker: EventWorker, rules: RefreshFlagsJob,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep,
                  progress: Progress = no_progress) -> Counts:
    """Look up again the people seen within `seen_days` in a helpdesk that takes write-backs
    (at most `max_people`, one at a time, `pause_s` apart) and queue their flags for it;
    `progress` counts the people looked up."""
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
        found, complete = fresh_lookup(worker, customer_id)
        if found is None or found.profile is None:
            counts["unknown"] += 1
        elif not complete:
            counts["incomplete"] += 1
        else:
            counts["queued"] += _queue_flags(worker, found.profile, found.flags, targets)
        progress(n + 1, len(people))
    return counts


def _queue_flags(worker: EventWorker, profile: CustomerProfile, flags: list[Flag],
                 targets: list[tuple[str, str]]) -> int:
    """Queue the person's flags (every one, not only those shown) to each helpdesk person
    they are; how many were queued."""
    queued = 0
    for helpdesk, requester_id in targets:
        change = flag_write_back(worker.configs[helpdesk].write_back, helpdesk, profile, flags,
                                 requester_id=requester_id, ticket_id=None, new_ticket=False)
        if change is not None:
            worker.queue.enqueue(change)
            queued += 1
    return queued
