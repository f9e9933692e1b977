"""How one source dribbling its answers (a byte a second) weighs on other customers' sidebars.

Run: .venv/bin/python bench/bench_source_faults.py [--quick]
A real `connector serve` (its own process, the default manifest) over the demo back office;
the review feed is reached through a proxy of the bench's own. Agents open warm sidebars of
many customers while two others reopen one customer's record again and again, first with
every source well ("unloaded"), then, the same agents, while the proxy sends the feed's
answers for that customer a byte a second ("during the dribble"): only the fault differs.
Prints a Markdown table: the other customers' warm-sidebar p50/p99 in
each phase and how many of their sidebars failed, and what the reopenings themselves got.
Target: p99 during the dribble ≤ 2× unloaded, and no failed sidebar of another customer.
With `--slow-clients N` (200 by default; 0 to leave them out), N sockets also dribble request
headers at a byte a second during the second phase, and `/healthz` is probed in both phases:
the issue's whole condition (slow clients and a slow source at once) in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_front import Dribblers  # noqa: E402
from bench.serving import serve  # noqa: E402
from connector.helpdesk.embed import EmbedLinks  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402

SECRET = "bench-source-faults"
FEED = "${DEMO_BACKOFFICE_URL:-http://127.0.0.1:8071}/feedback/api"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class FeedProxy:
    """Forwards the review feed; `stuck`'s answers, once `dribbling`, a byte a second."""

    def __init__(self, upstream: str, stuck: str) -> None:
        self.upstream = upstream
        self.stuck = stuck
        self.dribbling = threading.Event()
        self.stopping = threading.Event()
        self.dribbled = 0  # answers started a byte at a time
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                """Forward, dribbling the stuck customer's answers."""
                proxy.forward(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        """One request, answered from the back office."""
        answer = requests.get(self.upstream + handler.path, timeout=10)
        email = parse_qs(urlsplit(handler.path).query).get("email", [""])[0]
        slow = self.dribbling.is_set() and email == self.stuck
        handler.send_response(answer.status_code)
        handler.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        try:
            if not slow:
                handler.wfile.write(answer.content)
                return
            self.dribbled += 1
            for byte in answer.content:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                if self.stopping.wait(1.0):
                    return
        except OSError:  # the connector gave up on it: what it should do
            handler.close_connection = True

    def close(self) -> None:
        """Stop serving."""
        self.stopping.set()
        self.server.shutdown()


@dataclass
class Phase:
    """What the agents saw in one phase."""

    others: list[float] = field(default_factory=list)  # seconds, one per sidebar
    health: list[float] = field(default_factory=list)  # seconds, one per /healthz probe
    health_failed: int = 0
    failed: Counter[int] = field(default_factory=Counter)  # status of failed sidebars
    reopened: list[float] = field(default_factory=list)
    reopen_status: Counter[str] = field(default_factory=Counter)


def sidebar(url: str, links: EmbedLinks, email: str) -> tuple[int, float]:
    """One sidebar opened: its status and how long it took."""
    started = time.perf_counter()
    answer = requests.get(links.url(url, links.token(email=email), "fr"), timeout=30)
    return answer.status_code, time.perf_counter() - started


def agents(url: str, links: EmbedLinks, others: list[str], stuck: str | None, args: Any,
           seconds: float) -> Phase:
    """`args.agents` agents opening other customers' sidebars and, when `stuck` is given,
    `args.reopeners` agents reopening that one, for `seconds`."""
    phase = Phase()
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def other_agent(seed: int) -> None:
        pick = random.Random(seed)
        with requests.Session():
            while time.monotonic() < stop:
                status, elapsed = sidebar(url, links, pick.choice(others))
                with lock:
                    phase.others.append(elapsed)
                    if status != 200:
                        phase.failed[status] += 1

    def reopener() -> None:
        assert stuck is not None
        while time.monotonic() < stop:
            answer = requests.get(links.url(url, links.token(email=stuck), "fr"), timeout=60)
            with lock:
                phase.reopen_status[f"{answer.status_code}"] += 1
                phase.reopened.append(answer.elapsed.total_seconds())

    def prober() -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = requests.get(f"{url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    phase.health.append(time.perf_counter() - started)
                else:
                    phase.health_failed += 1
            time.sleep(0.05)

    threads = [threading.Thread(target=other_agent, args=(n,)) for n in range(args.agents)]
    threads.append(threading.Thread(target=prober))
    if stuck is not None:
        threads += [threading.Thread(target=reopener) for _ in range(args.reopeners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return phase


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a short run (about 30 s)")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--agents", type=int, default=4, help="agents on other customers")
    parser.add_argument("--reopeners", type=int, default=2,
                        help="agents reopening the stuck customer's record")
    parser.add_argument("--seconds", type=float, default=None, help="length of each phase")
    parser.add_argument("--slow-clients", type=int, default=200,
                        help="sockets dribbling request headers during the second phase")
    args = parser.parse_args()
    count = args.customers or (30 if args.quick else 150)
    seconds = args.seconds or (8.0 if args.quick else 40.0)
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    emails = reviewed(data)
    stuck, others = emails[0], emails[1:count + 1]
    proxy = FeedProxy(office_url, stuck)
    work = Path(tempfile.mkdtemp())
    manifest = work / "manifest.yaml"
    manifest.write_text((ROOT / "manifest.yaml").read_text().replace(
        FEED, f"{proxy.url}/feedback/api"))
    env = {**os.environ, "DEMO_BACKOFFICE_URL": office_url, "CONNECTOR_DEMO_DIR": str(data),
           "CONNECTOR_DATA_DIR": str(work / "var"), "CONNECTOR_SECRET_KEY": SECRET,
           "CONNECTOR_MANIFEST": str(manifest), "CONNECTOR_RATE_LIMIT": "off",
           "CONNECTOR_API_TOKEN": SECRET,
           "CONNECTOR_AUTH_FAILURE_LIMIT": "off"}
    service, url = serve(env)
    links = EmbedLinks(SECRET.encode(), 600, "FR")
    try:
        for email in others:  # every other customer's record warm in the cache
            sidebar(url, links, email)
        unloaded = agents(url, links, others, stuck, args, seconds)  # the same agents
        # the stuck record forgotten (it was warm), so its next opening asks the feed again
        requests.post(f"{url}/api/v1/cache/invalidate", json={"email": stuck}, timeout=10,
                      headers={"Authorization": f"Bearer {SECRET}"}).raise_for_status()
        proxy.dribbling.set()
        with Dribblers(int(url.rsplit(":", 1)[1]), args.slow_clients):
            during = agents(url, links, others, stuck, args, seconds)
        print(report(unloaded, during, proxy.dribbled, len(others), seconds, args))
    finally:
        service.terminate()
        service.wait(timeout=20)
        proxy.close()
        office.terminate()
    return 0


def reviewed(data: Path) -> list[str]:
    """The demo customers' emails, those with reviews first (the stuck one has some)."""
    erp = json.loads((data / "erp.json").read_text())["customers"]
    emails = [c["email"].lower() for c in erp if c.get("email")]
    feedback = json.loads((data / "feedback.json").read_text())
    with_reviews = {r["email"].lower() for r in feedback.get("reviews", []) if r.get("email")}
    return sorted(emails, key=lambda e: e not in with_reviews)


def report(unloaded: Phase, during: Phase, dribbled: int, customers: int, seconds: float,
           args: Any) -> str:
    """The figures as a Markdown table."""
    ms = 1000

    def row(name: str, phase: Phase) -> str:
        return (f"| {name} | {len(phase.others)} | {percentile(phase.others, 50) * ms:.1f} ms "
                f"| {percentile(phase.others, 99) * ms:.1f} ms | {sum(phase.failed.values())} |")

    def health(name: str, phase: Phase) -> str:
        return (f"| {name} | {len(phase.health)} | {percentile(phase.health, 50) * ms:.1f} ms "
                f"| {percentile(phase.health, 99) * ms:.1f} ms | {phase.health_failed} |")

    ratio = percentile(during.others, 99) / percentile(unloaded.others, 99)
    health_ratio = percentile(during.health, 99) / percentile(unloaded.health, 99)
    reopened = (f"{len(during.reopened)} reopenings of the stuck record: p50 "
                f"{percentile(during.reopened, 50) * ms:.0f} ms, max "
                f"{max(during.reopened) * ms:.0f} ms, statuses {dict(during.reopen_status)}; "
                f"{dribbled} feed answers dribbled") if during.reopened else "no reopening"
    head = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; {customers} other customers, {args.agents} agents "
            f"on them, {args.reopeners} reopening the stuck one, {seconds:g} s a phase; "
            f"{args.slow_clients} sockets dribbling headers during the dribble")
    lines = [head, "",
             "| other customers' warm sidebars | count | p50 | p99 | failed |",
             "|---|---|---|---|---|",
             row("unloaded", unloaded), row("during the dribble (1 byte/s)", during), "",
             f"p99 during ÷ unloaded: {ratio:.2f} (target ≤ 2); failed sidebars of other "
             f"customers: {sum(during.failed.values())} (target 0)", "",
             "| /healthz | count | p50 | p99 | failed |", "|---|---|---|---|---|",
             health("unloaded", unloaded), health("during", during), "",
             f"/healthz p99 during ÷ unloaded: {health_ratio:.2f} (target ≤ 2)", "", reopened]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
