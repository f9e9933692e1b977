"""The Business Central preset against the API v2.0's documented payloads: OAuth2 client
credentials, OData filters, `@odata.nextLink` paging, order and invoice statuses."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext, Source
from connector.sources.preset import presets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "business_central"
API = ("/v2.0/contoso.onmicrosoft.com/Production/api/v2.0"
       "/companies(5d115c9c-44e3-ea11-bb43-000d3a2feca1)")
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.fake-bc-token."
CAMILLE = Identifiers(emails=("camille.durand@example.com",))
BY_NUMBER = "customerNumber eq 'C00042'"


def fixture(name: str, server: str = "") -> Any:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text.replace("https://api.businesscentral.dynamics.com", server))


@pytest.fixture
def erp(httpserver: HTTPServer, tmp_path: Path) -> Source:
    server = httpserver.url_for("/").rstrip("/")
    entry = presets()["business_central"].example + f"  api_url: {server}\n  login_url: {server}\n"
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"BC_CLIENT_SECRET": "s3cret"})
    return build_source("erp", manifest.sources["erp"], BuildContext(tmp_path))


def token_endpoint(forms: list[dict[str, list[str]]]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        forms.append(parse_qs(request.get_data(as_text=True)))
        return Response(json.dumps(fixture("token.json")), content_type="application/json")

    return handler


def expect_token(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/contoso.onmicrosoft.com/oauth2/v2.0/token",
                                      method="POST").respond_with_json(fixture("token.json"))


def expect_api(httpserver: HTTPServer, path: str, query: dict[str, str], answer: Any,
               **headers: str) -> None:
    httpserver.expect_ordered_request(
        API + path, method="GET", query_string=query,
        headers={"Authorization": f"Bearer {TOKEN}", **headers},
    ).respond_with_json(answer)


def expect_history(httpserver: HTTPServer) -> None:
    server = httpserver.url_for("/").rstrip("/")
    paged = {"Prefer": "odata.maxpagesize=50"}
    expect_api(httpserver, "/salesOrders", {"$filter": BY_NUMBER, "$orderby": "orderDate desc"},
               fixture("sales_orders_page1.json", server), **paged)
    expect_api(httpserver, "/salesOrders", {"$filter": BY_NUMBER, "$orderby": "orderDate desc",
                                            "$skiptoken": "S-ORD101007"},
               fixture("sales_orders_page2.json", server), **paged)
    expect_api(httpserver, "/salesInvoices", {"$filter": BY_NUMBER,
                                              "$orderby": "invoiceDate desc"},
               fixture("sales_invoices.json", server), **paged)


def test_finds_by_email_then_reads_orders_and_invoices(httpserver: HTTPServer,
                                                        erp: Source) -> None:
    forms: list[dict[str, list[str]]] = []
    httpserver.expect_ordered_request(
        "/contoso.onmicrosoft.com/oauth2/v2.0/token", method="POST",
    ).respond_with_handler(token_endpoint(forms))
    expect_api(httpserver, "/customers",
               {"$filter": "tolower(email) eq 'camille.durand@example.com'"},
               fixture("customers.json"))
    expect_history(httpserver)

    result = erp.fetch(CAMILLE)
    httpserver.check_assertions()

    assert forms == [{"grant_type": ["client_credentials"],
                      "client_id": ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"],
                      "client_secret": ["s3cret"],
                      "scope": ["https://api.businesscentral.dynamics.com/.default"]}]
    assert result.found and result.external_id == "C00042"
    identity = result.sections["identity"]
    assert (identity.full_name, identity.emails, identity.phones) == (
        "Camille Durand", ["Camille.Durand@example.com"], ["+33 6 12 34 56 78"])
    assert (identity.address.line1, identity.address.postcode, identity.address.city,
            identity.address.country) == ("12 rue des Lilas", "69003", "Lyon", "FR")
    rows = [(o.number, o.status, str(o.date), o.total, o.currency)
            for o in result.sections["orders"]]
    assert rows == [
        ("S-ORD101009", "processing", "2025-03-02", Decimal("59.0"), "EUR"),    # Draft
        ("S-ORD101007", "processing", "2025-02-24", Decimal("1249.0"), "EUR"),  # Open
        ("S-ORD101003", "shipped", "2025-02-03", Decimal("318.5"), "EUR"),      # page 2
        ("PS-INV103021", "delivered", "2025-01-15", Decimal("149.9"), "EUR"),   # Paid
        ("PS-INV103002", "returned", "2024-11-28", Decimal("89.0"), "EUR"),     # Corrective
    ]
    urls = [o.back_office_url for o in result.sections["orders"]]
    web = "https://businesscentral.dynamics.com/contoso.onmicrosoft.com/Production/?page="
    assert urls[0] == web + "42&filter=%27No.%27%20IS%20%27S-ORD101009%27"
    assert urls[3] == web + "132&filter=%27No.%27%20IS%20%27PS-INV103021%27"
    assert result.dropped_values == 0


def test_finds_by_phone_in_the_forms_people_type_it(httpserver: HTTPServer, erp: Source) -> None:
    expect_token(httpserver)
    expect_api(httpserver, "/customers", {"$filter": (
        "phoneNumber eq '+33612345678' or phoneNumber eq '+33 6 12 34 56 78' "
        "or phoneNumber eq '0612345678'")}, fixture("customers.json"))
    expect_history(httpserver)
    result = erp.fetch(Identifiers(phones=("+33612345678",)))
    httpserver.check_assertions()
    assert result.found and result.external_id == "C00042"


def test_unknown_customer_reads_no_orders(httpserver: HTTPServer, erp: Source) -> None:
    expect_token(httpserver)
    expect_api(httpserver, "/customers", {"$filter": "tolower(email) eq 'o''brien@example.com'"},
               fixture("customers_none.json"))
    assert not erp.fetch(Identifiers(emails=("o'brien@example.com",))).found
    httpserver.check_assertions()
    assert [r.path for r, _ in httpserver.log].count(API + "/salesOrders") == 0


def test_shipments_of_an_order_on_demand(httpserver: HTTPServer, erp: Source) -> None:
    expect_token(httpserver)
    expect_api(httpserver, "/salesShipments", {"$filter": "orderNumber eq 'S-ORD101003'",
                                               "$orderby": "postingDate desc"},
               fixture("sales_shipments.json"))
    detail = erp.detail("shipments", "S-ORD101003")
    httpserver.check_assertions()
    assert detail == {"Shipment": "S-SHPT102011", "Shipped on": "2025-02-05",
                      "Shipment method": "DHL", "Ship to": "Camille Durand 69003 Lyon"}
