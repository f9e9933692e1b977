"""JSON-RPC sessions: a login whose values build a header through a filter named with digits."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from connector.identifiers import Identifiers
from connector.manifest.checks import check_semantics
from connector.sources.base import BuildContext
from connector.sources.rest import RestConfig, RestSource
from connector.sources.templates import expressions, render

HEADER = "Session {join(':', [secret.login, to_string(auth.user_id), auth.session])|base64}"


def session_source(httpserver: HTTPServer, header: str = HEADER) -> RestSource:
    config: dict[str, Any] = {
        "type": "rest",
        "base_url": httpserver.url_for("/db"),
        "protocol": "jsonrpc",
        "secrets": {"login": "api", "password": "pw"},
        "auth": {"type": "login", "path": "/rpc/", "rpc_method": "common.db.login",
                 "body": ["{secret.login}", {"password": "{secret.password}"}],
                 "extract": {"user_id": "[0]", "session": "[1]"},
                 "headers": {"Authorization": header}},
        "requests": [{"name": "party", "path": "/rpc/", "rpc_method": "model.party.search",
                      "body": [[["email", "=", "{email}"]], {}]}],
        "sections": {"identity": {"path": "party[0]", "fields": {"full_name": "name"}}},
    }
    return RestSource("erp", RestConfig.model_validate(config), BuildContext(Path(".")))


def test_a_filter_named_with_digits_is_applied() -> None:
    context = {"secret": {"login": "api"}, "auth": {"user_id": 2, "session": "s3"}}
    assert render(HEADER, context) == "Session " + base64.b64encode(b"api:2:s3").decode()
    assert expressions("{email|base64}") == [("email", "base64")]


def test_a_login_answered_with_a_bare_list_builds_the_session_header(
        httpserver: HTTPServer) -> None:
    # trytond answers a body carrying "jsonrpc" with the bare result: [user id, session, …]
    httpserver.expect_ordered_request("/db/rpc/", method="POST", json={
        "jsonrpc": "2.0", "id": 0, "method": "common.db.login",
        "params": ["api", {"password": "pw"}]}).respond_with_json([2, "s3", None])
    httpserver.expect_ordered_request("/db/rpc/", method="POST", headers={
        "Authorization": "Session " + base64.b64encode(b"api:2:s3").decode(),
    }).respond_with_json([{"name": "Camille Martin"}])
    result = session_source(httpserver).fetch(Identifiers(emails=("c@example.org",)))
    httpserver.check_assertions()
    assert result.found and result.sections["identity"].full_name == "Camille Martin"


def test_an_unknown_filter_named_with_digits_is_reported(httpserver: HTTPServer) -> None:
    config = session_source(httpserver).config
    bad = config.model_copy(update={"requests": [config.requests[0].model_copy(
        update={"body": ["{email|base65}", {}]})]})
    errors = check_semantics({"erp": bad}, None, ["erp"])
    assert any("unknown filter 'base65'" in e for e in errors), errors
