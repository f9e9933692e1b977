"""The link store: which identifiers belong to which person, links an admin refused, a name and
postcode to tell people apart, and the audit trail of merges, unlinks and erasures (the tables
are in `connector.store.schema`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from connector.store.engine import audit_entry, insert_ignoring, open_database
from connector.store.schema import audit, blocked, links, metadata, people

# Built once: on a hot path, building the statement costs more than running it.
LINKS_OF = select(links).where(links.c.customer_id == bindparam("customer")).order_by(
    links.c.learned_at, links.c.kind, links.c.value)


def owners_query(pairs: list[tuple[str, str]]) -> Select[Any]:
    """The links naming any of these (kind, value): one equality pair per identifier, OR-ed.
    SQLite runs a row-value IN as a full table scan once there are two pairs (257 ms instead
    of 1 ms at a million links, bench/RESULTS.md)."""
    return select(links).where(or_(*(and_(links.c.kind == kind, links.c.value == value)
                                     for kind, value in pairs)))


@dataclass(frozen=True)
class Link:
    """One identifier of one person, and the source that taught it (None: the helpdesk)."""

    kind: str
    value: str
    customer_id: str
    source: str | None


@dataclass(frozen=True)
class Person:
    """What tells a person apart in a list of candidates."""

    customer_id: str
    display_name: str | None
    postcode: str | None


def fingerprint(value: str) -> str:
    """A short one-way digest of an identifier, for the audit trail (never the value itself)."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


class LinkStore:
    """Identity links and the few facts kept about people."""

    def __init__(self, url: str) -> None:
        self.engine = open_database(url)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def owners(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[Link]]:
        """For each (kind, value), the links naming it (several people share it: ambiguous)."""
        wanted = list(dict.fromkeys(pairs))
        found: dict[tuple[str, str], list[Link]] = {pair: [] for pair in wanted}
        if not wanted:
            return found
        with self.engine.connect() as connection:
            for row in connection.execute(owners_query(wanted)):
                found[(row.kind, row.value)].append(Link(row.kind, row.value, row.customer_id,
                                                         row.source))
        return found

    def links_of(self, customer_id: str) -> list[Link]:
        """Every identifier linked to a person."""
        with self.engine.connect() as connection:
            return [Link(r.kind, r.value, r.customer_id, r.source)
                    for r in connection.execute(LINKS_OF, {"customer": customer_id})]

    def link(self, customer_id: str, found: Iterable[tuple[str, str, str | None]]) -> int:
        """Link identifiers (kind, value, source) to a person, except those an admin refused;
        how many links are new."""
        now = dt.datetime.now(dt.UTC)
        rows = {(k, v): s for k, v, s in found}
        with self._tx() as connection:
            refused = {(r.kind, r.value) for r in connection.execute(
                select(blocked.c.kind, blocked.c.value).where(
                    blocked.c.customer_id == customer_id))}
            known = {(r.kind, r.value) for r in connection.execute(
                select(links.c.kind, links.c.value).where(links.c.customer_id == customer_id))}
            new = [{"kind": k, "value": v, "customer_id": customer_id, "source": s,
                    "learned_at": now}
                   for (k, v), s in rows.items() if (k, v) not in known | refused]
            if new:  # another process may link the same at the same moment: keep theirs
                connection.execute(insert_ignoring(connection, links), new)
        return len(new)

    def merge(self, absorbed: str, into: str, actor: str) -> None:
        """Make two records of one person one: every link of `absorbed` moves to `into`."""
        with self._tx() as connection:
            mine = {(r.kind, r.value) for r in connection.execute(
                select(links.c.kind, links.c.value).where(links.c.customer_id == into))}
            for row in connection.execute(select(links).where(links.c.customer_id == absorbed)):
                if (row.kind, row.value) not in mine:
                    connection.execute(update(links).where(and_(
                        links.c.customer_id == absorbed, links.c.kind == row.kind,
                        links.c.value == row.value)).values(customer_id=into))
            connection.execute(delete(links).where(links.c.customer_id == absorbed))
            connection.execute(delete(people).where(people.c.customer_id == absorbed))
            audit_entry(connection, actor, "merge", into, f"absorbed {absorbed}")

    def unlink(self, customer_id: str, kind: str, value: str, actor: str) -> bool:
        """Remove a wrong link and refuse it from now on; False when there was no such link."""
        now = dt.datetime.now(dt.UTC)
        with self._tx() as connection:
            gone = connection.execute(delete(links).where(and_(
                links.c.customer_id == customer_id, links.c.kind == kind,
                links.c.value == value))).rowcount
            if not gone:
                return False
            connection.execute(insert(blocked), [{"kind": kind, "value": value,
                                                  "customer_id": customer_id,
                                                  "blocked_at": now}])
            audit_entry(connection, actor, "unlink", customer_id, f"{kind} #{fingerprint(value)}")
        return True

    def remember(self, customer_id: str, display_name: str | None, name_folded: str | None,
                 postcode: str | None) -> None:
        """Keep the name and postcode that tell this person apart from namesakes."""
        values = {"display_name": display_name, "name_folded": name_folded,
                  "postcode": postcode, "updated_at": dt.datetime.now(dt.UTC)}
        with self._tx() as connection:
            changed = connection.execute(
                update(people).where(people.c.customer_id == customer_id).values(**values))
            if not changed.rowcount:  # unless a concurrent lookup of the same person did it
                connection.execute(insert_ignoring(connection, people),
                                   [{"customer_id": customer_id, **values}])

    def people(self, customer_ids: Iterable[str]) -> list[Person]:
        """The people with these ids, as candidates are shown."""
        ids = sorted(set(customer_ids))
        query = select(people).where(people.c.customer_id.in_(ids))
        with self.engine.connect() as connection:
            known = {r.customer_id: Person(r.customer_id, r.display_name, r.postcode)
                     for r in connection.execute(query)}
        return [known.get(i, Person(i, None, None)) for i in ids]

    def search_people(self, folded: str | None = None, postcode: str | None = None,
                      limit: int = 20) -> list[Person]:
        """People whose folded name contains `folded` and/or whose postcode is `postcode`."""
        terms = []
        if folded:
            terms.append(people.c.name_folded.contains(folded, autoescape=True))
        if postcode:
            terms.append(people.c.postcode == postcode)
        if not terms:
            return []
        query = select(people).where(and_(*terms)).order_by(people.c.display_name).limit(limit)
        with self.engine.connect() as connection:
            return [Person(r.customer_id, r.display_name, r.postcode)
                    for r in connection.execute(query)]

    def forget(self, customer_id: str, actor: str) -> int:
        """Erase what we keep on a person: every row of every table keyed by the person (links,
        refusals, name, notes, contacts, events); the audit keeps ids only. How many links."""
        with self._tx() as connection:
            count = connection.execute(delete(links).where(
                links.c.customer_id == customer_id)).rowcount
            for table in metadata.sorted_tables:
                if table is not audit and table is not links and "customer_id" in table.c:
                    connection.execute(delete(table).where(table.c.customer_id == customer_id))
            audit_entry(connection, actor, "forget", customer_id, f"{count} links")
        return int(count)

    def audit_trail(self, customer_id: str | None = None) -> list[dict[str, object]]:
        """The audit entries, oldest first (of one person, or all)."""
        query = select(audit).order_by(audit.c.id)
        if customer_id:
            query = query.where(audit.c.customer_id == customer_id)
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]
