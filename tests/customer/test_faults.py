"""Every way a source can fail leaves the sidebar rendering, with that source's status exact."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import SourceState
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.sources.cache import MemoryCache, SingleFlight
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import render_sidebar_page

MANIFEST = """\
version: 1
sources:
  erp:
    type: rest
    base_url: {url}/erp
    requests: [{{name: c, path: /c, params: {{email: "{{email}}"}}}}]
    id: c.id
    sections: {{identity: {{path: c, fields: {{last_name: name}}}}}}
  reviews:
    type: rest
    label: Avis
    base_url: {url}/reviews
    timeout_s: 0.3
    circuit: {{failures: 1, cooldown_s: 60}}
    requests: [{{name: r, path: /r, params: {{email: "{{email}}"}}}}]
    sections: {{reviews: {{items: r, fields: {{title: title}}}}}}
"""


def slow(_request: Request) -> Response:
    time.sleep(0.6)
    return Response("[]", content_type="application/json")


FAULTS = {
    "timeout": (lambda r: r.respond_with_handler(slow), SourceState.TIMEOUT, "délai dépassé"),
    "500": (lambda r: r.respond_with_data("boom", status=500), SourceState.ERROR,
            "server error (500)"),
    "429": (lambda r: r.respond_with_data("slow down", status=429, headers={"Retry-After": "60"}),
            SourceState.ERROR, "rate-limited (429)"),
    "malformed": (lambda r: r.respond_with_data("{not json"), SourceState.ERROR,
                  "answered with invalid JSON"),
    "oversized": (lambda r: r.respond_with_data(b"[" + b"1," * 3_000_000 + b"1]"),
                  SourceState.ERROR, "answer larger than 5 MB"),
}


def assembler(httpserver: HTTPServer, tmp_path: Path) -> ProfileAssembler:
    (tmp_path / "manifest.yaml").write_text(MANIFEST.format(url=httpserver.url_for("")[:-1]))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    sources = {n: build_source(n, c, BuildContext(tmp_path)) for n, c in manifest.sources.items()}
    return ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()), ThreadPoolExecutor(8),
                            Resolver(LinkStore("sqlite://"), manifest.identity))


def page(assembled: ProfileAssembler, email: str) -> tuple[str, dict[str, SourceState]]:
    result = assembled.lookup(Identifiers(emails=(email,)))
    assert result.profile is not None
    ctx = RenderContext(locale="fr", currency="EUR", now=dt.datetime.now(dt.UTC),
                        source_labels={"reviews": "Avis"})
    html = render_sidebar_page(result.profile, [BlockSpec("identity"), BlockSpec("freshness")],
                               ctx)
    return html, {n: s.status for n, s in result.sources.items()}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_leaves_the_sidebar_rendering(httpserver: HTTPServer, tmp_path: Path,
                                            fault: str) -> None:
    respond, state, shown = FAULTS[fault]
    httpserver.expect_request("/erp/c").respond_with_json({"id": "C1", "name": "Denève"})
    respond(httpserver.expect_request("/reviews/r"))
    html, states = page(assembler(httpserver, tmp_path), "p@x.fr")
    assert states == {"erp": SourceState.OK, "reviews": state}
    assert "Denève" in html and "Avis" in html and shown in html
    if fault == "timeout":
        time.sleep(0.5)  # let the test server finish the slow answer


def test_circuit_open_after_failures(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/erp/c").respond_with_json({"id": "C1", "name": "Denève"})
    httpserver.expect_request("/reviews/r").respond_with_data("boom", status=503)
    assembled = assembler(httpserver, tmp_path)
    assert page(assembled, "a@x.fr")[1]["reviews"] == SourceState.ERROR
    html, states = page(assembled, "b@x.fr")  # another customer: not cached, not even asked
    assert states["reviews"] == SourceState.CIRCUIT_OPEN
    assert "paused for 60 s after errors" in html
    asked = [r for r, _ in httpserver.log if r.path == "/reviews/r"]
    assert len(asked) == 1


def test_failures_are_logged_without_identifiers_or_keys(httpserver: HTTPServer, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "manifest.yaml").write_text("""\
version: 1
sources:
  erp:
    type: rest
    base_url: http://127.0.0.1:9/erp
    auth: {type: api_key, name: key, value: s3cr3t-k3y, where: query}
    requests: [{name: c, path: /c, params: {email: "{email}", phone: "{phone}"}}]
    lookup_by: [email, phone]
    sections: {identity: {path: c, fields: {last_name: name}}}
""")
    manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    sources = {n: build_source(n, c, BuildContext(tmp_path)) for n, c in manifest.sources.items()}
    assembled = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                 ThreadPoolExecutor(2),
                                 Resolver(LinkStore("sqlite://"), manifest.identity))
    with caplog.at_level("DEBUG"):
        found = assembled.lookup(Identifiers(emails=("pauline.deneve@easiware.fr",),
                                             phones=("+33653888890",)))
    assert found.sources["erp"].error == "unreachable at http://127.0.0.1:9"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "erp" in logged
    for secret in ("pauline", "easiware", "653888890", "s3cr3t"):
        assert secret not in logged
