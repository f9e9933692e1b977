"""A SQL source takes corrections through its declared statements, on a real SQLite file and
on the machine's real PostgreSQL: applied in one transaction and read back by the source's
own lookup; a statement that changes no row is refused and rolled back; the database's
refusals name the statement's path, never a value; what can be retried is told apart."""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.exc import OperationalError

from connector.identifiers import Identifiers
from connector.sources.base import (
    BuildContext,
    SourceError,
    SourceMisconfigured,
    SourceTimeout,
    SourceUnavailable,
)
from connector.sources.sql import SqlConfig, SqlSource
from tests.conftest import POSTGRES

OLD, NEW = "pauline.deneve@easiware.fr", "pauline.d@exemple.fr"
TABLES = (
    "CREATE TABLE customers (id VARCHAR(20) PRIMARY KEY, name VARCHAR(80), "
    "email VARCHAR(120) UNIQUE, phone VARCHAR(20), city VARCHAR(80), line1 VARCHAR(120))",
    "CREATE TABLE email_requests (change_id VARCHAR(40) PRIMARY KEY, customer VARCHAR(20), "
    "email VARCHAR(120))",
    "INSERT INTO customers VALUES ('C1', 'Denève', 'pauline.deneve@easiware.fr', "
    "'+33653888890', 'Lille', '1 rue Nationale')",
    "INSERT INTO customers VALUES ('C2', 'Martin', 'paul.martin@example.fr', NULL, NULL, NULL)",
)
EMAIL = ("UPDATE customers SET email = :new WHERE id = :external AND email = :old")


@dataclass
class Database:
    """A database of one kind, its tables made, and a way to read it behind the source."""

    url: str
    folder: Path
    run: Callable[[str], list[Any]]

    def source(self, writes: dict[str, Any], **extra: Any) -> SqlSource:
        config = SqlConfig.model_validate({
            "type": "sql", "url": self.url, "lookup_by": ["external", "email", "phone"],
            "queries": {"c": "SELECT * FROM customers WHERE id = :external OR email = :email "
                             "OR phone = :phone"},
            "id": "c[0].id",
            "sections": {"identity": {"path": "c[0]", "fields": {
                "last_name": "name", "emails": "email", "phones": "phone",
                "address.city": "city", "address.line1": "line1"}}},
            "writes": writes, **extra})
        return SqlSource("crm", config, BuildContext(self.folder))


