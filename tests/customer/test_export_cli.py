"""`connector export --email|--phone|--card`: the person's footprint as JSON on stdout, the
same document as the API's; exit 3 when nothing is kept, 4 (the candidates' ids listed) when
several people hold the identifier; audited with the actor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.customer import suppression
from connector.customer.links import LinkStore
from connector.customer.notes import Notes
from tests.conftest import MANIFEST

SECRET = "test-secret-key"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LinkStore:
    for name, value in {"CONNECTOR_DATA_DIR": str(tmp_path), "CONNECTOR_MANIFEST": str(MANIFEST),
                        "CONNECTOR_SECRET_KEY": SECRET}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONNECTOR_DATABASE_URL", raising=False)
    kept = LinkStore(f"sqlite:///{tmp_path / 'connector.sqlite'}")
    kept.link("cus_pauline", [("email", "pauline.deneve@easiware.fr", "erp"),
                              ("phone", "+33653888890", "erp")])
    kept.link("cus_son", [("phone", "+33653888890", "loyalty")])  # a household's phone
    kept.remember("cus_pauline", "Pauline Denève", "pauline deneve", "75011")
    Notes(kept).add("cus_pauline", "Son fils adore la mousse au chocolat", "Margaux")
    return kept


def test_export_prints_her_footprint_and_audits_it(store: LinkStore,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--email", "Pauline.Deneve@easiware.fr", "--actor", "dpo"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["customer_id"] == "cus_pauline"
    assert {(i["kind"], i["value"], i["source"]) for i in found["identifiers"]} == {
        ("email", "pauline.deneve@easiware.fr", "erp"), ("phone", "+33653888890", "erp")}
    assert found["person"]["display_name"] == "Pauline Denève"
    assert [n["text"] for n in found["notes"]] == ["Son fils adore la mousse au chocolat"]
    assert ("dpo", "export") in {(e["actor"], e["action"])
                                 for e in store.audit_trail("cus_pauline")}


def test_a_shared_identifier_lists_the_people_and_exports_none(
        store: LinkStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--phone", "06 53 88 88 90"]) == 4
    printed = capsys.readouterr()
    assert printed.out == "" and "cus_pauline" in printed.err and "cus_son" in printed.err
    assert main(["export", "--phone", "06 53 88 88 90", "--customer", "cus_son"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["customer_id"] == "cus_son" and found["notes"] == []
    assert main(["export", "--phone", "06 53 88 88 90", "--customer", "cus_other"]) == 3


def test_nothing_kept_is_exit_3(store: LinkStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--card", "29000999999"]) == 3
    assert capsys.readouterr().err.strip() == \
        "connector export: nothing is kept on this identifier"


def test_a_suppressed_identifier_is_said_to_be_kept_as_a_digest(
        store: LinkStore, capsys: pytest.CaptureFixture[str]) -> None:
    with store.engine.begin() as connection:
        suppression.add(connection, SECRET.encode(), [("email", "gone@example.fr")])
    assert main(["export", "--email", "gone@example.fr"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["customer_id"] is None and found["person"] is None
    assert [(s["kind"], s["value"]) for s in found["suppressed"]] == [
        ("email", "gone@example.fr")]
