"""Access requests: everything connector itself keeps on one person, kind by kind, as JSON-ready
mappings (`footprint`), read from the store only: the sources keep their own records, and each
identifier says which source vouches for it. Pure reads, one function per kind; `TABLES` says
which kind shows each table keyed to a person (the suppression list, keyed by a digest of an
identifier, is checked for the person's identifiers and those given), `NOTHING_PERSONAL` the
tables that hold nothing about anyone. `known` answers the cheap question first: does the
store know this id at all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Table, and_, bindparam, exists, or_, select
from sqlalchemy.engine import Connection

from connector.customer import suppression
from connector.customer.targets import person_targets, under_targets
from connector.identifiers import PERSONAL_KINDS
from connector.store.engine import reading
from connector.store.schema import (
    audit,
    blocked,
    choices,
    contacts,
    helpdesk_people,
    links,
    loyalty_tiers,
    people,
    review_alerts,
    segments,
    suppressed,
    ticket_events,
    writeback_targets,
    writebacks,
)
from connector.store.schema import changes as changes_table
from connector.store.schema import notes as notes_table

Row = dict[str, Any]
CHUNK = 500  # values per IN (...): far under every database's limit on bound parameters

# one round trip: the person has a link or a row of facts
KNOWN = select(or_(exists().where(links.c.customer_id == bindparam("customer")),
                   exists().where(people.c.customer_id == bindparam("customer"))))


def known(engine: Engine, customer_id: str) -> bool:
    """Whether the link store knows this customer id (a link, or their facts): writes keyed
    by an id it does not know would keep data nobody can reach, nor `forget` erase."""
    with reading(engine) as connection:
        return bool(connection.execute(KNOWN, {"customer": customer_id}).scalar())


def _value(value: Any) -> Any:
    """A column's value as JSON writes it: moments in ISO 8601 with their offset (UTC when
    the database kept none), days in ISO 8601."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(connection: Connection, table: Table, columns: Iterable[str], where: Any,
          order: Iterable[str] = ()) -> list[Row]:
    """Some columns of a table's rows, JSON-ready."""
    names = list(columns)
    query = select(*(table.c[n] for n in names)).where(where).order_by(
        *(table.c[n] for n in order))
    return [{n: _value(v) for n, v in zip(names, row, strict=True)}
            for row in connection.execute(query)]


def _json(text: str | None) -> Any:
    """A stored JSON document as data (the text itself when it is not JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = iter(values)
    while chunk := list(islice(items, CHUNK)):
        yield chunk


def linked_identifiers(connection: Connection, customer_id: str) -> list[Row]:
    """Each identifier linked to the person, the source that vouches for it (null: learnt from
    a helpdesk ticket or an agent), when it was learnt and last confirmed."""
    return _rows(connection, links, ("kind", "value", "source", "learned_at", "confirmed_at"),
                 links.c.customer_id == customer_id, ("learned_at", "kind", "value"))


def refused_identifiers(connection: Connection, customer_id: str) -> list[Row]:
    """Identifiers an admin unlinked from the person and refuses from now on."""
    return _rows(connection, blocked, ("kind", "value", "blocked_at"),
                 blocked.c.customer_id == customer_id, ("blocked_at",))


def person(connection: Connection, customer_id: str) -> Row | None:
    """The facts kept to tell the person apart: name, postcode, city, birth year, last order."""
    found = _rows(connection, people, ("display_name", "name_folded", "postcode", "city",
                                       "birth_year", "last_order", "updated_at"),
                  people.c.customer_id == customer_id)
    return found[0] if found else None


def notes(connection: Connection, customer_id: str) -> list[Row]:
    """Agents' notes on the person, oldest first."""
    return _rows(connection, notes_table, ("id", "text", "author", "created_at", "updated_at"),
                 notes_table.c.customer_id == customer_id, ("created_at", "id"))


def contacts_of(connection: Connection, customer_id: str) -> list[Row]:
    """The helpdesk requests recorded as the person's contacts."""
    return _rows(connection, contacts, ("helpdesk", "ticket_id", "channel", "subject", "at"),
                 contacts.c.customer_id == customer_id, ("at", "id"))


