"""How fast the sidebar is, cold and warm, against the demo back office over real HTTP.

Run: .venv/bin/python bench/bench_sidebar.py [--customers 80]
Prints a Markdown table; bench/RESULTS.md keeps the latest figures with the machine and date.
Figures are ratios measured in one run where possible, so they travel across machines:
- parallel fan-out: a cold lookup's time over the sum of its sources' own times (< 1 = parallel);
- warm over cold: a cached lookup's time over a cold one's;
- single flight: source fetches made for 20 agents opening the same cold record at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=80)
    args = parser.parse_args()
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    env = {**os.environ, "CONNECTOR_DEMO_DIR": str(data)}
    office, url = start_backoffice(data, env)
    os.environ.update({"DEMO_BACKOFFICE_URL": url, "CONNECTOR_DEMO_DIR": str(data),
                       "CONNECTOR_DATA_DIR": tempfile.mkdtemp(),
                       "CONNECTOR_SECRET_KEY": "bench", "CONNECTOR_MANIFEST":
                       str(ROOT / "manifest.yaml")})
    try:
        print(run(data, args.customers))
    finally:
        office.terminate()
    return 0


def run(data: Path, count: int) -> str:
    """The benchmark proper; returns the Markdown report."""
    from connector.app import build_services
    from connector.identifiers import Identifiers
    from connector.settings import Settings
    from connector.widgets.page import render_sidebar_page
    from connector.widgets.record import layout_of, render_context

    services = build_services(Settings())
    emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]]
    ids = [Identifiers(emails=(e,)) for e in emails[:count]]
    cold, cold_sum, warm = [], [], []
    for each in ids:
        started = time.perf_counter()
        found = services.assembler.lookup(each)
        cold.append(time.perf_counter() - started)
        cold_sum.append(sum((s.latency_ms or 0) for s in found.sources.values()) / 1000)
    for each in ids:
        started = time.perf_counter()
        services.assembler.lookup(each)
        warm.append(time.perf_counter() - started)
    profile = services.assembler.lookup(ids[0]).profile
    assert profile is not None
    layout = layout_of(services.manifest)  # the default manifest's blocks and its card
    ctx = render_context(services.manifest, services.details.offers, "fr")
    renders = []
    for _ in range(200):
        started = time.perf_counter()
        html = render_sidebar_page(profile, layout, ctx)
        renders.append(time.perf_counter() - started)
    fetches = single_flight(services, Identifiers(emails=(emails[count + 1],)))
    services.close()
    return report(cold, cold_sum, warm, renders, len(html.encode()), fetches, len(layout))


def single_flight(services: object, ids: object) -> int:
    """How many times the ERP was fetched for 20 simultaneous cold lookups of one customer."""
    source = services.assembler.sources["erp"]  # type: ignore[attr-defined]
    calls = []
    original = source.fetch

    def counted(arg: object) -> object:
        calls.append(1)
        return original(arg)

    source.fetch = counted
    threads = [threading.Thread(target=services.assembler.lookup, args=(ids,))  # type: ignore[attr-defined]
               for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    source.fetch = original
    return len(calls)


def report(cold: list[float], cold_sum: list[float], warm: list[float], renders: list[float],
           page_bytes: int, fetches: int, blocks: int) -> str:
    """The figures as a Markdown table."""
    ms = 1000
    rows = [
        ("cold lookup p50 / p95 (5 sources, demo latency 20–80 ms)",
         f"{percentile(cold, 50) * ms:.0f} ms / {percentile(cold, 95) * ms:.0f} ms"),
        ("sum of the sources' own times, p50", f"{percentile(cold_sum, 50) * ms:.0f} ms"),
        ("parallel fan-out: cold ÷ sum of sources (median of ratios)",
         f"{statistics.median(c / s for c, s in zip(cold, cold_sum, strict=True)):.2f}"),
        ("warm lookup p50 / p95",
         f"{percentile(warm, 50) * ms:.2f} ms / {percentile(warm, 95) * ms:.2f} ms"),
        ("warm ÷ cold (p50)", f"{percentile(warm, 50) / percentile(cold, 50):.3f}"),
        (f"sidebar render p50 (page, {blocks} blocks)", f"{percentile(renders, 50) * ms:.2f} ms"),
        ("sidebar page size", f"{page_bytes / 1024:.1f} KB"),
        ("ERP fetches for 20 simultaneous cold lookups of one customer", str(fetches)),
    ]
    head = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{len(cold)} customers")
    lines = [head, "", "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
