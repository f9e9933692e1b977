"""Freshdesk: automation-rule webhooks authenticated by a shared secret, read from the bodies
an admin composes; the FDK app's sidebar call authenticated by its token; the webhook worked
into Pauline Denève's history once; write-back to an API built from Freshdesk's documented
payloads (pytest-httpserver: a call that never comes fails the test)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from connector.app import Services, build_services
from connector.helpdesk.base import (
    BadEvent,
    Headers,
    HttpRequest,
    Limits,
    RateLimited,
    Reply,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
)
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.freshdesk.adapter import Config, Freshdesk
from connector.helpdesk.freshdesk.api import FreshdeskApi, merged, note_html
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import MANIFEST, ROOT, Backoffice, service_env

FIXTURES = ROOT / "tests" / "fixtures" / "freshdesk"
PAULINE = "pauline.deneve@easiware.fr"
SECRET = "fd-webhook-secret-for-tests"
TOKEN = "fd-app-token-for-tests"
API_KEY = "fd-api-key-for-tests"
ENTRY = {"domain": "${FRESHDESK_DOMAIN:-}", "app_token": "${FRESHDESK_APP_TOKEN:-}",
         "webhook_secret": "${FRESHDESK_WEBHOOK_SECRET:-}",
         "api_key": "${FRESHDESK_API_KEY:-}", "api_url": "${FRESHDESK_API_URL:-}"}
SECRETS = {"FRESHDESK_APP_TOKEN": TOKEN, "FRESHDESK_WEBHOOK_SECRET": SECRET}


def fixture(name: str) -> bytes:
    """A stored payload, byte for byte."""
    return (FIXTURES / name).read_bytes()


def write_manifest(folder: Path, entry: Mapping[str, Any]) -> Path:
    """The default manifest with a `helpdesks.freshdesk` entry, written in `folder`."""
    data = yaml.safe_load(MANIFEST.read_text())
    data.setdefault("helpdesks", {})["freshdesk"] = dict(entry)
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def adapter(**config: Any) -> Freshdesk:
    """The adapter alone, its record and links faked only where they are not under test."""
    links = EmbedLinks(b"test-secret-key", 600, "FR")
    deps = HelpdeskDeps(links=links, public_url="https://connector.test", region="FR",
                        secret_key=b"k", render_fragment=lambda ctx: "<div>record</div>",
                        clock=lambda: 0.0)
    return Freshdesk(Config(**config), deps)


def signed(secret: str = SECRET, **extra: str) -> Headers:
    return Headers({"X-Connector-Secret": secret, "Content-Type": "application/json", **extra})


# --- the shared secret (no HMAC: a header, or basic auth, compared in constant time) ---


def test_the_rules_secret_header_is_accepted() -> None:
    adapter(webhook_secret=SECRET).verify(signed(), fixture("webhook_ticket_created.json"))
    # header names are case-insensitive, as HTTP says
    adapter(webhook_secret=SECRET).verify(Headers({"x-connector-secret": SECRET}), b"{}")


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(Unauthorized, match="X-Connector-Secret secret does not match"):
        adapter(webhook_secret=SECRET).verify(signed("not-the-secret"), b"{}")
    with pytest.raises(Unauthorized, match="does not match"):
        adapter(webhook_secret=SECRET).verify(signed(SECRET + "x"), b"{}")


def test_a_request_without_secret_is_refused() -> None:
    with pytest.raises(Unauthorized, match="no X-Connector-Secret header nor basic-auth"):
        adapter(webhook_secret=SECRET).verify(Headers({}), fixture("webhook_simple.json"))
    with pytest.raises(Unauthorized, match="carries no"):
        adapter(webhook_secret=SECRET).verify(signed(""), b"{}")


def test_an_adapter_without_secret_refuses_everything() -> None:
    for headers in (signed(), signed(""), Headers({})):
        with pytest.raises(Unauthorized, match="set FRESHDESK_WEBHOOK_SECRET"):
            adapter().verify(headers, b"{}")


def test_basic_auth_carries_the_secret_as_password_or_api_key() -> None:
    def basic(user: str, password: str) -> Headers:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return Headers({"Authorization": f"Basic {token}"})

    fd = adapter(webhook_secret=SECRET)
    fd.verify(basic("connector", SECRET), b"{}")
    fd.verify(basic(SECRET, "X"), b"{}")  # the rule's "API key" form: key as user, X
    with pytest.raises(Unauthorized, match="credentials do not match"):
        fd.verify(basic("connector", "guess"), b"{}")
    with pytest.raises(Unauthorized, match="no X-Connector-Secret"):
        fd.verify(Headers({"Authorization": "Basic !!!"}), b"{}")


def test_the_header_name_is_configurable() -> None:
    fd = adapter(webhook_secret=SECRET, webhook_header="X-Shop-Token")
    fd.verify(Headers({"X-Shop-Token": SECRET}), b"{}")
    with pytest.raises(Unauthorized, match="no X-Shop-Token header"):
        fd.verify(signed(), b"{}")


# --- the bodies an admin composes ---


def test_the_recommended_body_is_a_new_request() -> None:
    event = adapter().parse_event(signed(), fixture("webhook_ticket_created.json"))
    assert event is not None
    assert (event.helpdesk, event.kind, event.key) == ("freshdesk", "ticket.created",
                                                       "4217:ticket_created")
    assert event.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))
    assert (event.ticket_id, event.channel, event.new_request) == ("4217", "email", True)
    assert event.subject == "Où en est ma commande 997890 ?"
    assert event.requester_id is None  # tags go on the ticket (the default)
    on_contact = adapter(tags_on="contact").parse_event(signed(),
                                                        fixture("webhook_ticket_created.json"))
    assert on_contact is not None and on_contact.requester_id == "80012345678"


def test_an_update_with_a_numeric_source_and_a_moment() -> None:
    event = adapter().parse_event(signed(), fixture("webhook_ticket_updated.json"))
    assert event is not None
    assert (event.kind, event.new_request, event.channel) == ("ticket.updated", False, "chat")
    assert event.key == "4217:ticket_updated:2024-05-02T09:15:00Z"
    assert event.occurred_at is not None and event.occurred_at.isoformat() == \
        "2024-05-02T09:15:00+00:00"
    # an unrendered {{placeholder}} is no phone; the mobile is
    assert event.identifiers.phones == ("+33653888890",)


def test_simple_content_is_read_and_keyed_by_its_digest() -> None:
    body = fixture("webhook_simple.json")
    event = adapter().parse_event(signed(), body)
    assert event is not None
    assert (event.ticket_id, event.channel, event.kind) == ("4218", "phone", "ticket.created")
    assert event.subject == "Retour du colis AU908764"
    assert event.identifiers.emails == (PAULINE,)
    assert event.key.startswith("sha256:")
    again = adapter().parse_event(signed(), body)
    assert again is not None and again.key == event.key
    # the event name may come in a header the rule adds: then ticket + event is the key
    named = adapter().parse_event(signed(**{"X-Connector-Event": "ticket_created"}), body)
    assert named is not None and named.key == "4218:ticket_created"


def test_form_encoded_flat_keys() -> None:
    headers = signed(**{"Content-Type": "application/x-www-form-urlencoded"})
    event = adapter().parse_event(headers, fixture("webhook_form.txt"))
    assert event is not None
    assert (event.ticket_id, event.subject, event.channel) == ("4219", "Carte fidélité", "web")
    assert event.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))


def test_updates_without_a_moment_differ_by_body_and_retries_do_not() -> None:
    def update(status: str) -> bytes:
        return json.dumps({"event": "ticket_updated",
                           "ticket": {"id": "9", "status": status}}).encode()

    keys = [adapter().parse_event(signed(), update(s)) for s in ("Open", "Pending", "Pending")]
    assert keys[0] and keys[1] and keys[2]
    assert keys[0].key != keys[1].key and keys[1].key == keys[2].key


def test_other_events_are_kept_and_unknown_sources_are_other() -> None:
    body = json.dumps({"event": "note_added", "ticket": {"id": 5, "source": 42}}).encode()
    event = adapter().parse_event(signed(), body)
    assert event is not None and (event.kind, event.channel) == ("message.created", "other")


def test_bodies_that_name_no_ticket_are_bad_events() -> None:
    for body in (b"not json", b"[1, 2]", b'{"ticket": {"id": "{{ticket.id}}"}}',
                 b'{"contact": {"email": "pauline.deneve@easiware.fr"}}'):
        with pytest.raises(BadEvent):
            adapter().parse_event(signed(), body)


# --- the in-process service: webhook → event log → worker → history; the app's call ---


@pytest.fixture
def service(demo_data: Path, backoffice: Backoffice, tmp_path: Path
            ) -> Iterator[tuple[Services, FlaskClient]]:
    env = {**service_env(demo_data, backoffice.url, tmp_path), **SECRETS}
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="test-secret-key",
                        public_url="https://connector.test")  # type: ignore[arg-type]
    services = build_services(settings, load_manifest(write_manifest(tmp_path, ENTRY), env=env))
    yield services, create_app(services=services).test_client()
    services.close()


def pauline_contacts(services: Services) -> list[str | None]:
    found = services.assembler.lookup(Identifiers(emails=(PAULINE,)))
    assert found.profile is not None
    return [c.reason for c in services.events.contacts_of(found.profile.customer_id)]


def test_a_created_ticket_joins_paulines_history_once(
        service: tuple[Services, FlaskClient]) -> None:
    services, client = service
    body = fixture("webhook_ticket_created.json")
    first = client.post("/helpdesk/freshdesk/webhook", data=body, headers=dict(signed()))
    assert first.status_code == 202 and first.json["status"] == "accepted"
    again = client.post("/helpdesk/freshdesk/webhook", data=body, headers=dict(signed()))
    assert again.status_code == 202 and again.json == {"status": "duplicate",
                                                       "id": first.json["id"]}
    assert services.worker.run_once() == 1
    assert services.worker.run_once() == 0
    assert pauline_contacts(services).count("Où en est ma commande 997890 ?") == 1
    assert services.events.counts() == {"done": 1}


def test_the_webhook_endpoint_refuses_without_the_secret(
        service: tuple[Services, FlaskClient]) -> None:
    services, client = service
    body = fixture("webhook_ticket_created.json")
    for headers in ({}, {"X-Connector-Secret": "wrong"}):
        answer = client.post("/helpdesk/freshdesk/webhook", data=body, headers=headers)
        assert answer.status_code == 401
    bad = client.post("/helpdesk/freshdesk/webhook", data=b"{}", headers=dict(signed()))
    assert bad.status_code == 400
    assert services.events.counts() == {}


def test_an_unset_secret_refuses_every_webhook(demo_data: Path, backoffice: Backoffice,
                                               tmp_path: Path) -> None:
    env = service_env(demo_data, backoffice.url, tmp_path)  # no FRESHDESK_* variables
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="k")  # type: ignore[arg-type]
    services = build_services(settings, load_manifest(write_manifest(tmp_path, ENTRY), env=env))
    client = create_app(services=services).test_client()
    try:
        answer = client.post("/helpdesk/freshdesk/webhook",
                             data=fixture("webhook_ticket_created.json"),
                             headers=dict(signed()))
        assert answer.status_code == 401
        assert "FRESHDESK_WEBHOOK_SECRET" in answer.json["error"]
        page = client.post("/helpdesk/freshdesk/sidebar", json={"emails": [PAULINE]},
                           headers={"Authorization": f"Bearer {TOKEN}"})
        assert page.status_code == 401 and b"FRESHDESK_APP_TOKEN" in page.data
    finally:
        services.close()


def ask(client: FlaskClient, token: str | None = TOKEN, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/helpdesk/freshdesk/sidebar", json=body, headers=headers)


def test_the_apps_call_answers_the_record_and_a_sealed_link(
        service: tuple[Services, FlaskClient]) -> None:
    _, client = service
    answer = ask(client, emails=["Pauline.Deneve@easiware.fr"], phones=["06 53 88 88 90"],
                 ticket_id="4217", lang="fr")
    assert answer.status_code == 200 and answer.content_type.startswith("application/json")
    assert "Pauline" in answer.json["html"] and "<script" not in answer.json["html"]
    url = answer.json["url"]
    assert url.startswith("https://connector.test/helpdesk/embed/sidebar?t=")
    assert PAULINE not in url and "0653888890" not in url  # identifiers sealed, never shown
    page = client.get(url.removeprefix("https://connector.test"))
    assert page.status_code == 200 and "Denève" in page.text
    # the full page may be framed by Freshdesk: the link names the helpdesk it was made for
    assert "https://*.freshdesk.com" in page.headers["Content-Security-Policy"]


def test_the_apps_call_for_an_unknown_or_anonymous_contact(
        service: tuple[Services, FlaskClient]) -> None:
    _, client = service
    unknown = ask(client, emails=["nobody@example.org"], lang="en")
    assert unknown.status_code == 200 and "No customer record" in unknown.json["html"]
    nobody = ask(client, emails=["not an email"], phones=[])  # unusable identifiers dropped
    assert nobody.status_code == 200 and nobody.json["url"]


def test_the_apps_call_needs_its_token(service: tuple[Services, FlaskClient]) -> None:
    _, client = service
    assert ask(client, None, emails=[PAULINE]).status_code == 401
    assert ask(client, "wrong-token", emails=[PAULINE]).status_code == 401
    assert ask(client, TOKEN + "x", emails=[PAULINE]).status_code == 401
    get = client.get("/helpdesk/freshdesk/sidebar", headers={"Authorization": f"Bearer {TOKEN}"})
    assert get.status_code == 405
    bad = client.post("/helpdesk/freshdesk/sidebar", data=b"[1]",
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400


def test_the_sidebar_context_is_built_from_the_documented_data_method() -> None:
    """What app.js sends: the contact's email, other emails, phone and mobile, the ticket id."""
    contact = json.loads(fixture("fdk_contact.json"))["contact"]
    ticket = json.loads(fixture("fdk_ticket.json"))["ticket"]
    body = {"ticket_id": str(ticket["id"]), "emails": [contact["email"]],
            "phones": [contact["phone"], contact["mobile"]], "lang": "fr"}
    fd = adapter(app_token=TOKEN)
    context = fd.context_of(body)
    assert context.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))
    assert (context.ticket_id, context.locale, context.helpdesk) == ("4217", "fr", "freshdesk")
    reply = fd.sidebar_context(HttpRequest(method="POST", body=json.dumps(body).encode(),
                                           headers=Headers({"Authorization": f"Bearer {TOKEN}"})))
    assert isinstance(reply, Reply) and json.loads(reply.body)["html"] == "<div>record</div>"


