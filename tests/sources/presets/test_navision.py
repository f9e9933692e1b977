"""The navision preset against a SOAP server shaped like NAV's page web services, over real
HTTP: ReadMultiple envelopes with the SOAPAction, NAV filters, basic and NTLM logins, Faults."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import SourceState
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceError
from connector.sources.preset import presets
from tests.sources.fake_nav import FakeNav, local

PAULINE = Identifiers(emails=("pauline.deneve@example.fr",))


def navision(httpserver: HTTPServer, tmp_path: Path, nav: FakeNav, extra: str = "") -> Source:
    httpserver.expect_request(re.compile(".*")).respond_with_handler(nav)  # NAV routes
    entry = presets()["navision"].example.replace(
        "http://nav.example.local:7047/DynamicsNAV110/WS", httpserver.url_for("/WS"))
    entry = entry.replace("EXAMPLE\\svc-connector", nav.username) + extra
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"NAV_PASSWORD": nav.password})
    return build_source("erp", manifest.sources["erp"], BuildContext(tmp_path))


@pytest.fixture
def basic_nav() -> FakeNav:
    return FakeNav(login="basic")


def test_finds_by_email_and_reads_newest_orders(httpserver: HTTPServer, tmp_path: Path,
                                                 basic_nav: FakeNav) -> None:
    erp = navision(httpserver, tmp_path, basic_nav, "  auth: basic\n")
    result = erp.fetch(PAULINE)
    assert result.found and result.external_id == "C00042"
    identity = result.sections["identity"]
    assert identity.full_name == "Pauline Denève"
    assert identity.address.city == "Lille"
    newest, older = result.sections["orders"]
    assert (newest.number, newest.status, newest.total, str(newest.date)) == (
        "101009", "shipped", Decimal("120.00"), "2017-09-12")
    assert (older.number, older.status, older.total) == ("101005", "processing",
                                                         Decimal("45.95"))
    customer_call, orders_call = basic_nav.calls
    assert customer_call["action"] == (
        '"urn:microsoft-dynamics-schemas/page/customer:ReadMultiple"')
    assert customer_call["content_type"].startswith("text/xml")
    operation = customer_call["operation"]
    assert operation.tag == "{urn:microsoft-dynamics-schemas/page/customer}ReadMultiple"
    fields = {local(e.tag): e.text for e in operation.iter()}
    assert (fields["Field"], fields["Criteria"]) == ("E_Mail", "'pauline.deneve@example.fr'")
    assert {local(e.tag): e.text for e in orders_call["operation"].iter()}["setSize"] == "-20"


def test_finds_by_phone_written_the_international_way(httpserver: HTTPServer, tmp_path: Path,
                                                      basic_nav: FakeNav) -> None:
    erp = navision(httpserver, tmp_path, basic_nav, "  auth: basic\n")
    result = erp.fetch(Identifiers(phones=("+33612345678",)))
    assert result.external_id == "C00042"
    criteria = {local(e.tag): e.text for e in basic_nav.calls[0]["operation"].iter()}
    assert criteria["Criteria"] == "'+33612345678'|'+33 6 12 34 56 78'|'0612345678'"


def test_quotes_and_ampersands_reach_nav_as_written(httpserver: HTTPServer, tmp_path: Path,
                                                    basic_nav: FakeNav) -> None:
    erp = navision(httpserver, tmp_path, basic_nav, "  auth: basic\n")
    result = erp.fetch(Identifiers(emails=("o'brien&sons@example.ie",)))
    assert result.sections["identity"].full_name == "Tom O'Brien & Sons"
    assert "<Criteria>'o&apos;&apos;brien&amp;sons@example.ie'</Criteria>" in (
        basic_nav.calls[0]["raw"])
    (order,) = result.sections["orders"]
    assert order.currency == "EUR"


def test_unknown_customer_is_not_found(httpserver: HTTPServer, tmp_path: Path,
                                       basic_nav: FakeNav) -> None:
    erp = navision(httpserver, tmp_path, basic_nav, "  auth: basic\n")
    assert not erp.fetch(Identifiers(emails=("nobody@example.fr",))).found
    assert len(basic_nav.calls) == 1  # no orders asked without a customer


def test_wrong_password_is_a_refusal(httpserver: HTTPServer, tmp_path: Path) -> None:
    nav = FakeNav(login="basic")
    erp = navision(httpserver, tmp_path, nav, "  auth: basic\n")
    nav.password = "changed"
    with pytest.raises(SourceError) as caught:
        erp.fetch(PAULINE)
    assert caught.value.public == "refused our credentials (401)"


def test_ntlm_handshake(httpserver: HTTPServer, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "ntlm_users"
    users.write_text("EXAMPLE:svc-connector:s3cret\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    nav = FakeNav(login="ntlm", username="EXAMPLE\\svc-connector")
    erp = navision(httpserver, tmp_path, nav)  # the example: auth ntlm by default
    result = erp.fetch(PAULINE)
    assert result.external_id == "C00042" and len(result.sections["orders"]) == 2
    assert {"ntlm_user": "EXAMPLE\\svc-connector"} in nav.calls


def test_ntlm_wrong_password_is_refused(httpserver: HTTPServer, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "ntlm_users"
    users.write_text("EXAMPLE:svc-connector:another\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    nav = FakeNav(login="ntlm", username="EXAMPLE\\svc-connector")
    erp = navision(httpserver, tmp_path, nav)
    with pytest.raises(SourceError) as caught:
        erp.fetch(PAULINE)
    assert caught.value.state == SourceState.ERROR
    assert caught.value.public.startswith("refused our credentials")
