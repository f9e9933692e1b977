"""Background work: the webhook event worker and the write-back sender.

An event is worked after it was acknowledged: resolve who it is about (which warms the
cache with every source's answer), record a new request in the customer's history, and queue
the write-back of our flags to the helpdesk when the manifest asks for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connector.customer.profile import ProfileAssembler
from connector.events.log import Claimed, EventLog
from connector.events.writeback import WriteBackQueue, Writer
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.models import CustomerProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What working one event did (for tests and logs: ids only)."""

    customer_id: str | None
    contact_added: bool = False
    write_back: bool = False


class EventWorker:
    """Works the event log and sends write-backs, in a thread of `connector serve` (every
    process may run one: claims never overlap) or one pass at a time (`run_once`)."""

    def __init__(self, events: EventLog, assembler: ProfileAssembler, queue: WriteBackQueue,
                 writers: Mapping[str, Writer], configs: Mapping[str, AdapterConfig],
                 interval_s: float = 2.0, threads: int = 1) -> None:
        self.events = events
        self.assembler = assembler
        self.queue = queue
        self.writers = writers
        self.configs = configs
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # events are mostly waiting on sources: a few at once clear a burst of tickets faster
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="event") if threads > 1 \
            else None

    def work(self, event: TicketEvent) -> Outcome:
        """Work one event (raises when a step fails: the event is then retried)."""
        enrich = getattr(self.writers.get(event.helpdesk), "enrich", None)
        if enrich is not None:  # e.g. Zendesk events name the requester by id only
            event = enrich(event)
        ids = event.identifiers
        if not ids:
            return Outcome(None)
        if event.kind == "customer.updated":
            self.assembler.invalidate(ids)
        found = self.assembler.lookup(ids)
        profile = found.profile
        if profile is None:  # unknown, or several people: never guessed
            return Outcome(None)
        if event.requester_id:  # who they are in this helpdesk, for the refresh_flags job
            self.events.remember_requester(event.helpdesk, event.requester_id,
                                           profile.customer_id)
        added = event.new_request and self.events.add_contact(profile.customer_id, event)
        queued = self._write_back(event, profile, added)
        return Outcome(profile.customer_id, added, queued)

    def run_once(self) -> int:
        """Work every due event once, then send the due write-backs; events worked."""
        claimed = self.events.claim()
        if self._pool is not None and len(claimed) > 1:
            list(self._pool.map(self._work_claimed, claimed))
        else:
            for item in claimed:
                self._work_claimed(item)
        if self.writers:
            self.queue.send_due(self.writers)
        return len(claimed)

    def wake(self) -> None:
        """An event was recorded: work it now rather than at the next tick."""
        self._wake.set()

    def start(self) -> None:
        """Work in a daemon thread until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="event-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    continue  # a full batch: there may be more waiting
            except Exception:  # the database went away: keep the thread, try again later
                log.exception("event worker pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def _work_claimed(self, item: Claimed) -> None:
        try:
            outcome = self.work(item.event)
        except Exception as exc:
            log.warning("event %s from %s failed (attempt %s): %s", item.id,
                        item.event.helpdesk, item.attempts + 1, type(exc).__name__)
            self.events.fail(item.id, item.attempts, f"{type(exc).__name__}: {exc}")
            return
        self.events.finish(item.id, outcome.customer_id)
        log.info("event %s from %s worked: customer %s", item.id, item.event.helpdesk,
                 outcome.customer_id or "-")

    def _write_back(self, event: TicketEvent, profile: CustomerProfile, new_ticket: bool) -> bool:
        """Queue our flags for the helpdesk, if it takes write-backs."""
        config = self.configs.get(event.helpdesk)
        if config is None or event.helpdesk not in self.writers:
            return False
        change = flag_write_back(config.write_back, event.helpdesk, profile,
                                 requester_id=event.requester_id, ticket_id=event.ticket_id,
                                 new_ticket=new_ticket)
        if change is None:
            return False
        self.queue.enqueue(change)
        return True


def flag_write_back(rules: WriteBackConfig, helpdesk: str, profile: CustomerProfile, *,
                    requester_id: str | None, ticket_id: str | None,
                    new_ticket: bool) -> WriteBack | None:
    """What to tell the helpdesk about this person (None: nothing, or write-back is off): our
    flags as tags, the segments as fields; the note only on a ticket seen for the first time
    (the same ticket delivered under two ids gets one note). The event worker and the
    `refresh_flags` job both write back through here."""
    if not rules.enabled or not (requester_id or ticket_id):
        return None
    prefix = rules.tag_prefix
    tags = tuple(f"{prefix}{flag.key}" for flag in profile.flags) if rules.tags else ()
    status = profile.status
    fields = {k: v for k, v in (("segment", status.segment), ("lifecycle", status.lifecycle),
                                ("abc_class", status.abc_class)) if v} if rules.fields else {}
    note = None
    if rules.note and new_ticket and ticket_id and profile.flags:
        note = "\n".join(f"• {flag.label} — {flag.reason}" for flag in profile.flags)
    on_ticket = note is not None or not requester_id  # else tags go on the person
    return WriteBack(helpdesk=helpdesk, requester_id=requester_id,
                     ticket_id=ticket_id if on_ticket else None, tags=tags, tag_prefix=prefix,
                     fields=fields, note=note)
