"""`connector jobs list` / `connector jobs run NAME` through the real command, and the
scheduler inside two real `connector serve` processes sharing one database: each slot of a
job runs once per cluster (SQLite and PostgreSQL), shown on /metrics and /admin."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from connector.customer.links import LinkStore
from connector.jobs.history import JobRuns, Run
from tests.conftest import (
    ADMIN_TOKEN,
    MANIFEST,
    connector,
    drop_schema,
    postgres_url,
    start_service,
    stop,
)


@pytest.fixture
def private(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The demo's environment with a database of its own."""
    return {**env, "CONNECTOR_DATA_DIR": str(tmp_path)}


def test_jobs_list_shows_each_job_before_and_after_a_run(private: dict[str, str]) -> None:
    before = connector("jobs", "list", env=private)
    assert before.returncode == 0, before.stderr
    lines = before.stdout.splitlines()
    assert [line.split()[:4] for line in lines] == [
        ["refresh_flags", "every", "6h", "enabled"], ["purge", "cron", "30", "3"],
        ["segments", "cron", "0", "4"], ["refresh_reviews", "every", "15m", "enabled"],
        ["refresh_loyalty", "every", "1h", "enabled"]]
    assert all("last: never" in line and "next: 20" in line for line in lines)

    ran = connector("jobs", "run", "purge", env=private)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == (
        "purge: ok — contacts=0 events=0 writebacks=0 requesters=0 choices=0 targets=0 "
        "job_runs=0 people=0 links=0 names=0 refusals=0 tiers=0 alerts=0 changes=0 notes=0 "
        "audit=0")

    after = connector("jobs", "list", "--manifest", str(MANIFEST), env=private)
    [purge] = [line for line in after.stdout.splitlines() if line.startswith("purge")]
    assert (" ok (contacts=0 events=0 writebacks=0 requesters=0 choices=0 targets=0 job_runs=0 "
            "people=0 links=0 names=0 refusals=0 tiers=0 alerts=0 changes=0 notes=0 audit=0)"
            in purge)
    offset = dt.datetime.now(ZoneInfo("Europe/Paris")).isoformat(timespec="seconds")[-6:]
    assert "next: 20" in purge and offset in purge  # in brand time


def test_jobs_run_refresh_flags_with_no_helpdesk_writing_back(private: dict[str, str]) -> None:
    ran = connector("jobs", "run", "refresh_flags", env=private)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("refresh_flags: ok — people=0 queued=0")


def test_jobs_run_refresh_reviews_and_loyalty_start_from_now(private: dict[str, str]) -> None:
    for job, counts in (("refresh_reviews", "sources=2 reviews=0 answers=0 matched=0"),
                        ("refresh_loyalty", "sources=1 cards=0 matched=0")):
        ran = connector("jobs", "run", job, env=private)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith(f"{job}: ok — {counts}")


def test_an_unknown_job_exits_2_listing_the_known_ones(private: dict[str, str]) -> None:
    ran = connector("jobs", "run", "nightly", env=private)
    assert ran.returncode == 2
    assert ("unknown job 'nightly' (known: refresh_flags, purge, segments, refresh_reviews, "
            "refresh_loyalty)") in ran.stderr


def test_a_job_another_process_runs_is_not_run_again(private: dict[str, str]) -> None:
    runs = JobRuns(LinkStore(f"sqlite:///{private['CONNECTOR_DATA_DIR']}/connector.sqlite")
                   .engine, holder="other-host:4242")
    claimed = runs.claim("purge", dt.datetime.now(dt.UTC), lease_s=600)
    assert isinstance(claimed, int)
    ran = connector("jobs", "run", "purge", env=private)
    assert ran.returncode == 1
    assert "purge not run: held by other-host:4242 until" in ran.stderr
    runs.finish(claimed, "purge", "ok", "contacts=0")
    assert connector("jobs", "run", "purge", env=private).returncode == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One database for the cluster: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/cluster.sqlite"
        return
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    yield postgres_url(schema)
    drop_schema(schema)


def test_two_serving_processes_run_each_slot_once(env: dict[str, str], tmp_path: Path,
                                                  database: str) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(MANIFEST.read_text(encoding="utf-8") + (
        "\njobs:\n  purge: {every: 10s}\n  refresh_flags: {enabled: false}\n"), encoding="utf-8")
    cluster = {**env, "CONNECTOR_MANIFEST": str(manifest), "CONNECTOR_DATABASE_URL": database,
               "CONNECTOR_DATA_DIR": str(tmp_path)}
    first, second = start_service(cluster), start_service(cluster)
    try:
        both_up = dt.datetime.now(dt.UTC)
        runs = JobRuns(LinkStore(database).engine)
        deadline = time.monotonic() + 40
        finished: list[Run] = []
        while time.monotonic() < deadline and not finished:
            finished = [r for r in runs.runs("purge") if r.started_at > both_up and r.finished_at]
            time.sleep(0.3)
        assert finished, "no purge run within 40 s of a 10 s schedule"
        # the other process fires the same slot too, and skips it: wait for that (a loaded
        # machine may wake its scheduler late), and for the metrics to agree with the runs
        deadline = time.monotonic() + 30
        while True:
            counted = _purge_outcomes(first, second)
            every = runs.runs("purge")
            settled = counted["ok"] == len([r for r in every if r.finished_at])
            if (counted["skipped"] >= 1 and settled) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        slots = [r.slot for r in every]
        assert len(slots) == len(set(slots)), every  # one run per slot, whoever ran it
        assert all(r.outcome == "ok" for r in every if r.finished_at)
        assert settled, (counted, every)
        assert counted["skipped"] >= 1  # the slot both fired: one ran it, the other skipped
        health = requests.get(f"{first.url}/admin/health.json", timeout=5,
                              auth=("admin", ADMIN_TOKEN)).json()
        jobs = {job["name"]: job for job in health["jobs"]}
        assert jobs["purge"]["schedule"] == "every 10s" and jobs["purge"]["next_run"]
        assert jobs["purge"]["last_run"]["outcome"] in ("ok", "running")
        assert jobs["refresh_flags"]["enabled"] is False
        assert jobs["refresh_flags"]["next_run"] is None
        assert jobs["refresh_flags"]["last_run"] is None
        page = requests.get(f"{first.url}/admin/", timeout=5, auth=("admin", ADMIN_TOKEN))
        assert "Scheduled jobs" in page.text and "every 10s" in page.text
    finally:
        stop(first.process)
        stop(second.process)


def _purge_outcomes(*services: Any) -> dict[str, float]:
    """The purge runs each process counted, by outcome, added up."""
    counted = {"ok": 0.0, "skipped": 0.0}
    for running in services:
        text = requests.get(f"{running.url}/metrics", timeout=5).text
        for outcome in counted:
            counted[outcome] += _sample(text, f'connector_job_runs_total{{job="purge",'
                                              f'outcome="{outcome}"}}')
        assert 'connector_job_last_success_timestamp_seconds{job="purge"}' in text
    return counted


def _sample(metrics: str, name: str) -> float:
    """A sample's value in Prometheus text (0 when absent)."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
