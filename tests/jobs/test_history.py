"""Once per cluster: a job's run is claimed in the database (conditional update, lease), on
SQLite and on a real PostgreSQL; runs are recorded, counted and released."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from connector.customer.links import LinkStore
from connector.jobs.history import FAILED, OK, RUNNING, JobRuns, Refused
from connector.jobs.runner import SKIPPED, JobRunner
from connector.manifest import load_manifest
from connector.ops.metrics import Metrics
from connector.store.schema import job_locks
from tests.jobs.test_config import manifest

SLOT = dt.datetime(2026, 11, 22, 3, 30, tzinfo=dt.UTC)



def test_of_two_processes_claiming_one_slot_at_once_one_runs(store: LinkStore) -> None:
    results: dict[str, int | Refused] = {}
    start = threading.Barrier(4)

    def claim(holder: str) -> None:
        runs = JobRuns(store.engine, holder=holder)
        start.wait()
        results[holder] = runs.claim("purge", SLOT, lease_s=600)

    threads = [threading.Thread(target=claim, args=(f"host-{n}:1",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = {h: r for h, r in results.items() if isinstance(r, int)}
    assert len(won) == 1, results
    [winner] = won
    refused = [r for r in results.values() if isinstance(r, Refused)]
    assert len(refused) == 3
    assert all(r.holder == winner and r.reason.startswith(f"held by {winner} until")
               for r in refused)
    [run] = JobRuns(store.engine).runs("purge")
    assert (run.holder, run.outcome, run.slot) == (winner, RUNNING, SLOT)


def test_a_finished_slot_is_not_run_again_and_the_next_one_is(store: LinkStore) -> None:
    first, second = JobRuns(store.engine, "a:1"), JobRuns(store.engine, "b:2")
    run_id = first.claim("purge", SLOT, 600)
    assert isinstance(run_id, int)
    first.finish(run_id, "purge", OK, "contacts=2")
    late = second.claim("purge", SLOT, 600)  # b's clock fired the same slot a bit later
    assert late == Refused("this slot was already run by another process", None)
    assert isinstance(second.claim("purge", SLOT + dt.timedelta(days=1), 600), int)
    assert isinstance(first.claim("refresh_flags", SLOT, 600), int)  # one lock per job
    last = second.last()
    assert (last["purge"].holder, last["purge"].outcome) == ("b:2", RUNNING)
    assert second.last_success() == {"purge": first.runs("purge")[0].finished_at}


def test_a_run_whose_process_died_is_taken_over_after_its_lease(store: LinkStore) -> None:
    dead, alive = JobRuns(store.engine, "dead:1"), JobRuns(store.engine, "alive:2")
    stuck = dead.claim("purge", SLOT, 600)
    assert isinstance(stuck, int)
    assert isinstance(alive.claim("purge", SLOT + dt.timedelta(hours=1), 600), Refused)
    with store.engine.begin() as connection:  # its lease ran out
        connection.execute(update(job_locks).values(
            leased_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    taken = alive.claim("purge", SLOT + dt.timedelta(hours=1), 600)
    assert isinstance(taken, int)
    old, new = alive.runs("purge")
    assert (old.id, old.outcome, old.error) == (stuck, FAILED, "LeaseExpired")
    assert (new.holder, new.outcome) == ("alive:2", RUNNING)
    dead.finish(stuck, "purge", OK, None)  # it was only slow: it does not free alive's lock
    assert isinstance(JobRuns(store.engine, "third:3").claim(
        "purge", SLOT + dt.timedelta(hours=2), 600), Refused)


def runner(store: LinkStore, tmp_path: Path, work: dict[str, object],
           holder: str = "here:1") -> JobRunner:
    return JobRunner(load_manifest(manifest(tmp_path)), JobRuns(store.engine, holder),
                     work, Metrics())  # type: ignore[arg-type]


def test_a_run_is_recorded_counted_and_released(store: LinkStore, tmp_path: Path) -> None:
    jobs = runner(store, tmp_path, {"purge": lambda _progress: {"contacts": 3, "events": 0}})
    result = jobs.run("purge")
    assert (result.outcome, result.summary) == (OK, "contacts=3 events=0")
    [run] = jobs.runs.runs("purge")
    assert (run.outcome, run.summary, run.error) == (OK, "contacts=3 events=0", None)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert jobs.run("purge").outcome == OK  # released: an admin may run it again at once
    metrics = jobs.metrics.render().decode()
    assert 'connector_job_runs_total{job="purge",outcome="ok"} 2.0' in metrics
    assert 'connector_job_last_success_timestamp_seconds{job="purge"}' in metrics


def test_a_failing_job_is_recorded_by_its_error_class_only(store: LinkStore,
                                                           tmp_path: Path) -> None:
    def broken(_progress: object) -> dict[str, int]:
        raise LookupError("pauline.deneve@easiware.fr not found")  # never stored

    jobs = runner(store, tmp_path, {"purge": broken})
    result = jobs.run("purge")
    assert (result.outcome, result.error) == (FAILED, "LookupError")
    [run] = jobs.runs.runs("purge")
    assert (run.outcome, run.error, run.summary) == (FAILED, "LookupError", None)
    assert 'outcome="failed"} 1.0' in jobs.metrics.render().decode()
    assert jobs.runs.last_success() == {}


def test_a_job_another_process_holds_is_skipped_and_counted(store: LinkStore,
                                                            tmp_path: Path) -> None:
    JobRuns(store.engine, "elsewhere:9").claim("purge", SLOT, 600)
    ran: list[str] = []
    jobs = runner(store, tmp_path, {"purge": lambda _progress: ran.append("x") or {}})
    result = jobs.run("purge")
    assert result.outcome == SKIPPED and result.reason and "elsewhere:9" in result.reason
    assert ran == []
    assert 'connector_job_runs_total{job="purge",outcome="skipped"} 1.0' in \
        jobs.metrics.render().decode()


def test_starting_the_scheduler_says_each_job_once(store: LinkStore, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    jobs = runner(store, tmp_path, {})
    with caplog.at_level(logging.INFO, logger="apscheduler"):
        jobs.start()
        jobs.stop()
    said = [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")]
    assert 'Added job "purge" to job store "default"' in said
    assert not [line for line in said if "tentatively" in line], said
