"""The tryton preset: `common.db.login`, then search_read calls under a Session header.

The fixtures are answers a real trytond 8.0 gave these very calls (dates and the session key
replaced); test_tryton_live.py runs the same preset against a real server.
"""

from __future__ import annotations

import base64
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

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceRefused
from connector.sources.preset import presets

FIXTURES = Path(__file__).parents[2] / "fixtures" / "tryton"
RPC = "/tryton/rpc/"
PASSWORD = "tryton-test-password"
EMAIL = "camille.martin@example.org"
PHONE = "+33612345678"
PARTY_FIELDS = ["name", "code", "email", "phone", "mobile", "create_date", "addresses.street",
                "addresses.postal_code", "addresses.city", "addresses.country.name"]
LOGIN = {"jsonrpc": "2.0", "id": 0, "method": "common.db.login",
         "params": ["connector", {"password": PASSWORD}, "en"]}


def fixture(name: str) -> Any:
    """A recorded trytond answer."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def session_header() -> str:
    """What trytond expects: `Session base64(login:user id:session)`."""
    user_id, session, _ = fixture("login")
    return "Session " + base64.b64encode(f"connector:{user_id}:{session}".encode()).decode()


class TrytonCall(RequestMatcher):
    """One model method called with the session: its name, domain and an empty context last."""

    def __init__(self, method: str, domain: list[Any]) -> None:
        super().__init__(RPC, method="POST", headers={"Authorization": session_header()})
        self.expected = (method, domain, {})

    def difference(self, request: Request) -> list[tuple[str, Any, Any]]:
        """The base differences, plus the call's when it is not the expected one."""
        differences = super().difference(request)
        body = request.get_json(silent=True) or {}
        params = body.get("params") or [None]
        if (body.get("method"), params[0], params[-1]) != self.expected:
            differences.append(("json", body, self.expected))
        return differences


def expect(httpserver: HTTPServer, method: str, domain: list[Any], answer: str) -> None:
    """The next call must be this one; it gets this fixture."""
    httpserver.expect(TrytonCall(method, domain), handler_type=HandlerType.ORDERED
                      ).respond_with_json(fixture(answer))


def expect_login(httpserver: HTTPServer) -> None:
    """The next call must be the login, as trytond's dispatcher takes it."""
    httpserver.expect_ordered_request(RPC, method="POST", json=LOGIN
                                      ).respond_with_json(fixture("login"))


def by_email(email: str = EMAIL) -> list[Any]:
    """The party search for an email among the contact mechanisms."""
    return [["contact_mechanisms", "where", [["type", "=", "email"], ["value", "ilike", email]]]]


def all_expected_calls_made(httpserver: HTTPServer) -> None:
    """No unexpected call, and no expected call left unmade."""
    httpserver.check_assertions()
    assert not httpserver.ordered_handlers, "expected calls never made"


def tryton_source(httpserver: HTTPServer, tmp_path: Path, **parameters: Any) -> Source:
    """The preset's own example entry, pointed at the test server."""
    sources = yaml.safe_load(presets()["tryton"].example)
    sources["erp"].update(base_url=httpserver.url_for("").rstrip("/"), **parameters)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"version": 1, "sources": sources}), encoding="utf-8")
    loaded = load_manifest(manifest, env={"TRYTON_PASSWORD": PASSWORD})
    return build_source("erp", loaded.sources["erp"], BuildContext(tmp_path))


