"""The write-back queue: what we tell helpdesks about their customers (flag tags, fields,
internal notes), queued in the database, merged per target, sent within each helpdesk's
limits (a 429's Retry-After pauses that helpdesk), retried with back-off.

Pending changes to one target are merged before they are sent: the tag set is replaced by
the newest (it is the full set of our tags), fields are updated, notes are joined. Zendesk
allows 5 user updates a minute per user: merging is what keeps a busy customer under it. A
change that opens a new ticket (`new_ticket_subject`) is never merged, into or with another:
each is one ticket. A change is marked sent only after the helpdesk answered, so a process
that dies in between sends it again (a second note, or a second ticket: no helpdesk here
offers an idempotency key for either).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import (
    Engine,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row

from connector.customer.links import HeldBy
from connector.events.budgets import CallBudget, LocalBudget
from connector.helpdesk.base import Limits, RateLimited, WriteBack, WriteBackFailed
from connector.store.engine import create_tables, reading, upsert
from connector.store.schema import writeback_targets, writebacks

log = logging.getLogger(__name__)
PENDING, SENDING, FAILED = "pending", "sending", "failed"



class Writer(Protocol):
    """An adapter that takes write-backs (and may declare its limits)."""

    kind: str

    def write_back(self, change: WriteBack) -> None: ...


def limits_of(writer: Writer) -> Limits:
    """The adapter's declared limits, or conservative defaults."""
    limits = getattr(writer, "write_limits", None)
    return limits if isinstance(limits, Limits) else Limits()


def opens_tickets(writer: object) -> bool:
    """Whether the adapter opens new tickets (`opens_tickets = True`), not only writes on
    existing ones."""
    return getattr(writer, "opens_tickets", False) is True


def change_json(change: WriteBack) -> str:
    data: dict[str, Any] = {
        "helpdesk": change.helpdesk, "requester_id": change.requester_id,
        "ticket_id": change.ticket_id, "tags": list(change.tags),
        "tag_prefix": change.tag_prefix, "fields": dict(change.fields), "note": change.note}
    if change.new_ticket_subject is not None:  # only then: older payloads read the same
        data["new_ticket_subject"] = change.new_ticket_subject
    if change.keeps_tags:
        data["keeps_tags"] = True
    if change.erases:
        data["erases"] = True
    return json.dumps(data, separators=(",", ":"))


def change_from_json(text: str) -> WriteBack:
    data: dict[str, Any] = json.loads(text)
    return WriteBack(**{**data, "tags": tuple(data["tags"])})


def mergeable(old: WriteBack, new: WriteBack) -> bool:
    """Whether two pending changes may become one: never when either opens a ticket."""
    return old.new_ticket_subject is None and new.new_ticket_subject is None


def merge_changes(old: WriteBack, new: WriteBack) -> WriteBack:
    """Two pending changes to one target as one: newest tags (a note that keeps the tags
    keeps the older change's), fields updated, notes joined (ValueError for a change that
    opens a ticket: see `mergeable`)."""
    if not mergeable(old, new):
        raise ValueError("a change that opens a ticket is never merged")
    if new.erases:  # the person was forgotten: nothing more of ours is told about them
        return new
    notes = "\n\n".join(n for n in (old.note, new.note) if n) or None
    tags = old if new.keeps_tags else new
    return replace(new, fields={**old.fields, **new.fields}, note=notes, tags=tags.tags,
                   tag_prefix=tags.tag_prefix, keeps_tags=tags.keeps_tags,
                   erases=tags.erases)


# the fields flag write-back fills (`flag_write_back`): a removal empties each
WRITTEN_FIELDS = ("segment", "lifecycle", "abc_class")
RECENT_CALLS = 20  # the write-backs whose durations set the margin after a full window
MARGIN_SHARE = 0.1  # the margin is at most this share of the helpdesk's window


def removals(held: Iterable[HeldBy], prefixes: Mapping[str, str]) -> list[WriteBack]:
    """What the helpdesks must take off about a forgotten person: every tag we own (those
    starting with the helpdesk's `tag_prefix`) and our fields on them, and our tags on their
    tickets. `prefixes`: the helpdesks we write back to, each with its prefix."""
    empty = dict.fromkeys(WRITTEN_FIELDS, "")
    return [WriteBack(helpdesk=h.helpdesk, requester_id=h.requester_id, ticket_id=h.ticket_id,
                      tags=(), tag_prefix=prefixes[h.helpdesk],
                      fields=empty if h.requester_id else {}, erases=True)
            for h in dict.fromkeys(held) if h.helpdesk in prefixes]


