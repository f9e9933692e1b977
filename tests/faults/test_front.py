"""The front under slow, big and stopping traffic: the real server on real sockets (an app of
our own where the test needs to hold a request), and `connector serve` itself under SIGTERM
in the middle of a burst of webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.cli.front import Front
from connector.settings import Settings
from tests.conftest import (
    ADMIN_TOKEN,
    Backoffice,
    free_port,
    service_env,
    start_service,
    stop,
)

PAULINE = "pauline.deneve@easiware.fr"


class Held:
    """A WSGI app whose `/held` requests wait until released; anything else answers at once."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.holding = 0
        self._count = threading.Lock()

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/held":
            with self._count:
                self.holding += 1
            self.entered.set()
            self.release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture()
def front() -> Iterator[tuple[Front, Held, list[str]]]:
    """Our front on a free port, 2 threads, a 1-second request read timeout, serving in a
    thread; `stopped` records the order of the end."""
    app = Held()
    settings = Settings(host="127.0.0.1", port=free_port(), threads=2,
                        request_read_timeout_s=1.0, drain_s=10, max_body_bytes=64 * 1024,
                        max_header_bytes=8192)
    server = Front(app, settings)
    stopped: list[str] = []
    thread = threading.Thread(target=server.serve, args=(lambda: stopped.append("on_stop"),),
                              daemon=True)
    thread.start()
    yield server, app, stopped
    app.release.set()
    server.stop()
    thread.join(15)


def url(front: Front, path: str = "/") -> str:
    return f"http://127.0.0.1:{front.port}{path}"


def dribbler(front: Front) -> socket.socket:
    """A client that has sent the start of a request and nothing since."""
    sock = socket.create_connection(("127.0.0.1", front.port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    return sock


def test_slow_clients_hold_sockets_not_the_threads_that_answer(
        front: tuple[Front, Held, list[str]]) -> None:
    """Ten times more half-sent requests than threads: a whole request still gets its answer
    (under gunicorn's threaded worker, each of them held a thread)."""
    server, _, _ = front
    slow = [dribbler(server) for _ in range(20)]
    try:
        for _ in range(5):
            assert requests.get(url(server, "/healthz"), timeout=5).text == "ok"
    finally:
        for sock in slow:
            sock.close()



def test_a_liveness_probe_never_waits_behind_busy_threads(
        front: tuple[Front, Held, list[str]]) -> None:
    """Every worker thread held (a source or the database not answering): /healthz still
    answers, on its own thread (it waited for a free one: 2 s behind a hung database)."""
    server, app, _ = front
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(requests.get, url(server, "/held"), timeout=30) for _ in range(2)]
        assert app.entered.wait(10)
        deadline = time.monotonic() + 10
        while app.holding < 2 and time.monotonic() < deadline:  # both threads taken
            time.sleep(0.01)
        assert app.holding == 2
        assert requests.get(url(server, "/healthz"), timeout=5).text == "ok"
        app.release.set()
        assert all(answer.result(timeout=15).status_code == 200 for answer in held)

def test_a_request_still_arriving_after_the_read_timeout_is_cut(
        front: tuple[Front, Held, list[str]]) -> None:
    """A byte every 0.2 s is never idle, so only a deadline on the whole request ends it."""
    server, _, _ = front
    sock = dribbler(server)
    sock.settimeout(0.2)
    deadline = time.monotonic() + 15
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            sock.sendall(b"a")
            closed = sock.recv(1024) == b""
        except TimeoutError:
            continue
        except OSError:  # reset by the server
            closed = True
    sock.close()
    assert closed, "the server kept a dribbling request open past its read timeout"


def test_a_body_over_the_cap_is_413_before_it_is_sent(
        front: tuple[Front, Held, list[str]]) -> None:
    server, _, _ = front
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 413")


def test_headers_over_the_cap_are_refused(front: tuple[Front, Held, list[str]]) -> None:
    server, _, _ = front
    answer = requests.get(url(server), headers={"X-Big": "x" * 20_000}, timeout=10)
    assert answer.status_code == 431


def test_a_stop_closes_the_door_finishes_what_was_read_then_stops_the_rest(
        front: tuple[Front, Held, list[str]]) -> None:
    server, app, stopped = front
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(requests.get, url(server, "/held"), timeout=30)
        assert app.entered.wait(10)
        server.stop()
        deadline = time.monotonic() + 10
        refused = False
        while time.monotonic() < deadline and not refused:  # the listening socket closes
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
                time.sleep(0.05)
            except OSError:
                refused = True
        assert refused, "new connections were still accepted after the stop"
        assert stopped == []  # the worker and jobs stop after the requests under way
        app.release.set()
        answer = held.result(timeout=15)
    assert answer.status_code == 200 and answer.text == "ok"
    deadline = time.monotonic() + 10
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stopped == ["on_stop"]


# --- `connector serve` under SIGTERM, in the middle of a burst -----------------------------

def signed_event(number: int) -> tuple[bytes, dict[str, str]]:
    """A Help Scout `convo.created` for Pauline, signed with the test secret `s`."""
    body = json.dumps({"id": 990000 + number, "number": number, "type": "email",
                       "subject": f"Demande {number}", "primaryCustomer": {"email": PAULINE},
                       "createdBy": {"type": "customer", "email": PAULINE}}).encode()
    signature = base64.b64encode(hmac.new(b"s", body, hashlib.sha1).digest()).decode()
    return body, {"X-HelpScout-Signature": signature, "X-HelpScout-Event": "convo.created",
                  "Content-Type": "application/json"}


def burst(service: Any, signum: signal.Signals, after: int = 15) -> set[int]:
    """80 signed webhooks from 6 clients; `signum` sent to the service once `after` of them
    were acknowledged. The numbers acknowledged."""
    acked: set[int] = set()
    lock = threading.Lock()
    sent = threading.Event()

    def send(number: int) -> None:
        body, headers = signed_event(number)
        try:
            answer = requests.post(f"{service.url}/helpdesk/helpscout/webhook", data=body,
                                   headers=headers, timeout=15)
        except requests.RequestException:
            return  # refused or cut after the signal: not acknowledged, the helpdesk resends
        assert answer.status_code in (202, 503), (answer.status_code, answer.text)
        if answer.status_code == 202:
            with lock:
                acked.add(number)
                if len(acked) >= after and not sent.is_set():
                    sent.set()
                    service.process.send_signal(signum)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(send, range(1, 81)))
    assert sent.is_set()
    return acked


