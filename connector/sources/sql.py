"""The SQL source: parameterised read-only queries against any SQLAlchemy database URL, and
the corrections it takes through declared statements (`connector.sources.sql_writes`)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from connector.sources.base import (
    IDENTIFIER_KINDS,
    BuildContext,
    DetailSpec,
    IdentifierKind,
    Identifiers,
    SourceConfig,
    SourceError,
    SourceMisconfigured,
    SourceTimeout,
    SourceUnavailable,
    current_deadline,
    deadline_in,
)
from connector.sources.mapping import MappedSource
from connector.sources.sql_writes import (
    PROCEDURES,
    SqlWrite,
    calls_procedure,
    correctable,
    run_change,
    stopped_late,
    write_values,
)
from connector.store.guard import Limits, connect_args, guard

READ_ONLY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
PROGRESS_STEPS = 10_000  # SQLite virtual-machine steps between two looks at the deadline


class SqlDetail(DetailSpec):
    """A detail read by a query with `:key` bound."""

    query: str


class SqlConfig(SourceConfig):
    """A database another system owns; we read it, with `:email`, `:phone`, `:card` bound,
    and change it only through the statements its `writes:` declare."""

    type: Literal["sql"]
    url: SecretStr
    lookup_by: list[IdentifierKind] = Field(default=["email"], min_length=1)
    queries: dict[str, str] = Field(min_length=1)
    details: dict[str, SqlDetail] = Field(default_factory=dict)
    writes: dict[str, SqlWrite] = Field(default_factory=dict)

    @field_validator("queries")
    @classmethod
    def _read_only(cls, queries: dict[str, str]) -> dict[str, str]:
        for name, query in queries.items():
            _check_read_only(name, query)
        return queries

    @field_validator("details")
    @classmethod
    def _details_read_only(cls, details: dict[str, SqlDetail]) -> dict[str, SqlDetail]:
        for name, detail in details.items():
            _check_read_only(name, detail.query)
        return details

    @field_validator("writes")
    @classmethod
    def _correctable(cls, value: dict[str, SqlWrite], info: ValidationInfo
                     ) -> dict[str, SqlWrite]:
        url = info.data.get("url")
        try:
            backend = make_url(url.get_secret_value()).get_backend_name() if url else None
        except ArgumentError:
            backend = None  # said when the source is built
        problems = [f"'{field}' calls a stored procedure: {backend} has none (write an "
                    "UPDATE, INSERT or DELETE)" for field, spec in value.items()
                    if backend is not None and backend not in PROCEDURES
                    and calls_procedure(spec.statement)]
        problems[:0] = correctable(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


def _check_read_only(name: str, query: str) -> None:
    if not READ_ONLY.match(query) or ";" in query.strip().rstrip(";"):
        raise ValueError(f"query '{name}' must be a single SELECT (sources are read-only)")


class SqlSource(MappedSource):
    """Run the queries per identifier until the first one finds the customer."""

    config: SqlConfig

    def __init__(self, name: str, config: SqlConfig, context: BuildContext) -> None:
        super().__init__(name, config)
        url = config.url.get_secret_value()
        self._engine = _engine(url, context.manifest_dir, config.timeout_s)
        self._writer = self._engine  # SQLite files are read through a read-only one
        parsed = make_url(url)
        if (config.writes and parsed.get_backend_name() == "sqlite"
                and parsed.database not in (None, "", ":memory:")):
            self._writer = _engine(url, context.manifest_dir, config.timeout_s, writable=True)

    def find(self, ids: Identifiers) -> dict[str, list[dict[str, Any]]] | None:
        """Every query's rows, under its name, for the first identifier that matches (all of
        them within the source's timeout: SQLite stops a query at the deadline, PostgreSQL at
        its statement_timeout)."""
        (first, *_) = self.config.queries
        with deadline_in(self.config.timeout_s):
            for kind, value in ids.attempts(self.config.lookup_by, self.name):
                params: dict[str, Any] = dict.fromkeys(IDENTIFIER_KINDS)
                params[kind] = value
                document = self._query(self.config.queries, params)
                if document[first]:
                    return document
        return None

    def raw_detail(self, spec: DetailSpec, key: str) -> Any:
        """The rows of a detail's query for one key."""
        assert isinstance(spec, SqlDetail)
        with deadline_in(self.config.timeout_s):
            return self._query({"rows": spec.query}, {"key": key})["rows"]

    def write(self, field: str, values: dict[str, str]) -> int:
        """Apply a correction of `field` (`values`: new, old, external, change) in one
        transaction, within the source's timeout; the rows its statement changed."""
        spec = self.config.writes.get(field)
        if spec is None:
            raise SourceMisconfigured(f"sources.{self.name} declares no writes.{field}")
        return run_change(self._writer, spec.statement, write_values(spec.statement, values),
                          f"sources.{self.name}.writes.{field}.statement", self.config.timeout_s)

    def _query(self, queries: dict[str, str], params: dict[str, Any]) -> dict[str, Any]:
        try:
            with self._engine.connect() as connection:
                return {name: _rows(connection, query, params) for name, query in queries.items()}
        except DBAPIError as exc:
            if stopped_late(exc):
                raise SourceTimeout(f"no answer within {self.config.timeout_s:g} s",
                                    "query stopped at its deadline") from exc
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise SourceUnavailable("database unavailable", str(exc.orig)) from exc
            raise SourceMisconfigured("query failed", str(exc.orig)) from exc
        except SQLAlchemyError as exc:
            raise SourceError("database error", type(exc).__name__) from exc


def _rows(connection: Any, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(text(query), params)]


def _engine(url: str, manifest_dir: Path, timeout_s: float, writable: bool = False) -> Engine:
    """An engine whose queries stop at their deadline and whose logs and errors never hold
    the values bound; a relative SQLite path is taken from the manifest's folder, opened
    read-only (read-write for the corrections, never created)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SourceMisconfigured("invalid database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database)
            path = path if path.is_absolute() else manifest_dir / path
            url = f"sqlite:///file:{path}?mode={'rw' if writable else 'ro'}&uri=true"
        engine = create_engine(url, hide_parameters=True,
                               connect_args={"timeout": timeout_s, "check_same_thread": False})
        event.listen(engine, "connect", _stop_at_deadline)
        return engine
    if backend == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
        # every wait bounded as for our own database (`store.guard`): connecting, a pooled
        # connection's ping, each statement (a server that accepts TCP and never answers is
        # cut a second past the source's timeout, so the call fails and its circuit counts it)
        limits = Limits(timeout_s=timeout_s, statement_timeout_s=timeout_s)
        engine = create_engine(url, pool_size=4, max_overflow=4, pool_timeout=timeout_s,
                               hide_parameters=True, connect_args=connect_args(parsed, limits))
        guard(engine, limits)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                         pool_timeout=timeout_s, hide_parameters=True)


def _stop_at_deadline(connection: Any, _record: Any) -> None:
    """Have SQLite give up a query once the deadline of the call running it has passed."""

    def late() -> int:
        due = current_deadline()
        return 1 if due is not None and time.monotonic() >= due else 0

    connection.set_progress_handler(late, PROGRESS_STEPS)