class WriteBackQueue:
    """Queue changes; `send_due` sends those that are due, within limits."""

    def __init__(self, engine: Engine, max_attempts: int = 6,
                 clock: Callable[[], float] = time.monotonic,
                 budget: CallBudget | None = None) -> None:
        self.engine = engine
        self.max_attempts = max_attempts
        # each helpdesk's calls per window and 429 pauses: this process's, or the cluster's
        self.budget = budget or LocalBudget(clock)
        self._took: dict[str, deque[float]] = {}  # helpdesk -> recent write-backs' seconds
        create_tables(engine, [writebacks, writeback_targets])

    def enqueue(self, change: WriteBack, connection: Connection | None = None) -> int:
        """Queue a change, merged into a pending one to the same target; the row's id. Given a
        connection, in its transaction: queued with what it writes, or not at all."""
        if connection is not None:
            return _enqueue(connection, change)
        with self.engine.begin() as own:
            return _enqueue(own, change)

    def enqueue_removals(self, connection: Connection, held: list[HeldBy],
                         prefixes: Mapping[str, str]) -> int:
        """In the erasing transaction (`LinkStore.erase`'s hook): queue the removal of what we
        wrote about a forgotten person in each helpdesk that holds them, in place of what was
        still pending or failed about them (tags, fields, notes, a ticket to open; one being
        sent right now is left to finish); how many changes."""
        wanted = removals(held, prefixes)
        for change in wanted:
            mine = (writebacks.c.target.startswith(f"{change.requester_id}|", autoescape=True)
                    if change.requester_id else
                    writebacks.c.target.endswith(f"|{change.ticket_id}", autoescape=True))
            connection.execute(delete(writebacks).where(and_(
                writebacks.c.helpdesk == change.helpdesk, writebacks.c.state != SENDING, mine)))
        return len({_enqueue(connection, change) for change in wanted})

    def send_due(self, writers: Mapping[str, Writer], limit: int = 50) -> int:
        """Send what is due; how many changes were applied."""
        sent = 0
        for row_id, change, attempts in self._claim(limit):
            writer = writers.get(change.helpdesk)
            if writer is None:
                self._give_up(row_id, "this helpdesk is no longer configured")
                continue
            if change.new_ticket_subject is not None and not opens_tickets(writer):
                self._give_up(row_id, f"{change.helpdesk} write-back cannot open a ticket")
                continue
            limits = limits_of(writer)
            wait = self._target_wait_s(change.helpdesk, _target(change), limits)
            if wait <= 0:  # the target free: a call of the helpdesk's budget, if any is left
                wait = self.budget.acquire(change.helpdesk, limits)
                if wait > 0:
                    wait += self.margin_s(change.helpdesk, limits)
            if wait > 0:
                self._later(row_id, wait, attempts, error=None, count=False)
                continue
            try:
                with self._timed(change.helpdesk):
                    writer.write_back(change)
            except RateLimited as exc:
                self.budget.pause(change.helpdesk, exc.retry_after_s)
                self._later(row_id, exc.retry_after_s, attempts, str(exc), count=False)
            except WriteBackFailed as exc:
                log.warning("write-back to %s failed: %s", change.helpdesk, exc.public)
                if exc.permanent or attempts + 1 >= self.max_attempts:
                    self._give_up(row_id, exc.public)
                else:
                    self._later(row_id, min(2 ** attempts * 10, 3600), attempts, exc.public)
            else:
                sent += 1
                self._done(row_id, change.helpdesk, mark=not change.erases)
        return sent

    @contextmanager
    def _timed(self, helpdesk: str) -> Iterator[None]:
        """Note how long a write-back to this helpdesk took (failed ones too): `margin_s`."""
        started = time.monotonic()
        try:
            yield
        finally:
            self._took.setdefault(helpdesk, deque(maxlen=RECENT_CALLS)).append(
                time.monotonic() - started)

    def margin_s(self, helpdesk: str, limits: Limits) -> float:
        """How long past a full window's end its changes wait: the budget counts a call when
        it grants it, the helpdesk when the write reaches it, after a read and sometimes a
        token of a varying length; a change granted as the window reopens, whose write came
        sooner after its grant than the oldest one's did, would make one too many in the
        helpdesk's window (a 429). At most the longest recent write-back (the most that
        difference can be), and at most a tenth of the window (3 calls per 5 s: ≥ 90 % of
        the rate)."""
        took = self._took.get(helpdesk)
        return min(max(took or (), default=0.0), MARGIN_SHARE * limits.per_s)

    def due_in(self) -> float | None:
        """Seconds until the earliest pending change is due (0: one is due now; None: none
        pending), whichever process put it back: the worker waits that long, not a whole
        poll, when a helpdesk's window reopens sooner (Help Scout's is 5 s)."""
        with reading(self.engine) as connection:
            due = connection.execute(select(func.min(writebacks.c.not_before)).where(
                writebacks.c.state == PENDING)).scalar()
        if due is None:
            return None
        due = due if due.tzinfo else due.replace(tzinfo=dt.UTC)
        return max((due - _now()).total_seconds(), 0.0)

    def counts(self) -> dict[str, int]:
        query = select(writebacks.c.state, func.count()).group_by(writebacks.c.state)
        with self.engine.connect() as connection:
            return {state: int(n) for state, n in connection.execute(query)}

    def pending(self) -> list[WriteBack]:
        with self.engine.connect() as connection:
            return [change_from_json(r.payload) for r in connection.execute(
                select(writebacks.c.payload).where(writebacks.c.state != FAILED)
                .order_by(writebacks.c.id))]

    def _claim(self, limit: int) -> list[tuple[int, WriteBack, int]]:
        now = _now()
        expired = now - dt.timedelta(minutes=5)
        due = select(writebacks.c.id, writebacks.c.state).where(or_(
            and_(writebacks.c.state == PENDING, writebacks.c.not_before <= now),
            and_(writebacks.c.state == SENDING, writebacks.c.claimed_at < expired),
        )).order_by(writebacks.c.not_before, writebacks.c.id).limit(limit)
        taken = []
        with self.engine.begin() as connection:
            for row in connection.execute(due).all():
                won = connection.execute(
                    update(writebacks).where(and_(writebacks.c.id == row.id,
                                                  writebacks.c.state == row.state))
                    .values(state=SENDING, claimed_at=now)
                    .returning(writebacks.c.payload, writebacks.c.attempts)).first()
                if won is not None:
                    taken.append((int(row.id), change_from_json(won.payload), int(won.attempts)))
        return taken

    def _target_wait_s(self, helpdesk: str, target: str, limits: Limits) -> float:
        """How long before this target may be written to again (0: now)."""
        with self.engine.connect() as connection:
            sent = connection.execute(select(writeback_targets.c.sent_at).where(and_(
                writeback_targets.c.helpdesk == helpdesk,
                writeback_targets.c.target == target))).scalar()
        if sent is None:
            return 0.0
        sent = sent if sent.tzinfo else sent.replace(tzinfo=dt.UTC)
        return max(limits.target_interval_s - (_now() - sent).total_seconds(), 0.0)

    def _done(self, row_id: int, helpdesk: str, mark: bool = True) -> None:
        """A change was applied: off the queue, and its target's last write noted (for the
        helpdesk's per-record interval) unless it took a forgotten person's marks off: then
        nothing about that record is kept."""
        with self.engine.begin() as connection:
            target = connection.execute(select(writebacks.c.target).where(
                writebacks.c.id == row_id)).scalar_one()
            connection.execute(delete(writebacks).where(writebacks.c.id == row_id))
            if mark:
                upsert(connection, writeback_targets, {
                    "helpdesk": helpdesk, "target": target, "sent_at": _now()},
                    keys=("helpdesk", "target"))

    def _later(self, row_id: int, delay_s: float, attempts: int, error: str | None,
               count: bool = True) -> None:
        """Put a claimed change back, due after `delay_s`; merged with any newer one."""
        with self.engine.begin() as connection:
            row = connection.execute(select(writebacks).where(
                writebacks.c.id == row_id)).one()
            newer = _pending_mergeable(connection, row.helpdesk, row.target,
                                       change_from_json(row.payload))
            due = _now() + dt.timedelta(seconds=delay_s)
            if newer is not None:  # a change came meanwhile: one row, the newest tags
                merged = merge_changes(change_from_json(row.payload),
                                       change_from_json(newer.payload))
                connection.execute(update(writebacks).where(writebacks.c.id == newer.id)
                                   .values(payload=change_json(merged), not_before=due))
                connection.execute(delete(writebacks).where(writebacks.c.id == row_id))
                return
            connection.execute(update(writebacks).where(writebacks.c.id == row_id).values(
                state=PENDING, not_before=due, claimed_at=None, error=error,
                attempts=attempts + 1 if count else attempts))

    def _give_up(self, row_id: int, error: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(writebacks).where(writebacks.c.id == row_id).values(
                state=FAILED, error=error[:200]))


