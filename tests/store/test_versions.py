"""What tells a kept page its records changed (`connector.store.versions`): the database's own
triggers on every table a record is read from, on SQLite and on a real PostgreSQL; what one
page's making notes it read; the prune."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, Table, text
from sqlalchemy.engine import Engine

from connector.customer.links import LinkStore
from connector.store.schema import links, metadata, notes, people, record_changes, segments
from connector.store.versions import (
    BY_CUSTOMER,
    BY_IDENTITY,
    BY_TABLE,
    VERSIONED,
    Pruner,
    installed,
    read,
    recording,
    value_key,
    watch,
)

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def _row(table: Table, customer: str) -> dict[str, Any]:
    """A row of any table: each column a value of its type (the customer's id where one is)."""
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name == "id" and isinstance(column.type, Integer):
            continue  # the table's own serial
        kind = column.type
        row[column.name] = (customer if column.name == "customer_id"
                            else NOW if isinstance(kind, DateTime)
                            else NOW.date() if isinstance(kind, Date)
                            else False if isinstance(kind, Boolean)
                            else 1 if isinstance(kind, Integer) else "x")
    return row


def _key(table: Table, customer: str) -> str:
    return f"c:{customer}" if table.name in BY_CUSTOMER | BY_IDENTITY else f"t:{table.name}"


def _version(engine: Engine, key: str) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return read(connection, [key])[key]


def test_every_table_a_record_is_read_from_tells_its_writes(store: LinkStore) -> None:
    engine = store.engine
    assert installed(engine) is None
    for name in sorted(VERSIONED):
        table = metadata.tables[name]
        key = _key(table, "C1")
        seen = [_version(engine, key)]
        with engine.begin() as connection:
            connection.execute(table.insert().values(**_row(table, "C1")))
        seen.append(_version(engine, key))
        with engine.begin() as connection:
            connection.execute(table.update().values(
                **{c.name: "y" for c in table.columns if c.name in ("text", "display_name",
                                                                     "source", "tier")}
                or {next(c.name for c in table.columns if isinstance(c.type, DateTime)):
                    NOW + dt.timedelta(days=1)}))
        seen.append(_version(engine, key))
        with engine.begin() as connection:
            connection.execute(table.delete())
        seen.append(_version(engine, key))
        assert len(set(seen)) == 4, (name, seen)  # each write moved it
    assert VERSIONED == BY_CUSTOMER | BY_IDENTITY | BY_TABLE


def test_a_row_moving_to_another_customer_tells_both(store: LinkStore) -> None:
    engine = store.engine
    with engine.begin() as connection:
        connection.execute(notes.insert().values(**_row(notes, "C1")))
    before = (_version(engine, "c:C1"), _version(engine, "c:C2"))
    with engine.begin() as connection:
        connection.execute(notes.update().values(customer_id="C2"))
    after = (_version(engine, "c:C1"), _version(engine, "c:C2"))
    assert before[0] != after[0] and before[1] != after[1]
    assert _version(engine, "c:C3") == (0, 0, 0)


def test_a_statement_that_writes_nothing_tells_nothing(store: LinkStore) -> None:
    engine = store.engine
    before = _version(engine, "t:segments")
    with engine.begin() as connection:
        connection.execute(segments.delete().where(segments.c.source == "nowhere"))
    assert _version(engine, "t:segments") == before


def test_a_missing_trigger_is_named(store: LinkStore) -> None:
    engine = store.engine
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER record_changed ON contacts" if postgres
                                else "DROP TRIGGER record_update_contacts"))
    missing = installed(engine)
    assert missing is not None and missing.startswith("table contacts lacks its change triggers")


def test_the_prune_deletes_what_is_older_than_its_delay(store: LinkStore) -> None:
    engine = store.engine
    now = [0.0]
    pruner = Pruner(engine, clock=lambda: now[0])
    with engine.begin() as connection:
        connection.execute(notes.insert().values(**_row(notes, "C1")))
    assert pruner.tick() == 0  # notes the newest row
    now[0] = 301.0
    with engine.begin() as connection:
        connection.execute(notes.insert().values(**_row(notes, "C2")))
    assert pruner.tick() == 0  # the first mark is not old enough
    now[0] = 700.0
    assert pruner.tick() >= 1  # the rows of the first mark, not the later one
    with engine.connect() as connection:
        keys = {row.key for row in connection.execute(record_changes.select())}
    assert "c:C2" in keys and "c:C1" not in keys