def test_the_manifest_entry_is_validated_with_paths(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"domain": "https://acme.freshdesk.com", "tags_on": "both",
                                     "api_calls_per_minute": 1})
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    lines = "\n".join(caught.value.errors)
    for key in ("helpdesks.freshdesk.domain", "helpdesks.freshdesk.tags_on",
                "helpdesks.freshdesk.api_calls_per_minute"):
        assert key in lines


# --- write-back to an API built from Freshdesk's documented payloads ---


def api(server: HTTPServer, **config: Any) -> FreshdeskApi:
    return FreshdeskApi.of(Config(api_key=API_KEY, api_url=server.url_for("/").rstrip("/"),
                                  **config))


BASIC = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()


def test_tags_are_merged_a_private_note_added_and_contact_fields_written(
        httpserver: HTTPServer) -> None:
    auth = {"Authorization": BASIC}
    httpserver.expect_ordered_request("/api/v2/tickets/4217", method="GET", headers=auth
                                      ).respond_with_data(fixture("api_ticket.json"),
                                                          content_type="application/json")
    httpserver.expect_ordered_request(
        "/api/v2/tickets/4217", method="PUT", headers=auth,
        json={"tags": ["livraison", "connector_vip", "connector_negative_review"]},
    ).respond_with_data(fixture("api_ticket.json"), content_type="application/json")
    httpserver.expect_ordered_request(
        "/api/v2/tickets/4217/notes", method="POST", headers=auth,
        json={"body": "<div>• VIP — segment &lt;VIP&gt;<br>• Avis négatif</div>",
              "private": True},
    ).respond_with_data(fixture("api_note.json"), status=201, content_type="application/json")
    httpserver.expect_ordered_request(
        "/api/v2/contacts/80012345678", method="PUT", headers=auth,
        json={"custom_fields": {"segment": "VIP"}},
    ).respond_with_data(fixture("api_contact.json"), content_type="application/json")
    change = WriteBack(helpdesk="freshdesk", ticket_id="4217",
                       tags=("connector_vip", "connector_negative_review"),
                       fields={"segment": "VIP", "lifecycle": "active"},
                       note="• VIP — segment <VIP>\n• Avis négatif")
    api(httpserver, contact_fields={"segment": "segment"}).apply(change)
    httpserver.check_assertions()


