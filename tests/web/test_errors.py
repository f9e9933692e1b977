"""Every HTTP error a client can reach answers in the product's style, never with Werkzeug's
page, a stack trace or customer data: JSON for the API and webhooks, the sidebar's message page
for the sidebar's pages, a helpdesk server's own refusal (a short plain reason first) for
FreeScout's and Help Scout's sidebar posts. Real HTTP through Flask's test client."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pydantic import SecretStr
from werkzeug.exceptions import BadRequest
from werkzeug.test import TestResponse

from connector.app import Services
from connector.helpdesk.embed import EmbedLinks
from connector.web import create_app
from tests.conftest import API_TOKEN, Backoffice, service_env
from tests.helpdesk.scouts import PAULINE, fixture, in_process, sha1_b64, write_manifest

FREESCOUT_SECRET = "freescout-shared-secret"  # the one in tests/fixtures/freescout/sidebar.json
HELPSCOUT_SECRET = "hs-app-secret-for-tests"
HELPDESKS = {
    "freescout": {"secret": "${FREESCOUT_SECRET:-}"},
    "helpscout": {"app_secret": "${HELPSCOUT_APP_SECRET:-}"},
}
SECRETS = {"FREESCOUT_SECRET": FREESCOUT_SECRET, "HELPSCOUT_APP_SECRET": HELPSCOUT_SECRET}
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
TOO_LARGE = b"text=" + b"x" * (300 * 1024)  # over the 256 KB cap of every route but webhooks
# what Werkzeug's own pages and tracebacks carry
WERKZEUG = ("<title>404 Not Found</title>", "<title>405 Method Not Allowed</title>",
            "Request Entity Too Large", "Internal Server Error", "Too Many Requests",
            "Traceback", "werkzeug", "The requested URL")


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("errors")
    env = {**service_env(demo_data, backoffice.url, var), **SECRETS}
    running = in_process(write_manifest(var, HELPDESKS), env, var)
    yield running
    running.close()


def client(services: Services, **settings: Any) -> FlaskClient:
    """A test client of an app with these settings (rate limits off unless given)."""
    update = {"api_token": SecretStr(API_TOKEN), "rate_limit": "off",
              "auth_failure_limit": "off", **settings}
    app = create_app(services=dataclasses.replace(
        services, settings=services.settings.model_copy(update=update)))
    web = app.test_client()
    web.environ_base["REMOTE_ADDR"] = "203.0.113.21"
    return web


def message_page(answer: TestResponse, status: int, *texts: str) -> str:
    """The sidebar's message page, with this status and these texts, nothing of Werkzeug's."""
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page[:300]
    assert answer.mimetype == "text/html" and '<div class="message" role="status">' in page
    assert all(text in page for text in texts), page
    assert not [mark for mark in WERKZEUG if mark in page]
    assert "frame-ancestors" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    return page


def plain_refusal(answer: TestResponse, status: int, reason: str) -> None:
    """FreeScout's module shows its admin the first bytes: `connector: <reason>` first."""
    body = answer.get_data(as_text=True)
    assert answer.status_code == status and answer.mimetype == "text/plain"
    assert body.splitlines()[0] == f"connector: {reason}", body


def json_error(answer: TestResponse, status: int, reason: str) -> None:
    assert answer.status_code == status and answer.is_json, answer.get_data(as_text=True)
    assert reason in answer.json["error"]


def freescout_post(web: FlaskClient, body: bytes | None = None) -> TestResponse:
    return web.post("/helpdesk/freescout/sidebar", data=body or fixture("freescout",
                                                                       "sidebar.json"),
                    headers={"Content-Type": "application/json"})


def helpscout_post(web: FlaskClient, body: bytes | None = None) -> TestResponse:
    body = body or fixture("helpscout", "dynamic_app.json")
    return web.post("/helpdesk/helpscout/sidebar", data=body, headers={
        "Content-Type": "application/json",
        "X-HelpScout-Signature": sha1_b64(HELPSCOUT_SECRET, body)})


def test_an_address_with_no_page_is_the_message_page_in_the_agents_language(
        services: Services) -> None:
    web = client(services)
    message_page(web.get("/nowhere"), 404, "Page introuvable")
    message_page(web.get("/helpdesk/embed/notes/abc?lang=en"), 404, "Page not found",
                 "lang=fr")  # the language switch keeps the address
    json_error(web.get("/api/v1/nowhere", headers=BEARER), 404, "no such address")


