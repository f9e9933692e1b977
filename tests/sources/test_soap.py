"""`protocol: soap` and XML answers over real HTTP: envelopes with the SOAPAction and a
WS-Security token, values XML-escaped, Faults classified like HTTP errors and shown in the
sidebar, XML bombs and external entities refused, the XML → structure rule."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import textwrap
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.models import SourceState
from connector.sources import build_source
from connector.sources.base import (
    BuildContext,
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    SourceUnavailable,
)
from connector.sources.cache import MemoryCache, SingleFlight
from connector.sources.rest import RestConfig, RestSource
from connector.sources.rest_soap import SoapCalls, SoapSettings, fill_xml
from connector.sources.soap_auth import WsSecurityAuth, username_token
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import render_sidebar_page
from tests.sources.fake_nav import SOAP11, FakeNav, local

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
PAULINE = Identifiers(emails=("pauline.deneve@example.fr",))
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><Name>&x;</Name></r>"""

MANIFEST = """\
nav:
  type: rest
  protocol: soap
  base_url: {url}/WS/CRONUS France S.A./Page
  auth: {{type: ws_security, username: svc, password: "${{NAV_PASSWORD}}"}}
  xml: {{lists: [Customer]}}
  requests:
    - name: customer
      path: /Customer
      action: urn:microsoft-dynamics-schemas/page/customer:ReadMultiple
      body: |
        <ReadMultiple xmlns="urn:microsoft-dynamics-schemas/page/customer">
          <filter><Field>E_Mail</Field><Criteria>'{{email|odata}}'</Criteria></filter>
          <setSize>1</setSize>
        </ReadMultiple>
      items: ReadMultiple_Result.ReadMultiple_Result.Customer
  id: customer[0].No
  sections:
    identity:
      path: customer[0]
      fields: {{full_name: Name, emails: E_Mail}}
"""


def write(tmp_path: Path, entries: str) -> Path:
    (tmp_path / "manifest.yaml").write_text(
        "version: 1\nsources:\n" + textwrap.indent(entries, "  "), encoding="utf-8")
    return tmp_path / "manifest.yaml"


def nav_source(httpserver: HTTPServer, tmp_path: Path, nav: FakeNav) -> RestSource:
    httpserver.expect_request(re.compile(".*")).respond_with_handler(nav)
    path = write(tmp_path, MANIFEST.format(url=httpserver.url_for("")[:-1]))
    manifest = load_manifest(path, env={"NAV_PASSWORD": nav.password})
    source = build_source("nav", manifest.sources["nav"], BuildContext(tmp_path))
    assert isinstance(source, RestSource)
    return source


def soap_config(url: str, items: str = "c", **extra: Any) -> RestConfig:
    return RestConfig.model_validate({
        "type": "rest", "protocol": "soap", "base_url": url,
        "requests": [{"name": "c", "path": "/c", "action": "urn:x:Find",
                      "body": "<Find xmlns='urn:x'><Mail>{email}</Mail></Find>", "items": items}],
        "sections": {"identity": {"path": "c", "fields": {"full_name": "Name"}}}, **extra})


def test_lookup_by_email_with_ws_security(httpserver: HTTPServer, tmp_path: Path) -> None:
    nav = FakeNav(login="ws_security")
    result = nav_source(httpserver, tmp_path, nav).fetch(PAULINE)
    assert result.found and result.external_id == "C00042"
    assert result.sections["identity"].full_name == "Pauline Denève"
    (call,) = nav.calls
    assert call["action"] == '"urn:microsoft-dynamics-schemas/page/customer:ReadMultiple"'
    assert call["content_type"] == "text/xml; charset=utf-8"
    assert "#PasswordText" in call["raw"] and "<wsse:Username>svc</wsse:Username>" in call["raw"]


def test_wrong_ws_security_password_is_a_refusal(httpserver: HTTPServer,
                                                 tmp_path: Path) -> None:
    nav = FakeNav(login="ws_security")
    source = nav_source(httpserver, tmp_path, nav)
    nav.password = "changed"
    with pytest.raises(SourceRefused) as caught:
        source.fetch(PAULINE)
    assert caught.value.public == ("SOAP fault Client.Authentication: The security token could "
                                   "not be authenticated or authorized")