def test_unchanged_tags_are_not_written_again(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/v2/tickets/4217", method="GET").respond_with_data(
        fixture("api_ticket.json"), content_type="application/json")
    api(httpserver).apply(WriteBack(helpdesk="freshdesk", ticket_id="4217",
                                    tags=("connector_old_flag",)))
    httpserver.check_assertions()
    assert [r.method for r, _ in httpserver.log] == ["GET"]


def test_tags_on_the_contact(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/v2/contacts/80012345678", method="GET"
                                      ).respond_with_data(fixture("api_contact.json"),
                                                          content_type="application/json")
    httpserver.expect_ordered_request(
        "/api/v2/contacts/80012345678", method="PUT",
        json={"tags": ["newsletter", "connector_vip"]},
    ).respond_with_data(fixture("api_contact.json"), content_type="application/json")
    api(httpserver, tags_on="contact").apply(
        WriteBack(helpdesk="freshdesk", requester_id="80012345678", tags=("connector_vip",)))
    httpserver.check_assertions()


def test_a_429_is_rate_limited_with_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v2/tickets/4217").respond_with_data(
        b'{"code": "too_many_requests"}', status=429, headers={"Retry-After": "17"})
    with pytest.raises(RateLimited) as caught:
        api(httpserver).apply(WriteBack(helpdesk="freshdesk", ticket_id="4217", tags=("x",)))
    assert caught.value.retry_after_s == 17
    assert caught.value.endpoint == "GET /api/v2/tickets/{id}"


