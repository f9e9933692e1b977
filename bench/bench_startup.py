"""A cluster's cold start: ten `connector serve` started at once on an empty PostgreSQL
database. Target: all come up, every round (the schema migrated once, under the advisory
lock, the others waiting, then finding it done).

Run: .venv/bin/python bench/bench_startup.py [--processes 10] [--rounds 5] [--migrated]
(`--migrated`: each database migrated first, by `connector migrate`, to see what the start
costs without the migration.)
Each round makes an empty database (CREATE DATABASE on 127.0.0.1:5432), starts the processes
together (each its own data folder; the demo manifest and back office), polls `/readyz` (the
database answers) on each, and counts: up, exited (with their last stderr line), the time from
the launch to each one up (first, last = all up), and how many ran the migration (their log
says "schema migrated"): 1 is right. Then stops them (SIGTERM) and drops the database.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import free_port  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WAIT_S = 60.0


@dataclass
class Round:
    """One round's outcome."""

    up: int
    exited: list[str]  # each exited process's last stderr line
    first_s: float
    all_s: float  # inf when some never came up
    migrated: int  # processes whose log says they migrated the schema


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--migrated", action="store_true",
                        help="migrate each database first (`connector migrate`): the cost of "
                             "the start alone, for comparison")
    args = parser.parse_args()
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    env = {**os.environ, "DEMO_BACKOFFICE_URL": office_url, "CONNECTOR_DEMO_DIR": str(data),
           "CONNECTOR_SECRET_KEY": "bench-secret-key",
           "CONNECTOR_MANIFEST": str(ROOT / "manifest.yaml")}
    try:
        rounds = [one_round(env, args.processes, args.migrated) for _ in range(args.rounds)]
    finally:
        office.terminate()
    print(report(rounds, args.processes, args.migrated))
    return 0 if all(r.up == args.processes for r in rounds) else 1


def one_round(env: dict[str, str], count: int, migrated: bool = False) -> Round:
    """Start `count` services at once on a new empty (or `migrated`) database; what came of
    them."""
    name = "connector_bench_" + uuid.uuid4().hex[:8]
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    admin = sqlalchemy.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    logs = Path(tempfile.mkdtemp())
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    if migrated:
        subprocess.run([exe, "migrate"], env={**env, "CONNECTOR_DATABASE_URL": url},
                       check=True, capture_output=True)
    ports = [free_port() for _ in range(count)]
    started = time.monotonic()
    processes = {port: subprocess.Popen(
        [exe, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=(logs / f"{port}.log").open("wb"),
        env={**env, "CONNECTOR_DATABASE_URL": url,
             "CONNECTOR_DATA_DIR": str(logs / f"var-{port}"),
             "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"}) for port in ports}
    try:
        times = wait_ready(processes, started)
        texts = [(logs / f"{port}.log").read_text() for port in ports]
        exited = [(texts[i].strip().splitlines() or ["(nothing)"])[-1][:160]
                  for i, port in enumerate(ports) if port not in times]
        return Round(len(times), exited, min(times.values(), default=float("inf")),
                     max(times.values()) if len(times) == count else float("inf"),
                     sum("schema migrated" in text for text in texts))
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_ready(processes: dict[int, subprocess.Popen[bytes]], started: float) -> dict[int, float]:
    """Each port whose service answered /readyz 200, with the seconds from the launch."""
    times: dict[int, float] = {}
    deadline = started + WAIT_S
    while time.monotonic() < deadline:
        waiting = [p for p, process in processes.items()
                   if p not in times and process.poll() is None]
        if not waiting:
            break
        for port in waiting:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    times[port] = time.monotonic() - started
            except requests.RequestException:
                pass
        time.sleep(0.05)
    return times


def report(rounds: list[Round], count: int, migrated: bool) -> str:
    """The figures as a Markdown table."""
    database = "an already migrated" if migrated else "an empty"
    rows = [f"Cold start — {count} `connector serve` at once on {database} PostgreSQL database, "
            f"{len(rounds)} rounds; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}", "",
            "| round | up (target all) | first up | all up | migrated the schema (target 1) "
            "| exited |", "|---|---|---|---|---|---|"]
    for index, r in enumerate(rounds, 1):
        rows.append(f"| {index} | {r.up} / {count} | {r.first_s:.2f} s | {r.all_s:.2f} s | "
                    f"{r.migrated} | {'; '.join(r.exited) or '-'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
