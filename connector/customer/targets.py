"""Where a person is in the helpdesks we write back to: the write-back targets
(`requester|ticket`) that may be theirs, for the export (what we queued or sent about them) and
for `forget` (erased with them)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import Table, and_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from connector.store.schema import (
    changes,
    choices,
    contacts,
    helpdesk_people,
    review_alerts,
    ticket_events,
)


def person_holdings(connection: Connection, customer_id: str
                    ) -> dict[str, tuple[set[str], set[str]]]:
    """Where the helpdesks hold the person, for each helpdesk: their requester ids there, and
    the tickets we know are theirs — from every table that names one (the requests recorded,
    the events worked, the agents' choices, the tickets we opened for their reviews, the
    changes asked from their record). `forget` queues its removals there, and erases the
    write-back targets made of them; the export reads them the same way."""
    held: dict[str, tuple[set[str], set[str]]] = {}
    people = select(helpdesk_people.c.helpdesk, helpdesk_people.c.requester_id).where(
        helpdesk_people.c.customer_id == customer_id)
    for row in connection.execute(people):
        held.setdefault(row.helpdesk, (set(), set()))[0].add(row.requester_id)
    for table in (contacts, ticket_events, choices, review_alerts, changes):
        query = select(table.c.helpdesk, table.c.ticket_id).where(
            table.c.customer_id == customer_id, table.c.ticket_id.is_not(None))
        for row in connection.execute(query):
            if row.helpdesk:
                held.setdefault(row.helpdesk, (set(), set()))[1].add(row.ticket_id)
    return held


def person_targets(connection: Connection, customer_id: str) -> dict[str, set[str]]:
    """For each helpdesk, the write-back targets (`requester|ticket`) that may be the
    person's: their requester ids and their tickets, alone or together."""
    return {helpdesk: target_keys(requesters, tickets)
            for helpdesk, (requesters, tickets) in person_holdings(connection,
                                                                   customer_id).items()}


def target_keys(requesters: set[str], tickets: set[str]) -> set[str]:
    """The targets a write-back about these requesters and tickets is queued under."""
    return ({f"{r}|" for r in requesters} | {f"|{t}" for t in tickets}
            | {f"{r}|{t}" for r in requesters for t in tickets})


def under_targets(table: Table, targets: Mapping[str, set[str]], chunk: int = 500
                  ) -> Iterator[ColumnElement[bool]]:
    """Conditions for the rows of a table keyed by helpdesk and target (the write-back queue,
    the last writes) under these targets: one per helpdesk and `chunk` keys at most (the
    parameters one statement takes)."""
    for helpdesk, keys in sorted(targets.items()):
        ordered = sorted(keys)
        for start in range(0, len(ordered), chunk):
            yield and_(table.c.helpdesk == helpdesk,
                       table.c.target.in_(ordered[start:start + chunk]))
