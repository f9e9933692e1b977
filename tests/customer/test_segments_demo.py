"""Every demo customer gets a lifecycle stage: the 300 customers of the demo ERP, looked up by
email through the default manifest against the demo back office, on the demo's reference date.
The figures are the generator's (seeded): a change of the demo data shows here."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.customer.segments import STAGES
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import CustomerProfile
from connector.sources import build_source
from connector.sources.cache import MemoryCache, SingleFlight
from demo.generate import SAMPLE_EMAIL
from tests.conftest import DEMO_TODAY, MANIFEST, ROOT, free_port, stop, wait_http

NOW = dt.datetime.combine(dt.date.fromisoformat(DEMO_TODAY), dt.time(12), tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def office(demo_data: Path) -> Iterator[str]:
    """A private demo back office answering at once (300 lookups)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.backoffice", "--data", str(demo_data), "--port", str(port),
         "--latency-ms", "0-0"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", process)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def records(demo_data: Path, office: str) -> dict[str, CustomerProfile]:
    """Each demo customer's record, by email, as the sidebar assembles it on the demo's date."""
    manifest = load_manifest(MANIFEST, env={"DEMO_BACKOFFICE_URL": office,
                                            "CONNECTOR_DEMO_DIR": str(demo_data)})
    context = manifest.source_context()
    sources = {name: build_source(name, config, context)
               for name, config in manifest.sources.items()}
    assembler = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                 ThreadPoolExecutor(8),
                                 Resolver(LinkStore("sqlite://"), manifest.identity))
    assembler.clock = lambda: NOW
    customers = json.loads((demo_data / "erp.json").read_text(encoding="utf-8"))["customers"]
    found = {}
    try:
        for email in sorted({c["email"] for c in customers}):
            profile = assembler.lookup(Identifiers(emails=(email,))).profile
            assert profile is not None, email
            found[email] = profile
    finally:
        assembler.close()
    return found


def test_every_demo_customer_has_a_lifecycle_stage(records: dict[str, CustomerProfile]) -> None:
    assert len(records) == 300
    assert len({p.customer_id for p in records.values()}) == 300
    assert all(p.status.lifecycle in STAGES for p in records.values())
    assert all(s.status in ("ok", "not_found") for p in records.values()
               for s in p.sources.values())  # every source answered: nobody guessed a prospect
    stages = Counter(p.status.lifecycle for p in records.values())
    assert stages == {"prospect": 15, "new": 10, "active": 199, "dormant": 28, "lost": 48}


def test_prospects_have_no_lifetime_value_and_buyers_have_one(
        records: dict[str, CustomerProfile]) -> None:
    for profile in records.values():
        bought = profile.status.lifecycle != "prospect"
        assert (profile.kpis.lifetime_value is not None) is bought


def test_ambassadors_and_win_back_stay_few(records: dict[str, CustomerProfile]) -> None:
    ambassadors = sum(p.status.ambassador for p in records.values())
    win_back = [p for p in records.values() if p.status.win_back]
    assert (ambassadors, len(win_back)) == (5, 22)
    assert all(p.status.lifecycle in ("dormant", "lost") for p in win_back)
    assert all(p.kpis.total_spend is not None and p.kpis.total_spend >= 1000 for p in win_back)


def test_the_white_paper_s_customer_is_lost_and_worth_winning_back(
        records: dict[str, CustomerProfile]) -> None:
    pauline = records[SAMPLE_EMAIL]
    assert (pauline.status.lifecycle, pauline.status.win_back) == ("lost", True)
    assert pauline.status.ambassador is False  # her 2/5 review of 2017 is long past, no recent
    assert str(pauline.kpis.lifetime_value) == "439.20"  # 1464.00 × 0.3


def test_the_demo_s_alerts_are_sparse_and_each_says_why(
        records: dict[str, CustomerProfile]) -> None:
    """The shipped flag rules keep alerts (bad and warn tones) on under a fifth of the demo's
    customers on its reference date, and every flag carries its reason."""
    alerted = [p for p in records.values() if any(f.tone in ("bad", "warn") for f in p.flags)]
    keys = Counter(f.key for p in records.values() for f in p.flags)
    assert len(alerted) / len(records) < 0.20
    assert all(f.reason.strip() for p in records.values() for f in p.flags)
    assert keys["win_back"] == 22 and keys["ambassador"] == 5  # the segments, as flags
