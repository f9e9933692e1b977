"""The front under slow clients: `/healthz` and warm sidebars while 200 sockets dribble their
headers at one byte a second, for `connector serve` (waitress, bounded) and, to show why it was
chosen, the same app under gunicorn's threaded worker as it was served before.

Run: .venv/bin/python bench/bench_front.py [--sockets 200] [--requests 150] [--quick]
Prints a Markdown table; bench/RESULTS.md keeps the latest figures with the machine and date.
The figure is a ratio measured in one run: p99 with the slow sockets over p99 without (the
target is ≤ 2), plus how many requests failed (target 0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import free_port, serve  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402

SECRET = "bench-front"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Dribblers:
    """`count` sockets each sending one more header byte a second, reopened when the server
    cuts them (as an attacker would)."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.sockets: list[socket.socket | None] = [None] * count
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Dribblers:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            if sock is not None:
                sock.close()

    def _run(self) -> None:
        while not self.stop.is_set():
            for index, sock in enumerate(self.sockets):
                try:
                    if sock is None:
                        sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                        self.sockets[index] = sock
                    else:
                        sock.sendall(b"a")
                except OSError:
                    if sock is not None:
                        sock.close()
                        self.reopened += 1
                    self.sockets[index] = None
            self.stop.wait(1.0)


@dataclass
class Probe:
    """Latencies (s) of the requests that answered 200, and how many did not."""

    times: list[float]
    failed: int


def probe(urls: list[str], count: int, timeout_s: float) -> Probe:
    """`count` requests in turn over `urls`; stops early after 10 failures in a row."""
    times: list[float] = []
    failed = streak = 0
    for index in range(count):
        started = time.perf_counter()
        try:
            ok = requests.get(urls[index % len(urls)], timeout=timeout_s).status_code == 200
        except requests.RequestException:
            ok = False
        if ok:
            times.append(time.perf_counter() - started)
            streak = 0
        else:
            failed += 1
            streak += 1
            if streak >= 10:
                failed += count - index - 1
                break
    return Probe(times, failed)


def start(server: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`connector serve`, or the same app under gunicorn's gthread worker (8 threads)."""
    command = None
    if server != "waitress":
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        command = [gunicorn, "-k", "gthread", "--threads", "8", "-w", "1", "-b",
                   f"127.0.0.1:{port}", "connector.web:create_app()"]
    return serve(env, port, command)[0]


def sidebar_urls(port: int, emails: list[str]) -> list[str]:
    from connector.helpdesk.embed import EmbedLinks

    links = EmbedLinks(SECRET.encode(), 3600, "FR")
    return [links.url(f"http://127.0.0.1:{port}", links.token(email=email)) for email in emails]


def measure(server: str, env: dict[str, str], emails: list[str], sockets: int,
            count: int) -> dict[str, object]:
    port = free_port()
    process = start(server, port, env)
    try:
        health = [f"http://127.0.0.1:{port}/healthz"]
        sidebars = sidebar_urls(port, emails)
        for url in sidebars:  # warm every record
            requests.get(url, timeout=30)
        quiet = {"healthz": probe(health, count, 5), "sidebar": probe(sidebars, count, 5)}
        with Dribblers(port, sockets) as slow:
            time.sleep(3)  # every socket open and dribbling
            loaded = {"healthz": probe(health, count, 5), "sidebar": probe(sidebars, count, 5)}
            reopened = slow.reopened
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    row: dict[str, object] = {"server": server, "reopened": reopened}
    for what in ("healthz", "sidebar"):
        before, after = quiet[what], loaded[what]
        p99_before = percentile(before.times, 99) if before.times else float("nan")
        p99_after = percentile(after.times, 99) if after.times else float("nan")
        row[what] = (p99_before * 1000, p99_after * 1000, p99_after / p99_before,
                     before.failed, after.failed)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--quick", action="store_true", help="50 sockets, 40 requests")
    parser.add_argument("--servers", default="waitress,gunicorn")
    args = parser.parse_args()
    if args.quick:
        args.sockets, args.requests = 50, 40
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    env = {**os.environ, "DEMO_BACKOFFICE_URL": office_url, "CONNECTOR_DEMO_DIR": str(data),
           "CONNECTOR_DATA_DIR": tempfile.mkdtemp(), "CONNECTOR_SECRET_KEY": SECRET,
           "CONNECTOR_MANIFEST": str(ROOT / "manifest.yaml"),
           # the probes come from one address, as fast as they can: no rate limit here
           "CONNECTOR_RATE_LIMIT": "off", "CONNECTOR_AUTH_FAILURE_LIMIT": "off"}
    emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]][:20]
    rows = []
    try:
        for server in args.servers.split(","):
            rows.append(measure(server, env, emails, args.sockets, args.requests))
    finally:
        office.terminate()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; {args.sockets} sockets dribbling headers at 1 byte/s, "
          f"{args.requests} requests per probe, one at a time\n")
    print("| server | /healthz p99 quiet → loaded (ms) | ratio | warm sidebar p99 quiet → "
          "loaded (ms) | ratio | failed (quiet/loaded) | slow sockets cut and reopened |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        h, s = row["healthz"], row["sidebar"]
        assert isinstance(h, tuple) and isinstance(s, tuple)
        print(f"| {row['server']} | {h[0]:.1f} → {h[1]:.1f} | {h[2]:.2f} | "
              f"{s[0]:.1f} → {s[1]:.1f} | {s[2]:.2f} | {h[3] + s[3]}/{h[4] + s[4]} | "
              f"{row['reopened']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
