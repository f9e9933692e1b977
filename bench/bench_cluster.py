"""The service under agents and webhooks at once, as one process and as a small cluster on one
host (`serve --workers N --no-worker` + `connector worker`, PostgreSQL, the cache in Redis).

Run: .venv/bin/python bench/bench_cluster.py [--agents 32] [--seconds 20] [--sidebar-rate 50]
    [--rate 200] [--burst 1000] [--source-ms 50] [--topology cluster] [--client wrk|python]
    [--floor]
Needs the machine's PostgreSQL (127.0.0.1:5432, database `test`: a database of its own is made
and dropped) and Redis (127.0.0.1:6379: keys under a prefix of its own, deleted after).
Prints a Markdown table; bench/RESULTS.md keeps the figures with the machine and date. The
figures are ratios in one run: warm sidebar p99 over `/healthz` p99 while `--agents` agents open
warm records back to back (target ≤ 3), the same while agents open `--sidebar-rate` records a
second in open loop, webhook acknowledgement p99 at `--rate` events/s (sent open loop by sender
processes of their own, `bench/openloop.py`, so the senders' own queue is not counted), and
the time those events take to be worked; with `--burst N`, then N more events sent all at once (64
senders on kept-alive connections, as fast as they go), timed from the first sent until the
worker has worked every one (target: 1,000 in ≤ 10 s with 50 ms sources). `--source-ms` sets
the demo back office's latency for every request (default: its own 20-80 ms); `--topology`
runs one of the two. The agents start once the work the warm-up openings left behind is done
(each first opening learns who the person is, and its page is made again behind;
`--no-settle`: at once). `--floor` then sends the same agents to requests cheaper than a
sidebar (`/readyz`, a 404), to show the ratio a closed loop gives a request of that cost. The agents
are wrk's connections when Debian's `wrk` is installed (`apt-get install wrk`: a load generator
in C, whose own work does not queue behind the measure's), else threads of this process
(`--client python`, whose interpreter the agents and the probe share).
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
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.openloop import LEAD_S, raw_request, send_open_loop  # noqa: E402
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


def probe(health: str, times: dict[str, list[float]], done: Callable[[], bool]) -> None:
    """/healthz every 20 ms until `done`: its times, and a failure as 0."""
    session = requests.Session()
    while not done():
        started = time.perf_counter()
        try:
            session.get(health, timeout=10)
        except requests.RequestException:
            times["failed"].append(0.0)
        times["healthz"].append(time.perf_counter() - started)
        time.sleep(0.02)


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

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(count)]
    threads.append(threading.Thread(target=probe, args=(
        health, times, lambda: time.monotonic() >= stop)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
statuses = {}
threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
response = function(status, headers, body)
  if status >= 400 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, latency:percentile(99),
    latency.mean, summary.duration))
  io.write(string.format("WRKERR timeout %%d connect %%d read %%d write %%d\\n",
    summary.errors.timeout, summary.errors.connect, summary.errors.read, summary.errors.write))
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("WRKERR %%d %%d\\n", status, n))
    end
  end
end
"""


def wrk_agents(urls: list[str], health: str, count: int, seconds: float) -> dict[str, Any]:
    """The same agents run by wrk (a load generator in C: the agents' own work does not
    compete with the measure's), with the /healthz probe from this process."""
    from urllib.parse import urlsplit

    paths = [urlsplit(u)._replace(scheme="", netloc="").geturl() for u in urls]
    base = urlsplit(urls[0])._replace(path="", query="").geturl()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
    times: dict[str, list[float]] = {"healthz": [], "failed": []}
    stop = threading.Event()

    thread = threading.Thread(target=probe, args=(health, times, stop.is_set))
    thread.start()
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{count}", f"-d{int(seconds)}s", "--timeout",
                              "10s", "-s", script.name, base], capture_output=True, text=True,
                             check=True).stdout
    finally:
        stop.set()
        thread.join()
        os.unlink(script.name)
    requests_, errors, p99_us, mean_us, duration_us = (
        int(float(x)) for x in next(line for line in out.splitlines()
                                   if line.startswith("WRK ")).split()[1:])
    why: Counter[str] = Counter()
    for line in out.splitlines():
        if line.startswith("WRKERR "):
            words = line.split()[1:]
            for what, count_ in zip(words[::2], words[1::2], strict=True):
                why[what if not what.isdigit() else f"HTTP {what}"] += int(count_)
    why["/healthz"] += len(times["failed"])
    return {"sidebar_p99": p99_us / 1e6, "sidebar_mean": mean_us / 1e6,
            "rps": requests_ / (duration_us / 1e6), "failed": errors + len(times["failed"]),
            "healthz": times["healthz"], "why": +why}


