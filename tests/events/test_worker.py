"""The event worker: an event about a customer warms the record, adds the contact to their
history (once per ticket) and queues the write-back of our flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy

from connector.app import Services
from connector.events.worker import EventWorker
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers

PAULINE = "pauline.deneve@easiware.fr"


class Recorder:
    kind = "zendesk"

    def __init__(self) -> None:
        self.calls: list[WriteBack] = []

    def write_back(self, change: WriteBack) -> None:
        self.calls.append(change)


def ticket(number: str, email: str = PAULINE, **extra: object) -> TicketEvent:
    values: dict[str, object] = {
        "helpdesk": "zendesk", "key": f"evt-{number}", "kind": "ticket.created",
        "identifiers": Identifiers(emails=(email,)), "ticket_id": number, "requester_id": "9001",
        "channel": "chat", "subject": "Où est ma commande ?", "new_request": True,
        "occurred_at": dt.datetime.now(dt.UTC), **extra}
    return TicketEvent(**values)  # type: ignore[arg-type]


def test_a_new_ticket_becomes_a_contact_in_the_customers_history(services: Services) -> None:
    before = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert before is not None
    services.events.record(ticket("501"))
    services.events.record(ticket("501"))  # the same delivery again
    services.events.record(ticket("501", key="evt-501-retry"))  # another event, same ticket
    assert services.worker.run_once() == 2
    after = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert after is not None
    assert after.contacts.count == before.contacts.count + 1
    assert after.contacts.by_channel.get("chat", 0) == before.contacts.by_channel.get("chat", 0) + 1
    assert after.contacts.last is not None and after.contacts.last.reason == "Où est ma commande ?"
    assert services.events.counts() == {"done": 2}


def test_an_unknown_or_ambiguous_requester_is_never_guessed(services: Services) -> None:
    outcome = services.worker.work(ticket("502", email="nobody@example.org"))
    assert outcome.customer_id is None and not outcome.contact_added


def test_flags_are_queued_as_tags_fields_and_a_note(services: Services) -> None:
    writer = Recorder()
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True, fields=True, note=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": writer}, {"zendesk": config})
    outcome = worker.work(ticket("503"))
    assert outcome.write_back
    profile = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert profile is not None and profile.flags  # the white paper's customer is flagged
    services.writebacks.send_due({"zendesk": writer})
    [sent] = writer.calls
    assert sent.requester_id == "9001" and sent.ticket_id == "503"
    assert set(sent.tags) == {f"connector_{f.key}" for f in profile.flags}
    assert sent.note and profile.flags[0].label in sent.note
    assert profile.status.segment and sent.fields["segment"] == profile.status.segment


def test_nothing_is_written_back_unless_the_manifest_asks(services: Services) -> None:
    writer = Recorder()
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": writer}, {"zendesk": AdapterConfig()})
    assert not worker.work(ticket("504")).write_back
    assert services.writebacks.pending() == []


def test_without_write_back_an_event_learns_whose_it_is_and_builds_no_record(
        services: Services) -> None:
    """No helpdesk takes our flags back: the event is worked with an identity-only lookup
    (the sources asked and cached, nothing merged, our notes and the history never read);
    with write-back on, the whole record is made for the flags."""
    whole = services.assembler.lookup(Identifiers(emails=(PAULINE,)))
    alone = services.assembler.lookup(Identifiers(emails=(PAULINE,)), record=False)
    assert whole.profile is not None and alone.profile is None and not alone.flags
    assert alone.customer_id == whole.customer_id == whole.profile.customer_id
    assert alone.sources.keys() == whole.sources.keys()
    assert services.assembler.lookup(Identifiers(emails=("nobody@example.org",)),
                                     record=False).customer_id is None

    statements: list[str] = []
    sqlalchemy.event.listen(services.events.engine, "before_cursor_execute",
                            lambda _c, _cur, sql, *_: statements.append(sql))
    assert services.worker.work(ticket("506")).customer_id == whole.customer_id
    assert statements and not [s for s in statements if "FROM notes" in s or
                                "FROM contacts" in s or "FROM segments" in s]
    statements.clear()
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": Recorder()}, {"zendesk": config})
    assert worker.work(ticket("507")).write_back
    assert [s for s in statements if "FROM notes" in s] and \
        [s for s in statements if "FROM contacts" in s]


def test_an_events_writes_are_kept_together_or_not_at_all(services: Services,
                                                             monkeypatch: Any) -> None:
    """The contact, who the requester is and the queued write-back share one transaction:
    a failure in the last leaves none of them, so the event's retry finds nothing half done."""
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": Recorder()}, {"zendesk": config})
    customer = services.assembler.lookup(Identifiers(emails=(PAULINE,))).customer_id
    assert customer is not None
    before = len(services.events.tickets_of(customer))

    def refused(*_: object) -> int:
        raise RuntimeError("the queue refused it")

    monkeypatch.setattr(services.writebacks, "enqueue", refused)
    with pytest.raises(RuntimeError):
        worker.work(ticket("508", requester_id="9508"))
    assert len(services.events.tickets_of(customer)) == before
    assert services.events.requesters_of(customer, ["zendesk"]) == []
    monkeypatch.undo()
    outcome = worker.work(ticket("508", requester_id="9508"))  # the retry: all of it, once
    assert outcome.contact_added and outcome.write_back
    assert len(services.events.tickets_of(customer)) == before + 1
    assert services.events.requesters_of(customer, ["zendesk"]) == [("zendesk", "9508")]


