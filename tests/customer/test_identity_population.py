"""The labelled population of bench/bench_identity_safety.py, small, as a correctness check:
households, switchboards, partners in one system only, typos corrected and numbers recycled,
looked up over HTTP against a real `connector serve`, 150 people (every kind of case is there;
the suite's time is kept under ten minutes). The full size (2,400 people, SQLite and
PostgreSQL) and its figures are the benchmark's (`make bench`, bench/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", [41])  # another population than the benchmark's (seed 7)
def test_nobody_is_shown_another_persons_data(seed: int) -> None:
    ran = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_identity_safety.py"),
                          "--people", "150", "--db", "sqlite", "--seed", str(seed), "--json",
                          "--no-search"], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert ran.returncode == 0, ran.stderr[-2000:]
    [run] = json.loads(ran.stdout)["runs"]
    assert run["errors"] == 0
    assert (run["false_merges"], run["mixed_profiles"], run["old_person_shown"]) == (0, 0, 0)
    assert run["ambiguous_300"] == "100.0%" and run["all_sharers_listed"] == "100.0%"
    assert float(run["recall"].rstrip("%")) >= 99.0
    # at this size every kind of case is still there: people sharing, people who moved on
    assert run["shared_lookups"] > 0 and run["old_lookups"] > 0 and len(run["cases"]) >= 6