def _enqueue(connection: Connection, change: WriteBack) -> int:
    """Queue a change in this transaction, merged into a pending one to the same target."""
    target = _target(change)
    pending = _pending_mergeable(connection, change.helpdesk, target, change)
    if pending is not None:
        merged = merge_changes(change_from_json(pending.payload), change)
        connection.execute(update(writebacks).where(writebacks.c.id == pending.id)
                           .values(payload=change_json(merged)))
        return int(pending.id)
    created = connection.execute(insert(writebacks).values(
        helpdesk=change.helpdesk, target=target, payload=change_json(change),
        state=PENDING, attempts=0, not_before=_now()).returning(writebacks.c.id))
    return int(created.scalar_one())


def _pending_mergeable(connection: Connection, helpdesk: str, target: str,
                       change: WriteBack) -> Row[Any, Any] | None:
    """The pending change to this target that `change` may be merged with (id, payload)."""
    if not mergeable(change, change):
        return None
    rows = connection.execute(select(writebacks.c.id, writebacks.c.payload).where(
        and_(writebacks.c.helpdesk == helpdesk, writebacks.c.target == target,
             writebacks.c.state == PENDING)).order_by(writebacks.c.id)).all()
    return next((r for r in rows if mergeable(change_from_json(r.payload), change)), None)


def _target(change: WriteBack) -> str:
    """Whom a change is about: the person, the ticket, or both."""
    return f"{change.requester_id or ''}|{change.ticket_id or ''}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
