"""The benchmarks still start: `make bench` runs for many minutes and not in CI, so a helper
they import that moved, or an option that no longer parses, would only be found by the next
person who runs them. Each answers `--help`, and `make bench` runs every one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("bench", BENCHES)
def test_each_benchmark_starts_and_says_its_options(bench: str) -> None:
    ran = subprocess.run([sys.executable, f"bench/{bench}", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"usage: {bench}"), ran.stdout


def test_make_bench_runs_every_benchmark() -> None:
    target = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nbench:", 1)[1]
    target = target.split("\n\n", 1)[0]
    assert sorted(set(re.findall(r"bench/(bench_\w+\.py)", target))) == BENCHES
