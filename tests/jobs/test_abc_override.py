"""An admin's ABC classes over the computed ones (`jobs.segments.abc_override`): customers
listed by our id or a source's id, applied by the `segments` job over the demo back office; a
source's status tag, applied when the record is assembled; the record says the class was set
by an admin; a wrong override is refused with its path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from connector.app import Services
from connector.customer.ranking import AbcOverride
from connector.identifiers import Identifiers
from connector.jobs.config import SegmentsJob
from connector.jobs.segments import compute_segments, listers
from connector.manifest import ManifestError, load_manifest
from tests.conftest import MANIFEST, Backoffice, service_env
from tests.helpdesk.scouts import in_process

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)  # the demo data's reference date


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("abc-override")
    running = in_process(MANIFEST, service_env(demo_data, backoffice.url, var), var)
    yield running
    running.close()


def computed(services: Services, rules: SegmentsJob) -> dict[str, tuple[str, bool]]:
    """Run the job's classes; each ERP customer's kept class and whether an admin set it."""
    engine = services.assembler.resolver.store.engine
    compute_segments(listers(services.assembler.sources), engine, rules, now=NOW)
    with engine.connect() as connection:
        return {row[0]: (row[1], bool(row[2])) for row in connection.execute(sqlalchemy.text(
            "SELECT external_id, abc_class, abc_overridden FROM segments WHERE source = 'erp'"))}


def customers(demo_data: Path) -> dict[str, dict[str, object]]:
    return {c["id"]: c for c in json.loads((demo_data / "erp.json").read_text())["customers"]}


def record_status(services: Services, email: str) -> tuple[str | None, bool, str]:
    found = services.assembler.lookup(Identifiers(emails=(email,)))
    assert found.profile is not None
    status = found.profile.status
    return status.abc_class, status.abc_overridden, found.profile.customer_id


def test_listed_customers_get_their_class_by_our_id_or_the_source_id(
        services: Services, demo_data: Path) -> None:
    plain = computed(services, SegmentsJob())
    people = customers(demo_data)
    c_class = sorted(c for c, (k, _) in plain.items() if k == "C")
    by_erp_id, by_our_id = c_class[0], c_class[1]
    _, _, our_id = record_status(services, str(people[by_our_id]["email"]))  # linked now
    rules = SegmentsJob.model_validate({"abc_override": {"customers": {
        "A": [f"erp:{by_erp_id}", our_id]}}})
    counts = compute_segments(listers(services.assembler.sources),
                              services.assembler.resolver.store.engine, rules, now=NOW)
    kept = computed(services, rules)
    assert kept[by_erp_id] == kept[by_our_id] == ("A", True)
    assert counts["overridden"] == 2
    assert {c: k for c, k in kept.items() if c not in (by_erp_id, by_our_id)} == {
        c: k for c, k in plain.items() if c not in (by_erp_id, by_our_id)}  # others as computed
    assert record_status(services, str(people[by_erp_id]["email"]))[:2] == ("A", True)
    assert record_status(services, str(people[c_class[2]]["email"]))[:2] == ("C", False)
    assert "overridden" not in compute_segments(listers(services.assembler.sources),
                                                services.assembler.resolver.store.engine,
                                                SegmentsJob(), now=NOW)


def test_a_status_tag_sets_the_class_when_the_record_is_assembled(
        services: Services, demo_data: Path) -> None:
    plain = computed(services, SegmentsJob())
    people = customers(demo_data)
    tagged = sorted(c for c, (k, _) in plain.items()
                    if k == "A" and "b2b" in people[c]["tags"])  # type: ignore[operator]
    untagged = sorted(c for c, (k, _) in plain.items()
                      if k == "A" and not people[c]["tags"])
    assert len(tagged) >= 2 and untagged
    listed = tagged[1]
    services.assembler.abc_override = AbcOverride(tags={"VIP": "A", "B2B": "C"})
    try:
        computed(services, SegmentsJob.model_validate(  # a listed customer's class wins
            {"abc_override": {"customers": {"B": [f"erp:{listed}"]}}}))
        assert record_status(services, str(people[listed]["email"]))[:2] == ("B", True)
        assert record_status(services, str(people[tagged[0]]["email"]))[:2] == ("C", True)
        assert record_status(services, str(people[untagged[0]]["email"]))[:2] == ("A", False)
        api = services.assembler.lookup(Identifiers(emails=(str(people[tagged[0]]["email"]),)))
        assert api.profile is not None
        assert api.profile.model_dump(mode="json")["status"]["abc_overridden"] is True
    finally:
        services.assembler.abc_override = AbcOverride()
    assert record_status(services, str(people[tagged[0]]["email"]))[:2] == ("A", False)


def test_tags_match_whatever_their_case_the_first_listed_wins() -> None:
    override = AbcOverride(tags={"vip": "A", "b2b": "C"})
    assert override.by_tags([" B2B ", "VIP"]) == "A"
    assert override.by_tags(["newsletter"]) is None


def test_a_wrong_override_is_refused_with_its_path(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(MANIFEST.read_text() + """
jobs:
  segments:
    abc_override:
      tags: {vip: D}
      customers:
        A: [cus_0123456789abcdef0123, "erp:C0042", bogus, "shop:7"]
        C: ["erp:C0042"]
""", encoding="utf-8")
    with pytest.raises(ManifestError) as refused:
        load_manifest(manifest, env={"DEMO_BACKOFFICE_URL": "http://x"})
    assert str(refused.value).splitlines() == [
        "jobs.segments.abc_override.tags.vip: input should be 'A', 'B' or 'C'",
        "jobs.segments.abc_override.customers: 'bogus' (A[2]) is neither our customer id "
        "(cus_ and 20 hex digits) nor a source's own id (source:id, e.g. erp:C0042); "
        "'erp:C0042' (C[0]) is listed in class A too"]
    manifest.write_text(MANIFEST.read_text() + """
jobs:
  segments:
    abc_override: {customers: {A: ["shop:7"]}}
""", encoding="utf-8")
    with pytest.raises(ManifestError) as unknown:
        load_manifest(manifest, env={"DEMO_BACKOFFICE_URL": "http://x"})
    assert str(unknown.value) == ("jobs.segments.abc_override.customers: 'shop:7' (A[0]): no "
                                  "source 'shop' lists its purchases (known: erp)")
