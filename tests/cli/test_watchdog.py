"""A process that stops moving is ended and started again (`CONNECTOR_STUCK_S`,
connector/cli/watchdog.py): in process, what counts as not moving; as real processes, a web
process whose requests all wait on a lock held in the real PostgreSQL ends itself with its
threads' stacks in the log, and one that does not run at all (SIGSTOP: as a C call holding the
interpreter would) is ended by its supervisor — both started again while the port keeps
serving."""

from __future__ import annotations

import os
import re
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import sqlalchemy

from connector.cli.watchdog import EXIT_STUCK, Heartbeats, watch
from connector.ops.progress import Progress
from tests.cli.test_processes import children, running
from tests.cluster_helpers import Process, postgres_schema, run_connector, stop_all, workers
from tests.conftest import API_TOKEN, POSTGRES, Backoffice, free_port, service_env, until
from tests.sources.test_cache import Clock

PAULINE = "pauline.deneve@easiware.fr"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_requests_under_way_with_none_ending_are_not_moving() -> None:
    clock = Clock()
    progress = Progress("request", clock)
    clock.now += 3600  # idle an hour: nothing under way is never stuck
    assert progress.stuck_for() == 0.0
    progress.began()  # the first request after the idle hour counts from now
    clock.now += 5
    assert progress.stuck_for() == 5.0
    progress.began()
    clock.now += 5
    assert progress.stuck_for() == 10.0  # another beginning is no progress
    progress.ended()
    assert progress.stuck_for() == 0.0  # one ended: moving, though one is still under way
    clock.now += 7
    assert progress.stuck_for() == 7.0
    progress.ended()
    clock.now += 60
    assert progress.stuck_for() == 0.0


def test_the_watch_ends_a_process_whose_requests_do_not_move_and_beats_otherwise() -> None:
    stuck = threading.Event()
    told: list[tuple[float, str, int]] = []

    def on_stuck(stuck_s: float, progress: Progress) -> None:
        told.append((stuck_s, progress.what, progress.under_way))
        stuck.set()

    moving = Progress("request")
    watch(0.5, [moving], on_stuck)
    idle, stalled = Progress("request"), Progress("event")
    stalled.began()
    stalled.began()
    readings: list[tuple[str, float]] = []
    watch(0.5, [idle, stalled], on_stuck, noted=lambda what, s: readings.append((what, s)))
    for _ in range(30):  # the moving one: requests begin and end for 1.5 s
        moving.began()
        moving.ended()
        if stuck.wait(0.05):
            break
    assert stuck.wait(10)
    assert told == [(0.5, "event", 2)]  # the stalled one only
    assert ("request", 0.0) in readings  # each reading noted (the metrics' gauge)
    assert max(seconds for what, seconds in readings if what == "event") > 0.5


def test_a_reading_that_fails_does_not_stop_the_watch() -> None:
    stuck = threading.Event()

    def broken(_what: str, _seconds: float) -> None:
        raise RuntimeError("metrics away")

    stalled = Progress("request")
    stalled.began()
    watch(0.5, [stalled], lambda _s, _p: stuck.set(), noted=broken)
    assert stuck.wait(10)


def test_heartbeats_say_how_long_a_child_has_been_silent() -> None:
    beats = Heartbeats(2)
    assert beats.silent_for(0) == 0.0  # never beaten: starting, not judged
    beats.beat(1)
    assert 0.0 <= beats.silent_for(1) < 1.0
    beats.reset(1)
    assert beats.silent_for(1) == 0.0


