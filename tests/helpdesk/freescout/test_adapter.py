"""FreeScout: the Sidebar Webhook module's POST answered with the record's HTML (shared secret),
the API & Webhooks module's signed events worked into the customer's history once, and the
same through a real `connector serve` process."""

from __future__ import annotations

import html as html_module
import json
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from connector.app import Services
from connector.helpdesk.base import (
    Headers,
    HttpRequest,
    Reply,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
)
from connector.helpdesk.embed import EmbedLinks, LinkExpired
from connector.helpdesk.freescout.adapter import Config, FreeScout
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.web import create_app
from tests.conftest import Backoffice, service_env, start_service, stop
from tests.helpdesk.scouts import (
    PAULINE,
    Renderer,
    deps,
    fixture,
    in_process,
    sha1_b64,
    wait_for_contact,
    write_manifest,
)

SECRET = "freescout-shared-secret"  # the one in tests/fixtures/freescout/sidebar*.json
# what FREESCOUT_WEBHOOK_SECRET holds: md5(APP_KEY + "webhook_key") as hex
WEBHOOK_SECRET = "4e1bbf3a0d6c4b5d8e2f7a9c1b3d5e7f"
ENTRY = {"secret": "${FREESCOUT_SECRET:-}", "webhook_secret": "${FREESCOUT_WEBHOOK_SECRET:-}",
         "title": "Maison Exemple"}
SECRETS = {"FREESCOUT_SECRET": SECRET, "FREESCOUT_WEBHOOK_SECRET": WEBHOOK_SECRET}


def fs(name: str) -> bytes:
    """A FreeScout payload from tests/fixtures/freescout."""
    return fixture("freescout", name)


def adapter(renderer: Renderer | None = None, **config: Any) -> FreeScout:
    return FreeScout(Config(**config), deps(renderer))


def post(body: bytes, content_type: str = "application/json") -> HttpRequest:
    return HttpRequest(method="POST", path="/helpdesk/freescout/sidebar",
                       headers=Headers({"Content-Type": content_type}), body=body)


# --- the sidebar module's POST -------------------------------------------------------

def test_the_modules_json_post_shows_the_record() -> None:
    renderer = Renderer()
    reply = adapter(renderer, secret=SECRET).sidebar_context(post(fs("sidebar.json")))
    assert isinstance(reply, Reply) and reply.status == 200
    assert reply.content_type.startswith("text/html") and reply.body == "<p>record</p>"
    (context,) = renderer.contexts
    assert context.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))
    assert context.helpdesk == "freescout"


def test_a_form_encoded_post_is_read_too() -> None:
    renderer = Renderer()
    adapter(renderer, secret=SECRET).sidebar_context(
        post(fs("sidebar_form.txt"), "application/x-www-form-urlencoded"))
    assert renderer.contexts[0].identifiers == Identifiers(phones=("+33653888890",))
    parsed = HttpRequest(method="POST", body=b"", form={  # the web layer read the form first
        "customerEmail": PAULINE, "customerPhones[]": "06 53 88 88 90", "secret": SECRET})
    adapter(renderer, secret=SECRET).sidebar_context(parsed)
    assert renderer.contexts[1].identifiers == Identifiers(emails=(PAULINE,),
                                                           phones=("+33653888890",))


@pytest.mark.parametrize(("change", "reason"), [
    ({"secret": "freescout-shared-secreT"}, "does not match"),
    ({"secret": ""}, "no secret"),
    ({"secret": None}, "no secret"),
    ({"secret": ["freescout-shared-secret"]}, "no secret"),
])
def test_a_wrong_or_missing_secret_is_401(change: dict[str, Any], reason: str) -> None:
    renderer = Renderer()
    body = json.dumps({**json.loads(fs("sidebar.json")), **change}).encode()
    with pytest.raises(Unauthorized, match=reason):
        adapter(renderer, secret=SECRET).sidebar_context(post(body))
    assert renderer.contexts == []


def test_without_a_secret_every_request_is_refused_naming_the_variable() -> None:
    app = adapter()
    with pytest.raises(Unauthorized, match="FREESCOUT_SECRET"):
        app.sidebar_context(post(fs("sidebar.json")))
    with pytest.raises(Unauthorized, match="FREESCOUT_WEBHOOK_SECRET"):
        app.verify(Headers({"X-FreeScout-Signature": "x"}), b"{}")


# --- the webhooks module -------------------------------------------------------------

def test_webhook_signatures() -> None:
    app = adapter(webhook_secret=WEBHOOK_SECRET)
    body = fs("convo_created.json")
    app.verify(Headers({"X-FreeScout-Signature": sha1_b64(WEBHOOK_SECRET, body)}), body)
    for headers, sent in [({"X-FreeScout-Signature": sha1_b64(WEBHOOK_SECRET, body)},
                           body.replace(b"Pauline", b"Paula")),
                          ({"X-FreeScout-Signature": sha1_b64("other", body)}, body),
                          ({}, body)]:
        with pytest.raises(Unauthorized):
            app.verify(Headers(headers), sent)


