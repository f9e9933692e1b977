"""The database engine: SQLite by default (a file under the data folder, WAL), PostgreSQL with
CONNECTOR_DATABASE_URL (every wait bounded: `store.guard`), its schema migrated on opening
(`store.migrate`); and the few statements every store user shares (an insert that keeps what
a concurrent process wrote, an audit entry)."""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    insert,
    make_url,
    or_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Insert

from connector.store.guard import HOT_READ, Limits, connect_args, guard, unavailable
from connector.store.migrate import prepare
from connector.store.schema import audit, metadata
from connector.store.versions import watch as _versions_watch  # noqa: F401  (create_all brings the triggers)

log = logging.getLogger(__name__)
_UNCHECKED: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose tables were not checked
_VERSIONED: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose schema is the migrations'
_SETTLED: set[str] = set()  # URLs settle_schema went over, not yet opened since
# within `shared_reads`: the read connection each engine lent this thread's reads so far
_SHARED: ContextVar[dict[Engine, Connection] | None] = ContextVar("shared_reads", default=None)
_READ = {"isolation_level": "AUTOCOMMIT", HOT_READ: True}  # `reading`'s connections


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


def upsert(connection: Connection, table: Table, row: Mapping[str, object],
           keys: Sequence[str]) -> None:
    """Insert the row, or update the one with the same `keys` to its other values, in one
    statement (SQLite and PostgreSQL both say ON CONFLICT … DO UPDATE)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**row)
    connection.execute(statement.on_conflict_do_update(
        index_elements=list(keys), set_={k: v for k, v in row.items() if k not in keys}))


def audit_entry(connection: Connection, actor: str, action: str, customer_id: str | None,
                detail: str) -> None:
    """Write one audit entry (ids only, never customer data) in the caller's transaction."""
    connection.execute(insert(audit), [{"at": dt.datetime.now(dt.UTC), "actor": actor[:80],
                                        "action": action, "customer_id": customer_id,
                                        "detail": detail[:400]}])


def by_source_ids(table: Table, count: int) -> ColumnElement[bool]:
    """A row whose (source, external_id) is one of `count` pairs, bound as s0, e0, s1, e1…
    (`source_ids` gives them): a hot read's statement is then built once per size, not at
    each call (building it costs more than running it)."""
    return or_(*(and_(table.c.source == bindparam(f"s{i}"),
                      table.c.external_id == bindparam(f"e{i}")) for i in range(count)))


def source_ids(external_ids: Mapping[str, str]) -> dict[str, str]:
    """The parameters of `by_source_ids` for these ids (source → id; empty ids left out)."""
    pairs = [(source, value) for source, value in external_ids.items() if value]
    return {f"{part}{i}": text for i, pair in enumerate(pairs)
            for part, text in zip("se", pair, strict=True)}


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only, each statement on its own (autocommit): on PostgreSQL a
    read is then one round trip, not BEGIN, the statement and ROLLBACK (a warm sidebar makes
    a dozen). Never for writes, nor for reads that must agree with each other, nor for one
    that may take long: on PostgreSQL a read here waits at most the database's short timeout
    (`CONNECTOR_DB_TIMEOUT_S`, a ping's), not a statement's. Within `shared_reads`, the same
    connection for each read of this engine."""
    shared = _SHARED.get()
    if shared is None:
        with engine.connect() as connection:
            yield connection.execution_options(**_READ)
        return
    held = shared.get(engine)
    if held is None or held.closed or held.invalidated:
        if held is not None:  # lost: given back (SQLAlchemy discards it), a new one
            held.close()
        held = shared[engine] = engine.connect().execution_options(**_READ)
    yield held


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within it, in this thread, the reads of an engine (`reading`) share one connection,
    taken at the first and given back at the end: reads that follow each other with nothing
    to wait on between them (a record's kept parts) check a connection out of the pool
    once, not once each. Never around a wait on something else (a source): the connection
    would be held idle meanwhile, and not pinged again after it. Nested: the outer one's."""
    if _SHARED.get() is not None:
        yield
        return
    held: dict[Engine, Connection] = {}
    token = _SHARED.set(held)
    try:
        yield
    finally:
        _SHARED.reset(token)
        for connection in held.values():
            connection.close()


def open_database(url: str, limits: Limits | None = None) -> Engine:
    """The database at `url`, its schema migrated to this release (SQLite files get their
    folder, WAL and a busy timeout; one shared in-memory SQLite; PostgreSQL its timeouts).
    A database that cannot be reached now is no reason not to start (`migrate.prepare`);
    one whose schema is newer than this code raises SchemaError. When this process's start
    already settled the schema (`settle_schema`), it is not gone over again."""
    engine = _engine(url, limits or Limits())
    _VERSIONED.add(engine)
    if url in _SETTLED:
        _SETTLED.discard(url)
    else:
        prepare(engine)
    return engine


def settle_schema(url: str, limits: Limits | None = None, migrate: bool = True) -> bool:
    """At a service's start, once: migrate the schema (or, `migrate` off, check it is
    current: CONNECTOR_AUTO_MIGRATE); False when the database cannot be reached now (logged).
    Raises SchemaError when the schema is newer than this code, or older with `migrate` off."""
    if _in_memory(url):  # a new database at each open: the open migrates it
        return True
    engine = _engine(url, limits or Limits())
    try:
        reached = prepare(engine, migrate)
    finally:
        engine.dispose()
    _SETTLED.add(url)
    return reached


def create_tables(engine: Engine, tables: Sequence[Table] | None = None) -> bool:
    """Create the tables (all, or these) that are missing, on an engine made elsewhere than
    `open_database` (whose schema is the migrations'); False when the database cannot be
    reached now (logged): the service starts anyway, showing records from the sources and
    answering 503 where it must write."""
    if engine in _VERSIONED:
        return True
    try:
        metadata.create_all(engine, tables=list(tables) if tables is not None else None)
    except Exception as exc:
        if not unavailable(exc):
            raise
        if engine not in _UNCHECKED:  # once per engine, not once per table group
            _UNCHECKED.add(engine)
            log.warning("database unavailable at start (%s): tables not checked; records "
                        "come from the sources alone until it is back", type(exc).__name__)
        return False
    return True


def unmigrated_engine(url: str, limits: Limits | None = None) -> Engine:
    """The database at `url` as `open_database` makes it, its schema left as it is (for
    `connector migrate`, which says what it does to it)."""
    return _engine(url, limits or Limits())


def _in_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:")


def _engine(url: str, limits: Limits) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if _in_memory(url):  # one shared in-memory database (tests)
        engine = create_engine(url, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
    elif url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True)
    elif make_url(url).get_dialect().driver == "psycopg":
        # the guard pings on checkout itself, under its watchdog (a pre-ping has no bound)
        engine = create_engine(url, pool_timeout=limits.timeout_s,
                               connect_args=connect_args(make_url(url), limits))
        guard(engine, limits)
    else:  # another driver: its own defaults, a bounded wait for a pooled connection
        engine = create_engine(url, pool_pre_ping=True, pool_timeout=limits.timeout_s)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
