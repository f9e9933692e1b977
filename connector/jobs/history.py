"""Who runs a scheduled job, and what each run did. Every `connector serve` process schedules
every job; before a run, the process claims the job's lock with a conditional update (free,
or its lease expired, and this schedule slot not run yet), so each job runs once per cluster
on SQLite or PostgreSQL alike. Each run is recorded: when, by whom, its outcome, a summary of
counts and the error's class (never a message that could hold customer data)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from sqlalchemy import (
    Engine,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from connector.store.engine import create_tables, insert_ignoring
from connector.store.schema import job_locks, job_runs

RUNNING, OK, FAILED = "running", "ok", "failed"
# what a job's run returns: `connector jobs`, the admin page and the run history show it
Counts = dict[str, int]


def summary_text(counts: Counts) -> str:
    """Counts as one short line: `people=12 queued=10`."""
    return " ".join(f"{name}={value}" for name, value in counts.items())


@dataclass(frozen=True)
class Run:
    """One run of a job."""

    id: int
    job: str
    holder: str
    slot: dt.datetime | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    summary: str | None
    error: str | None


@dataclass(frozen=True)
class Refused:
    """Why a claim was refused: another process holds the job, or ran this slot already."""

    reason: str
    holder: str | None


def this_process() -> str:
    """How a process names itself as a lock holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRuns:
    """Claim and release jobs' locks; record their runs."""

    def __init__(self, engine: Engine, holder: str | None = None) -> None:
        self.engine = engine
        self.holder = (holder or this_process())[:120]
        create_tables(engine, [job_locks, job_runs])

    def claim(self, job: str, slot: dt.datetime, lease_s: int) -> int | Refused:
        """Take the job for `lease_s` seconds to run its `slot`: the new run's id, or why not.
        One conditional update decides, so of two processes claiming at once one wins."""
        now, slot = _now(), slot.astimezone(dt.UTC)  # SQLite keeps no zone: UTC throughout
        with self.engine.begin() as connection:  # the row first, committed: the update needs it
            connection.execute(insert_ignoring(connection, job_locks), [{"job": job}])
        free = or_(job_locks.c.leased_until.is_(None), job_locks.c.leased_until < now)
        due = or_(job_locks.c.slot.is_(None), job_locks.c.slot < slot)
        with self.engine.begin() as connection:
            won = connection.execute(
                update(job_locks).where(and_(job_locks.c.job == job, free, due))
                .values(holder=self.holder, slot=slot,
                        leased_until=now + dt.timedelta(seconds=lease_s))).rowcount
            if not won:
                lock = connection.execute(select(job_locks).where(
                    job_locks.c.job == job)).one()
                return _refusal(lock.holder, lock.leased_until, now)
            # a run whose process died is still "running": it ended when its lease did
            connection.execute(update(job_runs).where(and_(
                job_runs.c.job == job, job_runs.c.outcome == RUNNING)).values(
                outcome=FAILED, error="LeaseExpired", finished_at=now))
            created = connection.execute(insert(job_runs).values(
                job=job, holder=self.holder, slot=slot, started_at=now, outcome=RUNNING)
                .returning(job_runs.c.id))
            return int(created.scalar_one())

    def finish(self, run_id: int, job: str, outcome: str, summary: str | None,
               error: str | None = None) -> None:
        """Record how the run ended and free the job (if this process still holds it)."""
        with self.engine.begin() as connection:
            connection.execute(update(job_runs).where(job_runs.c.id == run_id).values(
                outcome=outcome, finished_at=_now(), summary=(summary or "")[:400] or None,
                error=(error or "")[:80] or None))
            connection.execute(update(job_locks).where(and_(
                job_locks.c.job == job, job_locks.c.holder == self.holder)).values(
                holder=None, leased_until=None))

    def last(self) -> dict[str, Run]:
        """Each job's latest run."""
        latest = select(func.max(job_runs.c.id)).group_by(job_runs.c.job)
        with self.engine.connect() as connection:
            rows = connection.execute(select(job_runs).where(job_runs.c.id.in_(latest)))
            return {row.job: _run(row) for row in rows}

    def last_success(self) -> dict[str, dt.datetime]:
        """When each job last finished well."""
        query = select(job_runs.c.job, func.max(job_runs.c.finished_at)).where(
            job_runs.c.outcome == OK).group_by(job_runs.c.job)
        with self.engine.connect() as connection:
            return {job: _aware(at) for job, at in connection.execute(query) if at is not None}

    def runs(self, job: str | None = None) -> list[Run]:
        """Every recorded run, oldest first (of one job, or all)."""
        query = select(job_runs).order_by(job_runs.c.id)
        if job:
            query = query.where(job_runs.c.job == job)
        with self.engine.connect() as connection:
            return [_run(row) for row in connection.execute(query)]


def _refusal(holder: str | None, leased_until: dt.datetime | None, now: dt.datetime) -> Refused:
    if holder and leased_until is not None and _aware(leased_until) >= now:
        until = _aware(leased_until).isoformat(timespec="seconds")
        return Refused(f"held by {holder} until {until}", holder)
    return Refused("this slot was already run by another process", holder)


def _run(row: object) -> Run:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    for key in ("slot", "started_at", "finished_at"):
        values[key] = _aware(values[key]) if values[key] is not None else None
    return Run(**values)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