def ticket_events_of(connection: Connection, customer_id: str) -> list[Row]:
    """The helpdesk events worked for the person (the event itself while not yet worked)."""
    found = _rows(connection, ticket_events, ("helpdesk", "kind", "ticket_id", "received_at",
                                              "state", "done_at", "error", "payload"),
                  ticket_events.c.customer_id == customer_id, ("received_at", "id"))
    return [{**row, "payload": _json(row["payload"])} for row in found]


def ticket_choices(connection: Connection, customer_id: str) -> list[Row]:
    """The tickets for which an agent chose this person among several."""
    return _rows(connection, choices, ("helpdesk", "ticket_id", "chosen_at"),
                 choices.c.customer_id == customer_id, ("chosen_at",))


def helpdesk_requesters(connection: Connection, customer_id: str) -> list[Row]:
    """Who the person is in each helpdesk (its requester id), and when last seen there."""
    return _rows(connection, helpdesk_people, ("helpdesk", "requester_id", "last_seen"),
                 helpdesk_people.c.customer_id == customer_id, ("helpdesk", "requester_id"))


def changes(connection: Connection, customer_id: str) -> list[Row]:
    """The corrections and actions agents asked of a source for the person (the values while
    not settled; then only what happened, in words)."""
    found = _rows(connection, changes_table, (
        "id", "kind", "source", "name", "item", "payload", "state", "actor", "helpdesk",
        "ticket_id", "created_at", "updated_at", "outcome"),
        changes_table.c.customer_id == customer_id, ("created_at", "id"))
    return [{**row, "payload": _json(row["payload"])} for row in found]


def segments_of(connection: Connection, customer_id: str) -> list[Row]:
    """The classes the `segments` job computed for the person, by each source's own id of them."""
    theirs = [and_(segments.c.source == kind, segments.c.external_id == value)
              for kind, value in connection.execute(
                  select(links.c.kind, links.c.value).where(links.c.customer_id == customer_id))
              if kind not in PERSONAL_KINDS]
    if not theirs:
        return []
    return _rows(connection, segments, ("source", "external_id", "abc_class", "rfm_r", "rfm_f",
                                        "rfm_m", "abc_overridden", "computed_at"),
                 or_(*theirs), ("source", "external_id"))


def loyalty_tiers_of(connection: Connection, customer_id: str) -> list[Row]:
    """The loyalty tier last told by each loyalty feed, the one before and the day it changed."""
    return _rows(connection, loyalty_tiers, ("source", "external_id", "tier", "previous_tier",
                                             "changed_on", "seen_at"),
                 loyalty_tiers.c.customer_id == customer_id, ("source", "external_id"))


def review_alerts_of(connection: Connection, customer_id: str) -> list[Row]:
    """The notes a new review of the person put on their ticket (one per review and helpdesk)."""
    return _rows(connection, review_alerts, ("source", "review_key", "helpdesk", "ticket_id",
                                             "sent_at"),
                 review_alerts.c.customer_id == customer_id, ("sent_at",))


def audit_entries(connection: Connection, customer_id: str) -> list[Row]:
    """The audit trail about the person: entries under their id, and those naming it (a merge
    that absorbed them, a split towards them)."""
    if not customer_id:  # every detail contains the empty text
        return []
    return _rows(connection, audit, ("at", "actor", "action", "customer_id", "detail"),
                 or_(audit.c.customer_id == customer_id,
                     audit.c.detail.contains(customer_id, autoescape=True)), ("id",))


def _of_targets(connection: Connection, table: Table, columns: tuple[str, ...],
                targets: Mapping[str, set[str]]) -> list[Row]:
    found: list[Row] = []
    for where in under_targets(table, targets, CHUNK):
        found += _rows(connection, table, ("helpdesk", "target", *columns), where, ("target",))
    return found


def writebacks_of(connection: Connection, customer_id: str) -> list[Row]:
    """The write-backs queued for the person's helpdesk records (tags, fields, a note), with
    their state; sent ones are no longer kept."""
    found = _of_targets(connection, writebacks, ("state", "not_before", "error", "payload"),
                        person_targets(connection, customer_id))
    return [{**row, "payload": _json(row["payload"])} for row in found]


