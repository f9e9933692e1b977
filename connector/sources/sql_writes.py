"""A SQL source's corrections (`writes:`): one declared, parameterised statement per field,
checked when the manifest loads, run in one transaction with the source's own engine and
timeout, its failures classified once (docs/corrections.md)."""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from connector.config import Strict
from connector.models import CORRECTABLE, SECTIONS
from connector.sources.base import (
    SourceError,
    SourceMisconfigured,
    SourceTimeout,
    SourceUnavailable,
    deadline_in,
)
from connector.sources.mapping import field_type

log = logging.getLogger(__name__)

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by statement_timeout
CHANGING = re.compile(r"^\s*(update|insert|delete|call)\b", re.IGNORECASE)
# what a correction's statement is given: the new value, the one it replaces ("" when none),
# the customer's id at this source, the change's id (to make a statement idempotent); a
# structured field's values part by part instead (:new_line1, :old_city…)
WRITE_PARAMETERS = ("new", "old", "external", "change")
# the databases with stored procedures run by CALL (SQLite has none)
PROCEDURES = frozenset({"postgresql", "mysql", "mariadb", "oracle", "db2"})
# quoted text and comments, where a `;` or a `:name` is no statement's nor parameter's
QUOTED = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|/\*.*?(?:\*/|$)", re.DOTALL)
# SQLSTATE classes worth trying again: connection, resources, operator intervention, system
# error, a transaction rolled back (deadlock, serialization); and a lock not available
PASSING_CLASSES = ("08", "53", "57", "58", "40")
PASSING_STATES = ("55P03",)
PASSING_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR",
                  "SQLITE_FULL", "SQLITE_PROTOCOL")


def parts_of(field: str) -> tuple[str, ...]:
    """A structured correctable field's parts (the address: line1, postcode…); () for one
    value."""
    section, _, name = field.partition(".")
    model = field_type(SECTIONS[section][0], name) if section in SECTIONS else None
    return tuple(model.model_fields) if isinstance(model, type) and issubclass(
        model, BaseModel) else ()


# every structured field's parameters, what a statement may name before its field is known:
# the new value's parts (one of which it must write), then the replaced one's
NEW_PARTS = tuple(dict.fromkeys(f"new_{part}" for field in CORRECTABLE
                                for part in parts_of(field)))
STRUCTURED = (*NEW_PARTS, *(f"old_{name.removeprefix('new_')}" for name in NEW_PARTS))


class SqlWrite(Strict):
    """How a SQL source takes a correction of one canonical field: a single UPDATE, INSERT,
    DELETE (or CALL of a stored procedure, where the database has them) with `:new`, `:old`
    (the value replaced, "" when none), `:external` (the customer's id here) and `:change`
    (the change's id) bound; the agents' roles that may ask for it (none given: every agent)."""

    statement: str
    roles: list[str] | None = Field(default=None, min_length=1)

    @field_validator("statement")
    @classmethod
    def _parameterised(cls, value: str) -> str:
        problems = statement_problems(value, (*WRITE_PARAMETERS, *STRUCTURED),
                                      required=("new", *NEW_PARTS))
        if problems:
            raise ValueError("; ".join(problems))
        return value




def correctable(writes: dict[str, SqlWrite]) -> list[str]:
    """Why some of these writes cannot be: a field not corrected from the record (as REST
    sources say), a statement that does not give a field its value as it comes (whole, or
    part by part)."""
    unknown = [name for name in writes if name not in CORRECTABLE]
    if unknown:
        return [f"'{unknown[0]}' cannot be corrected from the record (one of: "
                f"{', '.join(CORRECTABLE)})"]
    problems = []
    for field, spec in writes.items():
        parts, used = parts_of(field), parameters(spec.statement)
        if parts:
            wrong = [n for n in used if n in ("new", "old")
                     or (n in STRUCTURED and n.partition("_")[2] not in parts)]
            fine = any(n.startswith("new_") and n not in wrong for n in used)
            if wrong or not fine:
                problems.append(f"'{field}' is given part by part: use "
                                f"{', '.join(':new_' + p for p in parts)} (and :old_…)")
        elif any(n in STRUCTURED for n in used):
            problems.append(f"'{field}' is one value: use :new and :old")
    return problems


