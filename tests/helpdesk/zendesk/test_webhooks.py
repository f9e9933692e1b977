"""Zendesk webhooks: the documented signature (test vector, tampered, stale, missing, secret
unset), both payload shapes, and the path of an event: 202 before any work, the requester's
identities asked in the worker, the contact in the customer's history, a duplicate done once —
in process, then through a real `connector serve`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from connector.app import Services, build_services
from connector.helpdesk.base import BadEvent, Headers, TicketEvent, Unauthorized
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk import adapter as zendesk
from connector.helpdesk.zendesk.webhooks import channel_of
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.web import create_app as make_app
from tests.conftest import API_TOKEN, Backoffice, service_env, start_service, stop
from tests.helpdesk.zendesk.fake_zendesk import (
    PAULINE,
    PAULINE_ZENDESK_ID,
    SECRET,
    TOKEN,
    FakeZendesk,
    fixture,
    signed,
    write_manifest,
    zendesk_entry,
)

VECTOR_BODY = b'{"type":"zen:event-type:ticket.created","detail":{"id":"35436"}}'
VECTOR_STAMP = "2024-04-17T17:18:10Z"
VECTOR_SIGNATURE = "V4IgOa0jOcycytymttFdE8yMPFsrcQXl0uyRwLVns6w="
VECTOR_TIME = dt.datetime(2024, 4, 17, 17, 18, 10, tzinfo=dt.UTC)


def adapter(webhook_secret: str | None = SECRET, at: dt.datetime = VECTOR_TIME,
            **config: object) -> zendesk.Zendesk:
    """The adapter alone, its clock stopped at `at`."""
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=lambda: at.timestamp())
    return zendesk.build(zendesk.Config(webhook_secret=webhook_secret, **config), deps)


def vector_headers(**changes: str) -> Headers:
    return Headers({"X-Zendesk-Webhook-Signature": VECTOR_SIGNATURE,
                    "X-Zendesk-Webhook-Signature-Timestamp": VECTOR_STAMP, **changes})


# --- the signature ---------------------------------------------------------------------------
def test_the_documented_test_vector_is_accepted() -> None:
    adapter().verify(vector_headers(), VECTOR_BODY)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        adapter().verify(vector_headers(), VECTOR_BODY.replace(b"35436", b"35437"))


def test_a_tampered_timestamp_is_refused() -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        adapter().verify(vector_headers(**{
            "X-Zendesk-Webhook-Signature-Timestamp": "2024-04-17T17:18:11Z"}), VECTOR_BODY)


def test_a_signature_made_over_reserialised_json_is_refused() -> None:
    pretty = json.dumps(json.loads(VECTOR_BODY)).encode()  # same data, other bytes
    with pytest.raises(Unauthorized, match="does not match"):
        adapter().verify(vector_headers(), pretty)


@pytest.mark.parametrize("offset_s", [-301, 301, 3600])
def test_a_stale_or_future_timestamp_is_refused(offset_s: int) -> None:
    late = adapter(at=VECTOR_TIME + dt.timedelta(seconds=offset_s))
    with pytest.raises(Unauthorized, match="replay window"):
        late.verify(vector_headers(), VECTOR_BODY)


def test_a_delivery_within_the_replay_window_is_accepted() -> None:
    adapter(at=VECTOR_TIME + dt.timedelta(seconds=299)).verify(vector_headers(), VECTOR_BODY)
    adapter(at=VECTOR_TIME + dt.timedelta(seconds=599),
            replay_window_s=600).verify(vector_headers(), VECTOR_BODY)


@pytest.mark.parametrize(("missing", "message"), [
    ("X-Zendesk-Webhook-Signature", "no X-Zendesk-Webhook-Signature"),
    ("X-Zendesk-Webhook-Signature-Timestamp", "no X-Zendesk-Webhook-Signature-Timestamp"),
])
def test_a_missing_header_is_refused(missing: str, message: str) -> None:
    headers = {k: v for k, v in vector_headers().items() if k != missing.lower()}
    with pytest.raises(Unauthorized, match=message):
        adapter().verify(Headers(headers), VECTOR_BODY)


def test_a_timestamp_that_is_not_iso_8601_is_refused() -> None:
    from connector.helpdesk.base import hmac_b64

    stamp = "last tuesday"
    headers = Headers({"X-Zendesk-Webhook-Signature": hmac_b64(SECRET.encode(),
                                                                stamp.encode() + VECTOR_BODY),
                       "X-Zendesk-Webhook-Signature-Timestamp": stamp})
    with pytest.raises(Unauthorized, match="not an ISO 8601"):
        adapter().verify(headers, VECTOR_BODY)


@pytest.mark.parametrize("unset", [None, ""])
def test_an_unset_secret_refuses_even_a_well_signed_request(unset: str | None) -> None:
    with pytest.raises(Unauthorized, match="set ZENDESK_WEBHOOK_SECRET"):
        adapter(webhook_secret=unset).verify(vector_headers(), VECTOR_BODY)


# --- event subscriptions ---------------------------------------------------------------------
def parse(name: str, **headers: str) -> TicketEvent | None:
    return adapter().parse_event(Headers(headers), fixture(name))


def test_a_ticket_created_event_is_a_new_request_named_by_requester_id() -> None:
    event = parse("event_ticket_created.json")
    assert event == TicketEvent(
        helpdesk="zendesk", key="event:01HNXXXX-CTEXAMPLE", kind="ticket.created",
        identifiers=Identifiers(), ticket_id="35436", requester_id=PAULINE_ZENDESK_ID,
        channel="web", subject="Colis jamais reçu", occurred_at=VECTOR_TIME, new_request=True)


def test_a_comment_is_a_message_and_other_ticket_events_are_updates() -> None:
    comment = parse("event_ticket_comment_added.json")
    status = parse("event_ticket_status_changed.json")
    assert comment is not None and status is not None
    assert (comment.kind, comment.channel, comment.new_request) == ("message.created", "email",
                                                                    False)
    assert (status.kind, status.ticket_id, status.key) == ("ticket.updated", "35436",
                                                           "event:01HNXXXX-STEXAMPLE")


def test_a_user_event_updates_the_customer_with_what_it_carries() -> None:
    event = parse("event_user_identity_changed.json")
    assert event is not None
    assert (event.kind, event.requester_id, event.ticket_id) == ("customer.updated",
                                                                 PAULINE_ZENDESK_ID, None)
    assert event.identifiers.emails == (PAULINE,)


def test_events_we_do_not_use_are_ignored() -> None:
    assert parse("event_organization_created.json") is None


def test_a_ticket_event_without_a_ticket_is_a_bad_event() -> None:
    with pytest.raises(BadEvent, match="names no ticket"):
        adapter().parse_event(Headers(), b'{"type":"zen:event-type:ticket.created","detail":{}}')


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_bad_event(body: bytes) -> None:
    with pytest.raises(BadEvent):
        adapter().parse_event(Headers(), body)


# --- trigger and automation templates -----------------------------------------------------
def test_the_recommended_template_gives_a_normalised_new_request() -> None:
    event = parse("trigger_recommended.json", **{"X-Zendesk-Webhook-Invocation-Id": "8350205582"})
    assert event is not None
    # from the signed body (retries resend it), never the unsigned invocation id
    assert event.key.startswith("ticket:35437:ticket.created:")
    again = parse("trigger_recommended.json", **{"X-Zendesk-Webhook-Invocation-Id": "other"})
    assert again is not None and again.key == event.key
    assert event.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))
    assert (event.kind, event.ticket_id, event.requester_id) == ("ticket.created", "35437",
                                                                 PAULINE_ZENDESK_ID)
    assert (event.channel, event.subject, event.new_request) == ("email", "Où est ma commande ?",
                                                                 True)
    assert event.occurred_at == dt.datetime(2024, 4, 20, 8, 41, 12, tzinfo=dt.UTC)


def test_without_an_invocation_id_the_key_is_ticket_event_and_time() -> None:
    event = parse("trigger_recommended.json")
    assert event is not None
    assert event.key == "ticket:35437:ticket.created:2024-04-20T08:41:12Z"
    assert parse("trigger_recommended.json") == event  # a retry is recognised


def test_flat_and_camel_case_keys_are_accepted() -> None:
    event = parse("trigger_flat.json")
    assert event is not None
    assert (event.kind, event.ticket_id, event.requester_id, event.channel) == (
        "ticket.created", "35438", PAULINE_ZENDESK_ID, "phone")
    assert event.identifiers == Identifiers(emails=(PAULINE,))  # the empty phone is dropped
    camel = adapter().parse_event(Headers(), json.dumps({
        "ticketId": "9", "requesterEmail": PAULINE, "event": "comment added"}).encode())
    assert camel is not None and (camel.kind, camel.ticket_id) == ("message.created", "9")


def test_a_template_without_an_event_name_is_an_update_not_a_new_request() -> None:
    event = adapter().parse_event(Headers(), json.dumps(
        {"ticket": {"id": 77, "requester": {"email": PAULINE}}}).encode())
    assert event is not None and (event.kind, event.new_request) == ("ticket.updated", False)


def test_a_template_with_its_placeholders_unrendered_is_ignored() -> None:
    assert parse("trigger_unrendered.json") is None


def test_a_body_without_anything_usable_keys_on_its_digest_or_is_ignored() -> None:
    assert adapter().parse_event(Headers(), b'{"hello": "world"}') is None
    event = adapter().parse_event(Headers(), json.dumps({"requester_email": PAULINE}).encode())
    assert event is not None and event.key.startswith("sha256:")


@pytest.mark.parametrize(("raw", "ours"), [
    ("web", "web"), ("web_form", "web"), ("Web Form", "web"), ("help_center", "web"),
    ("email", "email"), ("Mail", "email"), ("chat", "chat"), ("native_messaging", "chat"),
    ("Messaging", "chat"), ("whatsapp", "chat"), ("voice", "phone"),
    ("Phone call (inbound)", "phone"), ("Voicemail", "phone"), ("mobile_sdk", "app"),
    ("twitter", "social"), ("X Corp", "social"), ("facebook", "facebook"),
    ("Facebook Post", "facebook"), ("instagram_dm", "instagram"), ("api", "other"),
    ("Web service", "other"), ("something new", "other"), ("", None), (None, None),
])
def test_zendesk_channels_map_to_ours(raw: str | None, ours: str | None) -> None:
    assert channel_of(raw) == ours


# --- through the service, in process ---------------------------------------------------------
@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    return FakeZendesk(httpserver)


@pytest.fixture
def make_services(demo_data: Path, backoffice: Backoffice, tmp_path: Path
                  ) -> Iterator[Callable[..., Services]]:
    built: list[Services] = []

    def make(entry: dict[str, object], **env: str) -> Services:
        environment = {**service_env(demo_data, backoffice.url, tmp_path), **env}
        manifest = write_manifest(tmp_path, entry)
        settings = Settings(data_dir=tmp_path, demo_dir=demo_data,  # type: ignore[arg-type]
                            secret_key="test-secret-key", public_url="http://connector.test")
        built.append(build_services(settings, load_manifest(manifest, env=environment)))
        return built[-1]

    yield make
    for services in built:
        services.close()


SECRETS = {"ZENDESK_WEBHOOK_SECRET": SECRET, "ZENDESK_API_TOKEN": TOKEN}


def test_an_event_is_acknowledged_before_any_work_then_worked_once(
        make_services: Callable[..., Services], fake: FakeZendesk) -> None:
    services = make_services(zendesk_entry(fake.url), **SECRETS)
    client = make_app(services=services).test_client()
    body = fixture("event_ticket_created.json")
    before = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert before is not None

    answer = client.post("/helpdesk/zendesk/webhook", data=body, headers=signed(body))
    assert answer.status_code == 202 and answer.json["status"] == "accepted"
    assert fake.calls == []  # nothing asked of Zendesk before the acknowledgement
    assert services.events.state(answer.json["id"])["state"] == "pending"

    assert services.worker.run_once() == 1
    assert [(c.method, c.path, c.query) for c in fake.calls] == [
        ("GET", "/api/v2/users/show_many.json",
         {"ids": PAULINE_ZENDESK_ID, "include": "identities"})]
    row = services.events.state(answer.json["id"])
    assert row["state"] == "done" and row["customer_id"] == before.customer_id
    after = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert after is not None
    assert after.contacts.count == before.contacts.count + 1
    assert after.contacts.by_channel.get("web", 0) == before.contacts.by_channel.get("web", 0) + 1

    again = client.post("/helpdesk/zendesk/webhook", data=body, headers=signed(body))
    assert again.status_code == 202 and again.json == {"status": "duplicate",
                                                       "id": answer.json["id"]}
    assert services.worker.run_once() == 0
    final = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert final is not None and final.contacts.count == after.contacts.count


def test_a_template_event_needs_no_api_call(make_services: Callable[..., Services],
                                            fake: FakeZendesk) -> None:
    services = make_services(zendesk_entry(fake.url), **SECRETS)
    client = make_app(services=services).test_client()
    body = fixture("trigger_recommended.json")
    answer = client.post("/helpdesk/zendesk/webhook", data=body, headers=signed(
        body, **{"X-Zendesk-Webhook-Invocation-Id": "8350205582"}))
    assert answer.status_code == 202
    assert services.worker.run_once() == 1
    assert fake.calls == []  # the template carried the email and phone
    assert services.events.state(answer.json["id"])["customer_id"]


def test_without_api_credentials_a_requester_id_alone_finds_no_one(
        make_services: Callable[..., Services], fake: FakeZendesk) -> None:
    services = make_services(zendesk_entry(fake.url),
                             ZENDESK_WEBHOOK_SECRET=SECRET)  # no ZENDESK_API_TOKEN
    client = make_app(services=services).test_client()
    body = fixture("event_ticket_created.json")
    answer = client.post("/helpdesk/zendesk/webhook", data=body, headers=signed(body))
    assert answer.status_code == 202
    services.worker.run_once()
    row = services.events.state(answer.json["id"])
    assert row["state"] == "done" and row["customer_id"] is None and fake.calls == []


def test_a_requester_zendesk_no_longer_knows_finds_no_one(
        make_services: Callable[..., Services], fake: FakeZendesk) -> None:
    fake.users.clear()
    fake.identities.clear()
    services = make_services(zendesk_entry(fake.url), **SECRETS)
    event = parse("event_ticket_created.json")
    assert event is not None
    worked = services.worker.work(event)
    assert worked.customer_id is None and len(fake.calls) == 1


@pytest.mark.parametrize("env", [{}, {"ZENDESK_WEBHOOK_SECRET": ""}])
def test_with_no_secret_every_webhook_is_refused_naming_the_variable(
        make_services: Callable[..., Services], fake: FakeZendesk, env: dict[str, str]) -> None:
    services = make_services(zendesk_entry(fake.url), **env)
    client = make_app(services=services).test_client()
    body = fixture("event_ticket_created.json")
    for headers in (signed(body), {"Content-Type": "application/json"}):
        answer = client.post("/helpdesk/zendesk/webhook", data=body, headers=headers)
        assert answer.status_code == 401
        assert "ZENDESK_WEBHOOK_SECRET" in answer.json["error"]
    assert services.events.counts() == {}


def test_a_bad_signature_or_stale_delivery_is_refused_and_not_recorded(
        make_services: Callable[..., Services], fake: FakeZendesk) -> None:
    services = make_services(zendesk_entry(fake.url), **SECRETS)
    client = make_app(services=services).test_client()
    body = fixture("event_ticket_created.json")
    forged = client.post("/helpdesk/zendesk/webhook", data=body,
                         headers=signed(body, secret="not-the-secret"))
    stale = client.post("/helpdesk/zendesk/webhook", data=body, headers=signed(
        body, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)))
    unsigned = client.post("/helpdesk/zendesk/webhook", data=body,
                           headers={"Content-Type": "application/json"})
    assert [r.status_code for r in (forged, stale, unsigned)] == [401, 401, 401]
    assert "replay window" in stale.json["error"]
    assert services.events.counts() == {}


# --- through a real `connector serve` --------------------------------------------------------
def test_a_signed_event_reaches_the_customers_history_through_the_served_process(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path, fake: FakeZendesk) -> None:
    env = {**service_env(demo_data, backoffice.url, tmp_path), **SECRETS,
           "CONNECTOR_MANIFEST": str(write_manifest(tmp_path, zendesk_entry(fake.url)))}
    service = start_service(env)
    try:
        lookup = f"{service.url}/api/v1/customers/lookup"
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        before = requests.get(lookup, params={"email": PAULINE}, headers=auth, timeout=10)
        assert before.status_code == 200
        count = before.json()["contacts"]["count"]
        body = fixture("event_ticket_created.json")
        url = f"{service.url}/helpdesk/zendesk/webhook"
        answer = requests.post(url, data=body, headers=signed(body), timeout=10)
        assert answer.status_code == 202 and answer.json()["status"] == "accepted"

        contacts = wait_for(lambda: requests.get(lookup, params={"email": PAULINE}, headers=auth,
                                                 timeout=10).json()["contacts"],
                            lambda c: c["count"] == count + 1)
        assert contacts["by_channel"].get("web", 0) >= 1
        assert [c.path for c in fake.calls] == ["/api/v2/users/show_many.json"]

        again = requests.post(url, data=body, headers=signed(body), timeout=10)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        assert again.json()["id"] == answer.json()["id"]
        final = requests.get(lookup, params={"email": PAULINE}, headers=auth, timeout=10).json()
        assert final["contacts"]["count"] == count + 1
        assert len(fake.calls) == 1  # the duplicate was not worked again
    finally:
        stop(service.process)


def wait_for(read: Callable[[], dict[str, object]], done: Callable[[dict[str, object]], bool],
             seconds: float = 15) -> dict[str, object]:
    """Poll until the served process's worker has done its part."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            assert done(value), f"not done within {seconds} s: {value}"
            return value
        time.sleep(0.2)