def test_events_follow_help_scouts_shapes() -> None:
    app = adapter(webhook_secret=WEBHOOK_SECRET)
    created = app.parse_event(Headers({"X-FreeScout-Event": "convo.created"}),
                              fs("convo_created.json"))
    assert created is not None and created.new_request and created.kind == "ticket.created"
    assert (created.helpdesk, created.ticket_id, created.channel) == ("freescout", "1", "email")
    assert created.identifiers == Identifiers(emails=(PAULINE,))
    customer = app.parse_event(Headers({"X-FreeScout-Event": "customer.created"}),
                               fs("customer_created.json"))
    assert customer is not None and customer.kind == "customer.updated"
    assert customer.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))
    assert app.parse_event(Headers({"X-FreeScout-Event": "convo.note.created"}),
                           fs("convo_created.json")) is None


def test_write_back_is_refused_plainly() -> None:
    with pytest.raises(WriteBackFailed, match="not supported") as caught:
        adapter().write_back(WriteBack("freescout", ticket_id="1", note="n"))
    assert caught.value.permanent


def test_the_manifest_refuses_write_back(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"freescout": {"write_back": {"enabled": True}}})
    with pytest.raises(ManifestError, match=r"helpdesks\.freescout.*not supported"):
        load_manifest(path, env={})


# --- the service in-process, on the demo data ----------------------------------------

@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("freescout")
    env = {**service_env(demo_data, backoffice.url, var), **SECRETS}
    running = in_process(write_manifest(var, {"freescout": ENTRY}), env, var)
    yield running
    running.close()


@pytest.fixture()
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ")


