"""`make run`'s process (`python -m demo`): stopped by SIGTERM or SIGHUP as by Ctrl-C, it stops
its back office and its server too."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import connector, free_port, wait_http

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
           "CONNECTOR_DEMO_DIR": str(demo_data), "CONNECTOR_SECRET_KEY": "test-secret-key",
           "DEMO_BACKOFFICE_PORT": str(free_port())}  # 8071 left to the walkthrough
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


def test_the_readme_walkthrough_runs_against_the_demo(demo_data: Path, tmp_path: Path) -> None:
    """`make run`, then `.venv/bin/connector check --probe` and `lookup` in another terminal,
    with nothing set: the back office is on 8071, where manifest.yaml looks. The demo helpdesk
    has posted its tickets as signed webhooks: Pauline's last request is her call of the day."""
    from demo.__main__ import FIXED_PORT, _free

    if not _free(FIXED_PORT):
        pytest.skip(f"port {FIXED_PORT} is taken (a `make run`?): the walkthrough needs it")
    port = free_port()
    env = {**os.environ, "CONNECTOR_PORT": str(port), "CONNECTOR_DATA_DIR": str(tmp_path),
           "CONNECTOR_DEMO_DIR": str(demo_data), "CONNECTOR_SECRET_KEY": "test-secret-key"}
    env.pop("DEMO_BACKOFFICE_URL", None)
    with running_demo(env, port, stdout=subprocess.PIPE) as demo:
        terminal = {k: v for k, v in env.items() if k != "CONNECTOR_PORT"}
        probe = connector("check", "--probe", "--email", "pauline.deneve@easiware.fr",
                          env=terminal)
        assert probe.returncode == 0, probe.stdout + probe.stderr
        assert "erp (rest): found in" in probe.stdout
        looked = connector("lookup", "--email", "pauline.deneve@easiware.fr", env=terminal)
        assert looked.returncode == 0, looked.stderr
        assert '"full_name": "Pauline Denève"' in looked.stdout
        tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
        call = next(t for t in tickets if t["id"] == 1002)["created_at"]  # her latest
        deadline = time.monotonic() + 60
        while (last_request(looked.stdout) or "")[:16] != call[:16]:  # the worker records it
            assert time.monotonic() < deadline, f"her call never counted: {looked.stdout[:300]}"
            looked = connector("lookup", "--email", "pauline.deneve@easiware.fr", env=terminal)
    assert demo.stdout is not None
    assert ("Demo helpdesk: 8 of 8 tickets posted as signed webhooks "
            "(/helpdesk/zendesk/webhook): 8 new, 0 already recorded") in demo.stdout.read()


@contextmanager
def running_demo(env: dict[str, str], port: int,
                 stdout: int = subprocess.DEVNULL) -> Iterator[subprocess.Popen[str]]:
    """`make run`'s process (`python -m demo`) with this environment, serving on `port`;
    stopped after by SIGTERM, with every process it started (killed if one lingers)."""
    demo = subprocess.Popen([sys.executable, "-m", "demo"], cwd=ROOT, env=env, stdout=stdout,
                            stderr=subprocess.DEVNULL, text=True)
    started: list[int] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", demo, seconds=60)  # type: ignore[arg-type]
        started += children(demo.pid)
        yield demo
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
        for pid in [*started, *children(demo.pid)]:  # never leave one behind, even failing
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def last_request(record: str) -> str | None:
    """The date of the last request in `connector lookup`'s JSON, as UTC `…Z`."""
    last = ((json.loads(record).get("contacts") or {}).get("last") or {}).get("date")
    return last.replace("+00:00", "Z") if isinstance(last, str) else None


def test_a_taken_port_gives_another_and_says_which(
        demo_data: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import demo.__main__ as run

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(run, "FIXED_PORT", taken.getsockname()[1])
        process, url = run.start_backoffice(demo_data, dict(os.environ))
    try:
        assert not url.endswith(f":{run.FIXED_PORT}")
        assert (f"the demo back office is on {url}; before running `connector` in another "
                f"terminal: export DEMO_BACKOFFICE_URL={url}") in capsys.readouterr().out
    finally:
        process.terminate()
        process.wait(timeout=10)
