"""The outbox: corrections agents ask of a source (a corrected email, a new mobile) and the
back-office actions they run (open a return), kept in the database before the agent hears
"accepted", sent by the worker with the change's id as the idempotency key, retried with
back-off, then settled.

Each change is one row. `submit` writes it with its audit entry in one transaction, so a
process killed after answering the agent still sends it. The worker claims due rows; a row
claimed by a process that died is claimed again once its lease is over and sent with the same
idempotency key (`Idempotency-Key` header), which the source uses to apply it once. A source
that refuses the change (a 4xx) fails it at once, with the reason in words; one that cannot
be reached is tried again later, up to `max_attempts`. A correction, once sent, is read back
from that source (its cache dropped first): confirmed when the source shows the new value,
`unconfirmed` when it still does not after a few readings. An action is `done` once the
source took it, and leaves its note on the ticket it was run from. A correction confirmed is
told to marketing when the manifest has a `marketing:` sink: a row of kind `marketing`, kept in
the confirmation's transaction and sent like the others (`events.marketing`). The values a
change carries are erased as soon as it is settled: the row keeps who, what, when, outcome.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from connector.customer.corrections import shows
from connector.customer.profile import ProfileAssembler
from connector.events.marketing import HELD, MARKETING, MarketingSink, deliver, handover
from connector.events.writeback import WriteBackQueue
from connector.helpdesk.base import WriteBack
from connector.identifiers import Identifiers
from connector.models import Consent, CustomerProfile
from connector.sources.base import SourceError, SourceMisconfigured, SourceUnavailable
from connector.store.engine import audit_entry, create_tables, insert_ignoring, reading
from connector.store.schema import audit, changes

log = logging.getLogger(__name__)
PENDING, SENDING, SENT = "pending", "sending", "sent"
CONFIRMED, UNCONFIRMED, FAILED, DONE = "confirmed", "unconfirmed", "failed", "done"
SETTLED = frozenset({CONFIRMED, UNCONFIRMED, FAILED, DONE, HELD})  # HELD: kept from marketing
AGENT_KINDS = ("correction", "action")  # what agents asked (not the deliveries to marketing)
CONFIRM_READS = 4  # readings of the source before a sent change is called unconfirmed
CONFIRM_AFTER_S = 20  # between two readings


class DuplicateChange(ValueError):
    """A change id given again for another change (a form or a key reused elsewhere)."""


@dataclass(frozen=True)
class ChangeState:
    """A change as the agent and the API see it: never the values it carries."""

    id: str
    customer_id: str
    source: str
    kind: str
    name: str
    item: str | None
    state: str
    outcome: str | None
    actor: str
    created_at: dt.datetime
    updated_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        """The change for the API."""
        return {"id": self.id, "customer_id": self.customer_id, "source": self.source,
                "kind": self.kind, "field": self.name, "item": self.item, "state": self.state,
                "outcome": self.outcome, "actor": self.actor,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


class Outbox:
    """Changes kept until their source has applied them (see the module's doc)."""

    def __init__(self, engine: Engine, assembler: ProfileAssembler, lease_s: float = 120,
                 max_attempts: int = 8,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 notes: WriteBackQueue | None = None,
                 noted: frozenset[str] = frozenset(),
                 marketing: MarketingSink | None = None) -> None:
        self.engine = engine
        self.marketing = marketing  # told of the confirmed corrections (`events.marketing`)
        self.assembler = assembler
        # an action done leaves its note on the ticket, in the helpdesks that take notes back
        self.notes = notes
        self.noted = noted
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.clock = clock
        create_tables(engine, [changes, audit])

    def submit(self, customer_id: str, source: str, field: str, values: dict[str, Any],
               actor: str, helpdesk: str | None = None, ticket_id: str | None = None,
               kind: str = "correction", item: str | None = None,
               change_id: str | None = None) -> ChangeState:
        """Keep a correction (`values`: new, old, external) or an action (`field`: its name;
        `values`: key, external, inputs, and the `note` its ticket gets once done) to send,
        audited in the same transaction; its state. `change_id`, the id a single-use form or
        an API call's Idempotency-Key gave it: kept once, the same id again gives back the
        change kept the first time (DuplicateChange when that was another change)."""
        if change_id is not None and (kept := self.get(change_id)) is not None:
            return _same(kept, customer_id, field)
        change_id = change_id or secrets.token_hex(16)
        now = self.clock()
        row = {"id": change_id, "customer_id": customer_id, "source": source,
               "kind": kind, "name": field, "item": item,
               "payload": json.dumps({**values, "change": change_id}), "state": PENDING,
               "attempts": 0, "not_before": now, "actor": actor[:80], "helpdesk": helpdesk,
               "ticket_id": ticket_id, "created_at": now, "updated_at": now}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(changes), [row])
                audit_entry(connection, actor, "change.requested", customer_id,
                            f"{field} at {source} (change {change_id})")
        except IntegrityError:  # the same form sent twice at once: the other one kept it
            kept = self.get(change_id)
            if kept is None:
                raise
            return _same(kept, customer_id, field)
        state = self.get(change_id)
        assert state is not None
        return state

    def get(self, change_id: str) -> ChangeState | None:
        """One change's state, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(changes).where(changes.c.id == change_id)).first()
        return _state(row) if row is not None else None

    def of(self, customer_id: str, since: dt.datetime | None = None,
           limit: int | None = None, kinds: Collection[str] | None = None) -> list[ChangeState]:
        """A customer's changes, newest first (those updated since `since`, at most `limit`,
        of `kinds` only — AGENT_KINDS: what the record shows)."""
        query = _changes_of(since is not None, limit, tuple(kinds) if kinds is not None else None)
        params: dict[str, object] = {"customer": customer_id}
        if since is not None:
            params["since"] = since
        with reading(self.engine) as connection:  # every sidebar asks: one round trip
            return [_state(row) for row in connection.execute(query, params)]

    def counts(self) -> dict[str, int]:
        """How many changes are in each state (for the metrics and the admin page)."""
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for (state,) in connection.execute(select(changes.c.state)):
                found[state] = found.get(state, 0) + 1
        return found

    def send_due(self, limit: int = 20) -> int:
        """Send the due changes and read back the sent ones; how many were worked."""
        claimed = self._claim(limit)
        sink_down = False  # marketing did not answer: its other deliveries wait, not each
        for row in claimed:
            try:
                if row.kind == MARKETING:
                    sink_down = self._deliver(row, sink_down)
                elif row.state == SENT:
                    self._confirm(row)
                else:
                    self._send(row)
            except Exception:  # one change's failure never stops the others
                log.exception("change %s could not be worked", row.id)
                self._unworked(row)
        return len(claimed)

    def _unworked(self, row: Any) -> None:
        """A change our own code failed on: due again later (sent again with its key if it
        was being sent, read again if it was sent), failed after `max_attempts` tries."""
        if row.attempts + 1 >= self.max_attempts:
            self._settle(row, FAILED, "connector could not work this change "
                                      f"({row.attempts + 1} tries): see its log")
            return
        self._later(row.id, SENT if row.state == SENT else PENDING, row.attempts + 1,
                    "connector could not work this change: it will try again")

    def _claim(self, limit: int) -> list[Any]:
        """Take due changes: pending ones, sent ones due a reading, and those a dead process
        held past their lease."""
        now = self.clock()
        expired = now - dt.timedelta(seconds=self.lease_s)
        due = select(changes.c.id, changes.c.state).where(or_(
            and_(changes.c.state.in_((PENDING, SENT)), changes.c.not_before <= now),
            and_(changes.c.state == SENDING, changes.c.claimed_at < expired),
        )).order_by(changes.c.not_before, changes.c.id).limit(limit)
        taken = []
        with self.engine.begin() as connection:
            for row in connection.execute(due).all():
                claimed_state = SENT if row.state == SENT else SENDING
                won = connection.execute(
                    update(changes).where(and_(changes.c.id == row.id,
                                               changes.c.state == row.state))
                    .values(state=claimed_state, claimed_at=now,
                            not_before=now + dt.timedelta(seconds=self.lease_s))
                    .returning(*changes.c)).first()
                if won is not None:
                    taken.append(won)
        return taken

    def _send(self, row: Any) -> None:
        """Send one change through its source's guard."""
        values = json.loads(row.payload or "{}")
        source = self.assembler.sources.get(row.source)
        guard = self.assembler.guards.get(row.source)
        if source is None or guard is None:
            self._settle(row, FAILED, f"the source {row.source} is no longer in the manifest")
            return
        action = row.kind == "action"
        sent = {k: v for k, v in values.items() if k != "note"}
        try:
            if action:
                guard.run(lambda: source.act(row.name, sent))
            else:
                guard.run(lambda: source.write(row.name, sent))
        except SourceUnavailable as exc:
            if row.attempts + 1 >= self.max_attempts:
                self._settle(row, FAILED, f"{row.source} did not answer after "
                                          f"{row.attempts + 1} tries: {exc.public}"[:200])
            else:
                self._later(row.id, PENDING, row.attempts + 1, f"{row.source} did not answer "
                            f"({exc.public}): tried again later"[:200],
                            delay_s=min(2 ** row.attempts * 10, 1800))
            return
        except (SourceMisconfigured, SourceError) as exc:  # refused: sending again will not do
            self._settle(row, FAILED, f"{row.source} refused the change: {exc.public}"[:200])
            return
        if action:  # the source's answer is its word: done, and said on the ticket
            self._leave_note(row, values.get("note"))
            self._settle(row, DONE, f"{row.source} took it")
            return
        self._later(row.id, SENT, 0, f"sent to {row.source}; reading it back", delay_s=0)
        self._audit(row, "change.sent")
        self._confirm(_row_of(self.engine, row.id))

    def _leave_note(self, row: Any, note: object) -> None:
        """The action's note on the ticket it was run from, through the write-back queue."""
        if (self.notes is None or not isinstance(note, str) or not note or not row.ticket_id
                or row.helpdesk not in self.noted):
            return
        self.notes.enqueue(WriteBack(helpdesk=row.helpdesk, ticket_id=row.ticket_id,
                                     note=note, keeps_tags=True))

    def _confirm(self, row: Any) -> None:
        """Read the record again from the source (its cache dropped): confirmed when it shows
        the new value; read again later, and `unconfirmed` after CONFIRM_READS readings."""
        values = json.loads(row.payload or "{}")
        found = self.assembler.lookup(Identifiers(), customer_id=row.customer_id)
        if found.profile is not None:
            self.assembler.invalidate(_identifiers(found.profile), row.source)
            found = self.assembler.lookup(Identifiers(), customer_id=row.customer_id)
        profile = found.profile
        if profile is not None and shows(profile, row.name, values.get("new", ""),
                                         self.assembler.region):
            self._settle(row, CONFIRMED, f"{row.source} shows the new value",
                         consent=profile.consent)
            return
        if row.attempts + 1 >= CONFIRM_READS:
            self._settle(row, UNCONFIRMED, f"sent; {row.source} does not show the new value "
                                           f"after {CONFIRM_READS} readings")
            return
        self._later(row.id, SENT, row.attempts + 1, f"sent; {row.source} does not show it yet",
                    delay_s=CONFIRM_AFTER_S)

    def _later(self, change_id: str, state: str, attempts: int, outcome: str,
               delay_s: float = 30) -> None:
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(update(changes).where(changes.c.id == change_id).values(
                state=state, attempts=attempts, claimed_at=None, outcome=outcome[:200],
                not_before=now + dt.timedelta(seconds=delay_s), updated_at=now))

    def _settle(self, row: Any, state: str, outcome: str,
                consent: Consent | None = None) -> None:
        """The change's last state: its values erased, the outcome audited (`consent`: the
        customer's, as the record read back showed it, for marketing)."""
        now = self.clock()
        with self.engine.begin() as connection:  # settled and audited, or neither
            connection.execute(update(changes).where(changes.c.id == row.id).values(
                state=state, payload=None, claimed_at=None, outcome=outcome[:200],
                updated_at=now))
            _audit(connection, row, f"change.{state}")
            if state == CONFIRMED:
                self._hand_over(connection, row, now, consent)
        if state == FAILED:
            log.warning("change %s to %s failed: %s", row.id, row.source, outcome)

    def _hand_over(self, connection: Connection, row: Any, now: dt.datetime,
                   consent: Consent | None) -> None:
        """A confirmed correction kept for marketing, in its settlement's transaction; held
        back, and said so, when the customer's consent is not given."""
        if self.marketing is None or not self.marketing.takes(row.kind, row.name):
            return
        held = self.marketing.held_back(row.name, consent)
        kept = handover(row, json.loads(row.payload or "{}"), now, held)
        if connection.execute(insert_ignoring(connection, changes), kept).rowcount:
            where = f"{row.name} at {MARKETING} (change {kept['id']}, for {row.id})"
            audit_entry(connection, "connector", f"change.{HELD}" if held else
                        "change.requested", row.customer_id,
                        f"{where}: {held}" if held else where)

    def _deliver(self, row: Any, sink_down: bool) -> bool:
        """Tell marketing of a confirmed correction, retried and settled as any change;
        whether the sink is down now."""
        sink = self.marketing
        if sink is None or not sink.enabled:
            self._settle(row, FAILED, "the marketing sink is no longer on in the manifest")
            return sink_down
        if sink_down:  # one timeout a pass, not one per delivery: this one was not tried
            self._later(row.id, PENDING, row.attempts, "marketing did not answer another "
                        "delivery: tried again later")
            return True
        sent = deliver(sink, json.loads(row.payload or "{}"))
        if sent.done:
            self._settle(row, DONE, f"{MARKETING} took it ({sent.reason})")
        elif sent.retry and row.attempts + 1 < self.max_attempts:
            wait = max(min(2 ** row.attempts * 10, 1800), sent.wait_s or 0)
            self._later(row.id, PENDING, row.attempts + 1,
                        f"{MARKETING} {sent.reason}: tried again later", delay_s=wait)
        else:
            tries = f" after {row.attempts + 1} tries" if sent.retry else ""
            self._settle(row, FAILED, f"{MARKETING} {sent.reason}{tries}")
        return sent.retry

    def _audit(self, row: Any, action: str) -> None:
        with self.engine.begin() as connection:
            _audit(connection, row, action)


