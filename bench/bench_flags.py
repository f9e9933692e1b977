"""What the manifest's flag rules cost a record, and how sparse they keep the demo's alerts.

Run: .venv/bin/python bench/bench_flags.py [--rounds 20]
Every demo customer is assembled once from the demo back office (no latency) on the demo's
reference date, then `rounds` times again from the warm cache, the flag rules timed inside
each assembly. The figure that travels across machines is the ratio: the rules' time over the
whole warm record's. The share of customers carrying an alert (bad or warn tone) is the issue's
figure (target under 20 %). Prints Markdown; bench/RESULTS.md keeps the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.customer import profile as profile_module  # noqa: E402
from connector.customer.flags import evaluate_flags  # noqa: E402
from connector.customer.links import LinkStore  # noqa: E402
from connector.customer.profile import ProfileAssembler  # noqa: E402
from connector.customer.resolver import Resolver  # noqa: E402
from connector.identifiers import Identifiers  # noqa: E402
from connector.manifest import load_manifest  # noqa: E402
from connector.models import Flag  # noqa: E402
from connector.sources import build_source  # noqa: E402
from connector.sources.cache import MemoryCache, SingleFlight  # noqa: E402
from demo.generate import REFERENCE_DATE, ensure  # noqa: E402
from tests.conftest import free_port, stop, wait_http  # noqa: E402

NOW = dt.datetime.combine(REFERENCE_DATE, dt.time(12), tzinfo=dt.UTC)
ALERTS = ("bad", "warn")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    data = ensure(ROOT / "var" / "demo")
    port = free_port()
    office = subprocess.Popen(
        [sys.executable, "-m", "demo.backoffice", "--data", str(data), "--port", str(port),
         "--latency-ms", "0-0"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", office)
        manifest = load_manifest(ROOT / "manifest.yaml", env={
            "DEMO_BACKOFFICE_URL": url, "CONNECTOR_DEMO_DIR": str(data)})
        context = manifest.source_context()
        sources = {name: build_source(name, config, context)
                   for name, config in manifest.sources.items()}
        assembler = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                     ThreadPoolExecutor(8),
                                     Resolver(LinkStore("sqlite://"), manifest.identity))
        assembler.clock = lambda: NOW
        emails = sorted({c["email"] for c in json.loads(
            (data / "erp.json").read_text(encoding="utf-8"))["customers"]})
        records = {}
        for email in emails:  # cold: fills the cache
            found = assembler.lookup(Identifiers(emails=(email,)))
            records[email] = found
        flag_ms: list[float] = []
        warm_ms: list[float] = []

        def timed(*args: Any, **kwargs: Any) -> list[Flag]:
            """The rules as the record runs them, with the time they take."""
            started = time.perf_counter()
            try:
                return evaluate_flags(*args, **kwargs)
            finally:
                flag_ms.append((time.perf_counter() - started) * 1000)

        profile_module.evaluate_flags = timed  # type: ignore[assignment]
        for _ in range(args.rounds):
            for email in records:
                started = time.perf_counter()
                assembler.lookup(Identifiers(emails=(email,)))
                warm_ms.append((time.perf_counter() - started) * 1000)
        assembler.close()
    finally:
        stop(office)
    every = [f for found in records.values() for f in found.flags]
    alerted = sum(any(f.tone in ALERTS for f in found.flags) for found in records.values())
    keys = Counter(f.key for f in every)
    ratio = statistics.median(flag_ms) / statistics.median(warm_ms)
    print(f"## bench_flags.py — {dt.date.today()} ({platform.processor() or platform.machine()}, "
          f"{len(records)} demo customers, {args.rounds} rounds)\n")
    print("| figure | value |\n|---|---|")
    print(f"| customers with an alert (bad or warn) | {alerted} of {len(records)} "
          f"({100 * alerted / len(records):.1f} %, target < 20 %) |")
    print(f"| flags by rule | {', '.join(f'{k} {n}' for k, n in keys.most_common())} |")
    print(f"| flag rules per record, median / p99 | {statistics.median(flag_ms):.2f} ms / "
          f"{percentile(flag_ms, 99):.2f} ms |")
    print(f"| warm record (cache), median / p99 | {statistics.median(warm_ms):.2f} ms / "
          f"{percentile(warm_ms, 99):.2f} ms |")
    print(f"| flag rules over a warm record (median) | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
