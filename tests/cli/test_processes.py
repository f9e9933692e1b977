"""`connector serve --workers N` and `connector worker`, as real processes: N web processes
serve one port with one more for events and jobs, all stopped by one SIGTERM; a web process
with `--no-worker` acknowledges an event that a separate `connector worker` works."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from connector.settings import Settings, usable_cores
from tests.conftest import ADMIN_TOKEN, REDIS, ROOT, free_port, stop, until, wait_http

PAULINE = "pauline.deneve@easiware.fr"
SECRET = "processes-helpscout-secret"


def connector(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    return subprocess.Popen([path, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after the command's name
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def healthz_count(port: int) -> float:
    """`/healthz` requests answered well, as a scrape of `/metrics` counts them."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r'^connector_request_seconds_count\{endpoint="/healthz",status="200"\} '
                      r'(\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_n_web_processes_and_one_worker_share_the_port_and_stop_together(
        env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    own = {**env, "CONNECTOR_DATA_DIR": str(tmp_path), "CONNECTOR_PORT": str(port),
           "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    parent = connector("serve", "--workers", "2", env=own)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", parent, seconds=40)
        assert until(lambda: len(children(parent.pid)) == 3, 20)  # web-1, web-2, worker
        kids = children(parent.pid)
        base = os.getpriority(os.PRIO_PROCESS, 0)  # the web processes keep it; the worker
        assert until(lambda: sorted(niceness(kids)) == [base, base, min(base + 10, 19)], 20)
        before = healthz_count(port)
        for _ in range(10):  # every answer from one of the web processes, none refused
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        # whichever process answers a scrape, it counts every process's requests
        assert [healthz_count(port) for _ in range(6)] == [before + 10] * 6
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
        assert all(not Path(f"/proc/{pid}").exists() or
                   Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
                   for pid in kids)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_children_stop_when_the_supervisor_is_killed(env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) on the supervisor: its children are told to stop and do,
    rather than serve the port on their own with no one to restart or stop them."""
    port = free_port()
    own = {**env, "CONNECTOR_DATA_DIR": str(tmp_path), "CONNECTOR_PORT": str(port),
           "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
           # a killed parent cannot remove its metrics folder: this test's own, not /dev/shm
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    parent = connector("serve", "--workers", "2", env=own)
    kids: list[int] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", parent, seconds=40)
        assert until(lambda: len(children(parent.pid)) == 3, 20)
        kids = children(parent.pid)
        parent.kill()
        parent.wait(timeout=10)
        assert until(lambda: not [pid for pid in kids if running(pid)], 30)
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in kids:  # never leave one behind, even failing
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def niceness(pids: list[int]) -> list[int]:
    return [os.getpriority(os.PRIO_PROCESS, pid) for pid in pids]


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_a_web_process_without_worker_acknowledges_and_connector_worker_works_it(
        env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    own = {**env, "CONNECTOR_DATA_DIR": str(tmp_path), "HELPSCOUT_WEBHOOK_SECRET": SECRET,
           "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    web = connector("serve", "--no-worker", "--port", str(port), env=own)
    worker = None
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", web)
        body = json.dumps({
            "id": 880001, "number": 8801, "type": "email", "subject": "Ma commande",
            "createdAt": "2026-11-22T10:00:00Z", "source": {"type": "email", "via": "customer"},
            "primaryCustomer": {"id": 5, "email": PAULINE},
        }).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha1).digest())
        sent = requests.post(f"{url}/helpdesk/helpscout/webhook", data=body, timeout=10,
                             headers={"X-HelpScout-Signature": signature.decode(),
                                      "X-HelpScout-Event": "convo.created",
                                      "Content-Type": "application/json"})
        assert sent.status_code == 202

        def events() -> dict[str, int]:
            found: dict[str, int] = requests.get(f"{url}/admin/health.json", timeout=5,
                                                 auth=("admin", ADMIN_TOKEN)).json()["events"]
            return found

        assert events() == {"pending": 1}  # acknowledged, kept: nobody here works it
        worker = connector("worker", env={**own, "CONNECTOR_WORKER_NICE": "3"})
        assert until(lambda: events() == {"done": 1}, 30)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        assert niceness([web.pid, worker.pid]) == [base, min(base + 3, 19)]
    finally:
        stop(web)
        if worker is not None:
            stop(worker)


def test_children_that_cannot_start_stop_the_service_with_their_code(
        env: dict[str, str], tmp_path: Path) -> None:
    """A schema newer than this code: every web process refuses it as it starts; the
    supervisor stops, with their exit code, rather than starting them again for ever."""
    import sqlite3

    own = {**env, "CONNECTOR_DATA_DIR": str(tmp_path), "CONNECTOR_PORT": str(free_port())}
    migrated = connector("migrate", env=own)
    assert migrated.wait(timeout=60) == 0
    with sqlite3.connect(tmp_path / "connector.sqlite") as database:
        database.execute("UPDATE alembic_version SET version_num = 'f00d9999'")
    parent = connector("serve", "--workers", "2", env=own)
    try:
        assert parent.wait(timeout=60) == 1
    finally:
        if parent.poll() is None:
            parent.kill()


def test_auto_serves_on_every_core_when_the_cache_is_shared_and_on_one_otherwise(
        env: dict[str, str], tmp_path: Path, redis_prefix: str) -> None:
    for shared in (True, False):
        port = free_port()
        own = {**env, "CONNECTOR_DATA_DIR": str(tmp_path / str(shared)),
               "CONNECTOR_PORT": str(port), "CONNECTOR_WORKERS": "auto",
               "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        if shared:
            own |= {"CONNECTOR_CACHE_URL": REDIS, "CONNECTOR_CACHE_PREFIX": redis_prefix}
        parent = connector("serve", env=own)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", parent, seconds=40)
            expected = usable_cores() + 1 if shared and usable_cores() > 1 else 0
            assert until(lambda: len(children(parent.pid)) == expected, 20)  # noqa: B023
            # one process serves everything when the cache is its own memory: no children
        finally:
            stop(parent)


def test_web_processes_read_the_setting() -> None:
    assert Settings(workers=3).web_processes()[0] == 3
    assert Settings(workers="auto").web_processes()[0] == 1  # memory cache: one process
    shared = Settings(workers="auto", cache_url=REDIS).web_processes()
    assert shared[0] == usable_cores() and "shared" in shared[1]
    with pytest.raises(ValueError):
        Settings(workers=0)
