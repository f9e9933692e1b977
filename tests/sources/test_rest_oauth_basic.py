"""OAuth2 client credentials sent with HTTP basic (`client_auth: basic`), as some token
endpoints require (RFC 6749 §2.3.1), instead of in the form."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.identifiers import Identifiers
from connector.sources.base import BuildContext
from connector.sources.rest import RestConfig, RestSource

BASIC = "Basic " + base64.b64encode(b"k3y:s3cret").decode()


def source(httpserver: HTTPServer, client_auth: str | None) -> RestSource:
    auth = {"type": "oauth2_client_credentials", "token_url": httpserver.url_for("/token"),
            "client_id": "k3y", "client_secret": "s3cret"}
    if client_auth:
        auth["client_auth"] = client_auth
    config = RestConfig.model_validate({
        "type": "rest", "base_url": httpserver.url_for("/api"), "auth": auth,
        "requests": [{"name": "c", "path": "/c", "params": {"email": "{email}"}}],
        "sections": {"identity": {"path": "c", "fields": {"last_name": "name"}}},
    })
    return RestSource("s", config, BuildContext(Path(".")))


def token_form(seen: list[dict[str, list[str]]]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        seen.append(parse_qs(request.get_data(as_text=True)))
        return Response('{"access_token": "t0k", "expires_in": "359999"}',
                        content_type="application/json")

    return handler


def test_basic_client_auth_keeps_the_secret_out_of_the_form(httpserver: HTTPServer) -> None:
    seen: list[dict[str, list[str]]] = []
    httpserver.expect_ordered_request("/token", method="POST", headers={
        "Authorization": BASIC}).respond_with_handler(token_form(seen))
    httpserver.expect_ordered_request("/api/c", headers={
        "Authorization": "Bearer t0k"}).respond_with_json({"name": "Denève"})
    result = source(httpserver, "basic").fetch(Identifiers(emails=("a@b.fr",)))
    httpserver.check_assertions()
    assert result.sections["identity"].last_name == "Denève"
    assert seen == [{"grant_type": ["client_credentials"]}]


def test_the_default_still_sends_the_client_in_the_form(httpserver: HTTPServer) -> None:
    seen: list[dict[str, list[str]]] = []
    httpserver.expect_ordered_request("/token", method="POST").respond_with_handler(
        token_form(seen))
    httpserver.expect_ordered_request("/api/c").respond_with_json({"name": "x"})
    source(httpserver, None).fetch(Identifiers(emails=("a@b.fr",)))
    httpserver.check_assertions()
    assert seen == [{"grant_type": ["client_credentials"], "client_id": ["k3y"],
                     "client_secret": ["s3cret"]}]
