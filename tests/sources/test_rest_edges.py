"""The REST engine's rough edges, against a real HTTP server: relative next links, literal
braces, any JMESPath in a placeholder, and expressions that meet the wrong type (an error line
with its path at check, probe and lookup, never a traceback)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from connector.cli.main import main
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.sources.base import BuildContext, SourceMisconfigured
from connector.sources.rest import RestConfig, RestSource

EMAIL = Identifiers(emails=("p@x.fr",))


def rest(httpserver: HTTPServer, requests: list[dict[str, Any]],
         **extra: Any) -> RestSource:
    config = RestConfig.model_validate({
        "type": "rest", "base_url": httpserver.url_for("/api"), "requests": requests,
        "sections": {"orders": {"items": requests[-1]["name"],
                                "fields": {"number": "n", "total": "t"}}}, **extra})
    return RestSource("shop", config, BuildContext(Path(".")))


@pytest.mark.parametrize("second", ["/api/orders?page=2", "?page=2", "orders?page=2"])
def test_a_relative_links_next_is_read_against_the_url_that_answered(
        httpserver: HTTPServer, second: str) -> None:
    httpserver.expect_ordered_request("/api/orders", query_string="email=p%40x.fr"
                                      ).respond_with_json(
        {"data": [{"n": "1"}], "links": {"next": second}})
    httpserver.expect_ordered_request("/api/orders", query_string="page=2").respond_with_json(
        {"data": [{"n": "2"}], "links": {"next": None}})
    source = rest(httpserver, [{"name": "orders", "path": "/orders",
                                "params": {"email": "{email}"}, "items": "data",
                                "paginate": {"type": "next_url", "next": "links.next"}}])
    result = source.fetch(EMAIL)
    httpserver.check_assertions()
    assert [o.number for o in result.sections["orders"]] == ["1", "2"]


def test_a_relative_link_header_is_read_against_the_url_that_answered(
        httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/orders").respond_with_json(
        [{"n": "1"}], headers={"Link": '</api/orders?after=1>; rel="next"'})
    httpserver.expect_ordered_request("/api/orders", query_string="after=1").respond_with_json(
        [{"n": "2"}])
    source = rest(httpserver, [{"name": "orders", "path": "/orders",
                                "paginate": {"type": "link"}}])
    assert [o.number for o in source.fetch(EMAIL).sections["orders"]] == ["1", "2"]


def test_double_braces_write_a_literal_brace_and_any_expression_fills_a_placeholder(
        httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/people", query_string="email=p%40x.fr"
                                      ).respond_with_json([])
    httpserver.expect_ordered_request(
        "/api/search", method="POST",
        json={"filter": '{"email": "p@x.fr"}', "who": "p@x.fr"}).respond_with_json(
        [{"n": "A1", "t": "10"}])
    source = rest(httpserver, [
        {"name": "people", "path": "/people", "params": {"email": "{email}"}},
        {"name": "orders", "method": "POST", "path": "/search",
         "body": {"filter": '{{"email": "{email}"}}',
                  "who": "{people[0].email || email}"}}], found="orders")
    result = source.fetch(EMAIL)
    httpserver.check_assertions()
    assert [o.number for o in result.sections["orders"]] == ["A1"]


def test_a_field_meeting_the_wrong_type_is_dropped_with_its_source_and_field(
        httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_request("/api/orders").respond_with_json(
        [{"n": "1", "parcels": None}, {"n": "2", "parcels": ["AB1", "AB2"]}])
    config = RestConfig.model_validate({
        "type": "rest", "base_url": httpserver.url_for("/api"),
        "requests": [{"name": "orders", "path": "/orders"}],
        "sections": {"orders": {"items": "orders", "fields": {
            "number": "n", "tracking": "join(' ', parcels)"}}}})
    with caplog.at_level(logging.WARNING):
        result = RestSource("shop", config, BuildContext(Path("."))).fetch(EMAIL)
    assert [(o.number, o.tracking) for o in result.sections["orders"]] == [
        ("1", None), ("2", "AB1 AB2")]
    assert result.dropped_values == 1
    assert ("source shop: dropped orders[0].tracking (expression failed: join() was "
            "given null, expected array-string)") in caplog.messages


def test_a_when_meeting_the_wrong_type_fails_the_source_naming_its_path(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/people").respond_with_json({"name": 12})
    source = rest(httpserver, [
        {"name": "people", "path": "/people"},
        {"name": "orders", "path": "/orders", "when": "length(people.name) > `0`"}])
    with pytest.raises(SourceMisconfigured) as failed:
        source.fetch(EMAIL)
    assert failed.value.public == (
        "expression failed at sources.shop.requests[1].when: length() was given number, "
        "expected string or array or object")


MANIFEST = """
version: 1
sources:
  shop:
    type: rest
    base_url: {url}
    requests:
      - name: people
        path: /people
        params: {{email: "{{email}}"}}
      - name: orders
        path: /orders/{{people.id}}
        when: "{when}"
    found: people.id
    sections:
      orders: {{items: orders, fields: {{number: n}}}}
