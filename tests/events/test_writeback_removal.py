"""The removal `forget` queues (`WriteBackQueue.enqueue_removals`): one change per place a
helpdesk holds the person, only in helpdesks written back to, in the caller's transaction
(rolled back with it), in place of what was still pending or failed about them; a later
change merged into it keeps it a removal only when it is a note that keeps the tags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, update

from connector.app import Services
from connector.customer.links import HeldBy
from connector.events.erasure import forget
from connector.events.worker import EventWorker
from connector.events.writeback import WriteBackQueue, merge_changes
from connector.helpdesk.base import WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers
from connector.store.schema import writeback_targets, writebacks
from tests.events.test_worker import PAULINE, Recorder, ticket

HELD = [HeldBy("zendesk", requester_id="9001"), HeldBy("zendesk", ticket_id="5001"),
        HeldBy("chatwoot", requester_id="77"), HeldBy("zendesk", requester_id="9001")]


@pytest.fixture
def queue(tmp_path: Path) -> WriteBackQueue:
    return WriteBackQueue(create_engine(f"sqlite:///{tmp_path}/queue.sqlite"))


def test_removals_replace_what_was_pending_about_the_person(queue: WriteBackQueue) -> None:
    queue.enqueue(WriteBack("zendesk", requester_id="9001", tags=("connector_vip",),
                            fields={"segment": "VIP"}))
    queue.enqueue(WriteBack("zendesk", requester_id="9001", ticket_id="5001", note="• VIP",
                            new_ticket_subject="Avis négatif"))
    queue.enqueue(WriteBack("zendesk", requester_id="1234", tags=("connector_vip",)))
    with queue.engine.begin() as connection:  # one gave up on: its note is about them too
        failed = queue.enqueue(WriteBack("zendesk", ticket_id="5001", note="• VIP"), connection)
        connection.execute(update(writebacks).where(writebacks.c.id == failed)
                           .values(state="failed"))
    with queue.engine.begin() as connection:
        assert queue.enqueue_removals(connection, HELD, {"zendesk": "zd_"}) == 2
    pending = {(c.requester_id, c.ticket_id): c for c in queue.pending()}
    assert set(pending) == {("9001", None), (None, "5001"), ("1234", None)}
    person = pending[("9001", None)]
    assert (person.erases, person.tags, person.tag_prefix, person.note) == (True, (), "zd_", None)
    assert person.fields == {"segment": "", "lifecycle": "", "abc_class": ""}
    assert pending[(None, "5001")].erases and pending[(None, "5001")].fields == {}
    assert not pending[("1234", None)].erases  # someone else's
    assert queue.counts() == {"pending": 3}


def test_removals_are_rolled_back_with_the_erasure(queue: WriteBackQueue) -> None:
    with pytest.raises(RuntimeError), queue.engine.begin() as connection:
        queue.enqueue_removals(connection, HELD, {"zendesk": "connector_"})
        raise RuntimeError("the erasure failed")
    assert queue.pending() == []


def test_a_removal_merged_with_a_later_change() -> None:
    removal = WriteBack("zendesk", requester_id="9001", erases=True,
                        fields={"segment": ""})
    note = WriteBack("zendesk", requester_id="9001", note="retour ouvert", keeps_tags=True)
    flags = WriteBack("zendesk", requester_id="9001", tags=("connector_vip",))
    assert merge_changes(removal, note).erases
    assert not merge_changes(removal, flags).erases  # learnt again since: the newest tags
    assert merge_changes(flags, removal) == removal


def test_forget_erases_when_each_of_the_persons_records_was_written_to(
        services: Services) -> None:
    """`writeback_targets` keeps when we last wrote to a requester or a ticket (a helpdesk's
    per-record interval): the person's go with them, and the removal sent after leaves none."""
    writer = Recorder()
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True, note=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": writer}, {"zendesk": config})
    assert worker.work(ticket("601")).write_back
    assert services.writebacks.send_due({"zendesk": writer}) == 1
    ids = Identifiers(emails=(PAULINE,))
    with services.writebacks.engine.connect() as connection:
        assert connection.execute(select(writeback_targets)).all()
        someone_else = {"helpdesk": "zendesk", "target": "1234|",
                        "sent_at": dt.datetime.now(dt.UTC)}
    with services.writebacks.engine.begin() as connection:
        connection.execute(insert(writeback_targets).values(**someone_else))

    done = forget(ids, services.assembler, services.writebacks, {"zendesk": "connector_"},
                  services.manifest.sources, actor="test")
    assert done.erased.get("writeback_targets") == 1 and done.helpdesk_removals >= 1
    services.writebacks.send_due({"zendesk": writer})  # the removal, sent
    assert writer.calls[-1].erases
    with services.writebacks.engine.connect() as connection:
        left = connection.execute(select(writeback_targets.c.target)).scalars().all()
    assert left == ["1234|"]  # someone else's stays
