"""A warm sidebar's own cost: the signed page of a record whose sources are all cached, asked
through the Flask app in this process (no network, no other load), on SQLite and on
PostgreSQL: whole pages kept (`CONNECTOR_KEPT_PAGES_MB`), then made each time with the
rendered-block cache on and off (`CONNECTOR_RENDER_CACHE_MB=0`). Then a record's first
opening in a second process of a cluster (PostgreSQL and the Redis cache shared), every record
warm in the first: its page taken from Redis (`CONNECTOR_KEPT_PAGES_SHARED`, on by default) or
made, and what a shared page costs Redis.

Run: .venv/bin/python bench/bench_warm_sidebar.py [--customers 50] [--requests 600]
Needs the machine's PostgreSQL (127.0.0.1:5432, database `test`: a database of its own is made
and dropped) and Redis (127.0.0.1:6379: keys under a prefix of their own, deleted after).
Prints Markdown tables: milliseconds per warm sidebar (mean, p50, p99, and the CPU time of
this process, which the database's and the machine's other work do not lengthen), the
database statements each one runs, and the ratio to `/healthz` in the same process; then the
second process's first openings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_cluster import PG, database, drop, percentile  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402

REDIS = "redis://127.0.0.1:6379/0"


def measure(settings: Any, emails: list[str], count: int) -> dict[str, float]:
    """Warm every record, then `count` sidebars in turn; their times and statements."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from connector.helpdesk.embed import EmbedLinks
    from connector.web import create_app

    app = create_app(settings)
    client = app.test_client()
    links = EmbedLinks(settings.signing_key(), 3600, "FR")
    paths = [links.url("", links.token(email=email)) for email in emails]
    for _ in range(2):  # the first opening learns who they are; its page is made again behind
        for path in paths:
            assert client.get(path).status_code == 200
        app.extensions["connector"].pages.idle()
    statements = [0]

    def counted(*_args: object) -> None:
        statements[0] += 1

    event.listen(Engine, "before_cursor_execute", counted)
    times = []
    cpu = time.process_time()
    try:
        for n in range(count):
            started = time.perf_counter()
            client.get(paths[n % len(paths)])
            times.append(time.perf_counter() - started)
    finally:
        event.remove(Engine, "before_cursor_execute", counted)
    cpu = time.process_time() - cpu
    health = []
    for _ in range(count):
        started = time.perf_counter()
        client.get("/healthz")
        health.append(time.perf_counter() - started)
    app.extensions["connector"].close()
    return {"mean": statistics.fmean(times) * 1000, "p50": percentile(times, 50) * 1000,
            "p99": percentile(times, 99) * 1000, "statements": statements[0] / count,
            "cpu": cpu / count * 1000,
            "healthz": statistics.fmean(health) * 1000}


def second_process(url: str, emails: list[str], shared: bool) -> dict[str, float]:
    """Every record warm in one process; each opened once in a second (the same database and
    Redis): milliseconds per opening there, and Redis' bytes per shared page."""
    import redis

    from connector.helpdesk.embed import EmbedLinks
    from connector.settings import Settings
    from connector.web import create_app

    prefix = f"bench-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(REDIS)
    apps = [create_app(Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="bench",
                                database_url=url, cache_url=REDIS, cache_prefix=prefix,
                                kept_pages_shared=shared)) for _ in range(2)]
    try:
        one, two = (app.test_client() for app in apps)
        links = EmbedLinks(b"bench", 3600, "FR")
        paths = [links.url("", links.token(email=email)) for email in emails]
        for _ in range(2):  # warm in the first process (its first opening learns who they are)
            for path in paths:
                assert one.get(path).status_code == 200
            apps[0].extensions["connector"].pages.idle()
        assert two.get("/healthz").status_code == 200
        assert apps[1].extensions["connector"].pages.enabled
        times = []
        for path in paths:
            started = time.perf_counter()
            assert two.get(path).status_code == 200
            times.append(time.perf_counter() - started)
        pages = list(client.scan_iter(f"{prefix}:*:page:*", count=1000))
        page_bytes = sum(int(client.memory_usage(key, samples=0) or 0) for key in pages)
        held = [client.pttl(key) / 1000 for key in pages]
    finally:
        for app in apps:
            app.extensions["connector"].close()
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    return {"mean": statistics.fmean(times) * 1000, "p50": percentile(times, 50) * 1000,
            "p99": percentile(times, 99) * 1000,
            "page_kb": page_bytes / max(len(pages), 1) / 1024, "pages": len(pages),
            "held_s": statistics.fmean(held) if held else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    os.environ.update({"DEMO_BACKOFFICE_URL": office_url, "CONNECTOR_DEMO_DIR": str(data),
                       "CONNECTOR_MANIFEST": str(ROOT / "manifest.yaml"),
                       "CONNECTOR_RATE_LIMIT": "off"})
    emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]]
    emails = emails[:args.customers]
    from connector.settings import Settings

    name = database()
    rows = []
    seconds: list[tuple[str, dict[str, float]]] = []
    try:
        for label, url in (("SQLite", None), ("PostgreSQL", PG + name)):
            for kept, cache in ((16, 32), (0, 32), (0, 0)):
                settings = Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="bench",
                                    render_cache_mb=cache, kept_pages_mb=kept,
                                    **({"database_url": url} if url else {}))
                figures = measure(settings, emails, args.requests)
                rows.append((label, "on" if kept else "off", "on" if cache else "off", figures))
        for shared in (True, False):
            other = database()
            try:
                seconds.append(("taken from Redis" if shared else "made",
                                second_process(PG + other, emails, shared)))
            finally:
                drop(other)
    finally:
        office.terminate()
        drop(name)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; {len(emails)} warm demo records, {args.requests} "
          f"sidebars in turn through the app in this process (run {secrets.token_hex(2)})\n")
    print("| database | kept pages | rendered-block cache | mean | p50 | p99 | CPU of this "
          "process | statements per sidebar | ÷ /healthz (mean) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, kept, cache, f in rows:
        print(f"| {label} | {kept} | {cache} | {f['mean']:.2f} ms | {f['p50']:.2f} ms | "
              f"{f['p99']:.2f} ms | {f['cpu']:.2f} ms | {f['statements']:.1f} | "
              f"{f['mean'] / f['healthz']:.0f} |")
    print("\nA record's first opening in a second process (PostgreSQL and Redis shared), every "
          "record warm in the first:\n")
    print("| its page | mean | p50 | p99 | Redis per shared page (MEMORY USAGE) | held for "
          "(TTL left when measured, mean) |")
    print("|---|---|---|---|---|---|")
    for how, f in seconds:
        memory = f"{f['page_kb']:.1f} KB ({f['pages']:.0f} pages)" if f["pages"] else "none"
        held = f"{f['held_s']:.0f} s" if f["pages"] else "-"
        print(f"| {how} | {f['mean']:.2f} ms | {f['p50']:.2f} ms | {f['p99']:.2f} ms | "
              f"{memory} | {held} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
