"""A person only answers without an id of their own know (a contact history exported from a
helpdesk: rows found by the ticket's email, which never name anyone) is one person, the same at
every opening, and nothing about them outlives `forget` — their id comes from what found them,
nothing is remembered of them beyond what is written under that id, and erasing by the
identifier that found them reaches it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from connector.events.erasure import forget
from connector.events.writeback import WriteBackQueue
from connector.identifiers import identifiers_from
from connector.store.schema import metadata, people
from tests.customer.identity_world import World

HISTORY = """\
  history:
    type: files
    path: "{dir}/contacts.jsonl"
    ttl_s: 0
    stale_ttl_s: 0
    match: {email: email}
    sections:
      contacts:
        items: rows
        fields: {date: at, channel: channel, reason: reason}
"""
EMAIL = "lea.martin@example.fr"


def world(tmp_path: Path) -> World:
    (tmp_path / "contacts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in (
        {"email": EMAIL, "at": "2026-11-02T10:00:00Z", "channel": "phone", "reason": "colis"},
        {"email": EMAIL, "at": "2026-11-20T09:30:00Z", "channel": "email", "reason": "retour"},
        {"email": "someone.else@example.fr", "at": "2026-11-21T09:30:00Z", "channel": "email",
         "reason": "facture"})))
    return World(tmp_path, more_sources=HISTORY)


def rows(world: World, customer_id: str) -> dict[str, int]:
    """The rows of every table keyed by the person."""
    found = {}
    with world.store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if "customer_id" in table.c and table.name != "audit_log":
                count = connection.execute(select(func.count()).select_from(table).where(
                    table.c.customer_id == customer_id)).scalar_one()
                if count:
                    found[table.name] = count
    return found


def test_known_only_from_id_less_answers_they_are_the_same_person_at_every_opening(
        tmp_path: Path) -> None:
    here = world(tmp_path)
    try:
        first = here.profile(email=EMAIL)
        assert [c.reason for c in first.requests] == ["retour", "colis"]
        again = [here.profile(email=EMAIL).customer_id for _ in range(3)]
        assert again == [first.customer_id] * 3
        with here.store.engine.connect() as connection:  # nothing kept for each opening
            assert connection.execute(select(func.count()).select_from(people)
                                      ).scalar_one() == 0
        assert here.profile(email="someone.else@example.fr").customer_id != first.customer_id
    finally:
        here.close()


def test_what_is_written_about_them_is_erased_by_the_identifier_that_found_them(
        tmp_path: Path) -> None:
    here = world(tmp_path)
    try:
        person = here.profile(email=EMAIL).customer_id
        here.assembler.notes.add(person, "rappeler après 18 h", "agent")
        assert rows(here, person) == {"notes": 1}
        assert [n.text for n in here.profile(email=EMAIL).notes] == ["rappeler après 18 h"]
        done = forget(identifiers_from("FR", email=EMAIL), here.assembler,
                      WriteBackQueue(here.store.engine), {}, [], "admin")
        assert done.customers == 1 and done.erased.get("notes") == 1
        assert rows(here, person) == {}
        nobody = forget(identifiers_from("FR", email="never.seen@example.fr"), here.assembler,
                        WriteBackQueue(here.store.engine), {}, [], "admin")
        assert nobody.customers == 0 and nobody.erased == {}
    finally:
        here.close()


def test_when_a_source_with_ids_comes_to_know_them_their_record_keeps_what_was_kept(
        tmp_path: Path) -> None:
    """The ERP creates the customer (her first order): the record she then has keeps the id
    she had, and with it the note written while only the history knew her."""
    here = world(tmp_path)
    try:
        before = here.profile(email=EMAIL).customer_id
        here.assembler.notes.add(before, "rappeler après 18 h", "agent")
        here.customer("C900", "Léa", "Martin", EMAIL, orders=("A1",))
        after = here.profile(email=EMAIL)
        assert after.customer_id == before and after.identity.external_ids == {"erp": "C900"}
        assert [n.text for n in after.notes] == ["rappeler après 18 h"]
        assert [o.number for o in after.orders] == ["A1"]
        assert here.profile(email=EMAIL).customer_id == before  # and so it stays
    finally:
        here.close()


def test_nothing_kept_under_them_nothing_taken_on(tmp_path: Path) -> None:
    """Without a note or a request kept, the person the ERP's record makes has its own id."""
    here = world(tmp_path)
    try:
        before = here.profile(email=EMAIL).customer_id
        here.customer("C900", "Léa", "Martin", EMAIL)
        assert here.profile(email=EMAIL).customer_id != before
    finally:
        here.close()
