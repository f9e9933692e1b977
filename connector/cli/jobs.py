"""`connector jobs list` and `connector jobs run NAME`: the scheduled jobs, and one run now."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connector.cli.common import manifest_or_report
from connector.settings import Settings

if TYPE_CHECKING:
    from connector.jobs.runner import JobRunner, RunResult

EXIT_FAILED = 1
EXIT_UNKNOWN = 2


def add_jobs_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `jobs list` and `jobs run NAME` to the `connector` parser; their parsers."""
    jobs = commands.add_parser("jobs", help="the scheduled jobs: list them, or run one now")
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="each job's schedule, last run and next run")
    listing.set_defaults(run=jobs_list)
    run = actions.add_parser("run", help="run a job now in this process (once per cluster: "
                                         "not while another process runs it)")
    run.add_argument("name", help="the job (see `connector jobs list`)")
    run.set_defaults(run=jobs_run)
    return [listing, run]


def jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print each job: name, schedule, enabled, last run (when, outcome, summary), next run."""
    from connector.jobs.history import JobRuns
    from connector.jobs.runner import JobRunner
    from connector.ops.metrics import Metrics
    from connector.store.engine import open_database, settle_schema

    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_FAILED
    settle_schema(settings.database(), migrate=settings.auto_migrate)  # as a service starts
    runner = JobRunner(manifest, JobRuns(open_database(settings.database())), {}, Metrics())
    zone = ZoneInfo(manifest.brand.timezone)
    statuses = runner.statuses()
    width = max((len(job.name) for job in statuses), default=0)
    for job in statuses:
        last = "last: never"
        if job.last is not None:
            outcome = job.last.outcome + (f" {job.last.error}" if job.last.error else "")
            last = f"last: {_when(job.last.started_at, zone)} {outcome}"
            last += f" ({job.last.summary})" if job.last.summary else ""
        state = "enabled" if job.enabled else "disabled"
        upcoming = f"next: {_when(job.next_run, zone)}" if job.next_run else "next: -"
        print(f"{job.name:<{width}}  {job.schedule:<18} {state:<8}  {last}  {upcoming}")
    return 0


def jobs_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one job now, its progress on stderr; exit 0 when it went well, 1 when it failed or
    another process holds it, 2 for an unknown job."""
    from connector.app import build_services
    from connector.jobs.runner import SKIPPED

    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_FAILED
    known = list(manifest.jobs.schedules())
    if args.name not in known:
        print(f"connector jobs run: unknown job '{args.name}' (known: {', '.join(known)})",
              file=sys.stderr)
        return EXIT_UNKNOWN
    services = build_services(settings, manifest)
    try:
        result = _run_drawn(services.jobs, args.name)
    finally:
        services.close()
    if result.outcome == SKIPPED:
        print(f"connector jobs run: {args.name} not run: {result.reason}", file=sys.stderr)
        return EXIT_FAILED
    if result.error:
        print(f"{args.name}: failed ({result.error}); the log above says more", file=sys.stderr)
        return EXIT_FAILED
    print(f"{args.name}: ok — {result.summary}")
    if args.name == "refresh_flags" and result.counts.get("queued"):
        print("write-backs queued: `connector serve` sends them, within each helpdesk's limits")
    return 0


def _run_drawn(jobs: JobRunner, name: str) -> RunResult:
    """Run the job, its progress drawn on stderr (a log line takes the bar's place, not the
    end of its line)."""
    from connector.cli.progress import ProgressLine

    progress = ProgressLine(name, sys.stderr)
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(progress)
    try:
        return jobs.run(name, progress=progress)
    finally:
        for handler in handlers:
            handler.removeFilter(progress)
        progress.close()


def _when(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")
