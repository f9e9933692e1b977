"""docs/sources/soap.md's "map your own SOAP source" walkthrough works as written, against a
SOAP server that checks the SOAPAction and the WS-Security token and answers the doc's XML."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from defusedxml.ElementTree import fromstring
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.sources.probe import trace
from tests.sources.fake_nav import SOAP11, WSSE

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources" / "soap.md"
EMAIL = "pauline.deneve@example.fr"


def walkthrough() -> tuple[str, str]:
    """The doc's answer (XML) and source entry (YAML)."""
    section = DOC.read_text(encoding="utf-8").split("## Map your own SOAP source")[1]
    answer = re.search(r"```xml\n(.*?)```", section, re.DOTALL)
    entry = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert answer is not None and entry is not None
    return answer.group(1), textwrap.dedent(entry.group(1))


def crm(answer: str, seen: list[str]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        envelope = fromstring(request.get_data(), forbid_dtd=True)
        token = f"./{{{SOAP11}}}Header/{WSSE}Security/{WSSE}UsernameToken/"
        email = envelope.findtext(f"./{{{SOAP11}}}Body/{{urn:example:crm}}FindCustomer/"
                                  "{urn:example:crm}email")
        seen.append(str(email))
        if (request.headers.get("SOAPAction") != '"urn:example:crm/FindCustomer"'
                or envelope.findtext(token + f"{WSSE}Username") != "connector"
                or envelope.findtext(token + f"{WSSE}Password") != "s3cret"
                or email != EMAIL):
            return Response("", status=400)
        return Response(answer, content_type="text/xml; charset=utf-8")

    return handler


def test_walkthrough(httpserver: HTTPServer, tmp_path: Path) -> None:
    answer, entry = walkthrough()
    seen: list[str] = []
    httpserver.expect_request("/services/CustomerService", method="POST").respond_with_handler(
        crm(answer, seen))
    entry = entry.replace("https://crm.example.com", httpserver.url_for("")[:-1])
    (tmp_path / "manifest.yaml").write_text(
        "version: 1\nsources:\n" + textwrap.indent(entry, "  "), encoding="utf-8")
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"CRM_PASSWORD": "s3cret"})
    source = build_source("crm", manifest.sources["crm"], BuildContext(tmp_path))
    ids = Identifiers(emails=(EMAIL,))
    result = source.fetch(ids)
    assert seen == [EMAIL]
    assert result.external_id == "K-12"
    assert result.sections["identity"].last_name == "Denève"
    (order,) = result.sections["orders"]
    assert (order.number, order.status, order.total, str(order.date)) == (
        "997890", "returned", Decimal("45.95"), "2017-08-05")
    lines = trace(source.find(ids), manifest.sources["crm"])  # type: ignore[attr-defined]
    assert any(line.endswith("= 'R' → 'returned'") for line in lines)