def test_the_record_is_answered_as_an_html_fragment(client: FlaskClient) -> None:
    answer = client.post("/helpdesk/freescout/sidebar", data=fs("sidebar.json"),
                         headers={"Content-Type": "application/json", "Accept": "text/html"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    html = answer.get_data(as_text=True)
    assert html.startswith("<title>Maison Exemple</title>")  # the module's panel title
    assert "<html" not in html and "<body" not in html  # a fragment, injected as is
    for expected in ["Pauline Denève", "VIP", "997890"]:
        assert expected in visible(html), expected
    # injected with jQuery's .html(), which runs scripts: there must be none
    assert not re.search(r"<script|on\w+=|javascript:", html, re.I)
    assert re.search(r'href="http://connector\.test/helpdesk/embed/sidebar\?t=', html)



def test_the_fragment_s_full_record_link_is_short_lived_and_never_renewed(
        client: FlaskClient, services: Services) -> None:
    """Issue 12 #15: the module serves the fragment to anyone who reaches its route; the link
    in it lived as long as a helpdesk's (10 minutes, renewable)."""
    answer = client.post("/helpdesk/freescout/sidebar", data=fs("sidebar.json"),
                         headers={"Content-Type": "application/json", "Accept": "text/html"})
    found = re.search(r'href="[^"]*/helpdesk/embed/sidebar\?t=([^"&]+)', answer.get_data(
        as_text=True))
    assert found is not None
    token = unquote(html_module.unescape(found.group(1)))
    assert services.manifest.helpdesks.embed.fragment_link_ttl_s == 120
    assert services.embed.read({"t": token}).identifiers.emails  # opens now
    assert services.embed.renew(token) is None
    later = EmbedLinks(b"test-secret-key", 600, "FR", clock=lambda: time.time() + 121)
    with pytest.raises(LinkExpired):
        later.read({"t": token})

def test_the_form_encoded_post_finds_her_by_phone(client: FlaskClient) -> None:
    answer = client.post("/helpdesk/freescout/sidebar", data=fs("sidebar_form.txt"),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "Pauline Denève" in visible(answer.get_data(as_text=True))


def test_unknown_customer_and_bad_secret(client: FlaskClient) -> None:
    payload = json.loads(fs("sidebar.json"))
    unknown = {**payload, "customerEmail": "nobody@example.org", "customerPhones": []}
    answer = client.post("/helpdesk/freescout/sidebar", json=unknown)
    assert answer.status_code == 200 and "Aucune fiche client" in answer.get_data(as_text=True)
    forged = client.post("/helpdesk/freescout/sidebar", json={**payload, "secret": "guess"})
    assert forged.status_code == 401 and "Pauline" not in forged.get_data(as_text=True)


def guzzle_summary(body: bytes) -> str | None:
    """What FreeScout's module shows its admin of an error answer's body: Guzzle's
    `Message::bodySummary`, the first 120 bytes, dropped whole unless valid UTF-8 made only of
    printable characters, newlines and tabs."""
    summary = body[:120]
    try:
        text = summary.decode()
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c)[0] not in "LMNPSZ" and c not in "\n\r\t" for c in text):
        return None
    return text + (" (truncated...)" if len(body) > 120 else "")


def test_every_refusal_says_why_in_the_120_bytes_the_admin_sees(client: FlaskClient) -> None:
    """Issue 15: a 401 showed the admin "401 Unauthorized: \\x0A\\x0A", the start of a
    15 KB page."""
    payload = json.loads(fs("sidebar.json"))
    forged = client.post("/helpdesk/freescout/sidebar", json={**payload, "secret": "guess"})
    unknown = client.post("/helpdesk/osticket/sidebar", json=payload)  # no such helpdesk
    expected = [(forged, 401, "connector: refused: the secret does not match FREESCOUT_SECRET"),
                (unknown, 404, "connector: no helpdesk 'osticket' in the manifest")]
    for answer, status, reason in expected:
        assert answer.status_code == status
        assert answer.headers["Content-Type"].startswith("text/plain")
        summary = guzzle_summary(answer.get_data())
        assert summary is not None and summary.startswith(reason), summary
        first = answer.get_data().split(b"\n", 1)[0]
        assert len(first) < 120 and first.isascii()


def test_a_database_outage_is_said_plainly_too(client: FlaskClient, services: Services,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(services.assembler, "lookup", down)
    answer = client.post("/helpdesk/freescout/sidebar", data=fs("sidebar.json"),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    summary = guzzle_summary(answer.get_data())
    assert summary is not None and summary.startswith("connector: the database is unavailable")


def test_a_refusal_of_any_length_keeps_a_short_plain_first_line() -> None:
    reply = adapter(secret=SECRET).refusal(503, "la base de données est indisponible " * 9)
    first, rest = reply.body.split("\n", 1)
    assert reply.status == 503 and reply.content_type.startswith("text/plain")
    assert first.startswith("connector: la base de donn?es") and first.endswith("...")
    assert len(first.encode()) < 120 and first.isascii() and "indisponible" in rest
    assert guzzle_summary(reply.body.encode()) is not None


def webhook(client: FlaskClient, name: str, body: bytes) -> Any:
    return client.post("/helpdesk/freescout/webhook", data=body, headers={
        "Content-Type": "application/json", "X-FreeScout-Event": name,
        "X-FreeScout-Signature": sha1_b64(WEBHOOK_SECRET, body)})


def test_a_new_conversation_reaches_the_history_once(client: FlaskClient,
                                                     services: Services) -> None:
    body = fs("convo_created.json")
    first = webhook(client, "convo.created", body)
    assert first.status_code == 202 and first.get_json()["status"] == "accepted"
    assert services.worker.run_once() == 1
    customer = services.assembler.resolver.resolve(Identifiers(emails=(PAULINE,))).customer_id
    assert customer is not None
    subjects = [c.reason for c in services.events.contacts_of(customer)]
    assert subjects.count("Où en est ma commande 997890 ?") == 1
    again = webhook(client, "convo.created", body)
    assert again.status_code == 202 and again.get_json()["status"] == "duplicate"
    assert services.worker.run_once() == 0
    assert [c.reason for c in services.events.contacts_of(customer)] == subjects
    assert services.writebacks.pending() == []  # nothing is written back to FreeScout


# --- a real `connector serve` over HTTP ----------------------------------------------

def test_through_a_real_connector_serve(demo_data: Path, backoffice: Backoffice,
                                        tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"freescout": ENTRY})
    env = {**service_env(demo_data, backoffice.url, tmp_path),
           "CONNECTOR_MANIFEST": str(manifest), "FREESCOUT_SECRET": SECRET}
    running = start_service(env)  # FREESCOUT_WEBHOOK_SECRET left unset
    try:
        answer = requests.post(f"{running.url}/helpdesk/freescout/sidebar", timeout=10,
                               data=fs("sidebar.json"),
                               headers={"Content-Type": "application/json",
                                        "Accept": "text/html"})
        assert answer.status_code == 200 and "Pauline Denève" in answer.text
        body = fs("convo_created.json")
        refused = requests.post(f"{running.url}/helpdesk/freescout/webhook", data=body,
                                timeout=10, headers={
                                    "X-FreeScout-Event": "convo.created",
                                    "X-FreeScout-Signature": sha1_b64(WEBHOOK_SECRET, body)})
        assert refused.status_code == 401 and "FREESCOUT_WEBHOOK_SECRET" in refused.text
        assert wait_for_contact(tmp_path, "freescout", "1", seconds=1) == 0
    finally:
        stop(running.process)
