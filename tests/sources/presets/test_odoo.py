"""The odoo preset: a JSON-RPC login, then execute_kw searches mapped onto the customer."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer, RequestMatcher
from pytest_httpserver.httpserver import HandlerType
from werkzeug import Request

from connector.customer.actions import offers
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import CustomerProfile, Identity, Order
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceRefused
from connector.sources.preset import presets

FIXTURES = Path(__file__).parents[2] / "fixtures" / "odoo"
API_KEY = "5c2e8b1f-odoo-api-key"
DATABASE = "mycompany"
EMAIL = "camille.martin@example.org"
PHONE = "+33612345678"
PARTNERS = [42]
LOGIN = {"jsonrpc": "2.0", "id": 0, "method": "call", "params": {
    "service": "common", "method": "login", "args": [DATABASE, "connector@mycompany.com", API_KEY]}}


def fixture(name: str) -> Any:
    """A recorded Odoo answer."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class OdooCall(RequestMatcher):
    """One `object.execute_kw` call on a model, with the login's uid, the key and a domain."""

    def __init__(self, model: str, domain: list[Any]) -> None:
        super().__init__("/jsonrpc", method="POST")
        self.expected = [DATABASE, 7, API_KEY, model, "search_read", [domain]]

    def difference(self, request: Request) -> list[tuple[str, Any, Any]]:
        """The base differences, plus the call's when it is not the expected one."""
        differences = super().difference(request)
        body = request.get_json(silent=True) or {}
        params = body.get("params") or {}
        call = (body.get("method"), params.get("service"), params.get("method"))
        if call != ("call", "object", "execute_kw") or params.get("args", [])[:6] != self.expected:
            differences.append(("json", params.get("args"), self.expected))
        return differences


def expect(httpserver: HTTPServer, model: str, domain: list[Any], answer: str) -> None:
    """The next call must be this search; it gets this fixture."""
    httpserver.expect(OdooCall(model, domain), handler_type=HandlerType.ORDERED
                      ).respond_with_json(fixture(answer))


def expect_login(httpserver: HTTPServer, answer: str = "login") -> None:
    """The next call must be the login, exactly as Odoo's external API documents it."""
    httpserver.expect_ordered_request("/jsonrpc", method="POST", json=LOGIN
                                      ).respond_with_json(fixture(answer))


def expect_history(httpserver: HTTPServer) -> None:
    """The orders, store orders and loyalty card of the partners found."""
    expect(httpserver, "sale.order", [["partner_id", "child_of", PARTNERS]], "sale_orders")
    expect(httpserver, "pos.order", [["partner_id", "child_of", PARTNERS]], "pos_orders")
    expect(httpserver, "loyalty.card", [["partner_id", "in", PARTNERS],
                                        ["program_id.program_type", "=", "loyalty"]],
           "loyalty_cards")


def all_expected_calls_made(httpserver: HTTPServer) -> None:
    """No unexpected call, and no expected call left unmade."""
    httpserver.check_assertions()
    assert not httpserver.ordered_handlers, "expected calls never made"


def odoo_source(httpserver: HTTPServer, tmp_path: Path, **parameters: Any) -> Source:
    """The preset's own example entry, pointed at the test server."""
    sources = yaml.safe_load(presets()["odoo"].example)
    sources["erp"].update(base_url=httpserver.url_for("").rstrip("/"), **parameters)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"version": 1, "sources": sources}), encoding="utf-8")
    loaded = load_manifest(manifest, env={"ODOO_API_KEY": API_KEY})
    return build_source("erp", loaded.sources["erp"], BuildContext(tmp_path))


def test_found_by_email_with_orders_store_orders_and_loyalty(httpserver: HTTPServer,
                                                            tmp_path: Path) -> None:
    expect_login(httpserver)
    expect(httpserver, "res.partner", [["email", "=ilike", EMAIL]], "partners")
    expect_history(httpserver)
    result = odoo_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)

    assert result.found and result.external_id == "42" and result.dropped_values == 0
    identity = result.sections["identity"]
    assert (identity.full_name, identity.emails, identity.phones) == (
        "Camille Martin", [EMAIL], ["+33 6 12 34 56 78"])  # phone false: left out
    assert identity.address.model_dump() == {"line1": "12 rue Mercière", "postcode": "69002",
                                             "city": "Lyon", "country": "France"}
    assert identity.customer_since == dt.date(2021, 6, 14)
    orders = result.sections["orders"]
    assert [(o.number, o.status, o.total, o.date) for o in orders] == [
        ("S00321", "quotation", Decimal("22.5"), dt.date(2024, 4, 2)),
        ("S00311", "processing", Decimal("89.9"), dt.date(2024, 3, 5)),
        ("S00305", "cancelled", Decimal("67.5"), dt.date(2024, 1, 20)),
        ("S00298", "delivered", Decimal("145.0"), dt.date(2023, 11, 28)),
    ]
    assert {o.currency for o in orders} == {"EUR"}
    assert orders[1].back_office_url == httpserver.url_for(
        "/web#model=sale.order&view_type=form&id=311")
    store = result.sections["store_purchases"]
    assert [(p.number, p.store, p.status, p.total, p.date, p.channel) for p in store] == [
        ("Order 00012-003-0042", "Boutique Lyon Presqu'île", "delivered", Decimal("22.5"),
         dt.date(2024, 2, 17), "store"),
        ("Order 00009-001-0317", "Boutique Paris Marais", "delivered", Decimal("67.5"),
         dt.date(2023, 12, 9), "store"),
    ]
    loyalty = result.sections["loyalty"]
    assert (loyalty.card, loyalty.points, loyalty.tier) == (
        "0447-51c8-9a2e", 152, "Carte Fidélité Maison Exemple")


