"""Background work: the webhook event worker and the write-back sender.

An event is worked after it was acknowledged: resolve who it is about (which warms the
cache with every source's answer), record a new request in the customer's history, and queue
the write-back of our flags to the helpdesk when the manifest asks for it.

When the database fails under an event, nothing waits out the lease: an event whose work met
the failure (the link store could not tell who it is, or a write failed) is given back at once,
the attempt not counted, and an outcome the database could not take (done, failed, given back)
is kept in memory and written first thing when it answers again. A worker that stops gives
back the events it still holds. Only a process that dies leaves its events to the lease.

A burst is worked in batches (`batch` events claimed in one statement), its events grouped by
the identifiers they name: a group runs on one of the worker's threads, its events one after
the other, and asks who the customer is once (`Batch`): the second event about a customer
reuses the first one's lookup, unless the event's flags are written back to its helpdesk (they
depend on the ticket: then only events of the same ticket share one) or the event says the
customer changed (asked afresh). Each event is still settled on its own. On PostgreSQL a
worker is woken by the events other processes record (`events.wake`), not only by its poll.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from connector.customer.profile import IdentityNotChecked, Lookup, ProfileAssembler
from connector.events.log import Claimed, EventLog
from connector.events.outbox import Outbox
from connector.events.wake import Listener
from connector.events.writeback import WriteBackQueue, Writer
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers
from connector.models import CustomerProfile, Flag
from connector.ops.progress import Progress
from connector.store.guard import unavailable

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0  # at stop, how long the events under way may take to finish
BATCH = 200  # events claimed at once (grouped by customer, worked on the threads)
LINGER_S = 0.05  # once woken, how long events arriving together are let gather into a batch
MIN_PAUSE_S = 0.02  # the shortest wait between passes for a write-back due now
Ticket = tuple[str, str]


class Batch(threading.local):
    """What the events of one group (one thread, one after the other) share: the lookups
    made for them, and the requesters already remembered."""

    def __init__(self) -> None:
        self.lookups: dict[tuple[Identifiers, Ticket | None, bool], Lookup] | None = None
        self.requesters: set[tuple[str, str, str]] = set()


@dataclass(frozen=True)
class Outcome:
    """What working one event did (for tests and logs: ids only)."""

    customer_id: str | None
    contact_added: bool = False
    write_back: bool = False


class EventWorker:
    """Works the event log, sends write-backs and agents' corrections (the outbox), in a
    thread of `connector serve` (every process may run one: claims never overlap) or one pass
    at a time (`run_once`)."""

    def __init__(self, events: EventLog, assembler: ProfileAssembler, queue: WriteBackQueue,
                 writers: Mapping[str, Writer], configs: Mapping[str, AdapterConfig],
                 interval_s: float = 2.0, threads: int = 1,
                 outbox: Outbox | None = None, batch: int = BATCH,
                 listen: bool = True, linger_s: float = LINGER_S) -> None:
        self.events = events
        self.outbox = outbox  # agents' corrections, sent and read back in the same passes
        self.assembler = assembler
        self.queue = queue
        self.writers = writers
        self.configs = configs
        self.interval_s = interval_s  # the poll: with a wake from every process, a fallback
        self.batch = batch
        self.linger_s = linger_s
        self._send_in: float | None = None  # until the earliest write-back put back is due
        self._shared = Batch()
        # woken by the events other processes record (PostgreSQL), not only by the poll
        self._listener = Listener(events.engine, self.wake, events.channel) if listen else None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # events are mostly waiting on sources: a few at once clear a burst of tickets faster
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="event") if threads > 1 \
            else None
        self._lock = threading.Condition()
        self._held: dict[int, Claimed] = {}  # claimed here and not settled yet
        self._running: set[int] = set()  # being worked right now
        # outcomes the database could not take: written as soon as it answers again
        self._unsettled: dict[int, Callable[[], bool]] = {}
        self._gave_back = False  # this pass gave events back for the database: pause
        self.progress = Progress("event")  # the events under way, for the watchdog

    def work(self, event: TicketEvent) -> Outcome:
        """Work one event (raises when a step fails: the event is then retried)."""
        enrich = getattr(self.writers.get(event.helpdesk), "enrich", None)
        if enrich is not None:  # e.g. Zendesk events name the requester by id only
            event = enrich(event)
        ids = event.identifiers
        if not ids:
            return Outcome(None)
        ticket = (event.helpdesk, event.ticket_id) if event.ticket_id else None
        found = self._lookup(event, ids, ticket)
        if not found.identity_checked:  # the link store cannot be read: wait for it
            raise IdentityNotChecked("the link store cannot be read")
        customer_id = found.customer_id
        if customer_id is None:  # unknown, or several people: never guessed
            return Outcome(None)
        # who they are in this helpdesk, for refresh_flags: remembered once per group
        seen = (event.helpdesk, event.requester_id, customer_id) if event.requester_id else None
        if seen in self._shared.requesters:
            seen = None
        if seen is None and not event.new_request and found.profile is None:
            return Outcome(customer_id)  # nothing to write
        with self.events.engine.begin() as connection:  # all of it, or none of it
            if seen is not None:
                self.events.remember_requester(*seen, connection=connection)
            added = event.new_request and self.events.add_contact(customer_id, event,
                                                                  connection)
            queued = found.profile is not None and self._write_back(
                event, found.profile, found.flags, added, connection)
        if seen is not None:
            self._shared.requesters.add(seen)
        return Outcome(customer_id, added, queued)

    def _lookup(self, event: TicketEvent, ids: Identifiers, ticket: Ticket | None) -> Lookup:
        """Who the event is about: asked once per group of events naming the same
        identifiers (and the same ticket when the flags are written back: they depend on
        it); asked afresh, the cache dropped first, when the customer changed. The whole
        record is made only for a helpdesk that takes our flags back: otherwise knowing whose
        event it is is enough (the sources are asked all the same: their answers are cached
        for the agent who opens the ticket)."""
        lookups = self._shared.lookups
        record = self._writes_back(event.helpdesk)
        key = (ids, ticket if record else None, record)
        if event.kind == "customer.updated":
            self.assembler.invalidate(ids)
        elif lookups is not None and key in lookups:
            return lookups[key]
        found = self.assembler.lookup(ids, ticket=ticket,  # not its own past complaint
                                      record=record)
        if lookups is not None and found.identity_checked:
            lookups[key] = found
        return found

    def _writes_back(self, helpdesk: str) -> bool:
        config = self.configs.get(helpdesk)
        return config is not None and config.write_back.enabled and helpdesk in self.writers

    def run_once(self) -> int:
        """Write the outcomes the database could not take before, work every due event once
        (a batch: grouped by customer), then send the due write-backs; events worked."""
        self._gave_back = False
        self._send_in = None  # a pass that fails before asking waits the whole poll
        if not self._settle_waiting() or self._stop.is_set():
            return 0
        claimed = self.events.claim(self.batch)
        with self._lock:
            self._held.update((item.id, item) for item in claimed)
            stopping = self._stop.is_set()
        if stopping:  # `stop` came while these were being claimed: given back, untried
            for item in claimed:
                if not self._settle(item, self._release(item)):
                    break
            return 0
        groups = _groups(claimed)
        if self._pool is not None and len(groups) > 1:
            self._work_in_pool(groups)
        else:
            for group in groups:
                self._work_group(group)
        if self.writers:
            self.queue.send_due(self.writers)
            self._send_in = self.queue.due_in()
        if self.outbox is not None:
            self.outbox.send_due()
        return len(claimed)

    def wake(self) -> None:
        """An event was recorded (or a change kept): work it now rather than at the next
        tick."""
        self._wake.set()

    def start(self) -> None:
        """Work in a daemon thread until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="event-worker", daemon=True)
            self._thread.start()
            if self._listener is not None:
                self._listener.start()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop working: nothing more is claimed, the events under way get `grace_s` to
        finish, then the outcomes the database could not take are written and the events
        still held are given back (pending at once, for another process)."""
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace_s
        with self._lock:
            while self._running and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # a pass claiming as the stop came: it gives back what it took (within the grace)
            thread.join(max(deadline - time.monotonic(), 0.1))
        if not self._settle_waiting():
            self._left_claimed()
            return
        with self._lock:
            left = [item for item in self._held.values() if item.id not in self._unsettled]
        for item in left:
            if not self._settle(item, self._release(item)):
                break
        self._left_claimed()

    def _left_claimed(self) -> None:
        with self._lock:
            if self._held:
                log.warning("event worker stopped holding %s event(s): the database cannot "
                            "take them back now; another process takes them after their lease",
                            len(self._held))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while (self._pass() >= self.batch and not self._stop.is_set()
                       and not self._gave_back):
                    continue  # a full batch: there may be more waiting
            except Exception as exc:  # the database went away: keep the thread, try later
                if unavailable(exc):
                    log.warning("event worker: database unavailable (%s); events wait for it",
                                type(exc).__name__)
                else:
                    log.exception("event worker pass failed")
            woken = self._wake.wait(self.pause_s())
            self._wake.clear()
            if woken and self.linger_s > 0:  # events come in bursts: claim them together
                self._stop.wait(self.linger_s)

    def _pass(self) -> int:
        """`run_once`, counted as work under way (a pass that never ends, its claim waiting on
        the database for ever, is a worker stuck, as an event that never ends is)."""
        self.progress.began()
        try:
            return self.run_once()
        finally:
            self.progress.ended()

    def pause_s(self) -> float:
        """How long the loop waits for a wake before its next pass: the poll, or less when a
        write-back put back (a helpdesk's window full, a target written to just now) is due
        sooner: a window that reopens is used as it reopens, not at the next poll."""
        due = self._send_in
        if due is None:
            return self.interval_s
        return min(self.interval_s, max(due, MIN_PAUSE_S))

    def _work_in_pool(self, groups: list[list[Claimed]]) -> None:
        """Work a batch on the worker's threads, a group to a thread (those a stop cancels
        stay held, given back)."""
        assert self._pool is not None
        futures = []
        for group in groups:
            try:
                futures.append(self._pool.submit(self._work_group, group))
            except RuntimeError:  # stopping: the pool takes nothing more
                break
        wait(futures)
        for future in futures:
            if not future.cancelled():
                future.result()

    def _work_group(self, group: list[Claimed]) -> None:
        """Work events naming the same customer one after the other, sharing their lookup."""
        self._shared.lookups, self._shared.requesters = {}, set()
        try:
            for item in group:
                self._work_claimed(item)
        finally:
            self._shared.lookups, self._shared.requesters = None, set()

    def _work_claimed(self, item: Claimed) -> None:
        if _lease_over(item, self.events.lease_s):  # a long batch: another worker may hold it
            log.warning("event %s: its lease ran out before its turn came: left to the worker "
                        "that takes it again", item.id)
            with self._lock:
                self._held.pop(item.id, None)
            return
        with self._lock:
            if self._stop.is_set():
                return  # stopping: `stop` gives it back
            self._running.add(item.id)
        self.progress.began()
        try:
            self._work_and_settle(item)
        finally:
            self.progress.ended()
            with self._lock:
                self._running.discard(item.id)
                self._lock.notify_all()

    def _work_and_settle(self, item: Claimed) -> None:
        try:
            outcome = self.work(item.event)
        except Exception as exc:
            if unavailable(exc) or isinstance(exc, IdentityNotChecked):
                log.warning("event %s from %s waits for the database (%s): given back",
                            item.id, item.event.helpdesk, type(exc).__name__)
                self._gave_back = True
                self._settle(item, self._release(item))
                return
            log.warning("event %s from %s failed (attempt %s): %s", item.id,
                        item.event.helpdesk, item.attempts + 1, type(exc).__name__)
            error = f"{type(exc).__name__}: {exc}"
            self._settle(item, lambda: self.events.fail(item.id, item.attempts, error,
                                                        item.claimed_at))
            return
        if self._settle(item, lambda: self.events.finish(item.id, outcome.customer_id,
                                                         item.claimed_at)):
            log.info("event %s from %s worked: customer %s", item.id, item.event.helpdesk,
                     outcome.customer_id or "-")

    def _release(self, item: Claimed) -> Callable[[], bool]:
        return lambda: self.events.release(item.id, item.claimed_at)

    def _settle(self, item: Claimed, write: Callable[[], bool]) -> bool:
        """Write an event's outcome (done, failed, given back); when the database cannot take
        it now, keep it to write first thing once it can. Whether it was written."""
        try:
            held = write()
        except Exception as exc:
            if not unavailable(exc):
                with self._lock:
                    self._held.pop(item.id, None)
                    self._unsettled.pop(item.id, None)
                raise
            log.warning("event %s: its outcome waits for the database (%s)", item.id,
                        type(exc).__name__)
            with self._lock:
                self._unsettled[item.id] = write
            return False
        if not held:  # its lease ran out and another worker took it: theirs now
            log.warning("event %s was taken over by another worker: this outcome is dropped",
                        item.id)
        with self._lock:
            self._held.pop(item.id, None)
            self._unsettled.pop(item.id, None)
        return True

    def _settle_waiting(self) -> bool:
        """Write the outcomes the database could not take before; whether all were written."""
        with self._lock:
            waiting = [(self._held[i], write) for i, write in self._unsettled.items()
                       if i in self._held]
        return all(self._settle(item, write) for item, write in waiting)  # stops at a failure

    def _write_back(self, event: TicketEvent, profile: CustomerProfile, flags: Sequence[Flag],
                    new_ticket: bool, connection: Connection) -> bool:
        """Queue our flags (every one, not only those shown) for the helpdesk, if it takes
        write-backs (in the transaction of the event's other writes)."""
        config = self.configs.get(event.helpdesk)
        if config is None or event.helpdesk not in self.writers:
            return False
        change = flag_write_back(config.write_back, event.helpdesk, profile, flags,
                                 requester_id=event.requester_id, ticket_id=event.ticket_id,
                                 new_ticket=new_ticket)
        if change is None:
            return False
        self.queue.enqueue(change, connection)
        return True


def _lease_over(item: Claimed, lease_s: float) -> bool:
    """Whether this claim is older than the lease (so no longer surely this worker's)."""
    if item.claimed_at is None:
        return False
    age = dt.datetime.now(dt.UTC) - item.claimed_at
    return age.total_seconds() >= lease_s


def _groups(claimed: list[Claimed]) -> list[list[Claimed]]:
    """The batch's events grouped by the identifiers they name, oldest first in each group;
    the groups in the order of their first event."""
    groups: dict[Identifiers, list[Claimed]] = {}
    for item in claimed:
        groups.setdefault(item.event.identifiers, []).append(item)
    return list(groups.values())


def flag_write_back(rules: WriteBackConfig, helpdesk: str, profile: CustomerProfile,
                    flags: Sequence[Flag], *, requester_id: str | None, ticket_id: str | None,
                    new_ticket: bool) -> WriteBack | None:
    """What to tell the helpdesk about this person (None: nothing, or write-back is off): our
    flags as tags — every flag that applies (`Lookup.flags`), never only the `max_shown` the
    record displays, since ours missing from the list are taken off —, the segments as
    fields; the note only on a ticket seen for the first time (the same ticket delivered
    under two ids gets one note). The event worker and the `refresh_flags` job both write
    back through here."""
    if not rules.enabled or not (requester_id or ticket_id):
        return None
    prefix = rules.tag_prefix
    tags = tuple(f"{prefix}{flag.key}" for flag in flags) if rules.tags else ()
    status = profile.status
    fields = {k: v for k, v in (("segment", status.segment), ("lifecycle", status.lifecycle),
                                ("abc_class", status.abc_class)) if v} if rules.fields else {}
    note = None
    if rules.note and new_ticket and ticket_id and flags:
        note = "\n".join(f"• {flag.label} — {flag.reason}" for flag in flags)
    on_ticket = note is not None or not requester_id  # else tags go on the person
    return WriteBack(helpdesk=helpdesk, requester_id=requester_id,
                     ticket_id=ticket_id if on_ticket else None, tags=tags, tag_prefix=prefix,
                     fields=fields, note=note)
