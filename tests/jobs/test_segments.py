"""The `segments` job over the demo back office's real listing (HTTP, paged): every customer
with an order in the window gets an ABC class and RFM scores, kept without amounts; and
through `connector jobs run segments`."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy

from connector.app import Services
from connector.identifiers import Identifiers
from connector.jobs.config import SegmentsJob
from connector.jobs.segments import compute_segments, listers
from connector.manifest import ManifestError, load_manifest
from tests.conftest import MANIFEST, Backoffice, connector, service_env
from tests.helpdesk.scouts import in_process

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)  # the demo data's reference date


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("segments")
    running = in_process(MANIFEST, service_env(demo_data, backoffice.url, var), var)
    yield running
    running.close()


def expected_revenue(demo_data: Path, since: dt.date) -> dict[str, Decimal]:
    """The demo ERP's revenue per customer since a date, read from its data file."""
    revenue: dict[str, Decimal] = {}
    for order in json.loads((demo_data / "erp.json").read_text())["orders"]:
        day = dt.date.fromisoformat(str(order["date"])[:10])
        if order["state"] in ("cancel", "draft") or not since <= day <= NOW.date():
            continue
        revenue[order["customer_id"]] = (revenue.get(order["customer_id"], Decimal(0))
                                         + Decimal(order["amount_total"]))
    return revenue


def test_every_buyer_of_the_window_gets_a_class_and_scores(services: Services,
                                                           demo_data: Path) -> None:
    sources = listers(services.assembler.sources)
    assert list(sources) == ["erp"]  # the one source of the demo declaring `purchases`
    engine = services.assembler.resolver.store.engine
    counts = compute_segments(sources, engine, SegmentsJob(), now=NOW)
    revenue = expected_revenue(demo_data, NOW.date() - dt.timedelta(days=365))
    assert counts["customers"] == len(revenue) > 50
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT external_id, abc_class, rfm_r, rfm_f, rfm_m FROM segments "
            "WHERE source = 'erp'")).all()
    classes = {row[0]: row[1] for row in rows}
    assert set(classes) == set(revenue)
    total = sum(revenue.values(), Decimal(0))
    a_share = sum((revenue[c] for c, k in classes.items() if k == "A"), Decimal(0)) / total
    assert Decimal("0.80") <= a_share < Decimal("0.90")
    assert Counter(classes.values())["A"] < len(classes)  # a split, not everyone in A
    assert all(1 <= r <= 5 and 1 <= f <= 5 and 1 <= m <= 5 for _, _, r, f, m in rows)
    assert counts["class_a"] + counts["class_b"] + counts["class_c"] == counts["customers"]



def test_the_record_shows_the_class_and_scores_kept(services: Services, demo_data: Path) -> None:
    engine = services.assembler.resolver.store.engine
    compute_segments(listers(services.assembler.sources), engine, SegmentsJob(), now=NOW)
    with engine.connect() as connection:
        erp_id, kept, r, f, m = connection.execute(sqlalchemy.text(
            "SELECT external_id, abc_class, rfm_r, rfm_f, rfm_m FROM segments "
            "WHERE abc_class = 'A' ORDER BY external_id LIMIT 1")).one()
    customers = json.loads((demo_data / "erp.json").read_text())["customers"]
    email = next(c["email"] for c in customers if c["id"] == erp_id)
    found = services.assembler.lookup(Identifiers(emails=(email,)))
    assert found.profile is not None
    status = found.profile.status
    assert status.abc_class == kept == "A"
    assert status.rfm is not None and (status.rfm.r, status.rfm.f, status.rfm.m) == (r, f, m)
    assert status.rfm.score == r + f + m and status.classes_at == NOW
    api = found.profile.model_dump(mode="json")["status"]
    assert api["abc_class"] == "A" and api["rfm"]["score"] == r + f + m

def test_a_new_run_replaces_the_last_one(services: Services) -> None:
    engine = services.assembler.resolver.store.engine
    sources = listers(services.assembler.sources)
    short = compute_segments(sources, engine, SegmentsJob(window_days=30), now=NOW)
    with engine.connect() as connection:
        kept = connection.execute(sqlalchemy.text("SELECT count(*) FROM segments")).scalar()
    assert kept == short["customers"]


def test_fixed_rfm_bins_replace_the_quintiles(services: Services) -> None:
    engine = services.assembler.resolver.store.engine
    bins = {"recency_days": [1, 2, 3, 4], "frequency": [100, 200, 300, 400],
            "monetary": [10**6, 2 * 10**6, 3 * 10**6, 4 * 10**6]}
    compute_segments(listers(services.assembler.sources), engine,
                     SegmentsJob.model_validate({"rfm_bins": bins}), now=NOW)
    with engine.connect() as connection:
        scores = set(connection.execute(sqlalchemy.text(
            "SELECT rfm_f, rfm_m FROM segments WHERE source = 'erp'")).all())
    assert scores == {(1, 1)}  # nobody buys 100 times or spends a million in the demo


def test_a_wrong_split_is_refused_with_its_path(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(MANIFEST.read_text() + "\njobs:\n  segments: {abc_split: [80, 15, 4]}\n",
                        encoding="utf-8")
    with pytest.raises(ManifestError) as refused:
        load_manifest(manifest, env={"DEMO_BACKOFFICE_URL": "http://x"})
    assert "jobs.segments.abc_split" in str(refused.value)
    manifest.write_text(MANIFEST.read_text() + "\njobs:\n  segments:\n    rfm_bins: "
                        "{monetary: [100, 50, 200, 300]}\n", encoding="utf-8")
    with pytest.raises(ManifestError) as unordered:
        load_manifest(manifest, env={"DEMO_BACKOFFICE_URL": "http://x"})
    assert "jobs.segments.rfm_bins" in str(unordered.value) and "ascending" in str(
        unordered.value)


def test_jobs_run_segments(env: dict[str, str], tmp_path: Path) -> None:
    ran = connector("jobs", "run", "segments", env={**env, "CONNECTOR_DATA_DIR": str(tmp_path)})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("segments: ok — sources=1 purchases=")