def _audit(connection: Connection, row: Any, action: str) -> None:
    """A change's step in the audit trail: which field or action, where, never its values."""
    audit_entry(connection, "connector", action, row.customer_id,
                f"{row.name} at {row.source} (change {row.id})")


def _same(kept: ChangeState, customer_id: str, field: str) -> ChangeState:
    """The change kept under an id given again, when it is the same change."""
    if (kept.customer_id, kept.name) != (customer_id, field):
        raise DuplicateChange(f"change {kept.id} was kept for another change")
    return kept


def _row_of(engine: Engine, change_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(changes).where(changes.c.id == change_id)).one()


def _identifiers(profile: CustomerProfile) -> Identifiers:
    """The identifiers the record knows the person by (their cache entries are dropped)."""
    return Identifiers(emails=tuple(profile.identity.emails),
                       phones=tuple(profile.identity.phones),
                       externals=tuple(profile.identity.external_ids.items()))


@functools.lru_cache(maxsize=16)
def _changes_of(since: bool, limit: int | None, kinds: tuple[str, ...] | None) -> Select[Any]:
    """`Outbox.of`'s statement, built once per shape (every sidebar asks for one: building it
    cost more than running it)."""
    query = select(changes).where(changes.c.customer_id == bindparam("customer")).order_by(
        changes.c.created_at.desc(), changes.c.id).limit(limit)
    if since:
        query = query.where(changes.c.updated_at >= bindparam("since"))
    if kinds is not None:
        query = query.where(changes.c.kind.in_(kinds))
    return query


def _state(row: Any) -> ChangeState:
    return ChangeState(row.id, row.customer_id, row.source, row.kind, row.name, row.item,
                       row.state, row.outcome, row.actor, _aware(row.created_at),
                       _aware(row.updated_at))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