def supervised(backoffice: Backoffice, demo_data: Path, tmp_path: Path, database: str,
               stuck_s: str) -> tuple[Process, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**service_env(demo_data, backoffice.url, tmp_path / "var"),
           "CONNECTOR_DATABASE_URL": database, "CONNECTOR_STUCK_S": stuck_s,
           "CONNECTOR_DB_STATEMENT_TIMEOUT_S": "120", "CONNECTOR_DB_TIMEOUT_S": "30",
           "CONNECTOR_PUBLIC_URL": url,
           "CONNECTOR_RATE_LIMIT": "off", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    parent = run_connector(["serve", "--port", str(port), "--workers", "2", "--no-worker"],
                           env, tmp_path / "serve.log")
    until(lambda: parent.output().count("connector: serving on") == 2, 60)  # both started
    assert ok(f"{url}/healthz") and len(children(parent.process.pid)) == 2
    return parent, url


def restarted(url: str, why: str) -> float:
    """Processes the supervisor started again for `why`, as any process's /metrics counts."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf'^connector_processes_restarted_total\{{why="{why}"\}} (\S+)$', text,
                      re.M)
    return float(found.group(1)) if found else 0.0


def ok(url: str, **kwargs: object) -> bool:
    try:
        return requests.get(url, timeout=5, **kwargs).status_code == 200  # type: ignore[arg-type]
    except requests.RequestException:
        return False


def lock_every_table(holder: sqlalchemy.Connection, schema: str) -> None:
    """A transaction on `holder` holding every table of the schema (until it ends)."""
    tables = holder.execute(sqlalchemy.text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
        " AND table_type = 'BASE TABLE'"), {"s": schema}).scalars().all()
    holder.execute(sqlalchemy.text(
        "LOCK TABLE " + ", ".join(f'"{schema}"."{t}"' for t in tables)
        + " IN ACCESS EXCLUSIVE MODE"))


def test_a_web_process_whose_requests_all_wait_ends_itself_and_is_started_again(
        backoffice: Backoffice, demo_data: Path, tmp_path: Path) -> None:
    schema = f"connector_test_{uuid.uuid4().hex[:12]}"
    with postgres_schema(schema) as database:
        parent, url = supervised(backoffice, demo_data, tmp_path, database, "3")
        lookup = f"{url}/api/v1/customers/lookup?email={PAULINE}"
        engine = sqlalchemy.create_engine(POSTGRES)
        try:
            assert ok(lookup, headers=AUTH)
            before = set(children(parent.process.pid))
            with engine.connect() as holder:
                lock_every_table(holder, schema)
                with ThreadPoolExecutor(6) as agents:  # their lookups wait on the lock
                    for _ in range(6):
                        agents.submit(requests.get, lookup, headers=AUTH, timeout=30)
                    until(lambda: "no request ended for" in parent.output(), 60)
                    until(lambda: set(children(parent.process.pid)) - before, 30)
                    holder.rollback()  # the lock goes: the processes started again serve
            until(lambda: ok(lookup, headers=AUTH), 60)
            assert restarted(url, "stuck") >= 1
            log = parent.output()
            assert "ended for not moving: started again" in log  # by the supervisor
            assert "Thread 0x" in log and 'File "' in log  # where each thread waited
            assert PAULINE not in log  # stacks, not data
        finally:
            stop_all([parent])
            engine.dispose()


def test_a_web_process_that_does_not_run_at_all_is_ended_by_its_supervisor(
        backoffice: Backoffice, demo_data: Path, tmp_path: Path) -> None:
    schema = f"connector_test_{uuid.uuid4().hex[:12]}"
    with postgres_schema(schema) as database:
        parent, url = supervised(backoffice, demo_data, tmp_path, database, "3")
        frozen = children(parent.process.pid)[0]
        try:
            os.kill(frozen, signal.SIGSTOP)  # no thread of it runs: no heartbeat
            until(lambda: "has not moved for" in parent.output(), 30)
            assert ok(f"{url}/healthz")  # the other process serves meanwhile
            until(lambda: not running(frozen), 30)  # SIGABRT waits: SIGKILL ended it
            until(lambda: len(children(parent.process.pid)) == 2, 30)
            assert frozen not in children(parent.process.pid)
            until(lambda: ok(f"{url}/api/v1/customers/lookup?email={PAULINE}", headers=AUTH),
                  30)
            assert restarted(url, "silent") == 1 and restarted(url, "stuck") == 0
        finally:
            if running(frozen):
                os.kill(frozen, signal.SIGKILL)
            stop_all([parent])


def test_an_event_worker_whose_pass_waits_for_ever_ends_itself(
        backoffice: Backoffice, demo_data: Path, tmp_path: Path) -> None:
    """`connector worker` alone: its pass waits on the database (every table locked); it ends
    with 75 and its stacks, for its own supervisor (systemd, Kubernetes) to start it again."""
    schema = f"connector_test_{uuid.uuid4().hex[:12]}"
    with postgres_schema(schema) as database:
        env = {**service_env(demo_data, backoffice.url, tmp_path / "var"),
               "CONNECTOR_DATABASE_URL": database, "CONNECTOR_STUCK_S": "3",
               "CONNECTOR_DB_STATEMENT_TIMEOUT_S": "120", "CONNECTOR_DB_TIMEOUT_S": "30"}
        worker = workers([env], [tmp_path / "worker.log"])[0]
        engine = sqlalchemy.create_engine(POSTGRES)
        try:
            with engine.connect() as holder:
                lock_every_table(holder, schema)
                assert worker.process.wait(timeout=60) == EXIT_STUCK
                holder.rollback()
            log = worker.output()
            assert "no event ended for 3 s" in log and 'File "' in log
        finally:
            stop_all([worker])
            engine.dispose()
