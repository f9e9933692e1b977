"""The link store: which identifiers belong to which person, links an admin refused, a name and
postcode to tell people apart, and the audit trail of merges, unlinks and erasures (the tables
are in `connector.store.schema`)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, delete, event, insert, or_, select, tuple_, union, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from connector.customer import suppression
from connector.customer.targets import person_holdings, person_targets, under_targets
from connector.store.engine import (
    audit_entry,
    insert_ignoring,
    open_database,
    reading,
    shared_reads,
)
from connector.store.guard import Limits
from connector.store.schema import (
    audit,
    blocked,
    choices,
    links,
    metadata,
    people,
    segments,
    ticket_events,
    writeback_targets,
)

# Built once: on a hot path, building the statement costs more than running it.
LINKS_OF = select(links).where(links.c.customer_id == bindparam("customer")).order_by(
    links.c.learned_at, links.c.kind, links.c.value)


# Around the people an identifier names: every link of theirs, every other holder of each of
# their identifiers, and the facts kept about all of them, in one statement (driven by the
# customer index, then the primary key); a warm lookup asks all of it, one read at a time.
_HOLDING = links.alias("holding")
NEIGHBOURHOOD = (
    select(links, people.c.customer_id.label("known"), people.c.display_name,
           people.c.postcode, people.c.city, people.c.birth_year, people.c.last_order)
    .select_from(_HOLDING.join(links, and_(links.c.kind == _HOLDING.c.kind,
                                           links.c.value == _HOLDING.c.value))
                 .outerjoin(people, people.c.customer_id == links.c.customer_id))
    .where(_HOLDING.c.customer_id.in_(bindparam("owners", expanding=True))))
NEIGHBOURHOOD_MAX = 4  # more people on one identifier (a switchboard): read as asked


CONFIRM = update(links).where(and_(
    links.c.kind == bindparam("k"), links.c.value == bindparam("v"),
    links.c.customer_id == bindparam("c"))).values(confirmed_at=bindparam("now"))


def owners_query(pairs: list[tuple[str, str]]) -> tuple[Select[Any], dict[str, str]]:
    """The links naming any of these (kind, value), and its parameters: one equality pair per
    identifier, OR-ed. SQLite runs a row-value IN as a full table scan once there are two
    pairs (257 ms instead of 1 ms at a million links, bench/RESULTS.md)."""
    params = {f"{part}{i}": value for i, pair in enumerate(pairs)
              for part, value in zip("kv", pair, strict=True)}
    return _owners_statement(len(pairs)), params


@functools.lru_cache(maxsize=64)
def _owners_statement(count: int) -> Select[Any]:
    """Built once per number of pairs: on a hot path, building it costs more than running it."""
    return select(links).where(or_(*(and_(links.c.kind == bindparam(f"k{i}"),
                                          links.c.value == bindparam(f"v{i}"))
                                     for i in range(count))))


NEVER_STALE = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Link:
    """One identifier of one person, and the source that taught it (None: the helpdesk)."""

    kind: str
    value: str
    customer_id: str
    source: str | None
    confirmed_at: dt.datetime = NEVER_STALE


def _link(row: Any) -> Link:
    return Link(row.kind, row.value, row.customer_id, row.source,
                row.confirmed_at or row.learned_at)


@dataclass(frozen=True)
class Person:
    """What tells a person apart in a list of candidates."""

    customer_id: str
    display_name: str | None
    postcode: str | None
    city: str | None = None
    birth_year: int | None = None
    last_order: dt.date | None = None


def _person(row: Any) -> Person:
    return Person(row.customer_id, row.display_name, row.postcode, row.city, row.birth_year,
                  row.last_order)


def _unworked_events(connection: Connection, values: list[str]) -> int:
    """Delete the events no worker has tied to a person yet whose payload holds one of these
    identifiers (as the event log writes them: JSON strings); how many."""
    if not values:
        return 0
    holds = or_(*(ticket_events.c.payload.contains(json.dumps(value), autoescape=True)
                  for value in dict.fromkeys(values)))
    return int(connection.execute(delete(ticket_events).where(and_(
        ticket_events.c.customer_id.is_(None), holds))).rowcount or 0)


def fingerprint(value: str, key: bytes = suppression.UNKEYED) -> str:
    """A short one-way digest of an identifier, for the audit trail (never the value itself):
    keyed with the service's secret (`LinkStore.fingerprint`), so that a list of guessed emails
    cannot be matched against the audit trail without it."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class HeldBy:
    """Where a helpdesk holds a person: their requester id there, or one of their tickets."""

    helpdesk: str
    requester_id: str | None = None
    ticket_id: str | None = None


