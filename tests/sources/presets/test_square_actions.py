"""The Square preset's `adjust_points` action: off unless `loyalty_adjustments: true`, offered
on the loyalty account the record read (`loyalty.account_id`), its points a whole number within
the preset's bound, and sent as Square documents AdjustLoyaltyPoints: the change's id as the
idempotency key, the points as a number."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from connector.customer.actions import ActionRefused, InvalidAction, check, offers
from connector.manifest import load_manifest
from connector.models import CustomerProfile, Identity, Loyalty
from connector.sources import build_source
from connector.sources.base import BuildContext, Source
from connector.sources.preset import presets

TODAY = dt.date(2025, 3, 3)
CHANGE = "9b1d3f-adjust"
ACCOUNT = "716cefbc-3d71-4d7c-bdc8-9c7f84c2d793"


def square(url: str, tmp_path: Path, extra: str = "") -> Source:
    """The preset's own example entry, pointed at the test server."""
    entry = presets()["square"].example + f"  api_url: {url}\n" + extra
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml",
                             env={"SQUARE_ACCESS_TOKEN": "EAAA-fake"})
    name = next(iter(manifest.sources))
    return build_source(name, manifest.sources[name], BuildContext(tmp_path))


def record(source: str, account: str | None = ACCOUNT) -> CustomerProfile:
    return CustomerProfile(customer_id="cus_1",
                           identity=Identity(external_ids={source: "JDKYHBWT1D4F8MFH63DBMEN8Y4"}),
                           loyalty=Loyalty(points=120, account_id=account))


def test_adding_points_is_off_by_default_then_offered_on_the_loyalty_account(
        tmp_path: Path) -> None:
    off = square("http://127.0.0.1:9", tmp_path)
    assert offers(record(off.name), {off.name: off.config}, TODAY) == []
    on = square("http://127.0.0.1:9", tmp_path, "  loyalty_adjustments: true\n")
    sources = {on.name: on.config}
    assert [(o.name, o.key) for o in offers(record(on.name), sources, TODAY)] == [
        ("adjust_points", ACCOUNT)]
    assert offers(record(on.name, account=None), sources, TODAY) == []  # no account read


def test_points_are_a_whole_number_within_the_bound_and_roles_may_keep_it(
        tmp_path: Path) -> None:
    source = square("http://127.0.0.1:9", tmp_path,
                    "  loyalty_adjustments: true\n  loyalty_adjust_max: 100\n"
                    "  loyalty_adjust_roles: [supervisor]\n")
    sources = {source.name: source.config}
    for points in ("0", "101", "12.5", "-3", "dix"):
        with pytest.raises(InvalidAction) as refused:
            check(record(source.name), sources, source.name, "adjust_points", ACCOUNT,
                  {"points": points, "reason": "geste"}, TODAY, role="supervisor")
        assert refused.value.reason == "integer"
    with pytest.raises(ActionRefused):
        check(record(source.name), sources, source.name, "adjust_points", ACCOUNT,
              {"points": "50", "reason": "geste"}, TODAY, role="agent")


def test_the_adjustment_is_square_s_documented_call_with_the_change_s_key(
        httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_ordered_request(
        f"/v2/loyalty/accounts/{ACCOUNT}/adjust", method="POST",
        json={"idempotency_key": CHANGE,
              "adjust_points": {"points": 50, "reason": "Colis arrivé abîmé"}},
        headers={"Authorization": "Bearer EAAA-fake"},
    ).respond_with_json({"event": {"type": "ADJUST_POINTS", "loyalty_account_id": ACCOUNT}})
    source = square(httpserver.url_for("/").rstrip("/"), tmp_path,
                    "  loyalty_adjustments: true\n")
    spec = source.config.actions["adjust_points"]  # type: ignore[attr-defined]
    asked = check(record(source.name), {source.name: source.config}, source.name,
                  "adjust_points", ACCOUNT, {"points": " 50 ", "reason": "Colis arrivé abîmé"},
                  TODAY)
    source.act("adjust_points", {**asked.values(), "change": CHANGE})  # type: ignore[attr-defined]
    httpserver.check_assertions()
    assert asked.kept(spec, "fr")["note"] == \
        "50 points de fidélité ajoutés (Square) : Colis arrivé abîmé."
