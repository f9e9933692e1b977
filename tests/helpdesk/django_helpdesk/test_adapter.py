"""The django-helpdesk adapter on its own and in the service: the webhook secret (sent by
django-helpdesk as the password of the URL's user-info), the payloads captured from a real
django-helpdesk 2.6 (tests/fixtures/django_helpdesk/), the sidebar that says there is none, the
event → contact path with duplicates done once, and the private-note write-back.

django-helpdesk signs nothing (no HMAC, no timestamp), so there is no tampered-body or stale
vector to test: the secret is the whole authentication, and it is checked on every request.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Response

from connector.app import Services, build_services
from connector.helpdesk.base import (
    BadEvent,
    Headers,
    RateLimited,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
)
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.django_helpdesk.adapter import Config, DjangoHelpdesk, build
from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import Backoffice, service_env
from tests.helpdesk.django_helpdesk.djhelpdesk.desk import write_manifest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "django_helpdesk"
PAULINE = "pauline.deneve@easiware.fr"
# captured: django-helpdesk told http://django-helpdesk:s3cret@…/webhook sent this header
CAPTURED_SECRET = "s3cret"
CAPTURED_HEADERS = json.loads((FIXTURES / "delivery_headers.json").read_text())


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def basic(secret: str, user: str = "django-helpdesk") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def adapter(**config: object) -> DjangoHelpdesk:
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="http://connector.test",
                        region="FR", secret_key=b"k", render_fragment=lambda c: "",
                        clock=time.time)
    return build(Config.model_validate({"webhook_secret": CAPTURED_SECRET, **config}), deps)


# -- the webhook secret ---------------------------------------------------------------------

def test_the_header_django_helpdesk_really_sends_is_accepted() -> None:
    adapter().verify(Headers(CAPTURED_HEADERS), fixture("new_ticket_api"))


@pytest.mark.parametrize(("headers", "message"), [
    (basic("wrong"), "the webhook secret does not match"),
    (basic(CAPTURED_SECRET + "x"), "the webhook secret does not match"),
    ({}, "the request carries no webhook secret"),
    (basic(""), "the request carries no webhook secret"),
    ({"Authorization": f"Bearer {CAPTURED_SECRET}"}, "the request carries no webhook secret"),
    ({"Authorization": "Basic not*base64"}, "the webhook credentials are unreadable"),
])
def test_a_wrong_or_missing_secret_is_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        adapter().verify(Headers(headers), fixture("new_ticket_api"))
    assert refused.value.public == message


def test_an_unset_secret_refuses_everything_and_names_the_variable() -> None:
    with pytest.raises(Unauthorized) as refused:
        adapter(webhook_secret="").verify(Headers(CAPTURED_HEADERS), fixture("new_ticket_api"))
    assert "DJANGO_HELPDESK_WEBHOOK_SECRET" in refused.value.public


def test_any_user_name_may_carry_the_secret() -> None:
    adapter().verify(Headers(basic(CAPTURED_SECRET, user="helpdesk")), b"{}")


# -- the payloads ---------------------------------------------------------------------------

def test_a_new_ticket_from_the_api_or_web_is_a_new_request() -> None:
    event = adapter().parse_event(Headers(), fixture("new_ticket_api"))
    assert event is not None
    assert (event.kind, event.key, event.ticket_id) == ("ticket.created", "ticket:1:created", "1")
    assert event.new_request and event.channel == "web"
    assert event.identifiers == Identifiers(emails=(PAULINE,))
    assert event.subject == "Où est ma commande 997890 ?"
    assert event.occurred_at is not None and event.occurred_at.utcoffset() is not None


def test_a_ticket_opened_by_email_says_so() -> None:
    event = adapter().parse_event(Headers(), fixture("new_ticket_email"))
    assert event is not None
    assert (event.kind, event.channel, event.subject) == ("ticket.created", "email", "Colis abime")


def test_a_public_follow_up_is_a_message_not_a_new_request() -> None:
    reply = adapter().parse_event(Headers(), fixture("followup_public_reply"))
    by_email = adapter().parse_event(Headers(), fixture("followup_email_reply"))
    assert reply is not None and by_email is not None
    assert (reply.kind, reply.key, reply.new_request) == ("message.created",
                                                          "ticket:1:followup:2", False)
    assert (by_email.key, by_email.channel) == ("ticket:2:followup:6", "email")
    assert by_email.identifiers == Identifiers(emails=(PAULINE,))


def test_private_notes_are_ignored_so_our_own_notes_never_come_back() -> None:
    assert adapter().parse_event(Headers(), fixture("followup_private_note")) is None


def test_the_phone_comes_from_the_custom_field_the_manifest_names() -> None:
    assert adapter().parse_event(Headers(), fixture("new_ticket_phone_only")) is None
    event = adapter(phone_field="phone").parse_event(Headers(), fixture("new_ticket_phone_only"))
    assert event is not None and event.identifiers == Identifiers(phones=("+33653888890",))


@pytest.mark.parametrize(("body", "message"), [
    (b"<html>", "the webhook body is not JSON"),
    (b"[1]", "the webhook body is not a JSON object"),
    (b'{"queue_slug": "support"}', "this is not a django-helpdesk webhook: no ticket id"),
    (b'{"ticket": {"id": 1, "followup_set": []}, "followup_id": 9}',
     "follow-up 9 is not in its ticket"),
])
def test_unreadable_bodies_are_bad_events(body: bytes, message: str) -> None:
    with pytest.raises(BadEvent, match=message):
        adapter().parse_event(Headers(), body)


# -- the manifest entry ---------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "line"), [
    ({"write_back": {"enabled": True, "tags": True, "note": True}, "url": "http://d/helpdesk",
      "api_user": "a"},
     "helpdesks.django_helpdesk.write_back: django-helpdesk has no tags and no "
     "customer fields: only notes can be written back (set tags: false and fields: false)"),
    ({"write_back": {"enabled": True, "note": True}},
     "helpdesks.django_helpdesk.write_back: notes need url (where django-helpdesk is served) "
     "and api_user (a staff account)"),
    ({"url": "support.example.com"},
     "helpdesks.django_helpdesk.url: must be the http(s) address django-helpdesk is served at, "
     "e.g. https://support.example.com/helpdesk"),
])
def test_the_manifest_says_what_is_wrong(tmp_path: Path, entry: dict[str, object],
                                         line: str) -> None:
    path = write_manifest(tmp_path / "manifest.yaml", entry)
    with pytest.raises(ManifestError) as failed:
        load_manifest(path, env={"CONNECTOR_DEMO_DIR": str(tmp_path)})
    assert line in failed.value.errors


# -- in the service: sidebar, webhook, worker -----------------------------------------------

@pytest.fixture
def services(demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> Iterator[Services]:
    env = service_env(demo_data, backoffice.url, tmp_path)
    entry = {"webhook_secret": "${DJANGO_HELPDESK_WEBHOOK_SECRET:-}",
             "url": "https://support.example.com/helpdesk"}
    manifest = load_manifest(write_manifest(tmp_path / "manifest.yaml", entry),
                             env={**env, "DJANGO_HELPDESK_WEBHOOK_SECRET": CAPTURED_SECRET})
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="k")  # type: ignore[arg-type]
    built = build_services(settings, manifest)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def test_the_sidebar_address_says_there_is_no_sidebar_app(client: FlaskClient) -> None:
    answer = client.get("/helpdesk/django_helpdesk/sidebar?lang=fr")
    assert answer.status_code == 501
    assert "n'offre pas d'API de barre latérale" in answer.text
    assert "docs/helpdesks/django-helpdesk.md" in answer.text
    policy = answer.headers["Content-Security-Policy"]
    assert policy.endswith("frame-ancestors https://support.example.com")
    assert "No sidebar app" in client.get("/helpdesk/django_helpdesk/sidebar").text


def test_a_new_ticket_is_recorded_once_and_becomes_a_contact(services: Services,
                                                             client: FlaskClient) -> None:
    before = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert before is not None
    first = client.post("/helpdesk/django_helpdesk/webhook", data=fixture("new_ticket_email"),
                        headers=CAPTURED_HEADERS)
    again = client.post("/helpdesk/django_helpdesk/webhook", data=fixture("new_ticket_email"),
                        headers=CAPTURED_HEADERS)
    reply = client.post("/helpdesk/django_helpdesk/webhook",
                        data=fixture("followup_email_reply"), headers=CAPTURED_HEADERS)
    assert (first.status_code, first.json["status"]) == (202, "accepted")
    assert (again.status_code, again.json) == (202, {"status": "duplicate",
                                                     "id": first.json["id"]})
    assert reply.status_code == 202 and reply.json["status"] == "accepted"
    assert services.worker.run_once() == 2
    after = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert after is not None
    assert after.contacts.count == before.contacts.count + 1  # the reply is no new request
    assert after.contacts.last is not None
    assert (after.contacts.last.reason, after.contacts.last.channel) == ("Colis abime", "email")


def test_the_service_refuses_a_wrong_secret_and_ignores_private_notes(
        client: FlaskClient) -> None:
    wrong = client.post("/helpdesk/django_helpdesk/webhook", data=fixture("new_ticket_api"),
                        headers=basic("guess"))
    note = client.post("/helpdesk/django_helpdesk/webhook",
                       data=fixture("followup_private_note"), headers=CAPTURED_HEADERS)
    assert (wrong.status_code, wrong.json) == (401, {"error": "the webhook secret does not match"})
    assert (note.status_code, note.json) == (200, {"status": "ignored"})


def test_an_unset_secret_is_a_401_naming_the_variable(demo_data: Path, backoffice: Backoffice,
                                                      tmp_path: Path) -> None:
    env = service_env(demo_data, backoffice.url, tmp_path)
    entry = {"webhook_secret": "${DJANGO_HELPDESK_WEBHOOK_SECRET:-}"}
    manifest = load_manifest(write_manifest(tmp_path / "manifest.yaml", entry), env=env)
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="k")  # type: ignore[arg-type]
    built = build_services(settings, manifest)
    try:
        answer = create_app(services=built).test_client().post(
            "/helpdesk/django_helpdesk/webhook", data=fixture("new_ticket_api"),
            headers=CAPTURED_HEADERS)
    finally:
        built.close()
    assert answer.status_code == 401
    assert answer.json == {"error": "this adapter has no secret configured: set "
                                    "DJANGO_HELPDESK_WEBHOOK_SECRET"}


# -- write-back: a private follow-up through django-helpdesk's REST API ---------------------

def writer(httpserver: HTTPServer, password: str = "pw") -> DjangoHelpdesk:
    return adapter(url=httpserver.url_for("/helpdesk"), api_user="agent", api_password=password,
                   write_back={"enabled": True, "note": True})


def test_a_note_is_a_private_follow_up_without_a_title(httpserver: HTTPServer) -> None:
    expected = {"ticket": 7, "public": False,
                "comment": "• VIP — segment VIP  \n• Avis négatif — 1/5 le { {date}}"}
    httpserver.expect_oneshot_request(
        "/helpdesk/api/followups/", method="POST", json=expected,
        headers={"Authorization": "Basic " + base64.b64encode(b"agent:pw").decode()},
    ).respond_with_json({"id": 12, "ticket": 7, "public": False}, status=201)
    writer(httpserver).write_back(WriteBack(
        helpdesk="django_helpdesk", ticket_id="7",
        note="• VIP — segment VIP\n• Avis négatif — 1/5 le {{date}}"))
    httpserver.check_assertions()  # fails if the call never came


def test_a_change_without_a_note_sends_nothing(httpserver: HTTPServer) -> None:
    writer(httpserver).write_back(WriteBack(helpdesk="django_helpdesk", ticket_id="7"))
    assert httpserver.log == []


@pytest.mark.parametrize(("status", "permanent", "public"), [
    (403, True, "django-helpdesk refused the API user: it must be a staff account, with its "
                "password in DJANGO_HELPDESK_API_PASSWORD"),
    (404, True, "django-helpdesk has no API at this url (check helpdesks.django_helpdesk.url "
                "and HELPDESK_API_ENABLED)"),
    (400, True, "django-helpdesk refused the note on ticket 7 (HTTP 400: unknown ticket, or a "
                "queue the API user cannot see)"),
    (502, False, "django-helpdesk failed (HTTP 502)"),
])
def test_refusals_are_classified(httpserver: HTTPServer, status: int, permanent: bool,
                                 public: str) -> None:
    httpserver.expect_request("/helpdesk/api/followups/").respond_with_data("no", status=status)
    with pytest.raises(WriteBackFailed) as failed:
        writer(httpserver).write_back(WriteBack(helpdesk="django_helpdesk", ticket_id="7",
                                                note="VIP"))
    assert (failed.value.permanent, failed.value.public) == (permanent, public)


def test_a_429_pauses_for_its_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/helpdesk/api/followups/").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "17"}))
    with pytest.raises(RateLimited) as limited:
        writer(httpserver).write_back(WriteBack(helpdesk="django_helpdesk", ticket_id="7",
                                                note="VIP"))
    assert limited.value.retry_after_s == 17


def test_no_api_password_is_a_permanent_failure_naming_the_variable(
        httpserver: HTTPServer) -> None:
    with pytest.raises(WriteBackFailed, match="DJANGO_HELPDESK_API_PASSWORD") as failed:
        writer(httpserver, password="").write_back(
            WriteBack(helpdesk="django_helpdesk", ticket_id="7", note="VIP"))
    assert failed.value.permanent and httpserver.log == []