def test_digest_token_follows_the_username_token_profile() -> None:
    auth = WsSecurityAuth(type="ws_security", username="svc", password="s3cret", digest=True)
    now, nonce = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), b"0123456789abcdef"
    token = username_token(auth, now, nonce)
    expected = base64.b64encode(hashlib.sha1(nonce + b"2026-01-02T03:04:05Z" + b"s3cret")
                                .digest()).decode()
    assert f"#PasswordDigest\">{expected}</wsse:Password>" in token
    assert "<wsu:Created>2026-01-02T03:04:05Z</wsu:Created>" in token
    assert "s3cret" not in token


def test_values_are_xml_escaped(httpserver: HTTPServer, tmp_path: Path) -> None:
    seen: list[bytes] = []

    def handler(request: Request) -> Response:
        seen.append(request.get_data())
        return Response(f'<s:Envelope xmlns:s="{SOAP11}"><s:Body/></s:Envelope>',
                        content_type="text/xml")

    httpserver.expect_request("/c", method="POST").respond_with_handler(handler)
    config = soap_config(httpserver.url_for(""), secrets={"tenant": "A<&B"},
                         soap={"header": "<T xmlns='urn:x' id=\"{secret.tenant}\">"
                                         "{secret.tenant}</T>"})
    RestSource("s", config, BuildContext(tmp_path)).fetch(
        Identifiers(emails=("o'brien&sons@example.ie",)))
    (body,) = seen
    assert b"<Mail>o&apos;brien&amp;sons@example.ie</Mail>" in body
    assert b"id=\"A&lt;&amp;B\">A&lt;&amp;B</T>" in body
    assert fill_xml("<a b='{x}'>{x}</a>", {"x": "<&\"'\x00"}) == (
        "<a b='&lt;&amp;&quot;&apos;'>&lt;&amp;&quot;&apos;</a>")


def test_soap_12_sends_the_action_in_the_content_type(httpserver: HTTPServer,
                                                      tmp_path: Path) -> None:
    answer = (f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><FindResponse xmlns="urn:x"><c>'
              "<Name>Denève</Name></c></FindResponse></e:Body></e:Envelope>")
    httpserver.expect_request("/c", method="POST", headers={
        "Content-Type": 'application/soap+xml; charset=utf-8; action="urn:x:Find"'},
    ).respond_with_data(answer, content_type="application/soap+xml")
    config = soap_config(httpserver.url_for(""), "FindResponse.c", soap={"version": "1.2"})
    result = RestSource("s", config, BuildContext(tmp_path)).fetch(PAULINE)
    assert result.sections["identity"].full_name == "Denève"
    sent = httpserver.log[0][0].get_data()
    assert sent.startswith(b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="'
                           + SOAP12.encode())


FAULT_CASES = {
    "1.1 Client": ("<faultcode>soap:Client</faultcode><faultstring>Bad filter</faultstring>",
                   SOAP11, SourceMisconfigured, "SOAP fault Client: Bad filter"),
    "1.1 Server": ("<faultcode>soap:Server</faultcode><faultstring>DB down</faultstring>",
                   SOAP11, SourceUnavailable, "SOAP fault Server: DB down"),
    "1.2 Sender": ("<e:Code><e:Value>e:Sender</e:Value></e:Code><e:Reason><e:Text xml:lang='en'>"
                   "No such customer</e:Text></e:Reason>", SOAP12, SourceMisconfigured,
                   "SOAP fault Sender: No such customer"),
    "1.2 Receiver": ("<e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text>Busy"
                     "</e:Text></e:Reason>", SOAP12, SourceUnavailable,
                     "SOAP fault Receiver: Busy"),
}


