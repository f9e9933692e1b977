"""How much of a helpdesk's write-back rate two real `connector worker` processes use together,
and that they never exceed it (target: ≥ 90 % of the allowed rate, no 429, never more than the
limit in any window).

Run: .venv/bin/python bench/bench_writeback_rate.py [--seconds 30] [--workers 2 1]
    [--changes 200] [--latency-ms 50]
Needs the machine's PostgreSQL (127.0.0.1:5432, database `test`: a schema of its own per run,
dropped after) and Redis (127.0.0.1:6379: the write-back budget under a key prefix of its own
per run, its keys deleted after). Prints a Markdown table with the machine and date.

The helpdesk is Help Scout, whose adapter paces write-backs with `Limits(calls=3, per_s=5.0)`
(connector/helpdesk/helpscout/adapter.py): 3 per 5 s per account. A fake Mailbox API of the
bench's own answers as Help Scout documents it (connector/helpdesk/helpscout/api.py):
`POST /v2/oauth2/token` (client credentials: each worker is given its own client_id, so its
own token tells the calls of one process from the other's), `GET /v2/conversations/{id}`
(one tag of someone else's), `PUT /v2/conversations/{id}/tags` (204) and
`POST /v2/conversations/{id}/notes` (201); every call takes `--latency-ms`.

What is limited: the budget (connector/events/budgets.py, `SharedBudget`, asked in
`WriteBackQueue.send_due`) counts one call per *change* sent, before the adapter's
`write_back` makes it, not one per HTTP request. Each change here is a conversation with no
tag of ours (write_back: tags on, note off), i.e. exactly one GET and one write
(`PUT …/tags`). So the fake limits the *writes* (PUT tags and POST notes: the quantity the
budget paces): a write that would make more than 3 in any 5 s (a moving window: the 3 accepted
before it all within the last 5 s) is answered 429 with `X-RateLimit-Retry-After`. The reads
(GET) and the token calls are not limited; their count is shown (all API calls, most in any
5 s) for information.

Each run: the fake, a copy of manifest.yaml whose `helpdesks.helpscout` points at it
(`api_url`) with write-back on (tags, no note), N `connector worker` processes sharing a
PostgreSQL schema and the Redis budget (CONNECTOR_RATE_LIMIT_STORAGE/_PREFIX); `--changes`
changes for distinct conversations queued in one transaction (`WriteBackQueue.enqueue`), so
that every worker always has work; measured over `--seconds` from the first write accepted:
writes accepted, allowed = 3 × seconds / 5, fraction = writes / allowed, 429s (the whole run
until the end of the measure), the most writes in any 5 s, writes by each process.
`--workers 2 1` (the default) runs two workers, then one for comparison. `--slack-ms N` makes
the fake lenient (its window N ms shorter than 5 s): the budget counts a change when it grants
it, the helpdesk when the PUT lands, one GET (and, for a process's first change, a token call)
later; a difference in that delay between two changes 5 s apart is enough for a strict
helpdesk to see 4 writes within 5 s, so the queue waits a margin past a full window
(`WriteBackQueue.margin_s`: the longest recent write-back, at most a tenth of the window).
The column "write after allowed" shows how late the
(k+3)th write came after the kth plus 5 s (negative: sooner than the limit allows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.events.writeback import WriteBackQueue  # noqa: E402
from connector.helpdesk.base import WriteBack  # noqa: E402
from connector.store.schema import writebacks  # noqa: E402
from demo.generate import ensure  # noqa: E402
from tests.cluster_helpers import (  # noqa: E402
    HttpServer,
    Process,
    manifest_copy,
    stop_all,
    workers,
)
from tests.conftest import (  # noqa: E402
    REDIS,
    drop_schema,
    free_port,
    postgres_url,
    service_env,
    stop,
    wait_http,
)

CALLS, PER_S = 3, 5.0  # Help Scout's write_limits: the budget's and the fake's limit
CONVERSATION = re.compile(r"^/v2/conversations/(\d+)(/tags|/notes)?$")
JSON = {"Content-Type": "application/json"}
ANCHOR = "    client_secret: ${HELPSCOUT_CLIENT_SECRET:-}\n"  # in helpdesks.helpscout


@dataclass(frozen=True)
class Call:
    at: float  # time.time() when it came in
    process: str  # the client_id whose token it carried ("" unknown)
    kind: str  # token, read, write
    status: int
    conversation: str = ""


class FakeHelpScout:
    """Help Scout's Mailbox API as write-back uses it; writes limited to CALLS per PER_S (a
    moving window), answered 429 with X-RateLimit-Retry-After past it."""

    def __init__(self, latency_s: float, slack_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.window_s = PER_S - slack_s  # a lenient helpdesk forgets a write a little sooner
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.tokens: dict[str, str] = {}  # access token -> client_id
        self.http = HttpServer(self.answer)
        self.url = self.http.url

    def answer(self, method: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        time.sleep(self.latency_s)
        path = target.split("?")[0]
        now = time.time()
        if method == "POST" and path == "/v2/oauth2/token":
            form = urllib.parse.parse_qs(body.decode())
            client = (form.get("client_id") or [""])[0]
            if (form.get("grant_type") or [""])[0] != "client_credentials" or not client:
                return 400, JSON, b'{"error": "invalid_request"}'
            token = f"token-{client}-{secrets.token_hex(4)}"
            with self.lock:
                self.tokens[token] = client
                self.calls.append(Call(now, client, "token", 200))
            return self._json(200, {"token_type": "bearer", "access_token": token,
                                    "expires_in": 172800})
        found = CONVERSATION.match(path)
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        with self.lock:
            caller = self.tokens.get(bearer)
        if caller is None:
            return 401, JSON, b'{"error": "invalid_token"}'
        if found is None:
            return 404, JSON, b'{"message": "not found"}'
        conversation, what = found.group(1), found.group(2)
        if method == "GET" and what is None:
            with self.lock:
                self.calls.append(Call(now, caller, "read", 200, conversation))
            return self._json(200, {"id": int(conversation), "status": "active", "tags": [
                {"id": 7, "color": "#a5b2bd", "tag": "billing"}]})
        if (method, what) in (("PUT", "/tags"), ("POST", "/notes")):
            with self.lock:
                since = now - self.window_s
                recent = sorted(c.at for c in self.calls
                                if c.kind == "write" and c.status < 300 and c.at > since)
                if len(recent) >= CALLS:
                    self.calls.append(Call(now, caller, "write", 429, conversation))
                    retry = max(1, math.ceil(recent[-CALLS] + self.window_s - now))
                    return 429, {**JSON, "X-RateLimit-Retry-After": str(retry)}, \
                        b'{"message": "rate limit exceeded"}'
                self.calls.append(Call(now, caller, "write", 204 if what == "/tags" else 201,
                                       conversation))
            return (204, {}, b"") if what == "/tags" else (201, {}, b"")
        return 405, JSON, b'{"message": "method not allowed"}'

    @staticmethod
    def _json(status: int, data: object) -> tuple[int, dict[str, str], bytes]:
        return status, JSON, json.dumps(data).encode()

    def seen(self) -> list[Call]:
        with self.lock:
            return list(self.calls)

    def close(self) -> None:
        self.http.close()


def most_in_a_window(times: list[float], window_s: float = PER_S) -> int:
    """The most calls within any `window_s` (each window starting at a call)."""
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def delete_keys(prefix: str) -> None:
    """This run's Redis keys, and only them (never FLUSHDB)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def run(count: int, args: argparse.Namespace, data: Path, office_url: str,
        tmp: Path) -> dict[str, object]:
    """`count` workers against a fresh fake, schema and budget: the figures of one run."""
    fake = FakeHelpScout(args.latency_ms / 1000, args.slack_ms / 1000)
    tag = secrets.token_hex(4)
    schema, prefix = f"bench_writeback_{tag}", f"bench-writeback-{tag}"
    manifest = manifest_copy(
        tmp / f"manifest-{tag}.yaml",
        (ANCHOR, f"{ANCHOR}    api_url: {fake.url}\n"
                 "    write_back: {enabled: true, tags: true, note: false}\n", 1))
    names = [f"worker{i + 1}" for i in range(count)]
    running: list[Process] = []
    database = postgres_url(schema)
    try:
        envs = [{**service_env(data, office_url, tmp / f"{tag}-{name}"),
                 "CONNECTOR_MANIFEST": str(manifest), "CONNECTOR_DATABASE_URL": database,
                 "HELPSCOUT_CLIENT_ID": name, "HELPSCOUT_CLIENT_SECRET": "bench-secret",
                 "CONNECTOR_RATE_LIMIT_STORAGE": REDIS, "CONNECTOR_RATE_LIMIT_PREFIX": prefix}
                for name in names]
        running = workers(envs, [tmp / f"{tag}-{name}.log" for name in names])
        engine = sqlalchemy.create_engine(database)
        queue = WriteBackQueue(engine)
        with engine.begin() as connection:  # all at once: each worker claims a batch
            for n in range(args.changes):
                queue.enqueue(WriteBack(helpdesk="helpscout", ticket_id=str(700000 + n),
                                        tags=("connector_vip",)), connection)
        deadline = time.monotonic() + 60
        while not any(c.kind == "write" and c.status < 300 for c in fake.seen()):
            if time.monotonic() > deadline:
                raise RuntimeError("no write-back reached the fake Help Scout within 60 s:\n"
                                   + "\n".join(p.output()[-2000:] for p in running))
            time.sleep(0.02)
        first = min(c.at for c in fake.seen() if c.kind == "write" and c.status < 300)
        end = first + args.seconds
        time.sleep(max(end - time.time(), 0) + 0.5)  # the calls under way at the end land
        calls = [c for c in fake.seen() if c.at < end]
        with engine.connect() as connection:
            failed = connection.execute(select(func.count()).select_from(writebacks).where(
                writebacks.c.state == "failed")).scalar() or 0
        engine.dispose()
    except BaseException:
        for one in running:
            print(f"--- {one.log.name}\n{one.output()[-4000:]}", file=sys.stderr)
        raise
    finally:
        stop_all(running)
        fake.close()
        drop_schema(schema)
        delete_keys(prefix)
    writes = [c for c in calls if c.kind == "write" and c.status < 300 and c.at >= first]
    refused = [c for c in calls if c.kind == "write" and c.status == 429]
    allowed = CALLS * args.seconds / PER_S
    by_process = Counter(c.process for c in writes)
    return {
        "workers": count, "seconds": args.seconds, "writes": len(writes), "allowed": allowed,
        "fraction": len(writes) / allowed, "refused": len(refused),
        "most": most_in_a_window([c.at for c in calls
                                  if c.kind == "write" and c.status < 300]),
        "per_process": ", ".join(f"{name}: {by_process.get(name, 0)}" for name in names),
        "api_most": most_in_a_window([c.at for c in calls]),
        # one read per change the budget granted: the budget's own pace, seen from outside
        "reads_most": most_in_a_window([c.at for c in calls if c.kind == "read"]),
        "refused_at": ", ".join(f"{c.process} at {c.at - first:+.2f} s" for c in refused),
        "reads": sum(1 for c in calls if c.kind == "read"),
        "tokens": sum(1 for c in calls if c.kind == "token"),
        "twice": len(writes) - len({c.conversation for c in writes}),
        "failed": failed,
        "gaps": gaps([c.at for c in writes]),
    }


