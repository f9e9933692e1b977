"""The shared cache on Redis (`CONNECTOR_CACHE_URL`), against the demo back office and a real
Redis: what a cached customer costs in Redis, how often a record warmed by one process is a hit
on another, and how many source fetches N simultaneous cold opens on K processes cause.

Run: .venv/bin/python bench/bench_redis_cache.py [--customers 40] [--redis redis://127.0.0.1:6379/0]
Prints a Markdown table; bench/RESULTS.md keeps the latest figures with the machine and date.
Each "process" is a whole service built by `build_services` (its own sources, threads and
memory), all in this one Python process; only Redis is shared between them. The keys live under
a prefix of their own, deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--opens", type=int, default=20, help="simultaneous cold opens (N)")
    parser.add_argument("--processes", type=int, default=4, help="service instances (K)")
    args = parser.parse_args()
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    env = {**os.environ, "CONNECTOR_DEMO_DIR": str(data)}
    office, url = start_backoffice(data, env)
    os.environ.update({"DEMO_BACKOFFICE_URL": url, "CONNECTOR_DEMO_DIR": str(data),
                       "CONNECTOR_DATA_DIR": tempfile.mkdtemp(),
                       "CONNECTOR_SECRET_KEY": "bench", "CONNECTOR_MANIFEST":
                       str(ROOT / "manifest.yaml")})
    try:
        print(run(data, args.customers, args.redis, args.opens, args.processes))
    finally:
        office.terminate()
    return 0


def counted(services: Any) -> list[tuple[str, str]]:
    """Count every source fetch of one service instance (source name, what it was asked)."""
    calls: list[tuple[str, str]] = []
    for name, source in services.assembler.sources.items():
        original = source.fetch

        def fetch(arg: Any, name: str = name, original: Any = original) -> Any:
            calls.append((name, repr(arg)))
            return original(arg)

        source.fetch = fetch
    return calls


def run(data: Path, count: int, redis_url: str, opens: int, processes: int) -> str:
    """The benchmark proper; returns the Markdown report."""
    import redis

    from connector.app import build_services
    from connector.identifiers import Identifiers
    from connector.settings import Settings
    from connector.sources.redis_cache import decode, encode

    prefix = f"bench-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(redis_url)
    settings = Settings(cache_url=redis_url, cache_prefix=prefix)
    emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]]
    people = [Identifiers(emails=(e,)) for e in emails[:count]]
    try:
        one, other = build_services(settings), build_services(settings)
        calls_one, calls_other = counted(one), counted(other)
        sources = len(one.assembler.sources)
        cold, warm = [], []
        for ids in people:  # warmed by the first process…
            started = time.perf_counter()
            one.assembler.lookup(ids)
            cold.append(time.perf_counter() - started)
        for ids in people:  # …asked of the second
            started = time.perf_counter()
            other.assembler.lookup(ids)
            warm.append(time.perf_counter() - started)
        hit_ratio = 1 - len(calls_other) / len(calls_one)
        # what a cached customer costs in Redis: every key the lookups made, over the people
        namespace = one.assembler.cache.shared.namespace  # type: ignore[attr-defined]
        entries = tags = 0
        entry_keys = 0
        for key in client.scan_iter(f"{namespace}:*", count=1000):
            size = int(client.memory_usage(key, samples=0) or 0)
            if b":t:" in key:
                tags += size
            elif b":lock:" not in key:
                entries += size
                entry_keys += 1
        # the same answers as pickle and as uncompressed JSON, for comparison
        encoded, pickled = [], []
        for key in client.scan_iter(f"{namespace}:src:*", count=1000):
            blob = client.get(key)
            if isinstance(blob, bytes):
                entry = decode(blob)
                encoded.append(len(encode(entry)))
                pickled.append(len(pickle.dumps(entry.value, protocol=pickle.HIGHEST_PROTOCOL)))
        one.close()
        other.close()
        memory_hits = memory_cross_process(people)
        fetches = simultaneous(settings, Identifiers(emails=(emails[count + 1],)), opens,
                               processes)
    finally:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    return report(count, sources, cold, warm, hit_ratio, memory_hits, entries, tags, entry_keys,
                  encoded, pickled, fetches, opens, processes)


def memory_cross_process(people: list[Any]) -> float:
    """The same hit ratio with each process's own memory cache (what there was before)."""
    from connector.app import build_services
    from connector.settings import Settings

    one, other = build_services(Settings()), build_services(Settings())
    warmed, calls = counted(one), counted(other)
    for ids in people:
        one.assembler.lookup(ids)
    for ids in people:
        other.assembler.lookup(ids)
    one.close()
    other.close()
    return 1 - len(calls) / len(warmed)


def simultaneous(settings: Any, ids: Any, opens: int,
                 processes: int) -> dict[str, tuple[int, int]]:
    """Source fetches, by source, for `opens` simultaneous cold lookups of one customer spread
    over `processes` service instances sharing Redis."""
    from connector.app import build_services

    instances = [build_services(settings) for _ in range(processes)]
    calls = [counted(s) for s in instances]
    gate = threading.Barrier(opens)

    def open_record(n: int) -> None:
        gate.wait()
        instances[n % processes].assembler.lookup(ids)

    threads = [threading.Thread(target=open_record, args=(n,)) for n in range(opens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for instance in instances:
        instance.close()
    made = [call for each in calls for call in each]
    return {name: (sum(1 for n, _ in made if n == name),
                   len({asked for n, asked in made if n == name}))
            for name in sorted({n for n, _ in made})}


def report(count: int, sources: int, cold: list[float], warm: list[float], hit_ratio: float,
           memory_hits: float, entries: int, tags: int, entry_keys: int, encoded: list[int],
           pickled: list[int], fetches: dict[str, tuple[int, int]], opens: int,
           processes: int) -> str:
    """The figures as a Markdown table."""
    ms = 1000
    rows = [
        ("cross-process warm hit ratio (customers warmed on one process, asked of another)",
         f"{hit_ratio:.1%} (memory cache per process: {memory_hits:.1%})"),
        ("lookup on the warming process (cold) / on the other (warm), p50",
         f"{statistics.median(cold) * ms:.1f} ms / {statistics.median(warm) * ms:.1f} ms"),
        ("Redis memory per cached customer (MEMORY USAGE: entries + identifier tags)",
         f"{(entries + tags) / count / 1024:.2f} KB ({entries / count / 1024:.2f} KB in "
         f"{entry_keys / count:.1f} entries + {tags / count / 1024:.2f} KB of tags)"),
        ("one source answer: stored (JSON, zlib past 512 B) / as pickle, mean",
         f"{statistics.mean(encoded):.0f} B / {statistics.mean(pickled):.0f} B"),
        (f"source fetches for {opens} simultaneous cold opens on {processes} processes "
         "(distinct questions asked)",
         ", ".join(f"{name} {n} ({d})" for name, (n, d) in fetches.items())),
    ]
    head = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{count} customers of the demo, {sources} sources, Redis on localhost")
    lines = [head, "", "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
