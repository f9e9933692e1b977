"""The SQL source: parameterised read-only queries against any SQLAlchemy database URL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from connector.sources.base import (
    BuildContext,
    IdentifierKind,
    Identifiers,
    SourceConfig,
    SourceError,
    SourceMisconfigured,
    SourceResult,
    SourceUnavailable,
)
from connector.sources.mapping import found_result

READ_ONLY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


class SqlConfig(SourceConfig):
    """A database another system owns; we only read it, with `:email`, `:phone`, `:card` bound."""

    type: Literal["sql"]
    url: SecretStr
    lookup_by: list[IdentifierKind] = Field(default=["email"], min_length=1)
    queries: dict[str, str] = Field(min_length=1)

    @field_validator("queries")
    @classmethod
    def _read_only(cls, queries: dict[str, str]) -> dict[str, str]:
        for name, query in queries.items():
            if not READ_ONLY.match(query) or ";" in query.strip().rstrip(";"):
                raise ValueError(f"query '{name}' must be a single SELECT (sources are read-only)")
        return queries


class SqlSource:
    """Run the first query per identifier until it finds the customer, then the others."""

    def __init__(self, name: str, config: SqlConfig, context: BuildContext) -> None:
        self.name = name
        self.config = config
        self.provides = frozenset(config.sections)
        url = config.url.get_secret_value()
        self._engine = _engine(url, context.manifest_dir, config.timeout_s)

    def fetch(self, ids: Identifiers) -> SourceResult:
        """Every query's rows, under its name, for the first identifier that matches."""
        (first, *_) = self.config.queries
        attempts = [(k, v) for k in self.config.lookup_by for v in ids.of(k)]
        try:
            with self._engine.connect() as connection:
                for kind, value in attempts:
                    params: dict[str, Any] = {"email": None, "phone": None, "card": None}
                    params[kind] = value
                    document = {name: _rows(connection, query, params)
                                for name, query in self.config.queries.items()}
                    if document[first]:
                        return self._result(document)
                    connection.rollback()
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise SourceUnavailable("database unavailable", str(exc.orig)) from exc
            raise SourceMisconfigured("query failed", str(exc.orig)) from exc
        except SQLAlchemyError as exc:
            raise SourceError("database error", type(exc).__name__) from exc
        return SourceResult(found=False)

    def _result(self, document: dict[str, list[dict[str, Any]]]) -> SourceResult:
        return found_result(document, self.config, self.name)


def _rows(connection: Any, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(text(query), params)]


def _engine(url: str, manifest_dir: Path, timeout_s: float) -> Engine:
    """An engine; a relative SQLite path is taken from the manifest's folder, opened read-only."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SourceMisconfigured("invalid database URL") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        path = path if path.is_absolute() else manifest_dir / path
        return create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true",
            connect_args={"timeout": timeout_s, "check_same_thread": False},
        )
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