@pytest.mark.parametrize("case", list(FAULT_CASES))
@pytest.mark.parametrize("status", [500, 200])
def test_faults_are_classified_like_http_errors(httpserver: HTTPServer, tmp_path: Path,
                                                case: str, status: int) -> None:
    inner, namespace, kind, public = FAULT_CASES[case]
    httpserver.expect_request("/c").respond_with_data(
        f'<e:Envelope xmlns:e="{namespace}" xmlns:soap="{namespace}"><e:Body><e:Fault>{inner}'
        "</e:Fault></e:Body></e:Envelope>", status=status, content_type="text/xml")
    version = "1.2" if namespace == SOAP12 else "1.1"
    source = RestSource("s", soap_config(httpserver.url_for(""), soap={"version": version}),
                        BuildContext(tmp_path))
    with pytest.raises(kind) as caught:
        source.fetch(PAULINE)
    assert caught.value.public == public


def test_an_error_status_without_a_fault_stays_an_http_error(httpserver: HTTPServer,
                                                             tmp_path: Path) -> None:
    httpserver.expect_request("/c").respond_with_data("<html>Service Unavailable</html>",
                                                      status=503, content_type="text/html")
    source = RestSource("s", soap_config(httpserver.url_for("")), BuildContext(tmp_path))
    with pytest.raises(SourceUnavailable) as caught:
        source.fetch(PAULINE)
    assert caught.value.public == "server error (503)"


def test_a_fault_shows_in_the_sidebar_as_the_source_failing(httpserver: HTTPServer,
                                                            tmp_path: Path) -> None:
    nav = FakeNav(login="none")
    httpserver.expect_request(re.compile("/WS/.*")).respond_with_handler(nav)
    httpserver.expect_request("/erp/c").respond_with_json({"id": "C1", "name": "Denève"})
    url = httpserver.url_for("")[:-1]
    path = write(tmp_path, MANIFEST.format(url=url).replace(
        "  auth: {type: ws_security, username: svc, password: \"${NAV_PASSWORD}\"}\n",
        "  label: Navision\n") + textwrap.dedent(f"""\
        erp:
          type: rest
          base_url: {url}/erp
          requests: [{{name: c, path: /c, params: {{email: "{{email}}"}}}}]
          id: c.id
          sections: {{identity: {{path: c, fields: {{last_name: name}}}}}}
        """))
    manifest = load_manifest(path, env={})
    sources = {n: build_source(n, c, BuildContext(tmp_path)) for n, c in manifest.sources.items()}
    assembled = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                 ThreadPoolExecutor(4),
                                 Resolver(LinkStore("sqlite://"), manifest.identity))
    found = assembled.lookup(Identifiers(emails=("FAULT@example.fr",)))
    assert found.sources["nav"].status == SourceState.ERROR
    message = "SOAP fault NavCSideException: The filter 'FAULT' is not valid for the E-Mail field."
    assert found.sources["nav"].error == message
    assert found.profile is not None
    ctx = RenderContext(locale="en", currency="EUR", now=dt.datetime.now(dt.UTC),
                        source_labels={"nav": "Navision"})
    html = render_sidebar_page(found.profile, [BlockSpec("identity"), BlockSpec("freshness")],
                               ctx)
    assert "Denève" in html and "Navision" in html
    error = re.search(r'<span class="source__error">(.*?)</span>', html)
    assert error is not None and error[1].startswith("SOAP fault NavCSideException: The filter")
    assert "Traceback" not in html


@pytest.mark.parametrize("hostile", [BOMB, EXTERNAL], ids=["bomb", "external entity"])
@pytest.mark.parametrize("protocol", ["soap", "json"])
def test_dtds_are_refused(httpserver: HTTPServer, tmp_path: Path, hostile: bytes,
                          protocol: str) -> None:
    httpserver.expect_request("/c").respond_with_data(hostile, content_type="text/xml")
    config = soap_config(httpserver.url_for(""))
    if protocol == "json":
        config = RestConfig.model_validate({
            "type": "rest", "base_url": httpserver.url_for(""),
            "requests": [{"name": "c", "path": "/c"}],
            "sections": {"identity": {"path": "c", "fields": {"full_name": "r.Name"}}}})
    with pytest.raises(SourceError) as caught:
        RestSource("s", config, BuildContext(tmp_path)).fetch(PAULINE)
    assert caught.value.public == "answered with refused XML (a DTD or entities)"


