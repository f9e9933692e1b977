"""Schema migrations a cluster can run: the revisions in `migrations/` (Alembic), applied once
whoever starts first (on PostgreSQL under a transaction-level advisory lock, so the others
wait, then find the work done; on a SQLite file under a file lock beside it), or by
`connector migrate` before a rollout. A database made by an earlier release (tables, no
`alembic_version`) is brought up to the baseline and stamped there, its rows kept. A database
at a revision these migrations do not know is newer than this code: refused."""

from __future__ import annotations

import fcntl
import functools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, MetaData, inspect, text
from sqlalchemy.engine import Connection

from connector.store import baseline
from connector.store.guard import longer_statements, unavailable

log = logging.getLogger(__name__)


def _not_chatter(record: logging.LogRecord) -> bool:
    # Alembic says which dialect it drives at every look at the version, at INFO: each start
    # would log it; what it runs ("Running upgrade …") is kept
    return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_not_chatter)

BASELINE = "0001"  # the revision an earlier release's database is stamped at
LOCK_KEY = 0x636F6E6E6563746F  # "connecto": pg_advisory lock key of the migrations
LOCK_WAIT_S = 300.0  # how long a process waits for another one's migration
MIGRATION_S = 3600.0  # how long one migration's statements may run
_POLL_S = 0.05
# Alembic runs a migration through module-level proxies (`alembic.context`, `alembic.op`): one
# migration at a time in a process, whichever database it is on
_IN_PROCESS = threading.Lock()


class SchemaError(Exception):
    """The database's schema is not one this process can run on (the message says why and
    what to do)."""


@dataclass(frozen=True)
class Revisions:
    """The database's revision (None: no schema yet) and this code's newest."""

    current: str | None
    head: str

    @property
    def pending(self) -> bool:
        """Whether migrations are still to apply."""
        return self.current != self.head


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    return str(_scripts().get_current_head())


def revisions(engine: Engine) -> Revisions:
    """Where the database stands (raises SchemaError when it is newer than this code)."""
    with engine.connect() as connection:
        return Revisions(_current(connection), head())


def upgrade(engine: Engine) -> tuple[Revisions, Revisions]:
    """Apply the pending migrations once (under the cluster's lock): where the database was,
    and where it is now."""
    with _locked(engine) as connection:
        before = Revisions(_current(connection), head())
        if before.pending:
            if before.current is None and _made_by_earlier_release(connection):
                _adopt(connection)
            command.upgrade(_config(connection), "head")
        return before, Revisions(_current(connection), head())


def require_current(engine: Engine) -> None:
    """Raise SchemaError unless the database is at this code's revision (migrate-on-start
    switched off: `connector migrate` runs the migrations)."""
    state = revisions(engine)
    if state.pending:
        raise SchemaError(f"the database's schema (rev {state.current or 'none'}) is older than "
                          f"this connector (rev {state.head}) and CONNECTOR_AUTO_MIGRATE is off: "
                          "run `connector migrate`")


def prepare(engine: Engine, migrate: bool = True) -> bool:
    """At a process's start: migrate (or, `migrate` off, check) the schema; False when the
    database cannot be reached now (logged): the service starts anyway, records come from the
    sources alone, and the next start migrates. Raises SchemaError for a schema it cannot run
    on."""
    try:
        if migrate:
            before, after = upgrade(engine)
            if before.pending:
                log.info("database schema migrated from rev %s to rev %s",
                         before.current or "none", after.current)
        else:
            require_current(engine)
    except Exception as exc:
        if not unavailable(exc):
            raise
        log.warning("database unavailable at start (%s): schema not checked; records come "
                    "from the sources alone until it is back", type(exc).__name__)
        return False
    return True


def _current(connection: Connection) -> str | None:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return None
    try:
        known = _scripts().get_revision(current)
    except CommandError:
        known = None
    if known is None:
        raise SchemaError(f"the database's schema is newer (rev {current}) than this connector "
                          f"(rev {head()}): upgrade connector, or roll the database back")
    return current


def _made_by_earlier_release(connection: Connection) -> bool:
    present = set(inspect(connection).get_table_names())
    return bool(present & set(baseline.metadata.tables))


def _adopt(connection: Connection) -> None:
    """Bring an earlier release's database up to the baseline (the tables it lacks, the
    nullable columns added since it was made), then stamp it there."""
    baseline.metadata.create_all(connection, checkfirst=True)
    add_missing_columns(connection, baseline.metadata)
    command.stamp(_config(connection), BASELINE)
    log.info("database made by an earlier release: brought up to rev %s and stamped", BASELINE)


def add_missing_columns(connection: Connection, metadata: MetaData) -> None:
    """Add the nullable columns of `metadata` that its tables lack (rows read None there)."""
    known = inspect(connection)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in known.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=connection.dialect)
                connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN '
                                        f'"{column.name}" {kind}'))


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the migration lock: PostgreSQL's advisory lock (released with
    the transaction, so a process that dies frees it), a file lock beside a SQLite file."""
    with _IN_PROCESS, _cluster_locked(engine) as connection:
        yield connection


@contextmanager
def _cluster_locked(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(f"{engine.url.database}.migrate-lock")), engine.begin() as conn:
            yield conn
        return
    with engine.begin() as connection:
        if connection.dialect.name != "postgresql":
            yield connection
            return
        with longer_statements(connection, MIGRATION_S):
            _advisory_lock(connection)
            yield connection


def _advisory_lock(connection: Connection) -> None:
    # polled rather than waited on: no statement outlives the guard's bounds while waiting
    deadline = time.monotonic() + LOCK_WAIT_S
    while not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                 {"key": LOCK_KEY}).scalar():
        if time.monotonic() > deadline:
            raise SchemaError(f"another process has been migrating the schema for over "
                              f"{LOCK_WAIT_S:.0f} s: see it finish, then start again")
        time.sleep(_POLL_S)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
