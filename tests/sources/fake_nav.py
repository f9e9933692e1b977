"""A SOAP server shaped like Dynamics NAV's page web services, for the tests to run over real
HTTP: `ReadMultiple` on the Customer and SalesOrderList pages with NAV's filter syntax
('…' quoted, `|` for or), answers and Faults from tests/fixtures/navision/, and the login the
test chooses (basic, a WS-Security UsernameToken, or NTLM through a real handshake)."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import spnego
import spnego.exceptions
from defusedxml.ElementTree import fromstring
from werkzeug import Request, Response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "navision"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}"
PAGES = {"Customer": "Customer", "SalesOrderList": "SalesOrderList"}


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def criteria_values(criteria: str) -> list[str]:
    """NAV's `'a'|'b'` filter read back into its values (a quote doubled inside a value)."""
    return [v.replace("''", "'") for v in criteria.strip()[1:-1].split("'|'")]


@dataclass
class FakeNav:
    """The server's data, the login it expects, and every call it saw."""

    company: str = "CRONUS France S.A."
    login: str = "basic"  # basic | ws_security | ntlm | none
    username: str = "svc"
    password: str = "s3cret"
    records: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    _ntlm: Any = None

    def __post_init__(self) -> None:
        if not self.records:
            self.records = json.loads((FIXTURES / "records.json").read_text(encoding="utf-8"))

    def __call__(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        page = request.path.rsplit("/", 1)[-1]
        expected = f"/WS/{self.company}/Page/{page}"
        if page not in PAGES or request.path != expected:
            return Response("no such page", status=404)
        envelope = fromstring(request.get_data(), forbid_dtd=True)
        body = next(c for c in envelope if local(c.tag) == "Body")
        operation = body[0]
        call = {"page": page, "action": request.headers.get("SOAPAction"),
                "content_type": request.headers.get("Content-Type"),
                "operation": operation, "envelope": envelope,
                "raw": request.get_data(as_text=True)}
        self.calls.append(call)
        if call["action"] != f'"urn:microsoft-dynamics-schemas/page/{page.lower()}:ReadMultiple"':
            return fault("a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException",
                         "No Soap Action was found.")
        return self._read_multiple(page, operation)

    def _read_multiple(self, page: str, operation: ET.Element) -> Response:
        fields = {local(c.tag): c for c in operation}
        found = self.records[page]
        for flt in operation:
            if local(flt.tag) != "filter":
                continue
            name = next(c.text for c in flt if local(c.tag) == "Field")
            criteria = next(c.text for c in flt if local(c.tag) == "Criteria") or ""
            if "FAULT" in criteria:
                return fault("a:Microsoft.Dynamics.Nav.Types.Exceptions.NavCSideException",
                             "The filter 'FAULT' is not valid for the E-Mail field.")
            values = criteria_values(criteria)
            found = [r for r in found if r.get(name) in values]
        size = int(getattr(fields.get("setSize"), "text", "0") or 0)
        if size < 0:
            found = list(reversed(found))
        if size:
            found = found[:abs(size)]
        return answer(page, found)

    def _refused(self, request: Request) -> Response | None:
        if self.login == "basic":
            expected = "Basic " + base64.b64encode(
                f"{self.username}:{self.password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return Response("", status=401)
        if self.login == "ws_security":
            return self._ws_security(request)
        if self.login == "ntlm":
            return self._ntlm_step(request)
        return None

    def _ws_security(self, request: Request) -> Response | None:
        envelope = fromstring(request.get_data(), forbid_dtd=True)
        token = envelope.find(f"./{{{SOAP11}}}Header/{WSSE}Security/{WSSE}UsernameToken")
        user = token.findtext(f"{WSSE}Username") if token is not None else None
        secret = token.findtext(f"{WSSE}Password") if token is not None else None
        if (user, secret) != (self.username, self.password):
            return fault("s:Client.Authentication", "The security token could not be "
                         "authenticated or authorized", status=500)
        return None

    def _ntlm_step(self, request: Request) -> Response | None:
        """NTLM authenticates the connection: negotiate, challenge, authenticate."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("NTLM "):
            self._ntlm = None
            return Response("", status=401, headers={"WWW-Authenticate": "NTLM"})
        token = base64.b64decode(header[5:])
        if self._ntlm is None:
            self._ntlm = spnego.server(protocol="ntlm")
        try:
            out = self._ntlm.step(token)
        except spnego.exceptions.SpnegoError:
            self._ntlm = None
            return Response("", status=401, headers={"WWW-Authenticate": "NTLM"})
        if not self._ntlm.complete:
            return Response("", status=401, headers={
                "WWW-Authenticate": "NTLM " + base64.b64encode(out or b"").decode()})
        who = self._ntlm.client_principal
        self._ntlm = None
        self.calls.append({"ntlm_user": who})
        return None


def answer(page: str, records: list[dict[str, str]]) -> Response:
    """A ReadMultiple_Result as NAV writes it (one namespace, every field an element)."""
    entities = "".join(
        f"<{page}>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in r.items()) + f"</{page}>"
        for r in records)
    xml = (f'<?xml version="1.0" encoding="utf-8"?><Soap:Envelope xmlns:Soap="{SOAP11}">'
           f'<Soap:Body><ReadMultiple_Result xmlns="urn:microsoft-dynamics-schemas/page/'
           f'{page.lower()}"><ReadMultiple_Result>{entities}</ReadMultiple_Result>'
           f"</ReadMultiple_Result></Soap:Body></Soap:Envelope>")
    return Response(xml, content_type="text/xml; charset=utf-8")


def fault(code: str, text: str, status: int = 500) -> Response:
    """A SOAP 1.1 Fault as NAV sends it (HTTP 500)."""
    xml = (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><s:Fault>'
           f'<faultcode xmlns:a="urn:microsoft-dynamics-schemas/error">{code}</faultcode>'
           f'<faultstring xml:lang="en-US">{escape(text)}</faultstring><detail><string '
           f'xmlns="http://schemas.microsoft.com/2003/10/Serialization/">{escape(text)}</string>'
           f"</detail></s:Fault></s:Body></s:Envelope>")
    return Response(xml, status=status, content_type="text/xml; charset=utf-8")