def test_plain_xml_answers_are_read_by_content_type_or_when_told(httpserver: HTTPServer,
                                                                tmp_path: Path) -> None:
    xml = ('<?xml version="1.0"?><ns:customers xmlns:ns="urn:shop" count="1"><ns:customer '
           'id="K-12"><ns:name>Denève</ns:name><ns:order><ns:no>997890</ns:no>'
           "<ns:total>45.95</ns:total></ns:order></ns:customer></ns:customers>")
    httpserver.expect_request("/typed").respond_with_data(xml, content_type="application/xml")
    httpserver.expect_request("/untyped").respond_with_data(xml, content_type="text/plain")
    for path, answer in (("/typed", "auto"), ("/untyped", "xml")):
        config = RestConfig.model_validate({
            "type": "rest", "base_url": httpserver.url_for(""), "answer": answer,
            "xml": {"lists": ["order"]},
            "requests": [{"name": "c", "path": path, "params": {"mail": "{email}"}}],
            "id": 'c.customers.customer."@id"',
            "sections": {
                "identity": {"path": "c.customers.customer", "fields": {"full_name": "name"}},
                "orders": {"items": "c.customers.customer.order",
                           "fields": {"number": "no", "total": "total"}}}})
        result = RestSource("s", config, BuildContext(tmp_path)).fetch(PAULINE)
        assert result.external_id == "K-12"
        (order,) = result.sections["orders"]  # one order, a list all the same
        assert (order.number, order.total) == ("997890", Decimal("45.95"))


def test_the_structure_rule() -> None:
    calls = SoapCalls(SoapSettings(), None, frozenset({"Line"}))
    body = (f'<s:Envelope xmlns:s="{SOAP11}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-'
            'instance"><s:Body><R xmlns="urn:r"><Item>1</Item><Item>2</Item><Line>a</Line>'
            '<Empty/><Nil xsi:nil="true"/><Priced currency="EUR">9.50</Priced></R></s:Body>'
            "</s:Envelope>").encode()
    assert calls.decode(body, "text/xml") == {"R": {
        "Item": ["1", "2"], "Line": ["a"], "Empty": None, "Nil": None,
        "Priced": {"@currency": "EUR", "#text": "9.50"}}}


def test_manifest_errors_name_their_path(tmp_path: Path) -> None:
    path = write(tmp_path, textwrap.dedent("""\
        nav:
          type: rest
          protocol: soap
          base_url: http://127.0.0.1:9
          requests:
            - {name: c, path: /c, body: "<Find><Mail>{email}</Find>"}
            - {name: d, path: /d, body: {mail: "{email}"}}
            - {name: e, path: /e, body: "<E/>", paginate: {type: page, param: p}}
          sections: {identity: {path: c, fields: {full_name: Name}}}
        shop:
          type: rest
          base_url: http://127.0.0.1:9
          auth: {type: ws_security, username: u, password: p}
          requests: [{name: c, path: /c, action: "urn:x"}]
          sections: {identity: {path: c, fields: {full_name: Name}}}
        """))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    text = str(caught.value)
    assert "requests[0].body: not well-formed XML (mismatched tag: line 1, column 22)" in text
    assert "requests[1].body: protocol soap needs the Body's XML as text" in text
    assert "auth: ws_security needs protocol: soap" in text
    assert "requests[0].action: only for protocol: soap" in text
    assert "requests[2].paginate: not for protocol soap (ask for more items in one call" in text


def test_the_structure_keeps_no_namespace_prefix() -> None:
    calls = SoapCalls(SoapSettings(), None, frozenset())
    body = (f'<a:Envelope xmlns:a="{SOAP11}"><a:Body><x:R xmlns:x="urn:r" x:k="v"><x:N>1</x:N>'
            "</x:R></a:Body></a:Envelope>").encode()
    assert calls.decode(body, "") == {"R": {"@k": "v", "N": "1"}}
    assert local("{urn:r}N") == "N"