"""


def manifest(tmp_path: Path, url: str, when: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST.format(url=url, when=when), encoding="utf-8")
    return path


@pytest.mark.parametrize(("when", "message"), [
    ("length(people.orders) > `0`",
     "sources.shop.requests[1].when: 'length(people.orders) > `0`' fails when nothing was "
     "found: length() was given null, expected string or array or object (write a default, "
     "e.g. length(x || `[]`))"),
    ("lenght(people.orders)",
     "sources.shop.requests[1].when: 'lenght(people.orders)': Unknown function: lenght()"),
])
def test_check_refuses_an_expression_that_fails_before_any_data(
        tmp_path: Path, when: str, message: str) -> None:
    with pytest.raises(ManifestError) as refused:
        load_manifest(manifest(tmp_path, "http://127.0.0.1:9", when))
    assert refused.value.errors == [message]


def test_check_refuses_a_brace_that_is_not_a_placeholder(tmp_path: Path) -> None:
    path = manifest(tmp_path, "http://127.0.0.1:9", "people.id")
    text = path.read_text().replace('"{email}"', '"{ {e: email} }"')
    path.write_text(text.replace("/orders/{people.id}", "/orders/{people.id"))
    with pytest.raises(ManifestError) as refused:
        load_manifest(path)
    assert "sources.shop.requests[1].path: a brace that is not a placeholder's (an expression " \
           "holding braces, or one left open): write {{ or }} for a literal brace" \
           in refused.value.errors
    assert "sources.shop.requests[0].params: a brace that is not a placeholder's (an " \
           "expression holding braces, or one left open): write {{ or }} for a literal " \
           "brace" in refused.value.errors


def test_the_probe_shows_an_expression_error_as_a_line_and_exits_1(
        httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    httpserver.expect_request("/api/people").respond_with_json({"id": 7, "name": 12})
    path = manifest(tmp_path, httpserver.url_for("/api"), "length(people.name || '') > `0`")
    code = main(["check", "--probe", "--manifest", str(path), "--email", "p@x.fr"])
    out = capsys.readouterr().out
    assert code == 1
    assert ("shop (rest): error: expression failed at sources.shop.requests[1].when: "
            "length() was given number, expected string or array or object") in out
    assert "Traceback" not in out


def test_lookup_marks_the_source_failed_on_an_expression_error(
        httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/api/people").respond_with_json({"id": 7, "name": 12})
    path = manifest(tmp_path, httpserver.url_for("/api"), "length(people.name || '') > `0`")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    code = main(["lookup", "--manifest", str(path), "--email", "p@x.fr"])
    captured = capsys.readouterr()
    assert code == 5, captured
    assert ("source shop: error: expression failed at sources.shop.requests[1].when: "
            "length() was given number, expected string or array or object") in captured.err
    assert captured.out == ""  # nobody was found while a source failed: no record


def test_a_record_without_an_unreachable_source_is_not_passed_for_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pos.csv").write_text("mail,ticket\np@x.fr,T-1\n", encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(
        MANIFEST.format(url="http://127.0.0.1:9/api", when="people.id")
        + "  pos: {type: files, path: pos.csv, match: {email: mail},\n"
          "        sections: {store_purchases: {items: rows, fields: {number: ticket}}}}\n",
        encoding="utf-8")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    code = main(["lookup", "--manifest", str(tmp_path / "manifest.yaml"), "--email", "p@x.fr"])
    captured = capsys.readouterr()
    assert code == 6
    assert json.loads(captured.out)["store_purchases"][0]["number"] == "T-1"
    assert captured.err.splitlines() == [
        "source shop: error: unreachable at http://127.0.0.1:9",
        "partial record: shop did not answer and had no copy kept; what they know is missing"]


def test_check_refuses_a_next_link_expression_that_fails_on_the_last_page(
        tmp_path: Path) -> None:
    path = manifest(tmp_path, "http://127.0.0.1:9", "people.id")
    path.write_text(path.read_text().replace(
        '        when: "people.id"\n',
        '        when: "people.id"\n'
        "        paginate: {type: next_url, next: \"join('', ['http://x', links.next])\"}\n"))
    with pytest.raises(ManifestError) as refused:
        load_manifest(path)
    assert refused.value.errors == [
        "sources.shop.requests[1].paginate.next: 'join('', ['http://x', links.next])' fails "
        "when nothing was found: join() was given null, expected array-string (write a "
        "default, e.g. length(x || `[]`))"]