@pytest.mark.parametrize(("status", "body", "permanent", "says"), [
    (401, b'{"code": "invalid_credentials"}', True, "refused the API key (401)"),
    (404, b'{"code": "access_denied"}', True, "no such record"),
    (400, fixture("api_validation_error.json"), True, "custom_fields: invalid_field"),
    (503, b"down", False, "failed (503)"),
])
def test_failures_are_classified_once(httpserver: HTTPServer, status: int, body: bytes,
                                      permanent: bool, says: str) -> None:
    httpserver.expect_request(re.compile("/api/v2/.*")).respond_with_data(body, status=status)
    with pytest.raises(WriteBackFailed) as caught:
        api(httpserver).apply(WriteBack(helpdesk="freshdesk", ticket_id="4217", tags=("x",)))
    assert caught.value.permanent is permanent and says in caught.value.public


def test_write_back_needs_a_key_and_an_account() -> None:
    with pytest.raises(WriteBackFailed, match="FRESHDESK_API_KEY"):
        FreshdeskApi.of(Config(domain="acme"))
    with pytest.raises(WriteBackFailed, match=r"helpdesks\.freshdesk\.domain"):
        FreshdeskApi.of(Config(api_key=API_KEY))
    assert FreshdeskApi.of(Config(domain="acme", api_key=API_KEY)).base_url == \
        "https://acme.freshdesk.com"
    assert FreshdeskApi.of(Config(domain="acme.freshdesk.com", api_key=API_KEY)).base_url == \
        "https://acme.freshdesk.com"


