"""The event log: written before the acknowledgement, worked once, survives a dead worker;
and the contact history it builds, erased with the customer."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import update

from connector.customer.links import LinkStore
from connector.events.log import DONE, FAILED, PENDING, WORKING, EventLog
from connector.helpdesk.base import TicketEvent
from connector.identifiers import Identifiers
from connector.store.schema import ticket_events

PAULINE = Identifiers(emails=("pauline.deneve@easiware.fr",), phones=("+33653888890",))



def event(key: str = "delivery-1", ticket: str = "35436", **extra: object) -> TicketEvent:
    values: dict[str, object] = {
        "helpdesk": "zendesk", "key": key, "kind": "ticket.created", "identifiers": PAULINE,
        "ticket_id": ticket, "requester_id": "9001", "channel": "email",
        "subject": "Colis jamais reçu", "occurred_at": dt.datetime(2026, 11, 2, 9, 30,
                                                                   tzinfo=dt.UTC),
        "new_request": True, **extra}
    return TicketEvent(**values)  # type: ignore[arg-type]


def test_an_event_is_kept_whole_until_worked_then_only_its_ids(store: LinkStore) -> None:
    log = EventLog(store.engine)
    event_id, duplicate = log.record(event())
    assert not duplicate
    [claimed] = log.claim()
    assert claimed.id == event_id and claimed.event == event() and claimed.attempts == 0
    assert log.state(event_id)["state"] == WORKING
    log.finish(event_id, "cust-1")
    row = log.state(event_id)
    assert row["state"] == DONE and row["payload"] is None and row["customer_id"] == "cust-1"
    assert log.claim() == []


def test_a_duplicate_delivery_is_recognised_and_worked_once(store: LinkStore) -> None:
    log = EventLog(store.engine)
    first, _ = log.record(event())
    again, duplicate = log.record(event())
    assert duplicate and again == first
    assert len(log.claim()) == 1
    other, duplicate = log.record(event(helpdesk="chatwoot"))  # same key, other helpdesk
    assert not duplicate and other != first


def test_two_workers_never_take_the_same_event(store: LinkStore) -> None:
    log = EventLog(store.engine)
    for n in range(30):
        log.record(event(key=f"d{n}", ticket=str(n)))
    taken: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = EventLog(store.engine).claim(limit=30)
        with lock:
            taken.extend(c.id for c in mine)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 30


def test_an_event_whose_worker_died_is_taken_again_after_its_lease(store: LinkStore) -> None:
    log = EventLog(store.engine, lease_s=60)
    event_id, _ = log.record(event())
    assert log.claim()  # the worker takes it… and dies
    assert log.claim() == []  # still leased
    with store.engine.begin() as connection:
        connection.execute(update(ticket_events).where(ticket_events.c.id == event_id).values(
            claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)))
    [again] = log.claim()
    assert again.id == event_id and again.attempts == 1


def test_a_failed_event_backs_off_then_gives_up(store: LinkStore) -> None:
    log = EventLog(store.engine, max_attempts=2)
    event_id, _ = log.record(event())
    [claimed] = log.claim()
    log.fail(event_id, claimed.attempts, "SourceUnavailable: erp down")
    row = log.state(event_id)
    assert row["state"] == PENDING and row["error"].startswith("SourceUnavailable")
    assert log.claim() == []  # not before its back-off
    with store.engine.begin() as connection:
        connection.execute(update(ticket_events).values(not_before=None))
    [claimed] = log.claim()
    log.fail(event_id, claimed.attempts, "still down")
    row = log.state(event_id)
    assert row["state"] == FAILED and row["payload"] is None
    assert log.counts() == {FAILED: 1}


def test_a_request_is_one_contact_per_ticket_and_forget_erases_it(store: LinkStore) -> None:
    log = EventLog(store.engine)
    assert log.add_contact("cust-1", event())
    assert not log.add_contact("cust-1", event(key="retry-with-other-id"))
    later = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    assert log.add_contact("cust-1", event(ticket="35437", channel="chat", subject="x" * 500,
                                           occurred_at=later))
    contacts = log.contacts_of("cust-1")
    assert [c.channel for c in contacts] == ["chat", "email"]  # newest first
    assert all(c.date is not None and c.date.tzinfo for c in contacts)
    assert max(len(c.reason or "") for c in contacts) == 120
    event_id, _ = log.record(event())
    log.claim()
    log.finish(event_id, "cust-1")
    store.forget("cust-1", actor="test")
    assert log.contacts_of("cust-1") == []
    assert log.state(event_id) is None
    assert store.audit_trail("cust-1")[-1]["action"] == "forget"