def open_agents(urls: list[str], health: str, rate: int, seconds: float) -> dict[str, Any]:
    """Agents opening warm records at `rate` a second in all, whatever the answers take
    (open loop: the agents of a helpdesk do not wait for each other), with the /healthz probe
    beside them; the sidebars' times and the probe's."""
    from urllib.parse import urlsplit

    base = urlsplit(urls[0])._replace(path="", query="").geturl()
    prepared = [raw_request(urls[n % len(urls)]) for n in range(int(rate * seconds))]
    times: dict[str, list[float]] = {"healthz": [], "failed": []}
    stop = threading.Event()
    thread = threading.Thread(target=probe, args=(health, times, stop.is_set))
    thread.start()
    try:
        answers = send_open_loop(base, prepared, rate)
    finally:
        stop.set()
        thread.join()
    why = Counter(f"HTTP {a.status}" if a.status else "no answer" for a in answers
                  if a.status != 200) + Counter({"/healthz": len(times["failed"])})
    return {"sidebar": [a.seconds for a in answers if a.status == 200],
            "failed": sum(1 for a in answers if a.status != 200), "healthz": times["healthz"],
            "why": why}


def signed_event(number: int, email: str) -> tuple[bytes, dict[str, str]]:
    """A Help Scout "conversation created" event about `email`, and its signed headers."""
    body = json.dumps({
        "id": 990000 + number, "number": 99000 + number, "type": "email",
        "subject": "Bench", "createdAt": "2026-11-22T10:00:00Z",
        "source": {"type": "email", "via": "customer"},
        "primaryCustomer": {"id": 5, "email": email}}).encode()
    signature = base64.b64encode(hmac.new(HOOK_SECRET.encode(), body, hashlib.sha1).digest())
    return body, {"X-HelpScout-Signature": signature.decode(),
                  "X-HelpScout-Event": "convo.created", "Content-Type": "application/json"}


def webhooks(url: str, emails: list[str], rate: int | None, count: int,
             first: int = 0) -> tuple[list[float], float]:
    """`count` signed events (ids from `first`) sent open-loop at `rate` a second (a
    connection each, as helpdesks send, from sender processes of their own: `openloop`), or
    all at once as fast as 64 senders go on kept-alive connections (`rate` None); the times
    of their acknowledgements, and how long until every one was worked (from the first
    sent)."""
    done_before = worked(url)
    events = [signed_event(first + n, emails[(first + n) % len(emails)]) for n in range(count)]
    if rate is not None:
        prepared = [raw_request(f"{url}/helpdesk/helpscout/webhook", "POST", body, headers)
                    for body, headers in events]
        started = time.monotonic() + LEAD_S  # when the first is due
        answers = send_open_loop(url, prepared, rate)
        acks = [a.seconds for a in answers if 200 <= a.status < 300]
    else:
        acks, started = burst(url, events)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and worked(url) < done_before + count:
        time.sleep(0.05)
    return acks, time.monotonic() - started