def test_limits_stay_under_the_smallest_plan() -> None:
    # 40 API calls a minute by default (the trial allows 50), 4 calls at most per change
    assert adapter().write_limits == Limits(calls=10, per_s=60.0, target_interval_s=12.0)
    assert adapter(api_calls_per_minute=400).write_limits.calls == 100


def test_tag_merging_and_note_html() -> None:
    assert merged(["a", "connector_x"], ("connector_y",), "connector_") == ["a", "connector_y"]
    assert merged(["connector_y", "a"], ("connector_y",), "connector_") is None
    assert merged(None, (), "connector_") is None
    assert merged(["connector_x"], (), "connector_") == []
    assert note_html("<b>\nok") == "<div>&lt;b&gt;<br>ok</div>"


def test_a_webhook_is_worked_into_a_write_back(demo_data: Path, backoffice: Backoffice,
                                               tmp_path: Path, httpserver: HTTPServer) -> None:
    """Webhook → event log → worker → flags as tags on the ticket, merged with the account's."""
    httpserver.expect_ordered_request("/api/v2/tickets/4217", method="GET").respond_with_data(
        fixture("api_ticket.json"), content_type="application/json")
    httpserver.expect_ordered_request("/api/v2/tickets/4217", method="PUT").respond_with_data(
        fixture("api_ticket.json"), content_type="application/json")
    env = {**service_env(demo_data, backoffice.url, tmp_path), **SECRETS,
           "FRESHDESK_API_KEY": API_KEY, "FRESHDESK_API_URL": httpserver.url_for("/")[:-1]}
    entry = {**ENTRY, "write_back": {"enabled": True}}
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="k")  # type: ignore[arg-type]
    services = build_services(settings, load_manifest(write_manifest(tmp_path, entry), env=env))
    try:
        client = create_app(services=services).test_client()
        client.post("/helpdesk/freshdesk/webhook", data=fixture("webhook_ticket_created.json"),
                    headers=dict(signed()))
        assert services.worker.run_once() == 1
        httpserver.check_assertions()
        put = json.loads(httpserver.log[1][0].get_data())
        assert put["tags"][0] == "livraison" and "connector_old_flag" not in put["tags"]
        assert put["tags"][1:] and all(t.startswith("connector_") for t in put["tags"][1:])
    finally:
        services.close()
