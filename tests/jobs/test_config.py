"""The manifest's `jobs:` section: defaults when absent, every error with its path, and the
triggers' slots (the same in every process)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.jobs.config import Jobs
from connector.jobs.runner import last_fire_time
from connector.manifest import ManifestError, load_manifest
from tests.conftest import connector

SOURCES = """\
version: 1
sources:
  shop:
    type: files
    path: shop.csv
    match: {email: email}
    sections: {identity: {path: "rows[0]", fields: {first_name: first_name}}}
"""
PARIS = ZoneInfo("Europe/Paris")


def manifest(tmp_path: Path, jobs: str = "") -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(SOURCES + jobs, encoding="utf-8")
    return path


def errors(tmp_path: Path, jobs: str) -> list[str]:
    with pytest.raises(ManifestError) as raised:
        load_manifest(manifest(tmp_path, jobs))
    return raised.value.errors


def test_without_a_jobs_section_every_job_runs_on_its_documented_defaults(tmp_path: Path) -> None:
    jobs = load_manifest(manifest(tmp_path)).jobs
    assert jobs == Jobs()
    assert (jobs.refresh_flags.enabled, jobs.refresh_flags.describe()) == (True, "every 6h")
    assert (jobs.refresh_flags.seen_days, jobs.refresh_flags.max_people) == (30, 500)
    assert (jobs.purge.enabled, jobs.purge.describe()) == (True, "cron 30 3 * * *")
    purge = jobs.purge
    assert (purge.contacts_days, purge.events_days, purge.failed_writebacks_days,
            purge.requesters_days, purge.job_runs_days) == (730, 30, 30, 365, 90)


def test_a_schedule_and_retention_are_read_as_written(tmp_path: Path) -> None:
    jobs = load_manifest(manifest(tmp_path, """\
jobs:
  refresh_flags: {cron: "0 */4 * * mon-fri", seen_days: 7, max_people: 50, pause_s: 0}
  purge: {every: 1d, contacts_days: 365, enabled: false}
""")).jobs
    assert jobs.refresh_flags.describe() == "cron 0 */4 * * mon-fri"
    assert jobs.purge.describe() == "every 1d" and not jobs.purge.enabled
    assert jobs.purge.contacts_days == 365 and jobs.purge.events_days == 30


def test_every_mistake_is_listed_with_its_path(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
jobs:
  refresh_flags: {every: 6 hours, seen_days: 0, max_people: many}
  purge: {cron: "61 3 * * *", contacts_days: -1, keep: forever}
  nightly: {every: 1d}
""") == [
        "jobs.refresh_flags.every: '6 hours' is not an interval: a number and a unit "
        "(s, m, h, d), e.g. 30m, 6h, 1d",
        "jobs.refresh_flags.seen_days: input should be greater than or equal to 1",
        "jobs.refresh_flags.max_people: input should be a valid integer, unable to parse "
        "string as an integer",
        "jobs.purge.cron: '61 3 * * *' is not a valid cron expression (Error validating "
        "expression '61': the last value (61) is higher than the maximum value (59))",
        "jobs.purge.contacts_days: input should be greater than or equal to 1",
        "jobs.purge.keep: unknown key",
        "jobs.nightly: unknown key",
    ]


@pytest.mark.parametrize(("jobs", "error"), [
    ("purge: {every: 5s}", "jobs.purge.every: must be at least 10s"),
    ("purge: {every: 1h, cron: '0 3 * * *'}", "jobs.purge: give either every or cron, not both"),
    ("purge: {cron: '0 3 * *'}", "jobs.purge.cron: '0 3 * *' is not a cron expression: five "
     "fields (minute hour day-of-month month day-of-week), e.g. \"30 3 * * *\""),
    ("purge: {cron: '0 3 * * 1-5'}", "jobs.purge.cron: '0 3 * * 1-5': write days of the week "
     "as names (mon-fri, sun), not numbers"),
    ("refresh_flags: {lease_s: 5}",
     "jobs.refresh_flags.lease_s: input should be greater than or equal to 60"),
])
def test_a_schedule_that_does_not_parse_is_refused(tmp_path: Path, jobs: str, error: str) -> None:
    assert errors(tmp_path, "jobs:\n  " + jobs + "\n") == [error]


def test_connector_check_prints_the_jobs_errors(tmp_path: Path, env: dict[str, str]) -> None:
    path = manifest(tmp_path, "jobs:\n  purge: {every: soon}\n")
    result = connector("check", "--manifest", str(path), env=env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "jobs.purge.every: 'soon' is not an interval: a number and a unit (s, m, h, d), "
        "e.g. 30m, 6h, 1d"]


def test_interval_slots_are_aligned_so_every_process_names_the_same_slot() -> None:
    trigger = Jobs().refresh_flags.trigger("Europe/Paris")  # every 6h from midnight
    now = dt.datetime(2026, 11, 22, 13, 47, 12, 345678, tzinfo=PARIS)
    assert last_fire_time(trigger, now) == dt.datetime(2026, 11, 22, 12, tzinfo=PARIS)
    assert trigger.get_next_fire_time(None, now) == dt.datetime(2026, 11, 22, 18, tzinfo=PARIS)
    # two processes started at different times, asked at different moments of one slot
    for moment in (now, now + dt.timedelta(hours=4), now - dt.timedelta(minutes=107)):
        assert last_fire_time(trigger, moment) == dt.datetime(2026, 11, 22, 12, tzinfo=PARIS)


def test_a_cron_slot_is_its_last_fire_time_in_the_brand_zone() -> None:
    trigger = Jobs().purge.trigger("Europe/Paris")  # 03:30 every day
    now = dt.datetime(2026, 11, 22, 3, 30, 0, 200000, tzinfo=PARIS)
    assert last_fire_time(trigger, now) == dt.datetime(2026, 11, 22, 3, 30, tzinfo=PARIS)
    before = dt.datetime(2026, 11, 22, 3, 29, tzinfo=PARIS)
    assert last_fire_time(trigger, before) == dt.datetime(2026, 11, 21, 3, 30, tzinfo=PARIS)