def test_a_making_notes_what_it_read_and_reads_versions_first(store: LinkStore) -> None:
    engine = store.engine
    watch(engine)
    with engine.begin() as connection:
        connection.execute(notes.insert().values(**_row(notes, "C1")))
    with recording() as made, engine.connect() as connection:
        connection.execute(notes.select().where(notes.c.customer_id == "C1")).all()
        connection.execute(segments.select().where(segments.c.source == "erp")).all()
    assert made.unkept is None
    assert {"c:C1", "t:notes", "t:segments"} <= set(made.keys())
    versioned = made.versioned()
    assert versioned is not None and versioned["c:C1"] == _version(engine, "c:C1")


@pytest.mark.parametrize("statement, why", [
    ("SELECT count(*) FROM ticket_events", "ticket_events tells no changes"),
    ("SELECT count(*) FROM notes", "notes read otherwise than by customer"),
    ("DELETE FROM job_locks", "a write while the page was made"),
])
def test_a_making_that_reads_what_no_version_tells_is_not_kept(
        store: LinkStore, statement: str, why: str) -> None:
    watch(store.engine)
    with recording() as made, store.engine.begin() as connection:
        connection.execute(text(statement))
    assert made.unkept == why and made.versioned() is None



def _link(engine: Engine, customer: str, value: str, kind: str = "email") -> None:
    with engine.begin() as connection:
        connection.execute(links.insert().values(kind=kind, value=value, customer_id=customer,
                                                 learned_at=NOW))


def test_who_is_who_is_told_per_identifier_and_person_never_by_value(
        store: LinkStore) -> None:
    engine = store.engine
    _link(engine, "C1", "home@example.org")
    _link(engine, "C1", "+33600000001", kind="phone")
    with engine.begin() as connection:
        connection.execute(people.insert().values(customer_id="C1", display_name="Ann",
                                                  updated_at=NOW))
        connection.execute(people.insert().values(customer_id="C9", display_name="Zoe",
                                                  updated_at=NOW))
    mine = _version(engine, "c:C1")
    _link(engine, "C9", "zoe@example.org")  # someone else, nothing shared
    with engine.begin() as connection:
        connection.execute(people.update().where(people.c.customer_id == "C9")
                           .values(display_name="Zoé"))
    assert _version(engine, "c:C1") == mine  # learning others leaves this record's pages be
    dialect = engine.dialect.name
    before_value = _version(engine, value_key("home@example.org", dialect))
    _link(engine, "C2", "home@example.org")  # a housemate on the same email
    assert _version(engine, "c:C1") != mine
    assert _version(engine, value_key("home@example.org", dialect)) != before_value
    mine = _version(engine, "c:C1")
    with engine.begin() as connection:  # the housemate's name: shown beside C1's record
        connection.execute(people.insert().values(customer_id="C2", display_name="Ben",
                                                  updated_at=NOW))
    assert _version(engine, "c:C1") != mine
    mine = _version(engine, "c:C1")
    with engine.begin() as connection:  # the housemate's link withdrawn
        connection.execute(links.delete().where(links.c.customer_id == "C2"))
    assert _version(engine, "c:C1") != mine and _version(engine, "c:C2") != (0, 0, 0)
    with engine.connect() as connection:  # no identifier is ever written there
        keys = " ".join(row.key for row in connection.execute(record_changes.select()))
    assert "example.org" not in keys and "3360" not in keys, keys


@pytest.mark.parametrize("statement", [
    "SELECT identity_links.value FROM identity_links",
    "SELECT identity_links.value FROM identity_links WHERE identity_links.source = 'erp'",
    "SELECT customers.customer_id FROM customers WHERE customers.postcode = '75001'",
])
def test_who_is_who_read_otherwise_than_by_identifier_or_person_is_not_kept(
        store: LinkStore, statement: str) -> None:
    watch(store.engine)
    with recording() as made, store.engine.connect() as connection:
        connection.execute(text(statement)).all()
    assert made.unkept is not None and made.unkept.startswith("who is who read")


@pytest.mark.parametrize("value", ["a", "ab", "pauline.deneve@easiware.fr", "+33612345678",
                                   "é@ü.fr", "instagram:zoé", "x" * 320, "日本語"])
def test_an_identifier_s_bucket_is_the_same_in_python_and_in_sqlite(value: str) -> None:
    import sqlite3

    from connector.store.versions import _sqlite_bucket

    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE t (value TEXT)")
    database.execute("INSERT INTO t VALUES (?)", (value,))
    folded = database.execute(f"SELECT {_sqlite_bucket('t.value')} FROM t").fetchone()[0]
    database.close()
    assert folded == value_key(value, "sqlite")
