"""Freshdesk through a real `connector serve` over HTTP: an automation rule's webhook reaches
Pauline Denève's history (once) and is written back to a Freshdesk API built from its
documented payloads; the built FDK app, run in headless Chromium on a stand-in for the FDK
host (its documented client interface: data method, events, request templates, resize),
shows her record."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer

from connector.helpdesk.freshdesk.app import build_package
from connector.widgets.base import STYLESHEET
from tests.conftest import (
    Backoffice,
    Service,
    screenshot,
    service_env,
    start_service,
    stop,
    until,
)
from tests.helpdesk.freshdesk.test_adapter import (
    API_KEY,
    ENTRY,
    PAULINE,
    SECRET,
    SECRETS,
    TOKEN,
    fixture,
    write_manifest,
)


@pytest.fixture(scope="module")
def fake_freshdesk() -> Iterator[HTTPServer]:
    """Freshdesk's API v2 as documented: any ticket reads as the fixture, updates succeed."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    ticket = re.compile(r"^/api/v2/tickets/\d+$")
    server.expect_request(ticket, method="GET").respond_with_data(
        fixture("api_ticket.json"), content_type="application/json")
    server.expect_request(ticket, method="PUT").respond_with_data(
        fixture("api_ticket.json"), content_type="application/json")
    server.expect_request(re.compile(r"^/api/v2/tickets/\d+/notes$"), method="POST"
                          ).respond_with_data(fixture("api_note.json"), status=201,
                                              content_type="application/json")
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def freshdesk_service(demo_data: Path, backoffice: Backoffice, fake_freshdesk: HTTPServer,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`connector serve` with the Freshdesk adapter on, its secrets from the environment."""
    var = tmp_path_factory.mktemp("freshdesk")
    entry = {**ENTRY, "write_back": {"enabled": True, "note": True}}
    env = {**service_env(demo_data, backoffice.url, var), **SECRETS,
           "FRESHDESK_API_KEY": API_KEY, "FRESHDESK_API_URL": fake_freshdesk.url_for("/")[:-1],
           "CONNECTOR_MANIFEST": str(write_manifest(var, entry))}
    running = start_service(env)
    yield running
    stop(running.process)


def record_html(service: Service, token: str = TOKEN) -> requests.Response:
    return requests.post(f"{service.url}/helpdesk/freshdesk/sidebar", timeout=20,
                         json={"emails": [PAULINE], "lang": "fr"},
                         headers={"Authorization": f"Bearer {token}"})


def test_a_rules_webhook_reaches_the_history_once_and_is_written_back(
        freshdesk_service: Service, fake_freshdesk: HTTPServer) -> None:
    number = str(7000 + uuid.uuid4().int % 1000)
    subject = f"Colis {number} jamais reçu"
    body = json.dumps({"event": "ticket_created",
                       "ticket": {"id": number, "subject": subject, "source": "Chat"},
                       "contact": {"email": PAULINE, "phone": ""}}).encode()
    url = f"{freshdesk_service.url}/helpdesk/freshdesk/webhook"
    headers = {"X-Connector-Secret": SECRET, "Content-Type": "application/json"}
    assert requests.post(url, data=body, timeout=10).status_code == 401
    assert requests.post(url, data=body, headers={**headers, "X-Connector-Secret": "no"},
                         timeout=10).status_code == 401
    first = requests.post(url, data=body, headers=headers, timeout=10)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    again = requests.post(url, data=body, headers=headers, timeout=10)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"

    def recorded() -> str | None:
        page: str = record_html(freshdesk_service).json()["html"]
        return page if subject in page else None

    assert until(recorded)  # the contact is in her history (the in-process test counts it)
    put = until(lambda: [r for r, _ in fake_freshdesk.log
                         if r.method == "PUT" and r.path == f"/api/v2/tickets/{number}"])
    tags = json.loads(put[0].get_data())["tags"]
    assert tags[0] == "livraison" and all(t.startswith("connector_") for t in tags[1:])
    assert tags[1:], "Pauline's flags are written as tags"
    assert put[0].headers["Authorization"].startswith("Basic ")
    assert len(put) == 1  # the duplicate delivery was worked once


def test_the_sidebar_call_over_http_needs_the_app_token(freshdesk_service: Service) -> None:
    answer = record_html(freshdesk_service)
    assert answer.status_code == 200 and "Denève" in answer.json()["html"]
    assert record_html(freshdesk_service, "wrong").status_code == 401


# --- the FDK app in a browser, on a stand-in for the FDK host ---

CLIENT_JS = """
window.app = {
  initialized: function () {
    function answer(r) { return r.json(); }
    var client = {
      data: {get: function (name) {
        return fetch("/data/" + name).then(function (r) {
          if (!r.ok) { throw {status: r.status}; } return r.json(); });
      }},
      events: {on: function (name, callback) {
        if (name === "app.activated") { setTimeout(callback, 0); }
      }},
      request: {invokeTemplate: function (name, options) {
        return fetch("/invoke/" + name, {method: "POST", body: options.body || ""})
          .then(answer).then(function (r) { if (r.status >= 400) { throw r; } return r; });
      }},
      instance: {resize: function (size) { window.resizedTo = size; return Promise.resolve(); }}
    };
    return Promise.resolve(client);
  }
};
"""
DATA = {"ticket": "fdk_ticket.json", "contact": "fdk_contact.json",
        "loggedInUser": "fdk_logged_in_user.json"}


class FdkHost(BaseHTTPRequestHandler):
    """The app's files, the documented client interface, and the request-template proxy:
    it fills the template from config/requests.json with the installation parameters, as
    the FDK does, and calls our server (over http: the FDK allows it in local testing)."""

    package: Path
    iparams: dict[str, str]

    def do_GET(self) -> None:
        if self.path == "/fdk-client.js":
            return self._send(200, CLIENT_JS.encode(), "text/javascript")
        if self.path.startswith("/data/") and self.path[6:] in DATA:
            return self._send(200, fixture(DATA[self.path[6:]]), "application/json")
        file = self.package / self.path.lstrip("/").split("?")[0]
        if not file.is_file():
            return self._send(404, b"", "text/plain")
        content = file.read_bytes().replace(b"{{{appclient}}}", b"/fdk-client.js")
        kinds = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml"}
        return self._send(200, content, kinds.get(file.suffix, "application/octet-stream"))

    def do_POST(self) -> None:
        name = self.path.removeprefix("/invoke/")
        templates = json.loads((self.package / "config/requests.json").read_text())
        schema = json.loads(re.sub(r"<%=\s*iparam\.(\w+)\s*%>",
                                   lambda m: self.iparams[m.group(1)],
                                   json.dumps(templates[name]["schema"])))
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        upstream = requests.request(schema["method"], f"http://{schema['host']}{schema['path']}",
                                    headers=schema["headers"], data=body, timeout=20)
        reply = {"status": upstream.status_code, "headers": dict(upstream.headers),
                 "response": upstream.text}
        self._send(200, json.dumps(reply).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def fdk_host(package: Path, iparams: dict[str, str]) -> ThreadingHTTPServer:
    handler = type("Host", (FdkHost,), {"package": package, "iparams": iparams})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.browser
@pytest.mark.parametrize("token", [TOKEN, "not-the-token"])
def test_the_app_shows_the_record_in_the_ticket_sidebar(
        freshdesk_service: Service, browser: Any, tmp_path: Path, token: str) -> None:
    build_package(tmp_path, "https://connector.example.com", stylesheet=STYLESHEET)
    host = freshdesk_service.url.removeprefix("http://")
    server = fdk_host(tmp_path, {"connector_host": host, "app_token": token})
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/app/index.html")
        if token != TOKEN:
            until(lambda: "refuse le jeton" in browser.find_element("id", "status").text)
            return
        frame = until(lambda: (f := browser.find_element("id", "record")).is_displayed() and f)
        assert browser.find_element("id", "status").get_attribute("hidden") is not None
        browser.switch_to.frame(frame)
        text = until(lambda: browser.find_element("tag name", "body").text)
        assert "Denève" in text
        link = browser.find_element("css selector", ".open-full a")
        assert link.get_attribute("href").startswith(f"{freshdesk_service.url}/helpdesk/")
        # the frame ran no script, and our sidebar's style reached it from the app's files
        styled = browser.execute_script(
            "return document.styleSheets.length && document.styleSheets[0].cssRules.length")
        assert styled > 10
        browser.switch_to.default_content()
        resized = browser.execute_script("return window.resizedTo")
        assert resized and 100 < int(resized["height"].removesuffix("px")) <= 700
        screenshot(browser, "freshdesk_sidebar.png")
    finally:
        browser.switch_to.default_content()
        server.shutdown()