def writeback_times(connection: Connection, customer_id: str) -> list[Row]:
    """When each of the person's helpdesk records was last written to."""
    return _of_targets(connection, writeback_targets, ("sent_at",),
                       person_targets(connection, customer_id))


def suppressed_of(connection: Connection, key: bytes, customer_id: str,
                  given: Iterable[tuple[str, str]] = ()) -> list[Row]:
    """The identifiers, among the person's (linked or refused) and those given, that are on the
    suppression list (`forget --suppress`), and since when: the list keeps a keyed digest."""
    pairs = {(r.kind, r.value) for table in (links, blocked) for r in connection.execute(
        select(table.c.kind, table.c.value).where(table.c.customer_id == customer_id))}
    by_digest = {suppression.digest(key, k, v): (k, v) for k, v in pairs | set(given)}
    found: list[Row] = []
    for chunk in _chunks(sorted(by_digest)):
        query = select(suppressed.c.digest, suppressed.c.suppressed_at).where(
            suppressed.c.digest.in_(chunk))
        found += [{"kind": by_digest[r.digest][0], "value": by_digest[r.digest][1],
                   "suppressed_at": _value(r.suppressed_at)} for r in connection.execute(query)]
    return sorted(found, key=lambda row: (row["kind"], row["value"]))


Reader = Callable[[Connection, str], Any]
# each kind of the export: what reads it, and the tables it reads (every table keyed to a person)
KINDS: dict[str, tuple[Reader, tuple[str, ...]]] = {
    "identifiers": (linked_identifiers, ("identity_links",)),
    "refused_identifiers": (refused_identifiers, ("identity_blocks",)),
    "person": (person, ("customers",)),
    "notes": (notes, ("notes",)),
    "contacts": (contacts_of, ("contacts",)),
    "ticket_events": (ticket_events_of, ("ticket_events",)),
    "ticket_choices": (ticket_choices, ("ticket_choices",)),
    "helpdesk_requesters": (helpdesk_requesters, ("helpdesk_people",)),
    "changes": (changes, ("changes",)),
    "writebacks": (writebacks_of, ("writebacks",)),
    "writeback_times": (writeback_times, ("writeback_targets",)),
    "segments": (segments_of, ("segments",)),
    "loyalty_tiers": (loyalty_tiers_of, ("loyalty_tiers",)),
    "review_alerts": (review_alerts_of, ("review_alerts",)),
    "audit": (audit_entries, ("audit_log",)),
}
SUPPRESSED = "suppressed"  # the kind showing the suppression list (it needs the list's key)
TABLES = {table: kind for kind, (_, tables) in KINDS.items() for table in tables} | {
    "suppressed_identifiers": SUPPRESSED}
# counts, cursors and the jobs' own machinery: about no one
NOTHING_PERSONAL = frozenset({"brand_nps", "feed_cursors", "job_locks", "job_runs",
                              "record_changes"})


def footprint(engine: Engine, customer_id: str | None, key: bytes = suppression.UNKEYED,
              given: Iterable[tuple[str, str]] = (), now: dt.datetime | None = None) -> Row:
    """Everything kept on the person, every kind of `KINDS` (empty when none is kept, or when
    there is no person: None) and which of their identifiers (and of those `given`) are
    suppressed, read in one transaction; `key`, the suppression list's."""
    exported: Row = {"customer_id": customer_id,
                     "exported_at": _value(now or dt.datetime.now(dt.UTC))}
    with engine.connect() as connection:
        for kind, (read, _) in KINDS.items():
            exported[kind] = read(connection, customer_id) if customer_id else (
                None if kind == "person" else [])
        exported[SUPPRESSED] = suppressed_of(connection, key, customer_id or "", given)
    return exported


def anything_kept(exported: Row) -> bool:
    """Whether a footprint holds anything (a kind not empty)."""
    return any(exported[kind] for kind in (*KINDS, SUPPRESSED))
