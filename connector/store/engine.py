"""The database engine: SQLite by default (a file under the data folder, WAL), PostgreSQL with
CONNECTOR_DATABASE_URL; and the few statements every store user shares (an insert that keeps
what a concurrent process wrote, an audit entry)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, Table, create_engine, event, insert, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Insert

from connector.store.schema import audit, metadata


def insert_ignoring(connection: Connection, table: Table) -> Insert:
    """An INSERT that skips rows whose key is already there (SQLite and PostgreSQL both say
    ON CONFLICT DO NOTHING): two processes learning the same person at once must both
    succeed."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return insert(table)


def audit_entry(connection: Connection, actor: str, action: str, customer_id: str | None,
                detail: str) -> None:
    """Write one audit entry (ids only, never customer data) in the caller's transaction."""
    connection.execute(insert(audit), [{"at": dt.datetime.now(dt.UTC), "actor": actor[:80],
                                        "action": action, "customer_id": customer_id,
                                        "detail": detail[:400]}])


def open_database(url: str) -> Engine:
    """The database at `url`, every table created if missing (SQLite files get their folder,
    WAL and a busy timeout; one shared connection for an in-memory SQLite)."""
    engine = _engine(url)
    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to an existing table since it was created (all nullable): a store made by
    an earlier release keeps working, its rows reading None there."""
    known = inspect(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            present = {column["name"] for column in known.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN '
                                            f'"{column.name}" {kind}'))


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url in ("sqlite://", "sqlite:///:memory:"):  # one shared in-memory database (tests)
        engine = create_engine(url, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
