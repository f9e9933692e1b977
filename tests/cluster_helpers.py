"""Helpers for the tests that run several connector processes against the machine's real
PostgreSQL and Redis (tests/web/test_cluster_cold_opens.py,
tests/events/test_budgets_processes.py): a counting, slowed-down reverse proxy in front of the
sources, a small threaded HTTP server, and `connector serve` / `connector worker` started with
their stderr kept (shown when a test fails)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.conftest import (
    MANIFEST,
    ROOT,
    Service,
    drop_schema,
    free_port,
    postgres_url,
    wait_http,
)


@contextmanager
def postgres_schema(name: str) -> Iterator[str]:
    """A fresh PostgreSQL schema of this test's own (its URL), dropped afterwards."""
    url = postgres_url(name)
    try:
        yield url
    finally:
        drop_schema(name)


def manifest_copy(path: Path, *edits: tuple[str, str, int]) -> Path:
    """The default manifest written to `path`, each (old, new, count) edit made where `old`
    is found exactly `count` times (so that a change to the manifest fails here, not later)."""
    text = MANIFEST.read_text(encoding="utf-8")
    for old, new, count in edits:
        assert text.count(old) == count, f"{old!r} is in the manifest {text.count(old)} times"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


# -- a threaded HTTP server of the test's own ------------------------------------------------

Handler = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
"""(method, path with query, headers, body) -> (status, headers, body)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    respond: Handler  # set on the subclass each server makes

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, answer = type(self).respond(
            self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the tests say what they saw


class HttpServer:
    """`respond` served on 127.0.0.1 by a thread per connection, until `close`."""

    def __init__(self, respond: Handler) -> None:
        handler = type("Handler", (_Handler,), {"respond": staticmethod(respond)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the sources, behind a proxy that counts every question and answers slowly ---------------

@dataclass(frozen=True)
class Call:
    """One request the proxy passed to the sources."""

    method: str
    target: str  # path and query, as asked
    started: float  # time.monotonic() when it came in
    answered: float  # time.monotonic() when its answer went back
    status: int


@dataclass
class CountingProxy:
    """A reverse proxy in front of `upstream` (the demo back office) that records every call
    and holds each `latency_s` before passing it on, so that simultaneous opens overlap
    the one fetch they should share."""

    upstream: str
    latency_s: float = 0.3
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._http = HttpServer(self._forward)
        self.url = self._http.url

    def _forward(self, method: str, target: str, headers: dict[str, str],
                 body: bytes) -> tuple[int, dict[str, str], bytes]:
        started = time.monotonic()
        time.sleep(self.latency_s)
        passed = {k: v for k, v in headers.items()
                  if k.lower() not in ("host", "content-length", "connection")}
        answer = requests.request(method, self.upstream + target, headers=passed,
                                  data=body or None, timeout=10)
        kept = {k: v for k, v in answer.headers.items()
                if k.lower() in ("content-type", "retry-after")}
        with self._lock:
            self.calls.append(Call(method, target, started, time.monotonic(),
                                   answer.status_code))
        return answer.status_code, kept, answer.content

    def seen(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def close(self) -> None:
        self._http.close()


# -- connector processes ---------------------------------------------------------------------

@dataclass
class Process:
    """A `connector` process whose stderr goes to a file (read back on failure)."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def run_connector(args: list[str], env: dict[str, str], log: Path) -> Process:
    """Start `connector <args>` with its stderr in `log`."""
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        process = subprocess.Popen([exe, *args], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=sink)
    return Process(process, log)


def serve(envs: list[dict[str, str]], logs: list[Path], *extra: str
          ) -> tuple[list[Service], list[Process]]:
    """`connector serve` processes (with `extra` arguments), each on a free port, started
    together (the first to take the database's migration lock migrates it), once each one's
    /healthz answers."""
    services, running = [], []
    for env, log in zip(envs, logs, strict=True):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**env, "CONNECTOR_PUBLIC_URL": url}
        one = run_connector(["serve", "--port", str(port), *extra], env, log)
        services.append(Service(url, env, one.process))
        running.append(one)
    for service, one in zip(services, running, strict=True):
        try:
            wait_http(f"{service.url}/healthz", one.process, seconds=60)
        except RuntimeError as exc:
            stop_all(running)
            raise RuntimeError(f"{exc}\n{one.output()[-3000:]}") from None
    return services, running


def workers(envs: list[dict[str, str]], logs: list[Path]) -> list[Process]:
    """`connector worker` processes (their event worker, write-back sender and jobs), started
    together, once each says it runs."""
    running = [run_connector(["worker"], env, log) for env, log in zip(envs, logs, strict=True)]
    deadline = time.monotonic() + 60
    for one in running:
        while "worker running" not in one.output():
            if one.process.poll() is not None or time.monotonic() > deadline:
                stop_all(running)
                raise RuntimeError(f"connector worker did not start:\n{one.output()[-3000:]}")
            time.sleep(0.05)
    return running


def stop_all(processes: list[Process]) -> None:
    """SIGTERM each (all at once, then wait for each; kill any that outlives 15 s)."""
    for running in processes:
        if running.process.poll() is None:
            running.process.terminate()
    for running in processes:
        try:
            running.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait(timeout=5)
