"""When the scheduled jobs run, and once per cluster: every `connector serve` process runs an
APScheduler BackgroundScheduler beside its event worker; each firing claims the job in the
database for its schedule slot (the fire time, the same in every process), so one process
runs it and the others log and skip. `connector jobs run NAME` runs one now, through the same
lock, drawing the progress each job reports (`connector.jobs.progress`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine

from connector.config import Brand
from connector.events.worker import EventWorker
from connector.jobs.config import Jobs, Schedule
from connector.jobs.history import FAILED, OK, Counts, JobRuns, Refused, Run, summary_text
from connector.jobs.progress import Progress, no_progress
from connector.jobs.purge import purge
from connector.jobs.refresh_flags import refresh_flags
from connector.jobs.refresh_loyalty import refresh_loyalty
from connector.jobs.refresh_reviews import refresh_reviews
from connector.jobs.segments import run_segments
from connector.ops.metrics import Metrics

log = logging.getLogger(__name__)


def _not_chatter(record: logging.LogRecord) -> bool:
    # APScheduler says at INFO that each job is added "tentatively" before it starts, then
    # that it was added: the second line is kept, once per job
    return not str(record.msg).startswith("Adding job tentatively")


logging.getLogger("apscheduler.scheduler").addFilter(_not_chatter)
SKIPPED = "skipped"
# a job's work: given where to report its progress, its counts
Work = Callable[[Progress], Counts]
LOOK_BACK = (dt.timedelta(minutes=2), dt.timedelta(hours=2), dt.timedelta(days=2),
             dt.timedelta(days=40), dt.timedelta(days=400))


@dataclass(frozen=True)
class RunResult:
    """How asking for a run went: ok, failed (with the error's class) or skipped (why)."""

    job: str
    outcome: str
    counts: Counts = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None

    @property
    def summary(self) -> str:
        """The counts as one line."""
        return summary_text(self.counts)


@dataclass(frozen=True)
class JobStatus:
    """A job as `connector jobs list` and the admin page show it."""

    name: str
    enabled: bool
    schedule: str
    last: Run | None
    next_run: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        """For /admin/health.json."""
        last = self.last
        return {"name": self.name, "enabled": self.enabled, "schedule": self.schedule,
                "next_run": _iso(self.next_run),
                "last_run": None if last is None else {
                    "started_at": _iso(last.started_at), "finished_at": _iso(last.finished_at),
                    "outcome": last.outcome, "summary": last.summary, "error": last.error,
                    "by": last.holder}}


def last_fire_time(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """The trigger's latest fire time at or before `now`: the slot a firing runs."""
    for back in LOOK_BACK:
        fire = trigger.get_next_fire_time(None, now - back)
        if fire is None or fire > now:
            continue
        while True:
            after = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
            if after is None or after > now:
                # whole seconds: every process must name the slot alike, whatever float path
                # its trigger took to it
                return fire.replace(microsecond=0) + dt.timedelta(
                    seconds=round(fire.microsecond / 1e6))
            fire = after
    return None


class JobSettings(Protocol):
    """What the jobs run by: their schedules and the brand's time zone (the manifest satisfies
    it; jobs never import the manifest, which sits above them)."""

    @property
    def brand(self) -> Brand: ...

    @property
    def jobs(self) -> Jobs: ...


class JobRunner:
    """The jobs of this manifest: run one (claiming it for the cluster), schedule them all,
    report their last and next runs."""

    def __init__(self, manifest: JobSettings, runs: JobRuns,
                 work: dict[str, Work], metrics: Metrics) -> None:
        self.schedules: dict[str, Schedule] = manifest.jobs.schedules()
        self.timezone = manifest.brand.timezone
        self.runs = runs
        self.work = work
        self.metrics = metrics
        self._scheduler: BackgroundScheduler | None = None
        metrics.watch_jobs(self._last_success_timestamps)

    def run(self, name: str, slot: dt.datetime | None = None,
            progress: Progress = no_progress) -> RunResult:
        """Run a job now if no other process holds it (or already ran this slot), telling
        `progress` how far it is."""
        now = dt.datetime.now(dt.UTC)
        claimed = self.runs.claim(name, slot or now, self.schedules[name].lease_s)
        if isinstance(claimed, Refused):
            log.info("job %s not run here: %s", name, claimed.reason)
            self.metrics.job_runs.labels(name, SKIPPED).inc()
            return RunResult(name, SKIPPED, reason=claimed.reason)
        log.info("job %s started (run %s)", name, claimed)
        try:
            counts = self.work[name](progress)
        except Exception as exc:  # recorded and counted; the next slot tries again
            log.exception("job %s failed", name)
            result = RunResult(name, FAILED, error=type(exc).__name__)
        else:
            result = RunResult(name, OK, counts=counts)
        self.runs.finish(claimed, name, result.outcome, result.summary or None, result.error)
        self.metrics.job_runs.labels(name, result.outcome).inc()
        log.info("job %s %s: %s", name, result.outcome, result.summary or result.error)
        return result

    def run_scheduled(self, name: str) -> None:
        """What the scheduler calls: run the slot that just fired."""
        trigger = self.schedules[name].trigger(self.timezone)
        self.run(name, last_fire_time(trigger, dt.datetime.now(ZoneInfo(self.timezone))))

    def start(self) -> None:
        """Schedule every enabled job in a background thread (in `connector serve`)."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone=ZoneInfo(self.timezone), job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 600})
        for name, schedule in self.schedules.items():
            if schedule.enabled:
                scheduler.add_job(self.run_scheduled, schedule.trigger(self.timezone),
                                  args=[name], id=name, name=name)
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop scheduling (a run under way finishes in its daemon thread or dies with us)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def statuses(self) -> list[JobStatus]:
        """Each job: schedule, enabled, last run (any process), next run."""
        last = self.runs.last()
        now = dt.datetime.now(ZoneInfo(self.timezone))
        return [JobStatus(name, schedule.enabled, schedule.describe(), last.get(name),
                          schedule.trigger(self.timezone).get_next_fire_time(None, now)
                          if schedule.enabled else None)
                for name, schedule in self.schedules.items()]

    def _last_success_timestamps(self) -> dict[str, float]:
        return {job: at.timestamp() for job, at in self.runs.last_success().items()}


def build_jobs(manifest: JobSettings, worker: EventWorker, engine: Engine,
               metrics: Metrics) -> JobRunner:
    """The jobs of this manifest, wired to the service's worker and database."""
    jobs = manifest.jobs
    work: dict[str, Work] = {
        "refresh_flags": lambda progress: refresh_flags(worker, jobs.refresh_flags,
                                                        progress=progress),
        "purge": lambda progress: purge(engine, jobs.purge, progress=progress),
        "segments": lambda progress: run_segments(worker.assembler.sources, engine,
                                                  jobs.segments, progress),
        "refresh_reviews": lambda progress: refresh_reviews(worker, jobs.refresh_reviews,
                                                            progress=progress),
        "refresh_loyalty": lambda progress: refresh_loyalty(worker, jobs.refresh_loyalty,
                                                            progress=progress),
    }
    return JobRunner(manifest, JobRuns(engine), work, metrics)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