def gaps(times: list[float]) -> str:
    """How late each write came after the limit allowed it: the (k+3)th write is allowed PER_S
    after the kth; the least of those delays (negative: sooner than allowed) and the median."""
    times = sorted(times)
    late = sorted(times[i + CALLS] - times[i] - PER_S for i in range(len(times) - CALLS))
    if not late:
        return "-"
    return f"{late[0] * 1000:+.0f} / {late[len(late) // 2] * 1000:+.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="the measure, from the first write (a multiple of 5 s: windows)")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1],
                        help="`connector worker` processes of each run (default: 2, then 1)")
    parser.add_argument("--changes", type=int, default=200,
                        help="changes queued at once, each for its own conversation")
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="how long the fake Help Scout takes to answer each call")
    parser.add_argument("--slack-ms", type=float, default=0.0,
                        help="a lenient fake: its window this much shorter than 5 s (to tell "
                             "429s that only come of the delay between the budget's grant and "
                             "the write from real excess)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-writeback-"))
    data = ensure(tmp / "demo")
    port = free_port()  # the demo back office (the workers' sources), its log kept quiet
    office = subprocess.Popen([sys.executable, "-m", "demo.backoffice", "--data", str(data),
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    office_url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_http(f"{office_url}/healthz", office)
        for count in args.workers:
            rows.append(run(count, args, data, office_url, tmp))
    finally:
        stop(office)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; PostgreSQL schema + Redis budget; fake Help Scout "
          f"at {args.latency_ms:.0f} ms a call, limit {CALLS} writes per {PER_S:.0f} s"
          f"{f' (its window {args.slack_ms:.0f} ms shorter)' if args.slack_ms else ''}; "
          f"{args.changes} changes queued at once (one GET + one PUT tags each)\n")
    print("| workers | seconds | writes | allowed | fraction (target ≥ 90 %) | 429s (target 0) "
          "| most writes in any 5 s (≤ 3) | per process | write after allowed (least / median) "
          "| reads (one per budget grant): most in any 5 s | API calls: reads, tokens, most "
          "in any 5 s | written twice | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['seconds']:.0f} | {r['writes']} | {r['allowed']:.0f} | "
              f"{r['fraction']:.0%} | {r['refused']} | {r['most']} | {r['per_process']} | "
              f"{r['gaps']} | {r['reads_most']} | {r['reads']}, {r['tokens']}, {r['api_most']} | "
              f"{r['twice']} | {r['failed']} |")
    for r in rows:
        if r["refused_at"]:
            print(f"\n{r['workers']} worker(s): 429s (from the first write): {r['refused_at']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