@dataclass
class Erased:
    """What `LinkStore.erase` removed of one person: rows per table, the sources their links
    came from (which still know them: we cannot erase there), their identifiers (in memory
    only: for the caches and the suppression list) and the helpdesk removals queued."""

    customer_id: str
    rows: dict[str, int]
    sources: set[str]
    identifiers: list[tuple[str, str]]
    removals: int = 0


# in the erasing transaction: queue the removal of what we wrote where the helpdesks hold the
# person, before their helpdesk ids are erased; how many changes were queued
RemovalHook = Callable[[Connection, list[HeldBy]], int]


@dataclass
class _Reads:
    """What one lookup read of the store, until the store writes (`LinkStore.one_view`)."""

    owners: dict[tuple[str, str], list[Link]] = field(default_factory=dict)
    links_of: dict[str, list[Link]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)


class LinkStore:
    """Identity links and the few facts kept about people."""

    def __init__(self, url: str, limits: Limits | None = None,
                 digest_key: bytes | None = None) -> None:
        self.engine = open_database(url, limits)
        self._key = digest_key or suppression.UNKEYED  # the suppression list's HMAC key
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (
                None, "", ":memory:"):  # an erased row is zeroed in the file too
            event.listen(self.engine, "connect", _secure_delete)
            self.engine.pool.dispose()  # the connections opened before it get it too
        self._reads: ContextVar[_Reads | None] = ContextVar(f"link_reads_{id(self)}",
                                                            default=None)

    def fingerprint(self, value: str) -> str:
        """An identifier's digest for the audit trail, keyed with the service's secret."""
        return fingerprint(value, self._key)

    @contextmanager
    def one_view(self) -> Iterator[None]:
        """Within it, in this thread, an identifier's owners, a person's links and a person's
        facts are read once until this store writes: a lookup asks the same of the store
        several times (resolving, grouping the sources' records, settling), and a warm
        sidebar would pay a database round trip each. Any write starts the view afresh."""
        token = self._reads.set(_Reads())
        try:
            yield
        finally:
            self._reads.reset(token)

    def _forget_reads(self) -> None:
        if self._reads.get() is not None:
            self._reads.set(_Reads())

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        finally:  # what the view read before may be what this changed
            self._forget_reads()

    def owners(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[Link]]:
        """For each (kind, value), the links naming it (several people share it: ambiguous)."""
        wanted = list(dict.fromkeys(pairs))
        reads = self._reads.get()
        known = reads.owners if reads is not None else {}
        missing = [pair for pair in wanted if pair not in known]
        found: dict[tuple[str, str], list[Link]] = {pair: [] for pair in missing}
        if missing:
            with shared_reads():  # the owners, then around them: one connection
                with reading(self.engine) as connection:
                    for row in connection.execute(*owners_query(missing)):
                        found[(row.kind, row.value)].append(_link(row))
                if reads is not None:
                    reads.owners.update(found)
                    self._read_around(reads, {link.customer_id for held in found.values()
                                              for link in held})
        return {pair: list(known[pair]) if pair in known else found[pair] for pair in wanted}

    def _read_around(self, reads: _Reads, owners: set[str]) -> None:
        """Into the view, what a lookup asks next about the few people an identifier names:
        their links, who else holds each of their identifiers, their facts (one statement
        for what would be three or four)."""
        owners -= reads.links_of.keys()
        if not owners or len(owners) > NEIGHBOURHOOD_MAX:
            return
        with reading(self.engine) as connection:
            rows = {(r.kind, r.value, r.customer_id): r
                    for r in connection.execute(NEIGHBOURHOOD, {"owners": sorted(owners)})}
        held: dict[tuple[str, str], list[Link]] = {}
        mine: dict[str, list[Any]] = {owner: [] for owner in owners}
        for (kind, value, customer_id), row in rows.items():
            held.setdefault((kind, value), []).append(_link(row))
            if customer_id in mine:
                mine[customer_id].append(row)
            if customer_id not in reads.people:
                reads.people[customer_id] = (_person(row) if row.known is not None
                                             else Person(customer_id, None, None))
        for pair, found in held.items():
            reads.owners.setdefault(pair, found)
        for owner, own in mine.items():  # in LINKS_OF's order
            own.sort(key=lambda r: (r.learned_at, r.kind, r.value))
            reads.links_of[owner] = [_link(r) for r in own]

    def links_of(self, customer_id: str) -> list[Link]:
        """Every identifier linked to a person."""
        reads = self._reads.get()
        if reads is not None and customer_id in reads.links_of:
            return list(reads.links_of[customer_id])
        with reading(self.engine) as connection:
            found = [_link(r) for r in connection.execute(LINKS_OF, {"customer": customer_id})]
        if reads is not None:
            reads.links_of[customer_id] = list(found)
        return found

    def link(self, customer_id: str, found: Iterable[tuple[str, str, str | None]]) -> int:
        """Link identifiers (kind, value, source) to a person, except those an admin refused,
        and mark those already linked as confirmed now; how many links are new."""
        now = dt.datetime.now(dt.UTC)
        rows = {(k, v): s for k, v, s in found}
        with self._tx() as connection:
            refused = {(r.kind, r.value) for r in connection.execute(
                select(blocked.c.kind, blocked.c.value).where(
                    blocked.c.customer_id == customer_id))}
            refused |= suppression.held(connection, self._key, rows)
            known = {(r.kind, r.value) for r in connection.execute(
                select(links.c.kind, links.c.value).where(links.c.customer_id == customer_id))}
            new = [{"kind": k, "value": v, "customer_id": customer_id, "source": s,
                    "learned_at": now, "confirmed_at": now}
                   for (k, v), s in rows.items() if (k, v) not in known | refused]
            if new:  # another process may link the same at the same moment: keep theirs
                connection.execute(insert_ignoring(connection, links), new)
            again = [{"k": k, "v": v} for (k, v), s in rows.items()
                     if (k, v) in known and s is not None]
            if again:
                connection.execute(CONFIRM, [{**row, "c": customer_id, "now": now}
                                             for row in again])
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

    def withdraw(self, customer_id: str, pairs: list[tuple[str, str]], source: str,
                 actor: str) -> int:
        """Remove links their source no longer vouches for (audited, the values never
        written); unlike `unlink`, a source saying it again links it again."""
        with self._tx() as connection:
            gone = sum(int(connection.execute(delete(links).where(and_(
                links.c.customer_id == customer_id, links.c.kind == kind,
                links.c.value == value, links.c.source == source))).rowcount or 0)
                for kind, value in pairs)
            if gone:
                detail = ", ".join(f"{k} #{self.fingerprint(v)}" for k, v in pairs)
                audit_entry(connection, actor, "withdraw", customer_id,
                            f"{source} no longer says: {detail}")
        return gone

    def split_off(self, customer_id: str, kind: str, value: str, into: str,
                  actor: str) -> None:
        """Move one unique id to another person, and leave what the person holds besides
        their ids of that kind to be confirmed by the sources again (audited, the value never
        written)."""
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        with self._tx() as connection:
            connection.execute(update(links).where(and_(
                links.c.customer_id == customer_id, links.c.kind == kind,
                links.c.value == value)).values(customer_id=into))
            connection.execute(update(links).where(and_(
                links.c.customer_id == customer_id, links.c.source.is_not(None),
                links.c.kind != kind)).values(confirmed_at=epoch))
            audit_entry(connection, actor, "split", customer_id,
                        f"{kind} #{self.fingerprint(value)} -> {into}")

    def choose(self, helpdesk: str, ticket_id: str, customer_id: str,
               learnt: Iterable[tuple[str, str]], actor: str) -> None:
        """Remember the person an agent chose for a ticket (audited), and link what the
        ticket knew them by that no source could (a social handle) to them."""
        now = dt.datetime.now(dt.UTC)
        row = {"helpdesk": helpdesk, "ticket_id": ticket_id[:120], "customer_id": customer_id,
               "chosen_at": now}
        with self._tx() as connection:
            held = connection.execute(select(choices.c.customer_id).where(and_(
                choices.c.helpdesk == helpdesk, choices.c.ticket_id == row["ticket_id"])))
            if held.scalar() == customer_id:
                return
            connection.execute(delete(choices).where(and_(
                choices.c.helpdesk == helpdesk, choices.c.ticket_id == row["ticket_id"])))
            connection.execute(insert(choices), [row])
            audit_entry(connection, actor[:80], "choose", customer_id,
                        f"{helpdesk} ticket #{self.fingerprint(ticket_id)}")
        self.link(customer_id, [(kind, value, "agent") for kind, value in learnt])

    def chosen(self, helpdesk: str, ticket_id: str) -> str | None:
        """The person an agent chose for this ticket, if one did."""
        query = select(choices.c.customer_id).where(and_(
            choices.c.helpdesk == helpdesk, choices.c.ticket_id == ticket_id[:120]))
        with reading(self.engine) as connection:
            return connection.execute(query).scalar()

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
            audit_entry(connection, actor, "unlink", customer_id,
                        f"{kind} #{self.fingerprint(value)}")
        return True

    def remember(self, customer_id: str, display_name: str | None, name_folded: str | None,
                 postcode: str | None, *, city: str | None = None,
                 birth_year: int | None = None, last_order: dt.date | None = None) -> None:
        """Keep the few facts that tell this person apart from namesakes and housemates."""
        values = {"display_name": display_name, "name_folded": name_folded,
                  "postcode": postcode, "city": city and city[:100], "birth_year": birth_year,
                  "last_order": last_order, "updated_at": dt.datetime.now(dt.UTC)}
        with self._tx() as connection:
            changed = connection.execute(
                update(people).where(people.c.customer_id == customer_id).values(**values))
            if not changed.rowcount:  # unless a concurrent lookup of the same person did it
                connection.execute(insert_ignoring(connection, people),
                                   [{"customer_id": customer_id, **values}])

    def people(self, customer_ids: Iterable[str]) -> list[Person]:
        """The people with these ids, as candidates are shown."""
        ids = sorted(set(customer_ids))
        reads = self._reads.get()
        known = dict(reads.people) if reads is not None else {}
        missing = [i for i in ids if i not in known]
        if missing:
            query = select(people).where(people.c.customer_id.in_(missing))
            with reading(self.engine) as connection:
                found = {r.customer_id: _person(r) for r in connection.execute(query)}
            found |= {i: Person(i, None, None) for i in missing if i not in found}
            if reads is not None:
                reads.people.update(found)
            known |= found
        return [known[i] for i in ids]

    def search_people(self, folded: str | None = None, postcode: str | None = None,
                      limit: int = 20) -> list[Person]:
        """People whose name key contains every word of `folded` (`name_key`s, space-separated,
        in any order) and/or whose postcode is `postcode`."""
        terms = [people.c.name_folded.contains(word, autoescape=True)
                 for word in (folded or "").split()]
        if postcode:
            terms.append(people.c.postcode == postcode)
        if not terms:
            return []
        query = select(people).where(and_(*terms)).order_by(people.c.display_name).limit(limit)
        with self.engine.connect() as connection:
            return [Person(r.customer_id, r.display_name, r.postcode)
                    for r in connection.execute(query)]

    def holding(self, customer_ids: Iterable[str]) -> list[str]:
        """Those of these people something is kept about (a row of any table keyed by the
        person but the audit trail's), in the order given."""
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            return []
        query = union(*(select(table.c.customer_id).where(table.c.customer_id.in_(wanted))
                        for table in metadata.sorted_tables
                        if table is not audit and "customer_id" in table.c))
        with reading(self.engine) as connection:  # one round trip
            found = set(connection.execute(query).scalars())
        return [person for person in wanted if person in found]

    def forget(self, customer_id: str, actor: str) -> int:
        """Erase what we keep on a person (see `erase`); how many links."""
        return self.erase(customer_id, actor).rows.get(links.name, 0)

    def erase(self, customer_id: str, actor: str, removals: RemovalHook | None = None
              ) -> Erased:
        """Erase what we keep on a person: every row of every table keyed by the person (links,
        refusals, name, notes, contacts, events, helpdesk ids…) and the classes computed for
        their sources' ids; the audit keeps ids and counts only. `removals`, in the same
        transaction, queues what the helpdesks must take off (durable once this returns)."""
        with self._tx() as connection:
            held = [(r.kind, r.value, r.source) for r in connection.execute(
                select(links.c.kind, links.c.value, links.c.source).where(
                    links.c.customer_id == customer_id))]
            queued = removals(connection, _held_by(connection, customer_id)) if removals else 0
            rows = {writeback_targets.name: _erase_targets(connection, customer_id)}
            for table in metadata.sorted_tables:
                if table is not audit and "customer_id" in table.c:
                    rows[table.name] = int(connection.execute(delete(table).where(
                        table.c.customer_id == customer_id)).rowcount or 0)
            # a webhook event not worked yet names the person only in its payload
            rows[ticket_events.name] += _unworked_events(connection, [v for _, v, _ in held])
            own = [(kind, value) for kind, value, source in held if kind == source]
            rows[segments.name] = int(connection.execute(delete(segments).where(
                tuple_(segments.c.source, segments.c.external_id).in_(own))).rowcount or 0
                ) if own else 0
            counts = ", ".join(f"{n} {name}" for name, n in sorted(rows.items()) if n)
            audit_entry(connection, actor, "forget", customer_id,
                        f"{counts or 'nothing'}; {queued} helpdesk removal(s) queued")
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (
                None, "", ":memory:"):
            self._checkpoint()
        return Erased(customer_id, rows, {s for _, _, s in held if s and s != "agent"},
                      [(kind, value) for kind, value, _ in held], queued)

    def _checkpoint(self) -> None:
        """Copy the WAL into the file and empty it: erased rows' old pages live on in it."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def suppress(self, pairs: Iterable[tuple[str, str]], actor: str,
                 customer_id: str | None = None) -> int:
        """Put identifiers on the suppression list (a keyed digest only): not learnt again
        until lifted (audited, by kind only); how many."""
        return self._listed(suppression.add, "suppress", pairs, actor, customer_id)

    def unsuppress(self, pairs: Iterable[tuple[str, str]], actor: str) -> int:
        """Lift identifiers off the suppression list (audited); how many were on it."""
        return self._listed(suppression.lift, "unsuppress", pairs, actor, None)

    def _listed(self, change: Callable[[Connection, bytes, list[tuple[str, str]]], int],
                action: str, pairs: Iterable[tuple[str, str]], actor: str,
                customer_id: str | None) -> int:
        """Change the suppression list and audit it (counts and kinds, never a value)."""
        wanted = list(dict.fromkeys(pairs))
        with self._tx() as connection:
            count = change(connection, self._key, wanted)
            kinds = ", ".join(sorted({kind for kind, _ in wanted}))
            audit_entry(connection, actor, action, customer_id, f"{count}: {kinds}")
        return count

    def suppressed(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The identifiers among these on the suppression list."""
        with reading(self.engine) as connection:
            return suppression.held(connection, self._key, pairs)

    def audit_trail(self, customer_id: str | None = None) -> list[dict[str, object]]:
        """The audit entries, oldest first (of one person, or all)."""
        query = select(audit).order_by(audit.c.id)
        if customer_id:
            query = query.where(audit.c.customer_id == customer_id)
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]


def _held_by(connection: Connection, customer_id: str) -> list[HeldBy]:
    """Where the helpdesks hold this person (`targets.person_holdings`): their ids there,
    and their tickets, in order."""
    found: list[HeldBy] = []
    for helpdesk, (requesters, tickets) in sorted(person_holdings(connection,
                                                                  customer_id).items()):
        found += [HeldBy(helpdesk, requester_id=r) for r in sorted(requesters)]
        found += [HeldBy(helpdesk, ticket_id=t) for t in sorted(tickets)]
    return found


def _erase_targets(connection: Connection, customer_id: str) -> int:
    """Forget when we last wrote to each of the person's helpdesk records (their requester
    ids and tickets: read before the rows naming them go); how many."""
    targets = person_targets(connection, customer_id)
    return sum(int(connection.execute(delete(writeback_targets).where(where)).rowcount or 0)
               for where in under_targets(writeback_targets, targets))


def _secure_delete(connection: Any, _record: object) -> None:
    """SQLite overwrites what a delete frees (else an erased row's bytes stay in the file)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