def test_one_ticket_delivered_twice_under_two_ids_gets_one_note(services: Services) -> None:
    writer = Recorder()
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True, note=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": writer}, {"zendesk": config})
    worker.work(ticket("505"))
    services.writebacks.send_due({"zendesk": writer})
    worker.work(ticket("505", key="evt-505-other-webhook"))
    assert [c.note for c in services.writebacks.pending() if c.note] == []
    assert len([c for c in writer.calls if c.note]) == 1


def test_a_burst_of_events_worked_several_at_once_is_each_worked_once(
        services: Services) -> None:
    """Four threads work the burst (the default of serve): every ticket becomes one contact,
    including two deliveries of one ticket worked side by side."""
    worker = EventWorker(services.events, services.assembler, services.writebacks, {}, {},
                         threads=4)
    before = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert before is not None
    for number in range(600, 612):
        services.events.record(ticket(str(number)))
    services.events.record(ticket("600", key="evt-600-other-webhook"))
    assert worker.run_once() == 13
    worker.stop()
    after = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert after is not None and after.contacts.count == before.contacts.count + 12
    assert services.events.counts() == {"done": 13}


def test_a_helpdesk_window_that_reopens_is_used_then_not_at_the_next_poll(
        services: Services) -> None:
    """Help Scout's window is 5 s and the poll 2 s: a change put back for the window's end
    is sent when it reopens (the worker waits until then), not up to a poll later. Here the
    poll is 60 s, beyond the test's wait: only the shorter pause sends the second change."""
    from connector.helpdesk.base import Limits
    from tests.conftest import until

    writer = Recorder()
    writer.write_limits = Limits(calls=1, per_s=1.0, target_interval_s=0)  # type: ignore[attr-defined]
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": writer}, {}, interval_s=60, listen=False)
    for user in ("1", "2"):
        services.writebacks.enqueue(WriteBack(helpdesk="zendesk", requester_id=user,
                                              tags=("connector_vip",)))
    assert worker.pause_s() == 60  # nothing asked yet: the poll
    worker.start()
    try:
        until(lambda: len(writer.calls) == 2, seconds=15, every_s=0.05)
    finally:
        worker.stop()
    assert [c.requester_id for c in writer.calls] == ["1", "2"]
    assert services.writebacks.due_in() is None  # nothing left: the loop waits its poll
