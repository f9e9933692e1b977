"""The compensation grid: customer types told apart by the record, the gesture each type and
severity allows, an amount beyond it refused unless the role may escalate, and a grid or an
action that does not hold together refused at load with its path."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from connector.customer.actions import ActionRefused, check
from connector.customer.compensation import CompensationGrid, row_of, within
from connector.customer.refusals import ChangeRefused
from connector.manifest import ManifestError, load_manifest
from connector.models import CustomerProfile, Identity, Status
from tests.conftest import MANIFEST

TODAY = dt.date(2026, 11, 1)
GRID: dict[str, Any] = {
    "customer_types": [
        {"key": "strategic", "label": {"fr": "Client stratégique", "en": "Strategic customer"},
         "when": "status.segment == 'VIP'"},
        {"key": "important", "label": {"fr": "Client important", "en": "Important customer"},
         "when": "status.abc_class == 'A'"},
        {"key": "standard", "label": {"fr": "Client standard", "en": "Standard customer"}},
    ],
    "severities": {"minor": {"fr": "Minime", "en": "Minor"},
                   "medium": {"fr": "Moyen", "en": "Medium"},
                   "severe": {"fr": "Grave", "en": "Severe"}},
    "grid": {
        "strategic": {"minor": {"gesture": "Bon de 15 €", "up_to": 15},
                      "medium": {"gesture": "Bon de 40 €", "up_to": 40},
                      "severe": {"gesture": "Appel du responsable"}},
        "important": {"minor": {"gesture": "Excuses", "up_to": 0},
                      "medium": {"gesture": "Bon de 20 €", "up_to": 20},
                      "severe": {"gesture": "Bon de 30 €", "up_to": 30}},
        "standard": {"minor": {"gesture": "Excuses", "up_to": 0},
                     "medium": {"gesture": "Bon de 10 €", "up_to": 10},
                     "severe": {"gesture": "Bon de 20 €", "up_to": 20}},
    },
}


def customer(vip: bool = False, abc: str | None = None) -> CustomerProfile:
    return CustomerProfile(customer_id="cus_1",
                           identity=Identity(external_ids={"erp": "C1"}),
                           status=Status(segment="VIP" if vip else None, abc_class=abc))


def test_the_first_type_that_holds_gives_the_row_shown_beside_the_action() -> None:
    grid = CompensationGrid.model_validate(GRID)
    assert grid.customer_type(customer(vip=True, abc="A"), TODAY) == "strategic"
    assert grid.customer_type(customer(abc="A"), TODAY) == "important"
    assert grid.customer_type(customer(), TODAY) == "standard"
    row = row_of(grid, customer(abc="A"), TODAY, "en")
    assert row is not None and row.label == "Important customer"
    assert [c[:3] for c in row.cells] == [("minor", "Minor", "Excuses"),
                                          ("medium", "Medium", "Bon de 20 €"),
                                          ("severe", "Severe", "Bon de 30 €")]
    assert row.as_json()["gestures"][1]["up_to"] == "20.00"


@pytest.mark.parametrize(("profile", "severity", "amount", "role", "allowed"), [
    (customer(), "medium", "10", "agent", True),             # within the grid
    (customer(), "medium", "10.01", "agent", False),         # a cent beyond it
    (customer(abc="A"), "medium", "20", None, True),         # an important customer: more
    (customer(vip=True), "severe", "5", "agent", False),     # no amount there: escalate
    (customer(vip=True), "severe", "500", "Supervisor", True),  # escalation roles may
    (customer(), "minor", None, "agent", True),              # no amount asked: nothing to bound
])
def test_an_amount_beyond_the_grid_is_refused_unless_the_role_may_escalate(
        profile: CustomerProfile, severity: str, amount: str | None, role: str | None,
        allowed: bool) -> None:
    grid = CompensationGrid.model_validate(GRID)
    if allowed:
        within(grid, profile, TODAY, severity, amount, role)
        return
    with pytest.raises(ChangeRefused) as refused:
        within(grid, profile, TODAY, severity, amount, role)
    assert (refused.value.reason, refused.value.status) == ("beyond_grid", 403)
    assert "supervisor may go beyond" in str(refused.value)


@pytest.mark.parametrize(("change", "error"), [
    (lambda g: g["customer_types"][0].pop("when"),
     "customer_types[0]: only the last type may have no `when`"),
    (lambda g: g["customer_types"][1].update(key="strategic"), "'strategic' named twice"),
    (lambda g: g["grid"]["standard"].pop("severe"), "no gesture for standard.severe"),
    (lambda g: g["grid"].update(vip={}), "grid.vip: not a customer type"),
    (lambda g: g["customer_types"][0].update(when="status.segmnt"), "segmnt"),
    (lambda g: g["grid"]["standard"]["minor"].update(up_to=-1), "greater than or equal to 0"),
])
def test_a_grid_that_does_not_hold_together_is_refused(change: Any, error: str) -> None:
    broken = copy.deepcopy(GRID)
    change(broken)
    with pytest.raises(ValidationError) as refused:
        CompensationGrid.model_validate(broken)
    assert error in str(refused.value)


def _manifest_with(tmp_path: Path, grid: dict[str, Any] | None,
                   severity_choices: list[str]) -> Path:
    document = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    erp = document["sources"]["erp"]
    erp.setdefault("actions", {})["goodwill"] = {
        "label": {"fr": "Geste commercial", "en": "Goodwill gesture"},
        "applies_to": "customer",
        "inputs": {"severity": {"label": "Gravité", "kind": "choice",
                                "choices": {c: c for c in severity_choices}},
                   "amount": {"label": "Montant", "kind": "amount", "max": 500}},
        "confirm": "Faire un geste ?",
        "compensation": {"severity": "severity", "amount": "amount"},
        "request": {"name": "voucher", "method": "POST", "path": "/customers/{external}/vouchers",
                    "body": {"amount": "{inputs.amount}"}},
    }
    document.pop("compensation", None)  # the demo's own grid, replaced by the test's
    if grid is not None:
        document["compensation"] = grid
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def test_an_action_that_compensates_is_bounded_by_the_manifest_s_grid(
        tmp_path: Path) -> None:
    manifest = load_manifest(_manifest_with(tmp_path, GRID, ["minor", "medium", "severe"]),
                             env={"ERP_TOKEN": "t"})
    assert manifest.compensation is not None
    sources = {"erp": manifest.sources["erp"]}
    given = {"severity": "medium", "amount": "25"}
    done = check(customer(abc="A"), sources, "erp", "goodwill", None,
                 {**given, "amount": "20"}, TODAY, role="agent", grid=manifest.compensation)
    assert done.inputs == {"severity": "medium", "amount": "20.00"}
    with pytest.raises(ActionRefused) as refused:
        check(customer(abc="A"), sources, "erp", "goodwill", None, given, TODAY,
              role="agent", grid=manifest.compensation)
    assert refused.value.reason == "beyond_grid"
    assert check(customer(abc="A"), sources, "erp", "goodwill", None, given, TODAY,
                 role="supervisor", grid=manifest.compensation).inputs["amount"] == "25.00"
    assert Decimal(done.inputs["amount"]) == 20


def test_an_action_that_compensates_without_a_grid_or_with_other_severities_is_refused(
        tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as refused:
        load_manifest(_manifest_with(tmp_path, None, ["minor"]), env={"ERP_TOKEN": "t"})
    assert ("sources.erp.actions.goodwill.compensation: no `compensation:` grid in the "
            "manifest to bound it") in refused.value.errors
    with pytest.raises(ManifestError) as refused:
        load_manifest(_manifest_with(tmp_path, GRID, ["minor", "dramatic"]),
                      env={"ERP_TOKEN": "t"})
    assert ("sources.erp.actions.goodwill.compensation.severity: choice 'dramatic' is not a "
            "severity of the grid (one of: minor, medium, severe)") in refused.value.errors