def test_found_by_phone_in_the_forms_odoo_writes(httpserver: HTTPServer, tmp_path: Path) -> None:
    forms = ["+33 6 12 34 56 78", PHONE, "0612345678"]
    expect_login(httpserver)
    expect(httpserver, "res.partner",
           ["|", ["phone", "in", forms], ["mobile", "in", forms]], "partners")
    expect_history(httpserver)
    result = odoo_source(httpserver, tmp_path).fetch(Identifiers(phones=(PHONE,)))
    all_expected_calls_made(httpserver)
    assert result.found and result.external_id == "42"
    assert len(result.sections["orders"]) == 4


def test_nobody_found_asks_nothing_more(httpserver: HTTPServer, tmp_path: Path) -> None:
    expect_login(httpserver)
    expect(httpserver, "res.partner", [["email", "=ilike", EMAIL]], "partners_none")
    result = odoo_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)
    assert not result.found


def test_apps_not_installed_are_not_asked(httpserver: HTTPServer, tmp_path: Path) -> None:
    expect_login(httpserver)
    expect(httpserver, "res.partner", [["email", "=ilike", EMAIL]], "partners")
    expect(httpserver, "sale.order", [["partner_id", "child_of", PARTNERS]], "sale_orders")
    source = odoo_source(httpserver, tmp_path, point_of_sale=False, loyalty=False)
    result = source.fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)
    assert result.sections["store_purchases"] == [] and "loyalty" not in result.sections


def test_a_refused_login(httpserver: HTTPServer, tmp_path: Path) -> None:
    expect_login(httpserver, "login_refused")  # once: a refused login is not tried again
    with pytest.raises(SourceRefused) as refused:
        odoo_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)
    assert refused.value.public == "refused our credentials (login)"
    assert API_KEY not in str(refused.value)


def test_a_revoked_key_logs_in_again_once_then_is_refused(httpserver: HTTPServer,
                                                         tmp_path: Path) -> None:
    for _ in range(2):
        expect_login(httpserver)
        expect(httpserver, "res.partner", [["email", "=ilike", EMAIL]], "access_denied")
    with pytest.raises(SourceRefused) as refused:
        odoo_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)
    assert refused.value.public == "refused our credentials (JSON-RPC)"


CREDIT_NOTE = {"key": "S00298", "external": "42", "change": "0d7c4e1a-credit",
               "inputs": {"reason": "damaged", "amount": "12.50"}}


def profile_with(orders: list[Order]) -> CustomerProfile:
    """A record the Odoo source knows (partner 42), holding these orders of it."""
    return CustomerProfile(customer_id="cus_1", identity=Identity(external_ids={"erp": "42"}),
                           orders=orders)


def test_credit_note_is_declared_checked_and_offered_only_when_switched_on(
        httpserver: HTTPServer, tmp_path: Path) -> None:
    today = dt.date(2024, 4, 10)
    orders = [Order(number="S00311", status="processing", date=dt.date(2024, 3, 5), source="erp"),
              Order(number="S00305", status="cancelled", date=dt.date(2024, 1, 20), source="erp"),
              Order(number="S00298", status="delivered", date=dt.date(2023, 11, 28), source="erp"),
              Order(number="S00101", status="delivered", date=dt.date(2023, 3, 1), source="erp")]
    source = odoo_source(httpserver, tmp_path)
    spec = source.config.actions["credit_note"]  # type: ignore[attr-defined]
    assert (spec.applies_to, spec.key, spec.inputs["amount"].max) == ("orders", "number", 200)
    assert offers(profile_with(orders), {"erp": source.config}, today) == []  # off by default

    source = odoo_source(httpserver, tmp_path, credit_notes=True, credit_note_max=80)
    assert source.config.actions["credit_note"].inputs["amount"].max == 80  # type: ignore[attr-defined]
    offered = offers(profile_with(orders), {"erp": source.config}, today)
    assert [(o.name, o.key) for o in offered] == [("credit_note", "S00311"),
                                                  ("credit_note", "S00298")]


def test_credit_note_drafts_an_out_refund_through_execute_kw(httpserver: HTTPServer,
                                                            tmp_path: Path) -> None:
    expect_login(httpserver)
    create = {"move_type": "out_refund", "partner_id": 42, "invoice_origin": "S00298",
              "ref": "0d7c4e1a-credit",
              "invoice_line_ids": [[0, 0, {"name": "S00298: damaged", "quantity": 1,
                                           "price_unit": 12.5}]]}
    httpserver.expect_ordered_request(
        "/jsonrpc", method="POST", headers={"Idempotency-Key": "0d7c4e1a-credit"},
        json={"jsonrpc": "2.0", "id": 1, "method": "call", "params": {
            "service": "object", "method": "execute_kw",
            "args": [DATABASE, 7, API_KEY, "account.move", "create", [create]]}},
    ).respond_with_json({"jsonrpc": "2.0", "id": 1, "result": 918})
    source = odoo_source(httpserver, tmp_path, credit_notes=True)
    assert source.act("credit_note", CREDIT_NOTE) == 918  # type: ignore[attr-defined]
    all_expected_calls_made(httpserver)
