"""Help Scout: the dynamic app's signed POST answered with the record as `{"html": …}`, signed
webhooks worked into the customer's history once, write-back to a Mailbox API built from its
documentation, and the same through a real `connector serve` process."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.app import Services
from connector.helpdesk.base import (
    BadEvent,
    Headers,
    HttpRequest,
    RateLimited,
    Reply,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
)
from connector.helpdesk.helpscout.adapter import Config, HelpScout
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

APP_SECRET = "hs-app-secret-for-tests"
WEBHOOK_SECRET = "hs-webhook-secret-for-tests"
CLIENT_SECRET = "hs-client-secret"
# HELPDESKS.md's test vector (the documented algorithm)
VECTOR_SECRET = "my-secret-key"
VECTOR_BODY = (b'{"ticket":{"id":1,"number":2},"customer":{"email":"jane@example.com",'
               b'"emails":["jane@example.com"]}}')
VECTOR_SIGNATURE = "e7c1/sETsqkz50UP2wLzguXF83M="
ENTRY = {"app_secret": "${HELPSCOUT_APP_SECRET:-}",
         "webhook_secret": "${HELPSCOUT_WEBHOOK_SECRET:-}",
         "client_id": "${HELPSCOUT_CLIENT_ID:-}",
         "client_secret": "${HELPSCOUT_CLIENT_SECRET:-}",
         "api_url": "${HELPSCOUT_API_URL:-https://api.helpscout.net}"}
SECRETS = {"HELPSCOUT_APP_SECRET": APP_SECRET, "HELPSCOUT_WEBHOOK_SECRET": WEBHOOK_SECRET}


def hs(name: str) -> bytes:
    """A Help Scout payload from tests/fixtures/helpscout."""
    return fixture("helpscout", name)


# --- the adapter alone: signature vectors ---------------------------------------------

def adapter(renderer: Renderer | None = None, **config: Any) -> HelpScout:
    return HelpScout(Config(**config), deps(renderer))


def post(body: bytes, signature: str | None) -> HttpRequest:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-HelpScout-Signature"] = signature
    return HttpRequest(method="POST", path="/helpdesk/helpscout/sidebar", headers=Headers(headers),
                       body=body)


def test_the_documented_vector_opens_the_sidebar() -> None:
    renderer = Renderer()
    reply = adapter(renderer, app_secret=VECTOR_SECRET).sidebar_context(
        post(VECTOR_BODY, VECTOR_SIGNATURE))
    assert isinstance(reply, Reply) and reply.status == 200
    assert json.loads(reply.body) == {"html": "<p>record</p>"}
    assert reply.content_type.startswith("application/json")
    (context,) = renderer.contexts
    assert context.identifiers == Identifiers(emails=("jane@example.com",))
    assert context.ticket_id == "1" and context.helpdesk == "helpscout"


@pytest.mark.parametrize(("body", "signature", "reason"), [
    (VECTOR_BODY.replace(b"jane", b"john"), VECTOR_SIGNATURE, "does not match"),
    (VECTOR_BODY, VECTOR_SIGNATURE.replace("e7c1", "e7c2"), "does not match"),
    (VECTOR_BODY, None, "carries no signature"),
    (VECTOR_BODY, "", "carries no signature"),
])
def test_tampered_or_unsigned_sidebar_requests_are_401(body: bytes, signature: str | None,
                                                       reason: str) -> None:
    renderer = Renderer()
    reply = adapter(renderer, app_secret=VECTOR_SECRET).sidebar_context(post(body, signature))
    assert isinstance(reply, Reply) and reply.status == 401
    assert reason in json.loads(reply.body)["error"]
    assert renderer.contexts == []


def test_without_a_secret_every_request_is_refused_naming_the_variable() -> None:
    app = adapter()
    reply = app.sidebar_context(post(VECTOR_BODY, VECTOR_SIGNATURE))
    assert isinstance(reply, Reply) and reply.status == 401
    assert "HELPSCOUT_APP_SECRET" in json.loads(reply.body)["error"]
    with pytest.raises(Unauthorized, match="HELPSCOUT_WEBHOOK_SECRET"):
        app.verify(Headers({"X-HelpScout-Signature": VECTOR_SIGNATURE}), VECTOR_BODY)


def test_webhook_signatures_use_their_own_secret() -> None:
    app = adapter(webhook_secret=VECTOR_SECRET, app_secret="another-secret")
    app.verify(Headers({"X-HelpScout-Signature": VECTOR_SIGNATURE}), VECTOR_BODY)
    for headers, body in [({"X-HelpScout-Signature": VECTOR_SIGNATURE}, VECTOR_BODY + b" "),
                          ({}, VECTOR_BODY)]:
        with pytest.raises(Unauthorized):
            app.verify(Headers(headers), body)
    with pytest.raises(Unauthorized):
        adapter(webhook_secret="another-secret").verify(
            Headers({"X-HelpScout-Signature": VECTOR_SIGNATURE}), VECTOR_BODY)


def test_no_timestamp_is_signed_so_a_replay_is_caught_as_a_duplicate() -> None:
    """Help Scout signs the body only (no time, no delivery id): a replayed delivery gets
    the same key, and the event log works it once (see the webhook test below)."""
    app = adapter(webhook_secret=WEBHOOK_SECRET)
    body = hs("convo_created.json")
    headers = Headers({"X-HelpScout-Event": "convo.created"})
    first, again = app.parse_event(headers, body), app.parse_event(headers, body)
    assert first is not None and again is not None and first.key == again.key
    # the event header is not signed: a replay under another event name is the same delivery
    other = app.parse_event(Headers({"X-HelpScout-Event": "convo.customer.reply.created"}), body)
    assert other is not None and other.key == first.key


def test_phones_are_read_when_the_payload_has_them() -> None:
    renderer = Renderer()
    body = json.dumps({"customer": {"fname": "Pauline", "phones": [
        {"value": "06 53 88 88 90", "location": "mobile"}, "not a phone"]}}).encode()
    adapter(renderer, app_secret=APP_SECRET).sidebar_context(
        post(body, sha1_b64(APP_SECRET, body)))
    assert renderer.contexts[0].identifiers == Identifiers(phones=("+33653888890",))


# --- payload fixtures ------------------------------------------------------------------

def event(name: str, body: bytes) -> Any:
    return adapter(webhook_secret=WEBHOOK_SECRET).parse_event(
        Headers({"X-HelpScout-Event": name}), body)


def test_a_new_conversation_is_a_new_request() -> None:
    found = event("convo.created", hs("convo_created.json"))
    assert found.kind == "ticket.created" and found.new_request
    assert found.identifiers == Identifiers(emails=(PAULINE,))
    assert (found.ticket_id, found.channel) == ("2391938111", "email")
    assert found.subject == "Où en est ma commande 997890 ?"
    assert found.occurred_at.isoformat() == "2019-02-23T16:54:00+00:00"
    assert found.requester_id is None  # tags go on the conversation


def test_a_phone_call_logged_by_an_agent_is_a_request_an_outbound_email_is_not() -> None:
    call = event("convo.created", hs("convo_created_phone.json"))
    assert call.new_request and call.channel == "phone"
    assert call.identifiers == Identifiers(phones=("+33653888890",))  # the agent is not read
    outbound = event("convo.created", hs("convo_created_outbound.json"))
    assert not outbound.new_request and outbound.identifiers == Identifiers(emails=(PAULINE,))


def test_replies_and_customers_refresh_but_add_no_contact() -> None:
    reply = event("convo.customer.reply.created", hs("convo_customer_reply.json"))
    assert reply.kind == "message.created" and not reply.new_request
    customer = event("customer.created", hs("customer_created.json"))
    assert customer.kind == "customer.updated" and customer.ticket_id is None
    assert customer.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))


@pytest.mark.parametrize("name", ["convo.tags", "convo.note.created", "convo.assigned",
                                  "convo.deleted", "tag.created", "satisfaction.ratings"])
def test_events_we_do_not_use_are_ignored(name: str) -> None:
    assert event(name, hs("convo_tags.json")) is None


def test_unreadable_events_are_bad() -> None:
    with pytest.raises(BadEvent):
        event("convo.created", b"not json")
    with pytest.raises(BadEvent):
        event("convo.created", b"[1, 2]")
    with pytest.raises(BadEvent, match="no event"):
        adapter().parse_event(Headers({}), hs("convo_created.json"))


# --- the service in-process, on the demo data ----------------------------------------

@pytest.fixture(scope="module")
def api() -> Iterator[HTTPServer]:
    """A Mailbox API answering as documented, one expectation per call."""
    server = HTTPServer()
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice, api: HTTPServer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("helpscout")
    entry = {**ENTRY, "write_back": {"enabled": True, "note": True}}
    env = {**service_env(demo_data, backoffice.url, var), **SECRETS,
           "HELPSCOUT_CLIENT_ID": "app-id", "HELPSCOUT_CLIENT_SECRET": CLIENT_SECRET,
           "HELPSCOUT_API_URL": api.url_for("").rstrip("/")}
    running = in_process(write_manifest(var, {"helpscout": entry}), env, var)
    yield running
    running.close()


@pytest.fixture()
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def sidebar(client: FlaskClient, body: bytes, secret: str = APP_SECRET) -> Any:
    return client.post("/helpdesk/helpscout/sidebar", data=body,
                       headers={"Content-Type": "application/json",
                                "X-HelpScout-Signature": sha1_b64(secret, body)})


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ")


def test_the_record_comes_back_as_json_html(client: FlaskClient) -> None:
    answer = sidebar(client, hs("dynamic_app.json"))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-store"
    html = answer.get_json()["html"]
    text = visible(html)
    for expected in ["Pauline Denève", "VIP", "997890", "EMERAINVILLE"]:
        assert expected in text, expected
    # what Help Scout would strip anyway is not sent: no script, form or inline style
    assert not re.search(r"<script|<form|<style|style=|<iframe|on\w+=", html, re.I)
    assert len(answer.data) < 60_000
    link = re.search(r'href="(http://connector\.test/helpdesk/embed/sidebar\?t=[^"]+)"', html)
    assert link and PAULINE not in link.group(1)  # identifiers are sealed, not in the URL
    full = client.get(link.group(1).replace("&amp;", "&").removeprefix("http://connector.test"))
    assert full.status_code == 200 and "Pauline Denève" in visible(full.get_data(as_text=True))


def test_a_draft_still_shows_its_customer(client: FlaskClient) -> None:
    answer = sidebar(client, hs("dynamic_app_draft.json"))
    assert answer.status_code == 200 and "Pauline Denève" in visible(answer.get_json()["html"])


def test_no_customer_or_an_unknown_one_says_so(client: FlaskClient) -> None:
    empty = sidebar(client, hs("dynamic_app_no_customer.json")).get_json()["html"]
    assert "/helpdesk/embed/sidebar?t=" in empty and "Pauline" not in empty
    body = json.dumps({"ticket": {"id": 5, "number": 6},
                       "customer": {"email": "nobody@example.org"}}).encode()
    unknown = visible(sidebar(client, body).get_json()["html"])
    assert "Aucune fiche client" in unknown


def test_what_the_payload_says_is_never_echoed_as_markup(client: FlaskClient) -> None:
    body = json.dumps({"ticket": {"id": 7, "number": 8, "subject": "<script>alert(1)</script>"},
                       "customer": {"fname": "<img src=x onerror=alert(1)>",
                                    "email": "<script>@x.org", "emails": [PAULINE]}}).encode()
    html = sidebar(client, body).get_json()["html"]
    assert "Pauline Denève" in visible(html)
    assert "<script" not in html and "<img" not in html and "onerror" not in html


def test_bad_signatures_are_401_as_json(client: FlaskClient) -> None:
    body = hs("dynamic_app.json")
    for answer in [sidebar(client, body, secret="wrong"),
                   client.post("/helpdesk/helpscout/sidebar", data=body)]:
        assert answer.status_code == 401
        assert "Pauline" not in answer.get_data(as_text=True)
        assert answer.get_json()["error"]
        # the reason first, in the part of the body a log or a debug view shows
        assert answer.get_data(as_text=True).startswith('{"error": "connector: refused: the ')


def webhook(client: FlaskClient, name: str, body: bytes) -> Any:
    return client.post("/helpdesk/helpscout/webhook", data=body, headers={
        "Content-Type": "application/json", "X-HelpScout-Event": name,
        "X-HelpScout-Signature": sha1_b64(WEBHOOK_SECRET, body)})


def expect_write_back(api: HTTPServer, conversation: str) -> list[dict[str, Any]]:
    """The calls a write-back makes, in order; what they were sent is collected."""
    sent: list[dict[str, Any]] = []

    def keep(request: Request) -> Response:
        sent.append({"path": request.path, "auth": request.headers.get("Authorization"),
                     "json": request.get_json(silent=True), "form": request.form.to_dict()})
        return Response(status=204 if request.method == "PUT" else 201)

    api.expect_ordered_request("/v2/oauth2/token", method="POST").respond_with_data(
        fixture("helpscout", "api_token.json"), content_type="application/json")
    api.expect_ordered_request(f"/v2/conversations/{conversation}", method="GET",
                               headers={"Authorization": "Bearer 369dbb08be58430086d2f8bd832bc1eb"}
                               ).respond_with_data(fixture("helpscout", "api_conversation.json"),
                                                   content_type="application/hal+json")
    api.expect_ordered_request(f"/v2/conversations/{conversation}/tags",
                               method="PUT").respond_with_handler(keep)
    api.expect_ordered_request(f"/v2/conversations/{conversation}/notes",
                               method="POST").respond_with_handler(keep)
    return sent


def test_a_new_conversation_reaches_the_history_once_and_is_tagged(
        client: FlaskClient, services: Services, api: HTTPServer) -> None:
    api.clear()
    sent = expect_write_back(api, "2391938111")
    body = hs("convo_created.json")
    first = webhook(client, "convo.created", body)
    assert first.status_code == 202 and first.get_json()["status"] == "accepted"
    assert services.worker.run_once() == 1
    customer = services.assembler.resolver.resolve(Identifiers(emails=(PAULINE,))).customer_id
    assert customer is not None
    recorded = [c for c in services.events.contacts_of(customer)
                if c.reason == "Où en est ma commande 997890 ?"]
    assert len(recorded) == 1 and recorded[0].channel == "email"
    assert services.events.state(first.get_json()["id"])["state"] == "done"
    # the write-back: our stale tag replaced, the agents' own kept, a note with the flags
    api.check_assertions()
    assert len(api.log) == 4
    tags, note = sent
    assert tags["json"]["tags"][0] == "livraison"
    # her complaints are years old (no past_complaint); lost and valuable: win back
    assert set(tags["json"]["tags"]) == {"livraison", "connector_vip", "connector_win_back"}
    assert "VIP" in note["json"]["text"]
    token_form = api.log[0][0].form
    assert token_form["grant_type"] == "client_credentials"
    assert token_form["client_secret"] == CLIENT_SECRET
    # Help Scout retries the same delivery: acknowledged again, worked once
    again = webhook(client, "convo.created", body)
    assert again.status_code == 202 and again.get_json()["status"] == "duplicate"
    assert services.worker.run_once() == 0
    assert [c.reason for c in services.events.contacts_of(customer)].count(
        "Où en est ma commande 997890 ?") == 1
    profile = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert profile is not None and profile.contacts.last is not None


def test_ignored_and_unsigned_webhooks(client: FlaskClient) -> None:
    assert webhook(client, "convo.tags", hs("convo_tags.json")).get_json() == {
        "status": "ignored"}
    unsigned = client.post("/helpdesk/helpscout/webhook", data=hs("convo_created.json"),
                           headers={"X-HelpScout-Event": "convo.created"})
    assert unsigned.status_code == 401
    assert webhook(client, "convo.created", b"{oops").status_code == 400


# --- write-back against the documented API -------------------------------------------

def api_adapter(api: HTTPServer, tags: bool = True) -> HelpScout:
    return adapter(client_id="app-id", client_secret=CLIENT_SECRET,
                   api_url=api.url_for("").rstrip("/"), write_back={"tags": tags})


def token(api: HTTPServer) -> None:
    api.expect_ordered_request("/v2/oauth2/token", method="POST").respond_with_data(
        fixture("helpscout", "api_token.json"), content_type="application/json")


def test_429_is_rate_limited_with_helpscouts_retry_after(api: HTTPServer) -> None:
    api.clear()
    token(api)
    api.expect_ordered_request("/v2/conversations/9").respond_with_data(
        "", status=429, headers={"X-RateLimit-Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        api_adapter(api).write_back(WriteBack("helpscout", ticket_id="9", tags=("connector_vip",)))
    assert caught.value.retry_after_s == 7.0
    api.check_assertions()


def test_one_token_serves_many_calls_and_a_refused_one_is_renewed(api: HTTPServer) -> None:
    api.clear()
    app = api_adapter(api, tags=False)
    token(api)
    for _ in range(2):
        api.expect_ordered_request("/v2/conversations/9/notes", method="POST").respond_with_data(
            "", status=201)
    api.expect_ordered_request("/v2/conversations/9/notes", method="POST").respond_with_data(
        "", status=401)
    token(api)
    api.expect_ordered_request("/v2/conversations/9/notes", method="POST").respond_with_data(
        "", status=201)
    for _ in range(3):
        app.write_back(WriteBack("helpscout", ticket_id="9", note="n"))
    api.check_assertions()
    assert [r.path for r, _ in api.log].count("/v2/oauth2/token") == 2


def test_unchanged_tags_are_not_rewritten(api: HTTPServer) -> None:
    api.clear()
    token(api)
    api.expect_ordered_request("/v2/conversations/9").respond_with_json(
        {"id": 9, "tags": [{"id": 1, "color": "#929499", "tag": "connector_vip"}]})
    api_adapter(api).write_back(WriteBack("helpscout", ticket_id="9", tags=("connector_vip",)))
    api.check_assertions()
    assert len(api.log) == 2


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (404, True), (503, False)])
def test_failures_are_classified(api: HTTPServer, status: int, permanent: bool) -> None:
    api.clear()
    token(api)
    api.expect_ordered_request("/v2/conversations/9/notes", method="POST").respond_with_data(
        "", status=status)
    with pytest.raises(WriteBackFailed) as caught:
        api_adapter(api, tags=False).write_back(WriteBack("helpscout", ticket_id="9", note="n"))
    assert caught.value.permanent is permanent


def test_refused_credentials_and_missing_targets_are_permanent(api: HTTPServer) -> None:
    api.clear()
    api.expect_ordered_request("/v2/oauth2/token", method="POST").respond_with_json(
        {"error": "invalid_client"}, status=401)
    with pytest.raises(WriteBackFailed, match="HELPSCOUT_CLIENT_SECRET") as caught:
        api_adapter(api).write_back(WriteBack("helpscout", ticket_id="9", note="n"))
    assert caught.value.permanent
    with pytest.raises(WriteBackFailed, match="conversation") as caught:
        api_adapter(api).write_back(WriteBack("helpscout", requester_id="3", tags=("x",)))
    assert caught.value.permanent
    with pytest.raises(WriteBackFailed, match="HELPSCOUT_CLIENT_ID"):
        adapter().write_back(WriteBack("helpscout", ticket_id="9", note="n"))


# --- the manifest entry ------------------------------------------------------------------

def test_the_manifest_entry_is_checked_at_the_door(tmp_path: Path) -> None:
    long = write_manifest(tmp_path, {"helpscout": {"app_secret": "x" * 41}})
    with pytest.raises(ManifestError, match=r"helpdesks\.helpscout\.app_secret"):
        load_manifest(long, env={})
    fields = write_manifest(tmp_path, {"helpscout": {"write_back": {"enabled": True,
                                                                     "fields": True}}})
    with pytest.raises(ManifestError, match=r"helpdesks\.helpscout"):
        load_manifest(fields, env={})


# --- a real `connector serve` over HTTP ----------------------------------------------

def test_through_a_real_connector_serve(demo_data: Path, backoffice: Backoffice,
                                        tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, {"helpscout": ENTRY})
    env = {**service_env(demo_data, backoffice.url, tmp_path),
           "CONNECTOR_MANIFEST": str(manifest), **SECRETS}
    running = start_service(env)
    try:
        body = hs("dynamic_app.json")
        answer = requests.post(f"{running.url}/helpdesk/helpscout/sidebar", data=body, timeout=10,
                               headers={"Content-Type": "application/json",
                                        "X-HelpScout-Signature": sha1_b64(APP_SECRET, body)})
        assert answer.status_code == 200 and "Pauline Denève" in answer.json()["html"]
        forged = requests.post(f"{running.url}/helpdesk/helpscout/sidebar", data=body, timeout=10,
                               headers={"X-HelpScout-Signature": sha1_b64("forged", body)})
        assert forged.status_code == 401
        hook = hs("convo_created.json").replace(b"2391938111", b"2391938999")
        headers = {"Content-Type": "application/json", "X-HelpScout-Event": "convo.created",
                   "X-HelpScout-Signature": sha1_b64(WEBHOOK_SECRET, hook)}
        url = f"{running.url}/helpdesk/helpscout/webhook"
        assert requests.post(url, data=hook, headers=headers, timeout=10).status_code == 202
        assert wait_for_contact(tmp_path, "helpscout", "2391938999") == 1
        again = requests.post(url, data=hook, headers=headers, timeout=10)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        time.sleep(0.5)
        assert wait_for_contact(tmp_path, "helpscout", "2391938999") == 1
    finally:
        stop(running.process)