def burst(url: str, events: list[tuple[bytes, dict[str, str]]]) -> tuple[list[float], float]:
    """Every event at once from 64 senders on kept-alive connections; their ack times, and
    when the first was sent."""
    acks: list[float] = []
    local = threading.local()
    started = time.monotonic()

    def send(event: tuple[bytes, dict[str, str]]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        sent = time.perf_counter()
        try:
            session.post(f"{url}/helpdesk/helpscout/webhook", data=event[0], timeout=10,
                         headers=event[1])
        except requests.RequestException:
            return
        acks.append(time.perf_counter() - sent)

    with ThreadPoolExecutor(64) as pool:
        list(pool.map(send, events))
    return acks, started


def worked(url: str) -> int:
    """Events worked so far (done or failed), as the admin page counts them."""
    events = requests.get(f"{url}/admin/health.json", timeout=10,
                          auth=("admin", ADMIN)).json()["events"]
    return int(events.get("done", 0)) + int(events.get("failed", 0))


def topology(name: str, env: dict[str, str], emails: list[str],
             args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    workers: list[subprocess.Popen[bytes]] = []
    runs: list[dict[str, Any]] = []
    if name == "one process":
        process, url = serve({**env, "CONNECTOR_WORKERS": "1"}, port)
    else:
        command = [exe, "serve", "--port", str(port), "--workers", str(args.workers),
                   "--no-worker"]
        process, url = serve(env, port, command)
        workers = [subprocess.Popen([exe, "worker"], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(args.event_workers)]
        if args.worker_pid_file:  # for a profiler (py-spy record --pid …)
            Path(args.worker_pid_file).write_text(str(workers[0].pid))
    try:
        from connector.helpdesk.embed import EmbedLinks

        links = EmbedLinks(SECRET.encode(), 3600, "FR")
        urls = [links.url(url, links.token(email=email)) for email in emails]
        with ThreadPoolExecutor(8) as pool:  # warm every record
            list(pool.map(lambda link: requests.get(link, timeout=120), urls))
        settle = settled(url) if args.settle else None
        loaded: dict[str, Any]
        runs = [closed(urls, f"{url}/healthz", args) for _ in range(args.runs)]
        loaded = runs[-1]
        floors = [floor(url, what, args) for what in (FLOORS if args.floor else ())]
        opened: dict[str, Any] = {"sidebar": [], "failed": 0, "healthz": []}
        if args.sidebar_rate:
            opened = open_agents(urls, f"{url}/healthz", args.sidebar_rate, args.seconds)
        acks, drained = webhooks(url, emails, args.rate, args.rate * args.burst_s)
        burst: tuple[list[float], float] = ([], float("nan"))
        if args.burst:
            burst = webhooks(url, emails, None, args.burst, first=args.rate * args.burst_s)
    finally:
        for child in (process, *workers):
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
    return {"name": name, **closed_loop(loaded),
            "open": percentile(opened["sidebar"], 99) * 1000,
            "open_ratio": (percentile(opened["sidebar"], 99)
                           / (percentile(opened["healthz"], 99) or float("nan"))),
            "open_failed": opened["failed"], "open_why": opened.get("why", {}),
            "rps": loaded["rps"], "failed": loaded["failed"],
            "ack": percentile(acks, 99) * 1000, "acked": len(acks), "drained": drained,
            "burst": burst[1], "burst_acked": len(burst[0]),
            "burst_ack": percentile(burst[0], 99) * 1000, "floors": floors,
            "runs": [{**closed_loop(run), "rps": run["rps"], "why": run.get("why", {})}
                     for run in runs], "settle": settle}


def settled(url: str, limit_s: float = 60.0) -> float:
    """Seconds until the work the openings left behind is done: each record's first opening
    learnt who the person is (a making that wrote, not kept), and its page is made again
    behind; done once the pages made (kept or not, all processes: `/metrics`) stop changing
    for a second; `limit_s` at most."""
    started = time.monotonic()
    last, still = -1.0, started
    while time.monotonic() - started < limit_s:
        text = requests.get(f"{url}/metrics", timeout=10).text
        made = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(('connector_kept_pages_total{result="kept"}',
                                       'connector_kept_pages_total{result="unkept"}')))
        if made != last:
            last, still = made, time.monotonic()
        elif time.monotonic() - still >= 1.0:
            return still - started
        time.sleep(0.1)
    return time.monotonic() - started


FLOORS = {  # requests of known, smaller cost, asked by the same agents in place of sidebars
    "/readyz": "`/readyz` (one database statement; a Redis ping when the cache is shared)",
    "/no-such-page": "a 404 (no work: the front and Flask alone)",
}


def floor(url: str, path: str, args: argparse.Namespace) -> dict[str, Any]:
    """The agents' ratio to /healthz when what they ask costs less than a sidebar: where a
    closed loop's ratio stands for a request of that cost (wrk only)."""
    loaded = wrk_agents([f"{url}{path}"], f"{url}/healthz", args.agents, args.seconds)
    return {"what": FLOORS[path], **closed_loop(loaded), "mean": loaded["sidebar_mean"] * 1000,
            "rps": loaded["rps"]}


def closed(urls: list[str], healthz: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run of the agents' closed loop, by the chosen client."""
    if args.client == "wrk":
        return wrk_agents(urls, healthz, args.agents, args.seconds)
    times = agents(urls, healthz, args.agents, args.seconds)
    return {"sidebar_p99": percentile(times["sidebar"], 99),
            "rps": len(times["sidebar"]) / args.seconds,
            "failed": len(times["failed"]), "healthz": times["healthz"]}


def closed_loop(loaded: dict[str, Any]) -> dict[str, float]:
    """The agents' p99 and /healthz's (ms), and their ratio (the target's)."""
    asked, health = loaded["sidebar_p99"], percentile(loaded["healthz"], 99)
    return {"sidebar": asked * 1000, "healthz": health * 1000,
            "ratio": asked / health if health else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--burst-s", type=int, default=5)
    parser.add_argument("--sidebar-rate", type=int, default=50,
                        help="then agents opening warm records at this rate, open loop (0: not)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--event-workers", type=int, default=1,
                        help="`connector worker` processes beside the web processes")
    parser.add_argument("--burst", type=int, default=0,
                        help="then this many events at once, timed until all are worked")
    parser.add_argument("--source-ms", type=int, default=None,
                        help="the demo back office's latency per request (default 20-80 ms)")
    parser.add_argument("--client", choices=("wrk", "python"),
                        default="wrk" if shutil.which("wrk") else "python",
                        help="the agents' load generator (default: wrk when installed)")
    parser.add_argument("--topology", choices=("both", "one", "cluster"), default="both")
    parser.add_argument("--floor", action="store_true",
                        help="then the same agents on requests cheaper than a sidebar (/readyz, "
                             "a 404): the closed loop's ratio for a request of that cost (wrk)")
    parser.add_argument("--worker-pid-file", help="where to write `connector worker`'s pid")
    parser.add_argument("--no-settle", dest="settle", action="store_false",
                        help="start the agents as soon as the openings are answered, not once "
                             "the work they left behind is done (their pages made again)")
    parser.add_argument("--runs", type=int, default=1,
                        help="the 32 agents' closed loop this many times in a row (wrk): the "
                             "first after one opening of each record (and, unless --no-settle, "
                             "the pages those openings left to make again, made); the table "
                             "gives the last")
    args = parser.parse_args()
    if args.floor and args.client != "wrk":
        print("--floor skipped: it needs wrk (apt-get install wrk)", file=sys.stderr)
        args.floor = False
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(
        data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)},
        latency_ms=(args.source_ms, args.source_ms) if args.source_ms is not None else None)
    prefix = f"bench-{secrets.token_hex(4)}"
    names = []
    rows = []
    emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]]
    emails = emails[:args.customers]
    try:
        cluster = (f"{args.workers} web processes + {args.event_workers} worker"
                   f"{'s' if args.event_workers > 1 else ''}, Redis cache")
        chosen = {"both": ("one process", cluster), "one": ("one process",),
                  "cluster": (cluster,)}[args.topology]
        for name in chosen:
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
    sources = f"{args.source_ms} ms" if args.source_ms is not None else "20-80 ms"
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; PostgreSQL; sources at {sources}; {args.agents} agents "
          f"({args.client}) for {args.seconds:.0f} s on {len(emails)} warm records"
          f"{f'; then agents at {args.sidebar_rate}/s, open loop' if args.sidebar_rate else ''}"
          f"; then {args.rate * args.burst_s} webhooks at {args.rate}/s"
          f"{f'; then {args.burst} at once' if args.burst else ''}\n")
    print("| topology | warm sidebar p99 | /healthz p99 | ratio (target ≤ 3) | sidebars/s | "
          "failed | open loop: sidebar p99 | ratio | failed | ack p99 | acked | worked in "
          "(from the first sent) | burst: acked | burst ack p99 | burst worked in |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['name']} | {row['sidebar']:.0f} ms | {row['healthz']:.0f} ms | "
              f"{row['ratio']:.1f} | {row['rps']:.0f} | {row['failed']} | {row['open']:.0f} ms | "
              f"{row['open_ratio']:.1f} | {row['open_failed']} | {row['ack']:.0f} ms | "
              f"{row['acked']} | {row['drained']:.1f} s | {row['burst_acked']} | "
              f"{row['burst_ack']:.0f} ms | {row['burst']:.1f} s |")
    for row in rows:
        failures = [(f"closed loop, run {n}", run["why"])
                    for n, run in enumerate(row["runs"], 1)]  # type: ignore[attr-defined]
        for where, why in [*failures, ("open loop", row["open_why"])]:
            if why:
                print(f"\n{row['name']}, {where}: failed "
                      + ", ".join(f"{what} × {n}" for what, n in sorted(why.items())))
    if args.runs > 1:
        print(f"\nThe {args.agents} agents' closed loop, run after run (the first after one "
              "opening of each record):\n")
        print("| topology | run | warm sidebar p99 | /healthz p99 | ratio (target ≤ 3) | "
              "sidebars/s |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            if row["settle"] is not None:
                print(f"| {row['name']} | the openings' work behind done in "
                      f"{row['settle']:.1f} s | | | | |")
            for n, run in enumerate(row["runs"], 1):  # type: ignore[attr-defined]
                print(f"| {row['name']} | {n} | {run['sidebar']:.0f} ms | "
                      f"{run['healthz']:.0f} ms | {run['ratio']:.1f} | {run['rps']:.0f} |")
    floors = [(row["name"], f) for row in rows for f in row["floors"]]  # type: ignore[attr-defined]
    if floors:
        print(f"\nThe same {args.agents} agents asking, instead of sidebars:\n")
        print("| topology | request | answered/s | mean | p99 | /healthz p99 | ratio |")
        print("|---|---|---|---|---|---|---|")
        for name, f in floors:
            print(f"| {name} | {f['what']} | {f['rps']:.0f} | {f['mean']:.0f} ms | "
                  f"{f['sidebar']:.0f} ms | {f['healthz']:.0f} ms | {f['ratio']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