def test_found_by_email_with_sales_and_store_sales(httpserver: HTTPServer,
                                                   tmp_path: Path) -> None:
    expect_login(httpserver)
    expect(httpserver, "model.party.party.search_read", by_email(), "parties")
    expect(httpserver, "model.sale.sale.search_read", [["party", "in", [2]]], "sales")
    expect(httpserver, "model.sale.point.sale.search_read", [["party", "in", [2]]],
           "store_sales")
    source = tryton_source(httpserver, tmp_path, store_sales_customer_field="party")
    result = source.fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)

    assert result.found and result.external_id == "2" and result.dropped_values == 0
    identity = result.sections["identity"]
    assert (identity.full_name, identity.emails, identity.phones) == (
        "Camille Martin", [EMAIL], ["+33 6 12 34 56 78"])  # no landline: "" left out
    assert identity.address.model_dump() == {"line1": "12 rue Mercière", "postcode": "69002",
                                             "city": "Lyon", "country": "France"}
    assert identity.customer_since == dt.date(2021, 6, 14)
    orders = result.sections["orders"]
    assert [(o.number, o.status, o.total, o.currency, o.date) for o in orders] == [
        ("1", "processing", Decimal("45.00"), "EUR", dt.date(2024, 3, 5)),
        (None, "cancelled", Decimal("67.50"), "EUR", dt.date(2024, 1, 20)),  # created on
        ("2", "quotation", Decimal("22.50"), "EUR", dt.date(2024, 4, 2)),
    ]
    assert orders[0].back_office_url == httpserver.url_for("/#tryton/model/sale.sale/1")
    store = result.sections["store_purchases"]
    assert [(p.number, p.store, p.status, p.total, p.date, p.channel) for p in store] == [
        ("1", "Boutique Lyon Presqu'île", "delivered", Decimal("22.50"), dt.date(2024, 2, 17),
         "store"),
        ("2", "Boutique Paris Marais", "delivered", Decimal("67.50"), dt.date(2023, 12, 9),
         "store"),
    ]


def test_found_by_phone_and_store_sales_left_alone_by_default(httpserver: HTTPServer,
                                                              tmp_path: Path) -> None:
    expect_login(httpserver)
    expect(httpserver, "model.party.party.search_read", [["contact_mechanisms", "where", [
        ["type", "in", ["phone", "mobile"]], ["value_compact", "=", PHONE]]]], "parties")
    expect(httpserver, "model.sale.sale.search_read", [["party", "in", [2]]], "sales")
    result = tryton_source(httpserver, tmp_path).fetch(Identifiers(phones=(PHONE,)))
    all_expected_calls_made(httpserver)
    assert result.found and result.external_id == "2"
    assert len(result.sections["orders"]) == 3 and result.sections["store_purchases"] == []


def test_search_read_parameters_in_trytond_order(httpserver: HTTPServer, tmp_path: Path) -> None:
    seen: list[Any] = []

    def record(request: Request) -> Any:
        seen.append(request.get_json()["params"])
        return json.dumps(fixture("parties_none"))

    expect_login(httpserver)
    httpserver.expect_ordered_request(RPC, method="POST").respond_with_handler(record)
    assert not tryton_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,))).found
    all_expected_calls_made(httpserver)
    (params,) = seen  # domain, offset, limit, order, fields, context
    assert params == [by_email(), 0, 5, [["id", "ASC"]], PARTY_FIELDS, {}]


def test_an_expired_session_logs_in_again(httpserver: HTTPServer, tmp_path: Path) -> None:
    expect_login(httpserver)
    httpserver.expect_ordered_request(RPC, method="POST").respond_with_data("", status=401)
    expect_login(httpserver)
    expect(httpserver, "model.party.party.search_read", by_email(), "parties_none")
    assert not tryton_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,))).found
    all_expected_calls_made(httpserver)


def test_a_refused_login(httpserver: HTTPServer, tmp_path: Path) -> None:
    # trytond answers a wrong password with 401 whatever the body; a refused login is not
    # tried again (it would count twice against Tryton's login rate limit)
    httpserver.expect_ordered_request(RPC, method="POST", json=LOGIN).respond_with_data(
        "<h1>Unauthorized</h1>", status=401, content_type="text/html")
    with pytest.raises(SourceRefused) as refused:
        tryton_source(httpserver, tmp_path).fetch(Identifiers(emails=(EMAIL,)))
    all_expected_calls_made(httpserver)
    assert refused.value.public == "refused our credentials (401)"
    assert PASSWORD not in str(refused.value)