def worked_once(env: dict[str, str], data: Path, acked: set[int]) -> None:
    """A new process on the same database works every acknowledged event, each once (and any
    event written whose acknowledgement the signal cut off: the helpdesk resends it, and it is
    a duplicate)."""
    second = start_service(env)
    try:
        with sqlite3.connect(data / "connector.sqlite") as db:
            written = db.execute("SELECT count(*) FROM ticket_events").fetchone()[0]
        assert written >= len(acked)
        deadline = time.monotonic() + 60
        events: dict[str, int] = {}
        while time.monotonic() < deadline:
            events = requests.get(f"{second.url}/admin/health.json", timeout=5,
                                  auth=("admin", ADMIN_TOKEN)).json()["events"]
            if events == {"done": written}:
                break
            time.sleep(0.2)
        assert events == {"done": written}
    finally:
        stop(second.process)
    with sqlite3.connect(data / "connector.sqlite") as db:
        worked = dict(db.execute("SELECT ticket_id, count(*) FROM contacts "
                                 "WHERE helpdesk = 'helpscout' GROUP BY ticket_id"))
    assert set(worked.values()) == {1}  # each worked once
    assert {int(ticket) - 990000 for ticket in worked} >= acked and len(worked) == written


def test_sigterm_mid_burst_drains_and_loses_or_repeats_nothing(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> None:
    env = {**service_env(demo_data, backoffice.url, tmp_path), "HELPSCOUT_WEBHOOK_SECRET": "s",
           "CONNECTOR_DRAIN_S": "10"}
    first = start_service(env)
    try:
        acked = burst(first, signal.SIGTERM)
        assert first.process.wait(timeout=30) == 0
    finally:
        if first.process.poll() is None:
            stop(first.process)
    with sqlite3.connect(tmp_path / "connector.sqlite") as db:
        states = dict(db.execute("SELECT state, count(*) FROM ticket_events GROUP BY state"))
        errors = db.execute("SELECT count(*) FROM ticket_events WHERE error IS NOT NULL")
        assert "working" not in states, states  # given back at shutdown, not left leased
        assert errors.fetchone() == (0,)  # no event lost an attempt to the stop
    worked_once(env, tmp_path, acked)


def test_sigkill_mid_burst_loses_or_repeats_nothing(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> None:
    """kill -9: nothing is given back, so the next process takes the events the dead one held
    once their (short) lease ends; every acknowledged one is worked, once."""
    env = {**service_env(demo_data, backoffice.url, tmp_path), "HELPSCOUT_WEBHOOK_SECRET": "s",
           "CONNECTOR_EVENT_LEASE_S": "2"}
    first = start_service(env)
    try:
        acked = burst(first, signal.SIGKILL)
        assert first.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if first.process.poll() is None:
            stop(first.process)
    worked_once(env, tmp_path, acked)
