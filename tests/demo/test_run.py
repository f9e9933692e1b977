"""`make run`'s process (`python -m demo`): stopped by SIGTERM or SIGHUP as by Ctrl-C, it stops
its back office and its server too."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    """The processes started by pid, and theirs (from /proc)."""
    found: list[int] = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            child = int(status.parent.name)
            found += [child, *children(child)]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP])
def test_the_demo_stops_its_children_on_a_signal(demo_data: Path, tmp_path: Path,
                                                  stop_signal: int) -> None:
    port = free_port()
    env = {**os.environ, "CONNECTOR_PORT": str(port), "CONNECTOR_DATA_DIR": str(tmp_path),
           "CONNECTOR_DEMO_DIR": str(demo_data), "CONNECTOR_SECRET_KEY": "test-secret-key"}
    demo = subprocess.Popen([sys.executable, "-m", "demo"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started: list[int] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", demo, seconds=60)
        with sqlite3.connect(tmp_path / "connector.sqlite") as db:  # its base has its classes
            classes = dict(db.execute("SELECT abc_class, count(*) FROM segments GROUP BY 1"))
        assert set(classes) == {"A", "B", "C"}
        started += children(demo.pid)
        assert len(started) >= 2  # the back office and the server (and its worker)
        demo.send_signal(stop_signal)
        demo.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in started if alive(pid)]
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in [*started, *children(demo.pid)]:  # never leave one behind, even failing
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