def _sqlite(folder: Path) -> Database:
    path = folder / "crm.sqlite"
    with sqlite3.connect(path) as db:
        for statement in TABLES:
            db.execute(statement)

    def run(statement: str) -> list[Any]:
        with sqlite3.connect(path) as db:
            return db.execute(statement).fetchall()

    return Database("sqlite:///crm.sqlite", folder, run)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The customers' table on a SQLite file, and in a fresh schema of the machine's
    PostgreSQL (dropped after; skipped, saying why, when PostgreSQL cannot be reached)."""
    if request.param == "sqlite":
        yield _sqlite(tmp_path)
        return
    schema = "sql_writes_" + uuid.uuid4().hex[:10]
    admin = sqlalchemy.create_engine(POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        print(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {type(exc).__name__}")
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        for statement in TABLES:
            connection.execute(sqlalchemy.text(statement))

    def run(statement: str) -> list[Any]:
        with engine.begin() as connection:
            result = connection.execute(sqlalchemy.text(statement))
            return list(result) if result.returns_rows else []

    try:
        yield Database(url, tmp_path, run)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def values(new: str = NEW, old: str | None = OLD, external: str = "C1") -> dict[str, Any]:
    return {"new": new, "old": old, "external": external, "change": "chg-" + uuid.uuid4().hex}


def test_a_correction_is_applied_and_read_back_by_the_lookup(database: Database) -> None:
    source = database.source({"identity.emails": {"statement": EMAIL}})
    assert source.fetch(Identifiers(emails=(OLD,))).sections["identity"].emails == [OLD]
    assert source.write("identity.emails", values()) == 1
    found = source.fetch(Identifiers(externals=(("crm", "C1"),)))
    assert found.sections["identity"].emails == [NEW]
    assert source.fetch(Identifiers(emails=(NEW,))).external_id == "C1"
    assert database.run("SELECT email FROM customers WHERE id = 'C2'") == [
        ("paul.martin@example.fr",)]


def test_a_statement_that_changes_no_row_is_refused(database: Database) -> None:
    source = database.source({"identity.emails": {"statement": EMAIL}})
    for given in (values(old="someone.else@example.fr"), values(external="C9")):
        with pytest.raises(SourceError) as caught:
            source.write("identity.emails", given)
        assert type(caught.value) is SourceError  # refused: not retried, not misconfigured
        assert caught.value.public == (
            "sources.crm.writes.identity.emails.statement: the customer or the value to "
            "replace is no longer there (the statement changed no row)")
    assert database.run("SELECT email FROM customers WHERE id = 'C1'") == [(OLD,)]


def test_the_old_value_is_empty_when_the_record_held_none(database: Database) -> None:
    statement = ("UPDATE customers SET phone = :new WHERE id = :external "
                 "AND COALESCE(phone, '') = :old")
    source = database.source({"identity.phones": {"statement": statement}})
    assert source.write("identity.phones", values("+33611223344", None, "C2")) == 1
    assert database.run("SELECT phone FROM customers WHERE id = 'C2'") == [("+33611223344",)]


def test_an_address_is_written_part_by_part(database: Database) -> None:
    statement = ("UPDATE customers SET line1 = :new_line1, city = :new_city "
                 "WHERE id = :external AND COALESCE(city, '') = :old_city")
    source = database.source({"identity.address": {"statement": statement}})
    new = {"line1": "3 place du Théâtre", "postcode": "59000", "city": "Lille Centre",
           "country": "FR"}
    old = {"line1": "1 rue Nationale", "postcode": "", "city": "Lille", "country": ""}
    assert source.write("identity.address", {**values(), "new": new, "old": old}) == 1
    address = source.fetch(Identifiers(externals=(("crm", "C1"),))).sections["identity"].address
    assert (address.line1, address.city) == ("3 place du Théâtre", "Lille Centre")


def test_an_idempotent_insert_applies_a_change_once(database: Database) -> None:
    """The change's id, unique in the table the other system works from: sent again after a
    crash, the same change touches its row again (one row: done) and is kept once."""
    statement = ("INSERT INTO email_requests (change_id, customer, email) "
                 "VALUES (:change, :external, :new) "
                 "ON CONFLICT (change_id) DO UPDATE SET change_id = excluded.change_id")
    source = database.source({"identity.emails": {"statement": statement}})
    given = values()
    assert source.write("identity.emails", given) == 1
    assert source.write("identity.emails", given) == 1
    assert database.run("SELECT change_id, customer, email FROM email_requests") == [
        (given["change"], "C1", NEW)]


def test_a_value_the_database_refuses_names_the_statement_never_the_value(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    taken = "paul.martin@example.fr"  # another customer's: the column is unique
    source = database.source({"identity.emails": {"statement": EMAIL}})
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # an admin debugging SQL
    with pytest.raises(SourceError) as caught:
        source.write("identity.emails", values(new=taken))
    assert type(caught.value) is SourceError
    kind = ("IntegrityError SQLITE_CONSTRAINT_UNIQUE" if database.url.startswith("sqlite")
            else "UniqueViolation 23505 customers_email_key")
    assert caught.value.public == ("sources.crm.writes.identity.emails.statement: the "
                                   f"database refused the value ({kind})")
    said = " ".join([caught.value.public, str(caught.value), caplog.text,
                     repr(caught.value.__cause__), repr(caught.value.__context__)])
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert taken not in said and OLD not in said and "C1" not in said
    assert source.write("identity.emails", values()) == 1  # nothing was left half-done
    assert "UPDATE customers SET email" in caplog.text  # the statement is logged, not values
    assert NEW not in caplog.text and OLD not in caplog.text
    assert "sources.crm.writes.identity.emails.statement: done (1 row)" in caplog.text


def test_a_statement_the_database_cannot_run_is_the_admins_to_fix(database: Database) -> None:
    statement = "UPDATE customer SET email = :new WHERE id = :external"  # no such table
    source = database.source({"identity.emails": {"statement": statement}})
    with pytest.raises(SourceMisconfigured) as caught:
        source.write("identity.emails", values())
    assert caught.value.public.startswith(
        "sources.crm.writes.identity.emails.statement: the database refused the statement (")
    with pytest.raises(SourceMisconfigured) as undeclared:
        source.write("identity.phones", values())
    assert undeclared.value.public == "sources.crm declares no writes.identity.phones"


def test_a_database_that_cannot_be_reached_is_retried_later(tmp_path: Path) -> None:
    database = Database("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path, list)
    source = database.source({"identity.emails": {"statement": EMAIL}}, timeout_s=1)
    with pytest.raises(SourceUnavailable) as caught:
        source.write("identity.emails", values())
    assert caught.value.public == "database unavailable"
    missing = Database("sqlite:///gone.sqlite", tmp_path, list)  # never created by a write
    with pytest.raises(SourceUnavailable):
        missing.source({"identity.emails": {"statement": EMAIL}}).write("identity.emails",
                                                                        values())
    assert not (tmp_path / "gone.sqlite").exists()


def test_a_sqlite_file_locked_by_another_writer_is_retried_later(tmp_path: Path) -> None:
    database = _sqlite(tmp_path)
    source = database.source({"identity.emails": {"statement": EMAIL}}, timeout_s=0.2)
    holder = sqlite3.connect(tmp_path / "crm.sqlite")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(SourceUnavailable) as caught:
            source.write("identity.emails", values())
        assert caught.value.public == "database unavailable"
        assert str(caught.value) == ("sources.crm.writes.identity.emails.statement: "
                                     "OperationalError SQLITE_BUSY")
    finally:
        holder.rollback()
        holder.close()
    assert source.write("identity.emails", values()) == 1


def test_a_statement_past_the_timeout_is_stopped_and_retried_later(database: Database) -> None:
    slow = ("(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1e9) "
            "SELECT count(*) FROM n) > 0" if database.url.startswith("sqlite")
            else "pg_sleep(3) IS NOT NULL")
    statement = f"UPDATE customers SET email = :new WHERE id = :external AND {slow}"
    source = database.source({"identity.emails": {"statement": statement}}, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(SourceTimeout) as caught:
        source.write("identity.emails", values())
    assert time.monotonic() - started < 2
    assert caught.value.public == "no answer within 0.3 s"
    assert database.run("SELECT email FROM customers WHERE id = 'C1'") == [(OLD,)]


def test_reads_stay_read_only_beside_the_writes(tmp_path: Path) -> None:
    database = _sqlite(tmp_path)
    source = database.source({"identity.emails": {"statement": EMAIL}})
    source.write("identity.emails", values())
    with pytest.raises(SourceError):  # the lookup's engine opens the file read-only
        source._query({"x": "DELETE FROM customers"}, {})
    assert len(database.run("SELECT * FROM customers")) == 2
