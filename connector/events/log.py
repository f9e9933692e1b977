"""The event log: every helpdesk event is written here before it is acknowledged, then worked
by whichever process claims it (so an acknowledged event survives the process dying right
after), and the contact history the events build. SQLAlchemy Core on the link store's
database: SQLite by default, PostgreSQL for several processes (claims are conditional updates,
so two workers never take the same event).

What is kept is little: an event's identifiers wait in the log only until it is worked, then
only its kind and ids remain; a contact is a date, a channel, the ticket's id and its subject
(cut short), erased with the customer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from connector.helpdesk.base import TicketEvent
from connector.identifiers import Identifiers
from connector.models import ContactEvent
from connector.store.engine import create_tables, insert_ignoring, reading, upsert
from connector.store.schema import SUBJECT_MAX, contacts, helpdesk_people, ticket_events

PENDING, WORKING, DONE, FAILED = "pending", "working", "done", "failed"
# on PostgreSQL, each event recorded is announced on this channel (NOTIFY, sent when its
# transaction commits): a worker in another process listens and works it at once
CHANNEL = "connector_events"
# a person's requests, newest first, as the sidebar reads them (built once: see LINKS_OF)
TICKETS_OF = select(contacts).where(contacts.c.customer_id == bindparam("customer")).order_by(
    contacts.c.at.desc()).limit(500)


@dataclass(frozen=True)
class Claimed:
    """An event a worker took, with how many times it was tried before, and when it was taken
    (the claim: what the worker finishes, fails or releases is only ever its own claim)."""

    id: int
    event: TicketEvent
    attempts: int
    claimed_at: dt.datetime | None = None


def event_json(event: TicketEvent) -> str:
    """The event as stored until it is worked."""
    data = dataclasses.asdict(event)
    data["occurred_at"] = event.occurred_at.isoformat() if event.occurred_at else None
    return json.dumps(data, separators=(",", ":"))


def event_from_json(text: str) -> TicketEvent:
    """The event back from the log."""
    data: dict[str, Any] = json.loads(text)
    ids = data.pop("identifiers")
    occurred = data.pop("occurred_at")
    identifiers = Identifiers(
        emails=tuple(ids["emails"]), phones=tuple(ids["phones"]), cards=tuple(ids["cards"]),
        handles=tuple(ids["handles"]), externals=tuple((s, v) for s, v in ids["externals"]))
    return TicketEvent(identifiers=identifiers,
                       occurred_at=dt.datetime.fromisoformat(occurred) if occurred else None,
                       **data)


class EventLog:
    """Record, claim, finish and forget helpdesk events; keep the contact history."""

    def __init__(self, engine: Engine, lease_s: int = 300, max_attempts: int = 8,
                 channel: str = CHANNEL) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", channel):
            raise ValueError(f"not a channel name: {channel!r}")
        self.engine = engine
        self.channel = channel  # announced on (PostgreSQL): `events.wake`
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        create_tables(engine, [ticket_events, contacts, helpdesk_people])

    def record(self, event: TicketEvent) -> tuple[int, bool]:
        """Write an event before it is acknowledged: (its id, whether it was already known —
        a duplicate delivery, acknowledged again and worked once)."""
        row = {"helpdesk": event.helpdesk, "key": event.key[:160], "kind": event.kind,
               "ticket_id": event.ticket_id, "received_at": _now(), "payload": event_json(event),
               "state": PENDING, "attempts": 0}
        try:
            written = insert(ticket_events).values(**row).returning(ticket_events.c.id)
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":  # workers elsewhere: wake up
                    recorded = written.cte("recorded")  # one round trip for both
                    created = connection.execute(select(
                        recorded.c.id, func.pg_notify(self.channel, "")))
                else:
                    created = connection.execute(written)
                return int(created.scalar_one()), False
        except IntegrityError:
            with self.engine.connect() as connection:
                known = connection.execute(select(ticket_events.c.id).where(and_(
                    ticket_events.c.helpdesk == event.helpdesk,
                    ticket_events.c.key == event.key[:160]))).scalar_one()
            return int(known), True

    def claim(self, limit: int = 20) -> list[Claimed]:
        """Take pending events (and those whose worker died: lease expired), oldest first, in
        one statement: the rows are locked as they are taken and, on PostgreSQL, those another
        worker is taking are skipped (SKIP LOCKED), so concurrent workers never share an event
        nor wait on each other."""
        now = _now()
        expired = now - dt.timedelta(seconds=self.lease_s)
        ready = or_(ticket_events.c.not_before.is_(None), ticket_events.c.not_before <= now)
        wanted = select(ticket_events.c.id).where(or_(
            and_(ticket_events.c.state == PENDING, ready),
            and_(ticket_events.c.state == WORKING, ticket_events.c.claimed_at < expired),
        )).order_by(ticket_events.c.id).limit(limit).with_for_update(skip_locked=True)
        with self.engine.begin() as connection:
            won = connection.execute(
                update(ticket_events).where(ticket_events.c.id.in_(wanted.scalar_subquery()))
                .values(state=WORKING, claimed_at=now, attempts=ticket_events.c.attempts + 1)
                .returning(ticket_events.c.id, ticket_events.c.payload,
                           ticket_events.c.attempts)).all()
        return [Claimed(row.id, event_from_json(row.payload), row.attempts - 1, now)
                for row in sorted(won, key=lambda row: row.id) if row.payload]

    def finish(self, event_id: int, customer_id: str | None,
               claim: dt.datetime | None = None) -> bool:
        """The event is worked: keep its kind and ids only. With the worker's `claim`, only if
        it still holds the event (False: another process took it over, and works it)."""
        with self.engine.begin() as connection:
            return bool(connection.execute(
                update(ticket_events).where(_held(event_id, claim))
                .values(state=DONE, done_at=_now(), payload=None, customer_id=customer_id,
                        error=None)).rowcount)

    def fail(self, event_id: int, attempts: int, error: str,
             claim: dt.datetime | None = None) -> bool:
        """The work failed: try again later (backing off), or give up after max_attempts.
        With the worker's `claim`, only if it still holds the event."""
        delay = min(2 ** attempts * 5, 3600)
        values: dict[str, Any] = {"error": error[:200], "claimed_at": None}
        if attempts + 1 >= self.max_attempts:
            values |= {"state": FAILED, "done_at": _now(), "payload": None}
        else:
            values |= {"state": PENDING,
                       "not_before": _now() + dt.timedelta(seconds=delay)}
        with self.engine.begin() as connection:
            return bool(connection.execute(update(ticket_events)
                                           .where(_held(event_id, claim))
                                           .values(**values)).rowcount)

    def release(self, event_id: int, claim: dt.datetime | None) -> bool:
        """Give back an event this claim holds, untried: pending at once for any worker, the
        attempt not counted (its worker stops, or the database failed under it). False when
        the claim no longer holds it."""
        with self.engine.begin() as connection:
            return bool(connection.execute(
                update(ticket_events).where(_held(event_id, claim))
                .values(state=PENDING, claimed_at=None, not_before=None,
                        attempts=ticket_events.c.attempts - 1)).rowcount)

    def counts(self) -> dict[str, int]:
        """How many events are in each state (for the admin page and metrics)."""
        query = select(ticket_events.c.state, func.count()).group_by(ticket_events.c.state)
        with self.engine.connect() as connection:
            return {state: int(n) for state, n in connection.execute(query)}

    def state(self, event_id: int) -> dict[str, Any] | None:
        """One event's row (tests and the admin page)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(ticket_events).where(
                ticket_events.c.id == event_id)).first()
        return dict(row._mapping) if row else None

    def add_contact(self, customer_id: str, event: TicketEvent,
                    connection: Connection | None = None) -> bool:
        """Record a new request in the customer's history (one per ticket); False if known.
        Given a connection, in its transaction."""
        if not event.ticket_id:
            return False
        if connection is None:
            with self.engine.begin() as own:
                return self.add_contact(customer_id, event, own)
        row = {"customer_id": customer_id, "helpdesk": event.helpdesk,
               "ticket_id": event.ticket_id, "channel": event.channel,
               "subject": (event.subject or "")[:SUBJECT_MAX] or None,
               "at": event.occurred_at or _now()}
        # the ticket known already: nothing inserted, and the transaction goes on
        return connection.execute(insert_ignoring(connection, contacts).values(**row)
                                  .returning(contacts.c.id)).first() is not None

    def remember_requester(self, helpdesk: str, requester_id: str, customer_id: str,
                           connection: Connection | None = None) -> None:
        """This helpdesk's requester is this customer, seen now (one statement, whoever
        else adds them at the same time). Given a connection, in its transaction."""
        row = {"helpdesk": helpdesk, "requester_id": requester_id[:80],
               "customer_id": customer_id, "last_seen": _now()}
        if connection is not None:
            upsert(connection, helpdesk_people, row, keys=("helpdesk", "requester_id"))
            return
        with self.engine.begin() as own:
            upsert(own, helpdesk_people, row, keys=("helpdesk", "requester_id"))

    def requesters_since(self, since: dt.datetime, helpdesks: list[str],
                         limit: int) -> dict[str, list[tuple[str, str]]]:
        """Customers seen in these helpdesks since then, most recent first (at most `limit`),
        each with their (helpdesk, requester id) pairs."""
        seen = and_(helpdesk_people.c.helpdesk.in_(helpdesks),
                    helpdesk_people.c.last_seen >= since)
        latest = func.max(helpdesk_people.c.last_seen)
        people = select(helpdesk_people.c.customer_id).where(seen).group_by(
            helpdesk_people.c.customer_id).order_by(latest.desc(),
                                                    helpdesk_people.c.customer_id).limit(limit)
        found: dict[str, list[tuple[str, str]]] = {}
        with self.engine.connect() as connection:
            for customer_id in connection.execute(people).scalars():
                found[customer_id] = []
            rows = connection.execute(select(helpdesk_people).where(
                seen, helpdesk_people.c.customer_id.in_(list(found))).order_by(
                helpdesk_people.c.helpdesk, helpdesk_people.c.requester_id))
            for row in rows:
                found[row.customer_id].append((row.helpdesk, row.requester_id))
        return found

    def requesters_of(self, customer_id: str, helpdesks: list[str]) -> list[tuple[str, str]]:
        """Who this customer is in these helpdesks: (helpdesk, requester id), most recently
        seen first."""
        query = select(helpdesk_people.c.helpdesk, helpdesk_people.c.requester_id).where(
            helpdesk_people.c.customer_id == customer_id,
            helpdesk_people.c.helpdesk.in_(helpdesks)).order_by(
            helpdesk_people.c.last_seen.desc(), helpdesk_people.c.requester_id)
        with self.engine.connect() as connection:
            return [(row.helpdesk, row.requester_id) for row in connection.execute(query)]

    def contacts_of(self, customer_id: str) -> list[ContactEvent]:
        """The requests a person made through our helpdesks, as the contact summary counts."""
        return [contact for _, contact in self.tickets_of(customer_id)]

    def tickets_of(self, customer_id: str) -> list[tuple[tuple[str, str], ContactEvent]]:
        """The same requests, each with its ticket as (helpdesk, ticket id), newest first."""
        with reading(self.engine) as connection:
            return [((r.helpdesk, r.ticket_id),
                     ContactEvent(date=_aware(r.at), channel=r.channel, reason=r.subject))
                    for r in connection.execute(TICKETS_OF, {"customer": customer_id})]


def _held(event_id: int, claim: dt.datetime | None) -> ColumnElement[bool]:
    """This event, and with a claim, only while that claim holds it."""
    if claim is None:
        return ticket_events.c.id == event_id
    return and_(ticket_events.c.id == event_id, ticket_events.c.state == WORKING,
                ticket_events.c.claimed_at == claim)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
