"""A burst of events: claimed in batches (one statement; concurrent workers on PostgreSQL skip
what another is taking), grouped by customer so that events about one person share a lookup,
and a worker woken at once by an event another process recorded (PostgreSQL LISTEN/NOTIFY),
even when its poll is far off; on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy

from connector.app import Services
from connector.customer.links import LinkStore
from connector.events.log import DONE, EventLog
from connector.events.worker import EventWorker, Outcome
from connector.helpdesk.base import TicketEvent
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers
from tests.conftest import (
    ROOT,
    drop_schema,
    postgres_url,
    until,
)
from tests.events.test_worker import Recorder

PAULINE = "pauline.deneve@easiware.fr"


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    """A PostgreSQL schema of this test's own, and a notification channel of its own (other
    tests' events on the same database never wake this test's workers)."""
    schema = "connector_burst_" + uuid.uuid4().hex[:10]
    yield postgres_url(schema), f"burst_{uuid.uuid4().hex[:10]}"
    drop_schema(schema)


class Scripted(EventWorker):
    """A worker whose work is a script (no sources): `on_work` runs for each event."""

    def __init__(self, log: EventLog, on_work: Callable[[TicketEvent], Outcome],
                 **options: Any) -> None:
        super().__init__(log, None, None, {}, {}, **options)  # type: ignore[arg-type]
        self.on_work = on_work
        self.completed: list[str] = []

    def work(self, event: TicketEvent) -> Outcome:
        outcome = self.on_work(event)
        self.completed.append(event.key)
        return outcome


def ticket(number: str, email: str = PAULINE, **extra: object) -> TicketEvent:
    values: dict[str, object] = {
        "helpdesk": "zendesk", "key": f"evt-{number}", "kind": "ticket.created",
        "identifiers": Identifiers(emails=(email,)), "ticket_id": number, "requester_id": "9001",
        "channel": "chat", "subject": "Où est ma commande ?", "new_request": True,
        "occurred_at": dt.datetime.now(dt.UTC), **extra}
    return TicketEvent(**values)  # type: ignore[arg-type]


RECORD_ELSEWHERE = """
import sys
from connector.customer.links import LinkStore
from connector.events.log import EventLog
from tests.events.test_burst import ticket
log = EventLog(LinkStore(sys.argv[1]).engine, channel=sys.argv[2])
print(log.record(ticket(sys.argv[3]))[0])
"""


def record_in_another_process(url: str, channel: str, number: str) -> None:
    """A web process acknowledging an event: another interpreter, its own connection."""
    subprocess.run([sys.executable, "-c", RECORD_ELSEWHERE, url, channel, number], cwd=ROOT,
                   check=True, capture_output=True, timeout=60)


def test_a_worker_is_woken_by_an_event_another_process_recorded(pg: tuple[str, str]) -> None:
    url, channel = pg
    log = EventLog(LinkStore(url).engine, channel=channel)
    worker = Scripted(log, lambda event: Outcome("cus_1"), interval_s=3600)  # no poll to help
    worker.start()
    try:
        listener = worker._listener
        assert listener is not None
        until(lambda: listener.listening.is_set(), 10, 0.02)
        worker.run_once()  # the wake at listening has been worked: only a new one helps now
        record_in_another_process(url, channel, "701")
        until(lambda: worker.completed == ["evt-701"], 20, 0.02)
        until(lambda: log.counts() == {DONE: 1}, 10, 0.02)
    finally:
        worker.stop()


def test_the_listener_listens_again_after_its_connection_is_cut(pg: tuple[str, str]) -> None:
    url, channel = pg
    log = EventLog(LinkStore(url).engine, channel=channel)
    worker = Scripted(log, lambda event: Outcome("cus_2"), interval_s=3600)
    worker.start()
    try:
        listener = worker._listener
        assert listener is not None
        until(lambda: listener.listening.is_set(), 10, 0.02)
        cut = listener.backend_pid
        admin = sqlalchemy.create_engine(url)
        with admin.begin() as connection:  # the database restarted, a proxy cut it…
            connection.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"),
                               {"pid": cut})
        admin.dispose()
        until(lambda: listener.listening.is_set() and listener.backend_pid != cut, 20, 0.02)
        record_in_another_process(url, channel, "702")
        until(lambda: worker.completed == ["evt-702"], 20, 0.02)
    finally:
        worker.stop()


def test_workers_on_their_own_connections_share_a_burst_without_overlap(
        pg: tuple[str, str]) -> None:
    """Three workers (each its own engine, as three processes) claim small batches at once
    until the log is empty: every event is taken once, none twice."""
    url, channel = pg
    first = EventLog(LinkStore(url).engine, channel=channel)
    for number in range(120):
        first.record(ticket(str(number)))
    taken: list[int] = []
    lock = threading.Lock()

    def drain() -> None:
        mine = EventLog(LinkStore(url).engine, channel=channel)
        while claimed := mine.claim(limit=7):
            with lock:
                taken.extend(item.id for item in claimed)
            for item in claimed:
                assert mine.finish(item.id, "cus_3", item.claimed_at)

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 120 and len(set(taken)) == 120
    assert first.counts() == {DONE: 120}


class Counting:
    """Counts the lookups an assembler is asked for (the rest is the real one)."""

    def __init__(self, services: Services) -> None:
        self.calls: list[Identifiers] = []
        real = services.assembler.lookup

        def lookup(ids: Identifiers, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(ids)
            return real(ids, *args, **kwargs)

        services.assembler.lookup = lookup  # type: ignore[method-assign]


def test_events_about_one_customer_in_a_burst_share_one_lookup(services: Services) -> None:
    before = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert before is not None
    counting = Counting(services)
    worker = EventWorker(services.events, services.assembler, services.writebacks, {}, {},
                         threads=4, listen=False)
    for number in range(800, 806):
        services.events.record(ticket(str(number)))
    services.events.record(ticket("800", key="evt-800-again"))  # the same ticket, again
    for number in range(810, 813):
        services.events.record(ticket(str(number), email="nobody@example.org"))
    assert worker.run_once() == 10
    worker.stop()
    assert sorted(ids.emails[0] for ids in counting.calls) == ["nobody@example.org", PAULINE]
    after = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert after is not None and after.contacts.count == before.contacts.count + 6
    assert services.events.counts() == {"done": 10}


def test_a_customer_update_in_a_burst_is_looked_up_afresh(services: Services) -> None:
    counting = Counting(services)
    worker = EventWorker(services.events, services.assembler, services.writebacks, {}, {},
                         listen=False)
    services.events.record(ticket("820"))
    services.events.record(ticket("821", kind="customer.updated", new_request=False))
    services.events.record(ticket("822"))
    assert worker.run_once() == 3
    assert len(counting.calls) == 2  # the first; the update (its cache dropped), reused after
    assert services.events.counts() == {"done": 3}


def test_written_back_flags_are_looked_up_for_their_own_ticket(services: Services) -> None:
    """Flags depend on the ticket (its own complaint is not a past one): with write-back on,
    only deliveries of the same ticket share a lookup, and each new ticket gets its note."""
    writer = Recorder()
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True, note=True))
    counting = Counting(services)
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": writer}, {"zendesk": config}, threads=4, listen=False)
    services.events.record(ticket("830"))
    services.events.record(ticket("830", key="evt-830-again"))
    services.events.record(ticket("831"))
    assert worker.run_once() == 3
    worker.stop()
    assert len(counting.calls) == 2
    services.writebacks.send_due({"zendesk": writer})
    assert sorted(c.ticket_id or "" for c in writer.calls if c.note) == ["830", "831"]


def test_an_event_whose_lease_ran_out_in_a_long_batch_is_left_to_who_took_it(
        store: LinkStore) -> None:
    """A batch outlasting the lease: its events not started yet are another worker's by then
    (it took them again), so the late worker leaves them: each event is worked once."""
    log = EventLog(store.engine, lease_s=1)
    log.record(ticket("901"))
    log.record(ticket("902", email="someone.else@example.org"))
    other = EventLog(store.engine, lease_s=1)  # another process, once the lease is over
    retaken: list[str] = []

    def slow_first(event: TicketEvent) -> Outcome:
        if event.key == "evt-901":  # takes longer than the lease: the other worker steps in
            retaken.extend(item.event.key for item in until(lambda: other.claim() or None, 20))
        return Outcome("cus_4")

    late = Scripted(log, slow_first, listen=False)
    assert late.run_once() == 2
    assert sorted(retaken) == ["evt-901", "evt-902"]
    assert late.completed == ["evt-901"]  # 902 was not started: left to the other worker
    assert log.counts() == {"working": 2}  # 901's late outcome not written over the retake