def statement_problems(statement: str, allowed: tuple[str, ...], required: tuple[str, ...]
                       ) -> list[str]:
    """Why a statement cannot be run as a change: not one UPDATE, INSERT, DELETE or CALL,
    several statements, a parameter it is not given, or none for the value it must write."""
    code = _code(statement)
    problems = []
    if not CHANGING.match(code):
        problems.append("must be an UPDATE, INSERT, DELETE or CALL of a stored procedure")
    if ";" in code.strip().rstrip(";"):
        problems.append("holds several statements (a `;` outside quotes): give one")
    if re.search(r"(?<![:\w]):\w+::", code):
        problems.append("a parameter cast with `::` is not read as one: write "
                        "CAST(:new AS text)")
    bound = parameters(statement)
    quoted = [name for name in bound if not re.search(rf"(?<![:\w]):{name}\b", code)]
    for name in quoted:
        problems.append(f"':{name}' is inside quotes or a comment: write the parameter bare "
                        f"(= :{name}), the database quotes its value")
    unknown = [name for name in bound if name not in allowed and name not in quoted]
    if unknown:
        problems.append(f"unknown parameter{'s' * (len(unknown) > 1)} "
                        f"{', '.join(':' + n for n in unknown)} (given: "
                        f"{', '.join(':' + n for n in allowed)})")
    if not any(name in bound and name not in quoted for name in required):
        problems.append(f"never uses :{required[0]}, so the value would not be written")
    return problems


def calls_procedure(statement: str) -> bool:
    """Whether the statement is a CALL of a stored procedure."""
    verb = CHANGING.match(_code(statement))
    return verb is not None and verb.group(1).lower() == "call"


def _code(statement: str) -> str:
    """The statement with its quoted texts and comments blanked out."""
    return QUOTED.sub(lambda m: " " * len(m.group()), statement)


def parameters(statement: str) -> list[str]:
    """The bound parameters of a statement, as SQLAlchemy reads them, in order."""
    return list(text(statement).compile().params)


def write_values(statement: str, values: dict[str, Any]) -> dict[str, Any]:
    """What a correction's statement is given: the parameters it names, `:old` "" when the
    record held none, a structured value part by part (`:new_city`)."""
    given = {**values, "old": values.get("old") or ""}
    for name in ("new", "old"):
        parts = given[name] if isinstance(given[name], dict) else {}
        given.update({key: parts.get(key.partition("_")[2]) or "" for key in STRUCTURED
                      if key.startswith(f"{name}_")})
    return {name: given.get(name) for name in parameters(statement)}


def run_change(engine: Engine, statement: str, values: dict[str, Any], where: str,
               timeout_s: float) -> int:
    """Run a change's statement in one transaction within `timeout_s`; the rows it changed.
    One that changes none (a CALL excepted: it says nothing of rows) is refused and rolled
    back. Failures name `where`, never a value: retried when the database may take it later
    (SourceUnavailable), refused otherwise (SourceError, SourceMisconfigured)."""
    calls, failure, changed = calls_procedure(statement), None, 0
    try:
        with deadline_in(timeout_s), engine.begin() as connection:
            changed = connection.execute(text(statement), values).rowcount
            if changed == 0 and not calls:
                raise SourceError(f"{where}: the customer or the value to replace is no "
                                  "longer there (the statement changed no row)")
    except DBAPIError as exc:
        failure = _classified(exc, where, timeout_s)
    except SQLAlchemyError as exc:  # no connection from the pool in time
        failure = SourceUnavailable("database unavailable", f"{where}: {type(exc).__name__}")
    if failure is not None:  # raised apart from the database's error: its text may hold values
        raise failure
    log.info("%s: done (%s row%s)", where, changed, "" if changed == 1 else "s")
    return changed


def _classified(exc: DBAPIError, where: str, timeout_s: float) -> SourceError:
    """A database failure as the outbox reads it, its detail the error's kind only."""
    kind = _kind(exc)
    if stopped_late(exc):
        return SourceTimeout(f"no answer within {timeout_s:g} s", f"{where}: {kind}")
    if _passing(exc):
        return SourceUnavailable("database unavailable", f"{where}: {kind}")
    if isinstance(exc, (IntegrityError, DataError)):
        return SourceError(f"{where}: the database refused the value ({kind})", kind)
    return SourceMisconfigured(f"{where}: the database refused the statement ({kind})", kind)


def _kind(exc: DBAPIError) -> str:
    """The error's class and code (SQLSTATE, SQLite's error name), and the constraint it
    broke when the driver says: never its message, which may quote the values."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    return " ".join(str(part) for part in (type(orig).__name__, code, constraint) if part)


def _passing(exc: DBAPIError) -> bool:
    """Whether the failure may pass (a connection lost, a lock, a deadlock): try later."""
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if state:
        return state[:2] in PASSING_CLASSES or state in PASSING_STATES
    name = getattr(exc.orig, "sqlite_errorname", None)
    if name:
        return name.startswith(PASSING_SQLITE)
    return isinstance(exc, OperationalError)


def stopped_late(exc: DBAPIError) -> bool:
    """Whether the database stopped the statement because its deadline passed."""
    return (getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED
            or "interrupted" in str(exc.orig).lower())
