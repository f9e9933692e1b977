"""A correction kept in the outbox reaches a SQL source's declared statement and is confirmed
by reading the record back; one whose value to replace is gone is failed at once with the
statement's reason, and nothing is changed (a real SQLite file, the real outbox)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from connector.customer.corrections import writes_of
from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.events.outbox import Outbox
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.sources.cache import MemoryCache, SingleFlight

OLD, NEW = "pauline.deneve@easiware.fr", "pauline.d@exemple.fr"
MANIFEST = """\
version: 1
sources:
  crm:
    type: sql
    url: sqlite:///crm.sqlite
    lookup_by: [external, email]
    queries: {c: "SELECT * FROM customers WHERE id = :external OR email = :email"}
    id: "c[0].id"
    sections: {identity: {path: "c[0]", fields: {last_name: name, emails: email}}}
    writes:
      identity.emails:
        statement: UPDATE customers SET email = :new WHERE id = :external AND email = :old
        roles: [supervisor]
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Outbox, str, Path]]:
    """A CRM database with Pauline, her record looked up, and the outbox over it."""
    database = tmp_path / "crm.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, email TEXT)")
        db.execute("INSERT INTO customers VALUES ('C1', 'Denève', ?)", (OLD,))
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    manifest = load_manifest(path, env={})
    store = LinkStore(f"sqlite:///{tmp_path}/store.sqlite")
    sources = {n: build_source(n, c, BuildContext(tmp_path))
               for n, c in manifest.sources.items()}
    assembler = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                 ThreadPoolExecutor(2), Resolver(store, manifest.identity))
    found = assembler.lookup(Identifiers(emails=(OLD,)))
    assert found.profile is not None
    assert writes_of(manifest.sources) == {"crm": {"identity.emails": ["supervisor"]}}
    yield Outbox(store.engine, assembler), found.profile.customer_id, database
    assembler.close()


def email_of(database: Path) -> Any:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT email FROM customers WHERE id = 'C1'").fetchone()[0]


def test_a_correction_is_applied_by_the_statement_and_confirmed(
        world: tuple[Outbox, str, Path]) -> None:
    outbox, customer, database = world
    kept = outbox.submit(customer, "crm", "identity.emails",
                         {"new": NEW, "old": OLD, "external": "C1"}, actor="margaux@zendesk")
    outbox.send_due()
    state = outbox.get(kept.id)
    assert state is not None and state.state == "confirmed", state
    assert email_of(database) == NEW


def test_a_value_no_longer_there_fails_at_once_with_the_reason(
        world: tuple[Outbox, str, Path]) -> None:
    outbox, customer, database = world
    with sqlite3.connect(database) as db:  # changed in the CRM meanwhile
        db.execute("UPDATE customers SET email = 'p.deneve@crm.example.fr' WHERE id = 'C1'")
    kept = outbox.submit(customer, "crm", "identity.emails",
                         {"new": NEW, "old": OLD, "external": "C1"}, actor="margaux@zendesk")
    outbox.send_due()
    state = outbox.get(kept.id)
    assert state is not None and state.state == "failed"
    assert state.outcome == (
        "crm refused the change: sources.crm.writes.identity.emails.statement: the customer or "
        "the value to replace is no longer there (the statement changed no row)")
    assert email_of(database) == "p.deneve@crm.example.fr"
