"""The suppression list: identifiers an admin erased (`forget --suppress`) that are not to be
learnt again until lifted (`connector unsuppress`). Only a keyed digest of each is kept (an
HMAC with the service's secret), so the list names nobody, and cannot be tried against a
list of guessed emails or phones without that secret."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from connector.store.engine import insert_ignoring
from connector.store.schema import suppressed

# a store built without the service's secret (a test, a tool) still digests one way
UNKEYED = b"connector suppression list"


def digest(key: bytes, kind: str, value: str) -> str:
    """The one-way, keyed digest of an identifier the list keeps (never the value)."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def add(connection: Connection, key: bytes, pairs: Iterable[tuple[str, str]]) -> int:
    """Put these (kind, value) on the list (those already on it stay); how many were asked."""
    now = dt.datetime.now(dt.UTC)
    rows = {digest(key, k, v): {"digest": digest(key, k, v), "kind": k, "suppressed_at": now}
            for k, v in pairs}
    if rows:
        connection.execute(insert_ignoring(connection, suppressed), list(rows.values()))
    return len(rows)


def lift(connection: Connection, key: bytes, pairs: Iterable[tuple[str, str]]) -> int:
    """Take these (kind, value) off the list; how many were on it."""
    digests = [digest(key, k, v) for k, v in pairs]
    if not digests:
        return 0
    return int(connection.execute(delete(suppressed).where(
        suppressed.c.digest.in_(digests))).rowcount or 0)


def held(connection: Connection, key: bytes,
         pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (kind, value) among these that are on the list."""
    by_digest = {digest(key, k, v): (k, v) for k, v in pairs}
    if not by_digest:
        return set()
    found = connection.execute(select(suppressed.c.digest).where(
        suppressed.c.digest.in_(list(by_digest))))
    return {by_digest[row.digest] for row in found}