def test_a_method_an_address_does_not_take_is_405_with_allow(services: Services) -> None:
    web = client(services)
    page = web.get("/helpdesk/embed/notes")
    message_page(page, 405, "Cette page ne s&#39;ouvre pas de cette façon")
    assert "POST" in page.headers["Allow"]
    api = web.delete("/api/v1/customers/lookup", headers=BEARER)
    json_error(api, 405, "does not take this method")
    assert "GET" in api.headers["Allow"]


def test_a_body_over_the_cap_is_413_in_each_audiences_form(services: Services) -> None:
    web = client(services)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    message_page(web.post("/helpdesk/embed/notes", data=TOO_LARGE, headers=form), 413,
                 "Envoi trop volumineux")
    plain_refusal(freescout_post(web, TOO_LARGE), 413, "the request body is too large")
    scout = helpscout_post(web, TOO_LARGE)
    assert scout.status_code == 413 and scout.is_json
    assert scout.json["error"] == "connector: the request body is too large"
    assert next(iter(json.loads(scout.get_data(as_text=True)))) == "error"  # the reason first
    json_error(web.post("/api/v1/cache/invalidate", data=TOO_LARGE,
                        headers={**BEARER, "Content-Type": "application/json"}), 413, "")


def test_a_webhook_over_the_servers_cap_is_json(services: Services) -> None:
    web = client(services, max_body_bytes=64 * 1024)
    json_error(web.post("/helpdesk/zendesk/webhook", data=b"x" * (65 * 1024)), 413,
               "too large")


def test_past_the_rate_limit_each_audience_gets_its_own_429(services: Services) -> None:
    web = client(services, rate_limit="2 per minute")
    sealed = LINKS.url("", LINKS.token(email=PAULINE))
    for _ in range(2):
        assert web.get("/helpdesk/embed/sidebar").status_code == 401  # no sealed link
    page = web.get(sealed)
    message_page(page, 429, "Trop de demandes", "Patientez une minute")
    assert 0 < int(page.headers["Retry-After"]) <= 60
    plain_refusal(freescout_post(web), 429,
                  "too many requests from this address: wait and try again")
    json_error(web.get("/api/v1/customers/lookup?email=x@example.org", headers=BEARER), 429,
               "too many requests")
    json_error(web.get(f"/helpdesk/embed/details/erp/tracking?key=1&t={sealed}"), 429,
               "too many requests")


def test_an_unhandled_error_is_500_without_a_trace_or_the_customers_data(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"lookup broke for {PAULINE} at 0x7f3a")

    web = client(services)
    monkeypatch.setattr(services.assembler, "lookup", broken)
    sealed = LINKS.url("", LINKS.token(email=PAULINE), "en")
    page = message_page(web.get(sealed), 500, "Unexpected error", "connector&#39;s log")
    freescout = freescout_post(web)
    plain_refusal(freescout, 500, "internal error: it is logged, try again in a moment")
    api = web.get(f"/api/v1/customers/lookup?email={PAULINE}", headers=BEARER)
    assert api.status_code == 500 and api.is_json
    for answer in (page, freescout.get_data(as_text=True), api.get_data(as_text=True)):
        assert PAULINE not in answer and "RuntimeError" not in answer and "0x7f3a" not in answer


def test_a_request_werkzeug_cannot_read_is_400_in_the_products_style(
        services: Services) -> None:
    """No page route of ours raises a 400 today; Werkzeug may, while reading a request
    (`BadRequest`): a route that raises it stands for those."""
    web = client(services)

    def unreadable() -> str:
        raise BadRequest("the form's field 'secret-of-the-customer' is malformed")

    web.application.add_url_rule("/helpdesk/embed/unreadable", view_func=unreadable)
    page = message_page(web.get("/helpdesk/embed/unreadable"), 400, "Demande illisible")
    assert "secret-of-the-customer" not in page
    plain = web.post("/helpdesk/embed/notes", data=b"--x\r\n",  # a multipart form with no
                     headers={"Content-Type": "multipart/form-data"})  # boundary: no form
    assert plain.status_code == 401  # read as no form at all, so no sealed link
    assert not [mark for mark in WERKZEUG if mark in plain.get_data(as_text=True)]
