"""The service under agents and webhooks at once, as one process and as a small cluster on one
host (`serve --workers N --no-worker` + `connector worker`, PostgreSQL, the cache in Redis).

Run: .venv/bin/python bench/bench_cluster.py [--agents 32] [--seconds 20] [--rate 200]
Needs the machine's PostgreSQL (127.0.0.1:5432, database `test`: a database of its own is made
and dropped) and Redis (127.0.0.1:6379: keys under a prefix of its own, deleted after).
Prints a Markdown table; bench/RESULTS.md keeps the figures with the machine and date. The
figures are ratios in one run: warm sidebar p99 over `/healthz` p99 while `--agents` agents open
warm records (target ≤ 3), webhook acknowledgement p99 at `--rate` events/s, and the time a
burst of events takes to be worked.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import free_port, serve  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402

SECRET = "bench-cluster"
HOOK_SECRET = "bench-cluster-helpscout"
ADMIN = "bench-admin"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else 0.0


def database() -> str:
    """A PostgreSQL database of this run's own (dropped by `drop`)."""
    import psycopg

    name = f"bench_cluster_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return name


def drop(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def agents(urls: list[str], health: str, count: int, seconds: float) -> dict[str, list[float]]:
    """`count` agents opening warm records in a loop, and a probe of /healthz every 20 ms."""
    times: dict[str, list[float]] = {"sidebar": [], "healthz": [], "failed": []}
    stop = time.monotonic() + seconds

    def agent(index: int) -> None:
        session = requests.Session()
        n = index
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = session.get(urls[n % len(urls)], timeout=10).status_code == 200
            except requests.RequestException:
                ok = False
            times["sidebar" if ok else "failed"].append(time.perf_counter() - started)
            n += count

    def probe() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                session.get(health, timeout=10)
            except requests.RequestException:
                times["failed"].append(0.0)
            times["healthz"].append(time.perf_counter() - started)
            time.sleep(0.02)

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(count)]
    threads.append(threading.Thread(target=probe))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def webhooks(url: str, emails: list[str], rate: int, count: int) -> tuple[list[float], float]:
    """`count` signed events sent open-loop at `rate` a second; their ack times, and how long
    until every one was worked (from the first sent)."""
    acks: list[float] = []
    started = time.monotonic()

    def send(index: int) -> None:
        body = json.dumps({
            "id": 990000 + index, "number": 99000 + index, "type": "email",
            "subject": "Bench", "createdAt": "2026-11-22T10:00:00Z",
            "source": {"type": "email", "via": "customer"},
            "primaryCustomer": {"id": 5, "email": emails[index % len(emails)]}}).encode()
        signature = base64.b64encode(hmac.new(HOOK_SECRET.encode(), body, hashlib.sha1).digest())
        time.sleep(max(started + index / rate - time.monotonic(), 0))
        sent = time.perf_counter()
        try:
            requests.post(f"{url}/helpdesk/helpscout/webhook", data=body, timeout=10, headers={
                "X-HelpScout-Signature": signature.decode(), "X-HelpScout-Event": "convo.created",
                "Content-Type": "application/json"})
        except requests.RequestException:
            return
        acks.append(time.perf_counter() - sent)

    with ThreadPoolExecutor(64) as pool:
        list(pool.map(send, range(count)))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        events = requests.get(f"{url}/admin/health.json", timeout=10,
                              auth=("admin", ADMIN)).json()["events"]
        if events.get("done", 0) >= count:
            break
        time.sleep(0.2)
    return acks, time.monotonic() - started


def topology(name: str, env: dict[str, str], emails: list[str],
             args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    worker = None
    if name == "one process":
        process, url = serve(env, port)
    else:
        command = [exe, "serve", "--port", str(port), "--workers", str(args.workers),
                   "--no-worker"]
        process, url = serve(env, port, command)
        worker = subprocess.Popen([exe, "worker"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from connector.helpdesk.embed import EmbedLinks

        links = EmbedLinks(SECRET.encode(), 3600, "FR")
        urls = [links.url(url, links.token(email=email)) for email in emails]
        for link in urls:  # warm every record
            requests.get(link, timeout=60)
        times = agents(urls, f"{url}/healthz", args.agents, args.seconds)
        acks, drained = webhooks(url, emails, args.rate, args.rate * args.burst_s)
    finally:
        for child in (process, worker):
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
    sidebar, health = percentile(times["sidebar"], 99), percentile(times["healthz"], 99)
    return {"name": name, "sidebar": sidebar * 1000, "healthz": health * 1000,
            "ratio": sidebar / health if health else float("nan"),
            "rps": len(times["sidebar"]) / args.seconds, "failed": len(times["failed"]),
            "ack": percentile(acks, 99) * 1000, "acked": len(acks), "drained": drained}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--burst-s", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--customers", type=int, default=50)
    args = parser.parse_args()
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    prefix = f"bench-{secrets.token_hex(4)}"
    names = []
    rows = []
    emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]]
    emails = emails[:args.customers]
    try:
        for name in ("one process", f"{args.workers} web processes + worker, Redis cache"):
            db = database()
            names.append(db)
            env = {**os.environ, "DEMO_BACKOFFICE_URL": office_url,
                   "CONNECTOR_DEMO_DIR": str(data), "CONNECTOR_DATA_DIR": tempfile.mkdtemp(),
                   "CONNECTOR_SECRET_KEY": SECRET, "CONNECTOR_ADMIN_TOKEN": ADMIN,
                   "CONNECTOR_MANIFEST": str(ROOT / "manifest.yaml"),
                   "CONNECTOR_DATABASE_URL": PG + db, "HELPSCOUT_WEBHOOK_SECRET": HOOK_SECRET,
                   "CONNECTOR_RATE_LIMIT": "off", "CONNECTOR_AUTH_FAILURE_LIMIT": "off"}
            if name != "one process":
                env |= {"CONNECTOR_CACHE_URL": "redis://127.0.0.1:6379/0",
                        "CONNECTOR_CACHE_PREFIX": prefix}
            rows.append(topology(name, env, emails, args))
    finally:
        office.terminate()
        for db in names:
            drop(db)
        import redis

        client = redis.Redis()
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; PostgreSQL; {args.agents} agents for {args.seconds:.0f} s "
          f"on {len(emails)} warm records; then {args.rate * args.burst_s} webhooks at "
          f"{args.rate}/s\n")
    print("| topology | warm sidebar p99 | /healthz p99 | ratio (target ≤ 3) | sidebars/s | "
          "failed | ack p99 | acked | burst worked in |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['name']} | {row['sidebar']:.0f} ms | {row['healthz']:.0f} ms | "
              f"{row['ratio']:.1f} | {row['rps']:.0f} | {row['failed']} | {row['ack']:.0f} ms | "
              f"{row['acked']} | {row['drained']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
