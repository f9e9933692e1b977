"""Chatwoot: signature vectors, the documented payloads read as events, the dashboard app
(its key, its page, the POST that yields the sealed record), webhooks worked into Pauline
Denève's history once, and write-back to a Chatwoot application API built from its docs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from flask.testing import FlaskClient

from connector.app import Services, build_services
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
from connector.helpdesk.chatwoot.adapter import Chatwoot, Config, app_key, dashboard_url
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import MANIFEST, ROOT, Backoffice, connector

FIXTURES = ROOT / "tests" / "fixtures" / "chatwoot"
PAULINE = "pauline.deneve@easiware.fr"
PAULINE_PHONE = "+33653888890"
SECRET_KEY = "test-secret-key"  # CONNECTOR_SECRET_KEY of the tests
WEBHOOK_SECRET = "chatwoot-webhook-secret-for-tests"
API_TOKEN = "chatwoot-api-token-for-tests"
CHATWOOT = "https://chat.example.com"
# HELPDESKS.md's test vector (the documented algorithm)
VECTOR_SECRET, VECTOR_STAMP = "s3cr3t", "1700000000"
VECTOR_BODY = b'{"event":"message_created","id":1}'
VECTOR_SIGNATURE = "sha256=04138dcc53323f6d45a6017e6ecde3e44d8a8fd47345498ffe2c3c7216510220"
ENTRY = {"base_url": "${CHATWOOT_URL:-https://chat.example.com}", "account_id": 1,
         "webhook_secret": "${CHATWOOT_WEBHOOK_SECRET:-}",
         "api_token": "${CHATWOOT_API_TOKEN:-}"}


# --- helpers shared with the other Chatwoot tests -------------------------------------------

def fixture(name: str) -> bytes:
    """A stored payload, byte for byte."""
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = WEBHOOK_SECRET, stamp: int | None = None,
           delivery: str | None = None) -> dict[str, str]:
    """The headers Chatwoot sends with a signed delivery."""
    when = str(int(time.time()) if stamp is None else stamp)
    digest = hmac.new(secret.encode(), when.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Chatwoot-Timestamp": when,
               "X-Chatwoot-Signature": f"sha256={digest}"}
    return {**headers, **({"X-Chatwoot-Delivery": delivery} if delivery else {})}


def write_manifest(folder: Path, entry: Mapping[str, Any] = ENTRY, write_back: bool = False
                   ) -> Path:
    """The default manifest with a `helpdesks.chatwoot` entry, written in `folder`."""
    data = yaml.safe_load(MANIFEST.read_text())
    chatwoot = dict(entry)
    if write_back:
        chatwoot["write_back"] = {"enabled": True, "tags": True, "fields": True, "note": True}
    data.setdefault("helpdesks", {})["chatwoot"] = chatwoot
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def in_process(manifest: Path, env: Mapping[str, str], var: Path) -> Services:
    """The service wired in this process from a manifest, its secrets from `env`."""
    settings = Settings(data_dir=var, demo_dir=Path(env["CONNECTOR_DEMO_DIR"]),
                        secret_key=SECRET_KEY, public_url="http://connector.test")
    return build_services(settings, load_manifest(manifest, env=env))


class FakeChatwoot:
    """Chatwoot's application API for account 1, as its swagger and controllers say:
    `api_access_token` header; labels read and replaced whole, kept only when defined in the
    account (LabelConcern); contact custom attributes merged; private messages kept.

    Served by the standard library's HTTP server: Werkzeug's development server drops headers
    with an underscore, and Chatwoot's token header has two (Puma keeps them)."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.reset()

    def reset(self, defined: tuple[str, ...] = ()) -> None:
        """Fresh state; `defined`: the account's labels (every label when empty)."""
        self.defined = set(defined) or None
        self.labels: dict[str, list[str]] = {"conversations/42": [], "conversations/43": [
            "billing"], "conversations/57": [], "contacts/205": [], "contacts/206": []}
        self.attributes: dict[str, dict[str, Any]] = {"205": {"plan": "pro"}, "206": {}}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.refusals: list[tuple[str, int, dict[str, str]]] = []  # path regex, status, headers

    def refuse(self, path: str, status: int, headers: Mapping[str, str] | None = None,
               times: int = 1) -> None:
        """Answer the next `times` calls whose path matches with this status."""
        self.refusals += [(path, status, dict(headers or {}))] * times

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, method: str, path: str, token: str | None, body: dict[str, Any]
               ) -> tuple[int, dict[str, str], Any]:
        match = re.match(r"^/api/v1/accounts/(\d+)/(.+)$", path)
        if match is None:
            return 404, {}, {"error": "not found"}
        account, path = match.groups()
        self.calls.append((method, path))
        for refusal in self.refusals:
            if re.fullmatch(refusal[0], path):
                self.refusals.remove(refusal)
                return refusal[1], refusal[2], {"error": "refused"}
        if token != API_TOKEN:
            return 401, {}, {"errors": ["You need to sign in or sign up before continuing."]}
        if account != "1":
            return 404, {}, {"error": "Account not found"}
        return self._route(method, path, body)

    def _route(self, method: str, path: str, body: dict[str, Any]
               ) -> tuple[int, dict[str, str], Any]:
        owner = path.removesuffix("/labels")
        if owner != path and owner in self.labels and method in ("GET", "POST"):
            if method == "POST":
                self.labels[owner] = [x for x in body.get("labels") or []
                                      if self.defined is None or x in self.defined]
            return 200, {}, {"payload": self.labels[owner]}
        found = re.fullmatch(r"contacts/(\d+)", path)
        if found and method == "PUT" and found.group(1) in self.attributes:
            attributes = self.attributes[found.group(1)]
            attributes.update(body.get("custom_attributes") or {})
            return 200, {}, {"payload": {"id": int(found.group(1)),
                                         "custom_attributes": attributes}}
        found = re.fullmatch(r"conversations/(\d+)/messages", path)
        if found and method == "POST" and f"conversations/{found.group(1)}" in self.labels:
            self.messages.setdefault(found.group(1), []).append(body)
            return 200, {}, {"id": 9999, "content": body.get("content"),
                             "private": body.get("private"), "message_type": 1}
        return 404, {}, {"error": "Resource could not be found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                status, headers, data = fake.answer(self.command, self.path,
                                                    self.headers.get("api_access_token"), body)
                payload = json.dumps(data).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


# --- the adapter alone -------------------------------------------------------------------

def adapter(now: float | None = None, **config: Any) -> Chatwoot:
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="http://connector.test",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=(lambda: now) if now is not None else time.time)
    return Chatwoot(Config(**config), deps)


def vector_headers(**changes: str | None) -> Headers:
    headers = {"X-Chatwoot-Timestamp": VECTOR_STAMP, "X-Chatwoot-Signature": VECTOR_SIGNATURE,
               **changes}
    return Headers({k: v for k, v in headers.items() if v is not None})


def test_the_documented_vector_is_accepted() -> None:
    digest = hmac.new(VECTOR_SECRET.encode(), f"{VECTOR_STAMP}.".encode() + VECTOR_BODY,
                      hashlib.sha256).hexdigest()
    assert f"sha256={digest}" == VECTOR_SIGNATURE  # the reference's vector, recomputed
    chatwoot = adapter(now=1_700_000_010, webhook_secret=VECTOR_SECRET)
    chatwoot.verify(vector_headers(), VECTOR_BODY)
    # a message_created without message_type is not one the customer wrote: not used
    assert chatwoot.parse_event(vector_headers(), VECTOR_BODY) is None


@pytest.mark.parametrize(("body", "headers", "now", "reason"), [
    (VECTOR_BODY.replace(b'"id":1', b'"id":2'), {}, 1_700_000_010, "does not match"),
    (VECTOR_BODY, {"X-Chatwoot-Signature": VECTOR_SIGNATURE.replace("0413", "0414")},
     1_700_000_010, "does not match"),
    (VECTOR_BODY, {"X-Chatwoot-Timestamp": "1700000001"}, 1_700_000_010, "does not match"),
    (VECTOR_BODY, {"X-Chatwoot-Signature": VECTOR_SIGNATURE.removeprefix("sha256=")},
     1_700_000_010, "does not match"),
    (VECTOR_BODY, {}, 1_700_000_000 + 301, "replay window"),
    (VECTOR_BODY, {}, 1_700_000_000 - 301, "replay window"),
    (VECTOR_BODY, {"X-Chatwoot-Signature": None}, 1_700_000_010, "carries no X-Chatwoot-Sig"),
    (VECTOR_BODY, {"X-Chatwoot-Signature": ""}, 1_700_000_010, "carries no X-Chatwoot-Sig"),
    (VECTOR_BODY, {"X-Chatwoot-Timestamp": None}, 1_700_000_010, "no valid X-Chatwoot-Time"),
    (VECTOR_BODY, {"X-Chatwoot-Timestamp": "2023-11-14T22:13:20Z"}, 1_700_000_010,
     "no valid X-Chatwoot-Time"),
])
def test_tampered_stale_or_missing_signatures_are_refused(
        body: bytes, headers: dict[str, str | None], now: float, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason):
        adapter(now=now, webhook_secret=VECTOR_SECRET).verify(vector_headers(**headers), body)


def test_an_unsigned_delivery_says_how_to_get_signatures() -> None:
    with pytest.raises(Unauthorized) as refused:
        adapter(webhook_secret=VECTOR_SECRET).verify(Headers({}), VECTOR_BODY)
    assert "4.11" in refused.value.public and "CHATWOOT_WEBHOOK_SECRET" in refused.value.public


def test_without_a_secret_every_delivery_is_refused_naming_the_variable() -> None:
    for headers in (vector_headers(), Headers({})):
        with pytest.raises(Unauthorized, match="set CHATWOOT_WEBHOOK_SECRET"):
            adapter(now=1_700_000_010).verify(headers, VECTOR_BODY)


def test_the_replay_window_is_configurable() -> None:
    late = adapter(now=1_700_000_000 + 500, webhook_secret=VECTOR_SECRET, replay_window_s=600)
    late.verify(vector_headers(), VECTOR_BODY)


# --- payload fixtures ----------------------------------------------------------------------

EXPECTED = {
    "conversation_created.json": dict(
        kind="ticket.created", new_request=True, ticket_id="42", requester_id="205",
        channel="email", identifiers=Identifiers(emails=(PAULINE,)),
        subject="Commande 997890 : où en est-elle ?",
        occurred_at=dt.datetime(2024, 7, 23, 18, 1, 48, tzinfo=dt.UTC)),
    "conversation_created_whatsapp.json": dict(
        kind="ticket.created", new_request=True, ticket_id="57", requester_id="206",
        channel="whatsapp", identifiers=Identifiers(phones=(PAULINE_PHONE,)),
        subject="Bonjour, le colis AU908764 n'est pas arrivé"),
    "message_created.json": dict(
        kind="message.created", new_request=False, ticket_id="43", requester_id="205",
        channel="chat", identifiers=Identifiers(emails=(PAULINE,)),
        occurred_at=dt.datetime(2024, 7, 23, 18, 40, 2, tzinfo=dt.UTC)),
    "conversation_updated.json": dict(
        kind="ticket.updated", new_request=False, ticket_id="43", requester_id="205",
        channel="chat", identifiers=Identifiers(emails=(PAULINE,))),
    "contact_created.json": dict(
        kind="customer.updated", ticket_id=None, requester_id="205", channel=None,
        identifiers=Identifiers(emails=(PAULINE,), phones=(PAULINE_PHONE,))),
    "contact_updated.json": dict(
        kind="customer.updated", ticket_id=None, requester_id="205",
        identifiers=Identifiers(emails=(PAULINE,), phones=(PAULINE_PHONE,))),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_documented_payloads_become_events(name: str) -> None:
    body = fixture(name)
    event = adapter().parse_event(Headers({"X-Chatwoot-Delivery": f"d-{name}"}), body)
    assert event is not None and event.helpdesk == "chatwoot"
    assert event.key == "sha256:" + hashlib.sha256(body).hexdigest()
    for field, value in EXPECTED[name].items():
        assert getattr(event, field) == value, field


@pytest.mark.parametrize("name", ["message_created_private_note.json",
                                  "conversation_updated_labels.json",
                                  "contact_updated_attributes.json", "webwidget_triggered.json"])
def test_our_own_writes_notes_and_other_events_are_ignored(name: str) -> None:
    assert adapter().parse_event(Headers({}), fixture(name)) is None


def test_the_key_is_the_signed_body_never_the_unsigned_delivery_id() -> None:
    body = fixture("conversation_created.json")
    keys = {adapter().parse_event(Headers(headers), body).key  # type: ignore[union-attr]
            for headers in ({}, {"X-Chatwoot-Delivery": "d-1"}, {"X-Chatwoot-Delivery": "d-2"})}
    assert keys == {"sha256:" + hashlib.sha256(body).hexdigest()}  # a replay stays a duplicate


def test_another_account_s_events_are_ignored() -> None:
    body = fixture("message_created.json")
    assert adapter(account_id=2).parse_event(Headers({}), body) is None
    assert adapter(account_id=1).parse_event(Headers({}), body) is not None


@pytest.mark.parametrize(("use", "identifier", "expected"), [
    ("auto", "p.deneve@example.org", Identifiers(emails=(PAULINE, "p.deneve@example.org"))),
    ("auto", "06 53 88 88 90", Identifiers(emails=(PAULINE,), phones=(PAULINE_PHONE,))),
    ("auto", "shop-customer-118", Identifiers(emails=(PAULINE,))),
    ("card", "AU-908 764", Identifiers(emails=(PAULINE,), cards=("AU908764",))),
    ("ignore", "p.deneve@example.org", Identifiers(emails=(PAULINE,))),
])
def test_the_contact_identifier_is_read_as_configured(use: str, identifier: str,
                                                      expected: Identifiers) -> None:
    data = json.loads(fixture("conversation_created.json"))
    data["meta"]["sender"]["identifier"] = identifier
    event = adapter(identifier=use).parse_event(Headers({}), json.dumps(data).encode())
    assert event is not None and event.identifiers == expected


def test_channel_names_can_be_mapped_and_unknown_ones_are_other() -> None:
    data = json.loads(fixture("conversation_created.json"))
    data["channel"] = "Channel::Api"
    assert adapter().parse_event(Headers({}), json.dumps(data).encode()).channel == "other"
    mapped = adapter(channels={"Channel::Api": "app"})
    assert mapped.parse_event(Headers({}), json.dumps(data).encode()).channel == "app"
    data["channel"] = "Channel::Carrier::Pigeon"
    assert adapter().parse_event(Headers({}), json.dumps(data).encode()).channel == "other"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"event"'])
def test_unreadable_bodies_are_bad_events(body: bytes) -> None:
    with pytest.raises(BadEvent):
        adapter().parse_event(Headers({}), body)


def test_the_manifest_entry_is_validated_with_its_path(tmp_path: Path) -> None:
    entry = {**ENTRY, "base_url": "chat.example.com", "account_id": 0, "identifier": "name",
             "colour": "blue"}
    with pytest.raises(ManifestError) as refused:
        load_manifest(write_manifest(tmp_path, entry), env={})
    lines = "\n".join(refused.value.errors)
    for path in ("helpdesks.chatwoot.base_url: ", "helpdesks.chatwoot.account_id: ",
                 "helpdesks.chatwoot.identifier: ", "helpdesks.chatwoot.colour: "):
        assert path in lines, path
    assert "e.g. https://app.chatwoot.com" in lines


def test_unset_secrets_are_none_and_chatwoot_cloud_is_the_default(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, {"webhook_secret": "${X:-}"}), env={})
    config = manifest.helpdesks.adapters["chatwoot"]
    assert isinstance(config, Config)
    assert config.webhook_secret is None and config.api_token is None
    assert config.origin == "https://app.chatwoot.com"
    assert Config(base_url="https://chat.example.com/chatwoot/").origin == CHATWOOT
    entry = {**ENTRY, "account_id": "${CHATWOOT_ACCOUNT_ID:-}"}
    for value, expected in (("3", 3), ("", None)):
        found = load_manifest(write_manifest(tmp_path, entry), env={"CHATWOOT_ACCOUNT_ID": value})
        chatwoot = found.helpdesks.adapters["chatwoot"]
        assert isinstance(chatwoot, Config) and chatwoot.account_id == expected


# --- the service in this process -------------------------------------------------------------

@pytest.fixture(scope="module")
def running_api() -> Iterator[FakeChatwoot]:
    """A local Chatwoot application API, for the module."""
    fake = FakeChatwoot()
    yield fake
    fake.stop()


@pytest.fixture()
def api(running_api: FakeChatwoot) -> FakeChatwoot:
    """The local Chatwoot API, its state fresh for the test."""
    running_api.reset()
    return running_api


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice, running_api: FakeChatwoot,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("chatwoot")
    env = {"CONNECTOR_DEMO_DIR": str(demo_data), "DEMO_BACKOFFICE_URL": backoffice.url,
           "CHATWOOT_URL": running_api.url,
           "CHATWOOT_WEBHOOK_SECRET": WEBHOOK_SECRET, "CHATWOOT_API_TOKEN": API_TOKEN}
    built = in_process(write_manifest(var, write_back=True), env, var)
    yield built
    built.close()


@pytest.fixture()
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def chatwoot_of(services: Services) -> Chatwoot:
    found = services.adapters["chatwoot"]
    assert isinstance(found, Chatwoot)
    return found


def key_of(services: Services) -> str:
    return app_key(SECRET_KEY.encode(), chatwoot_of(services).config)


def csp(response: Any) -> dict[str, str]:
    """The Content-Security-Policy's directives by name."""
    parts = [p.strip().split(" ", 1) for p in response.headers["Content-Security-Policy"]
             .split(";") if p.strip()]
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def test_the_dashboard_page_needs_the_app_key(client: FlaskClient, services: Services) -> None:
    for query in ("", "?k=", "?k=forged-key", f"?k={key_of(services)[:-1]}x"):
        page = client.get(f"/helpdesk/chatwoot/sidebar{query}")
        assert page.status_code == 401, query
        assert "chatwoot-url" in page.get_data(as_text=True)
    assert client.get(f"/helpdesk/chatwoot/sidebar?k={key_of(services)}").status_code == 200


def test_the_dashboard_page_listens_for_chatwoot_under_a_strict_policy(
        client: FlaskClient, services: Services) -> None:
    page = client.get(f"/helpdesk/chatwoot/sidebar?k={key_of(services)}&lang=fr")
    html = page.get_data(as_text=True)
    policy = csp(page)
    nonce = re.search(r"<script nonce=\"([^\"]+)\">", html)
    assert nonce is not None and policy["script-src"] == f"'nonce-{nonce.group(1)}'"
    origin = chatwoot_of(services).config.origin
    assert policy["frame-ancestors"] == f"{origin} 'self'"
    assert policy["frame-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["form-action"] == "'none'"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert '"chatwoot-dashboard-app:fetch-info"' in html
    assert "[250, 1000, 3000]" in html and "appContext" in html
    assert "En attente de la conversation Chatwoot" in html and '<html lang="fr">' in html
    settings = json.loads(re.search(r'id="chatwoot-settings">(.*?)</script>', html).group(1))
    assert settings["origin"] == origin and settings["key"] == key_of(services)
    assert settings["endpoint"] == "/helpdesk/chatwoot/sidebar" and settings["lang"] == "fr"
    english = client.get(f"/helpdesk/chatwoot/sidebar?k={key_of(services)}",
                         headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Waiting for the Chatwoot conversation" in english.get_data(as_text=True)


def seal(client: FlaskClient, **context: Any) -> Any:
    return client.post("/helpdesk/chatwoot/sidebar", data=json.dumps(context),
                       content_type="application/json")


def test_the_context_s_contact_gets_a_sealed_record(client: FlaskClient,
                                                    services: Services) -> None:
    answer = seal(client, k=key_of(services), conversation=42, email="Pauline.Deneve@Easiware.fr",
                  phone_number=None, identifier=None, lang="en")
    assert answer.status_code == 200 and answer.content_type.startswith("application/json")
    sealed = answer.get_json()
    assert sealed["ttl_s"] == 600
    url = urlsplit(sealed["url"])
    assert url.path == "/helpdesk/embed/sidebar" and not url.netloc
    assert PAULINE not in sealed["url"] and "deneve" not in sealed["url"].lower()
    context = services.embed.read({k: v[0] for k, v in parse_qs(url.query).items()})
    assert context.identifiers == Identifiers(emails=(PAULINE,))
    assert context.ticket_id == "42" and context.helpdesk == "chatwoot"
    record = client.get(sealed["url"])
    text = record.get_data(as_text=True)
    assert record.status_code == 200 and "Pauline Denève" in text and "€1,464.00" in text
    assert csp(record)["frame-ancestors"].split() == [
        "'self'", chatwoot_of(services).config.origin]


def test_the_record_the_frame_shows_is_renewed_while_it_is_valid(
        client: FlaskClient, services: Services) -> None:
    first = seal(client, k=key_of(services), conversation=42, email=PAULINE).get_json()
    assert first["renewed"] is False
    chosen = services.embed.token(email=PAULINE, customer_id="C100997", helpdesk="chatwoot")
    again = seal(client, k=key_of(services), conversation=42, email=PAULINE, renew=chosen,
                 lang="fr").get_json()
    query = {k: v[0] for k, v in parse_qs(urlsplit(again["url"]).query).items()}
    assert again["renewed"] is True and again["ttl_s"] == 600 and query["t"] != chosen
    assert services.embed.read(query).customer_id == "C100997" and query["lang"] == "fr"
    past = EmbedLinks(SECRET_KEY.encode(), 600, "FR", clock=lambda: time.time() - 601)
    for gone in (past.token(email=PAULINE, customer_id="C100997"), "forged", None):
        fallback = seal(client, k=key_of(services), conversation=42, email=PAULINE,
                        renew=gone).get_json()
        query = {k: v[0] for k, v in parse_qs(urlsplit(fallback["url"]).query).items()}
        assert fallback["renewed"] is False and services.embed.read(query).customer_id is None
        assert services.embed.read(query).identifiers == Identifiers(emails=(PAULINE,))
    assert seal(client, k="forged", renew=chosen).status_code == 401  # the key still rules


def test_a_phone_or_an_identifier_finds_her_too(client: FlaskClient, services: Services) -> None:
    for context in ({"phone_number": "+33 6 53 88 88 90"}, {"identifier": PAULINE}):
        sealed = seal(client, k=key_of(services), conversation="57", **context).get_json()
        assert "Pauline Denève" in client.get(sealed["url"]).get_data(as_text=True)


def test_a_contact_without_identifier_opens_the_search(client: FlaskClient,
                                                       services: Services) -> None:
    sealed = seal(client, k=key_of(services), conversation=7, email=None,
                  phone_number="not a phone").get_json()
    page = client.get(sealed["url"])
    assert page.status_code == 200 and 'id="q"' in page.get_data(as_text=True)
    odd = seal(client, k=key_of(services), conversation={"id": "<b>7</b>"}, email=PAULINE,
               lang={"fr": 1})
    query = parse_qs(urlsplit(odd.get_json()["url"]).query)
    assert services.embed.read({k: v[0] for k, v in query.items()}).ticket_id is None


def test_the_post_needs_the_key_and_json(client: FlaskClient, services: Services) -> None:
    assert seal(client, email=PAULINE).status_code == 401
    assert seal(client, k="forged", email=PAULINE).status_code == 401
    bad = client.post("/helpdesk/chatwoot/sidebar", data="k=x", content_type="text/plain")
    assert bad.status_code == 400


def test_bumping_the_key_version_revokes_the_old_url(services: Services) -> None:
    config = chatwoot_of(services).config
    old = app_key(SECRET_KEY.encode(), config)
    bumped = config.model_copy(update={"app_key_version": config.app_key_version + 1})
    deps = chatwoot_of(services).deps
    chatwoot = Chatwoot(bumped, deps)
    with pytest.raises(Unauthorized):
        chatwoot.sidebar_context(HttpRequest(args={"k": old}))
    fresh = app_key(SECRET_KEY.encode(), bumped)
    assert fresh != old
    assert isinstance(chatwoot.sidebar_context(HttpRequest(args={"k": fresh})), Reply)
    rotated = Chatwoot(config, dataclasses.replace(deps, secret_key=b"rotated"))
    with pytest.raises(Unauthorized):
        rotated.sidebar_context(HttpRequest(args={"k": old}))



def test_a_dashboard_app_key_expires_and_its_date_cannot_be_changed(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12 #14: the key never expired. It now carries its expiry date, under the MAC."""
    chatwoot = chatwoot_of(services)
    today = dt.datetime.now(dt.UTC).date()
    key = app_key(SECRET_KEY.encode(), chatwoot.config)
    expires, _, mac = key.partition(".")
    assert expires == (today + dt.timedelta(days=365)).strftime("%Y%m%d")
    old = app_key(SECRET_KEY.encode(), chatwoot.config, today - dt.timedelta(days=366))
    with pytest.raises(Unauthorized, match="expired on"):
        chatwoot.sidebar_context(HttpRequest(args={"k": old}))
    stretched = f"{(today + dt.timedelta(days=3650)).strftime('%Y%m%d')}.{mac}"
    with pytest.raises(Unauthorized, match="not \\(or no longer\\) valid"):
        chatwoot.sidebar_context(HttpRequest(args={"k": stretched}))
    for_ever = Chatwoot(chatwoot.config.model_copy(update={"app_key_days": 0}), chatwoot.deps)
    never = app_key(SECRET_KEY.encode(), for_ever.config)
    assert never.startswith("never.")
    assert isinstance(for_ever.sidebar_context(HttpRequest(args={"k": never})), Reply)
    with pytest.raises(Unauthorized, match="no expiry date"):
        chatwoot.sidebar_context(HttpRequest(args={"k": never}))
    ending = app_key(SECRET_KEY.encode(), chatwoot.config, today - dt.timedelta(days=350))
    with caplog.at_level("WARNING", logger="connector.helpdesk.chatwoot.adapter"):
        chatwoot.sidebar_context(HttpRequest(args={"k": ending}))
    assert any("expires on" in record.getMessage() for record in caplog.records)

def test_the_cli_prints_the_url_to_paste(env: dict[str, str], tmp_path: Path,
                                         services: Services) -> None:
    manifest = write_manifest(tmp_path)
    run = connector("chatwoot-url", "--manifest", str(manifest), "--lang", "fr",
                    env={**env, "CONNECTOR_PUBLIC_URL": "https://connector.example.com"})
    assert run.returncode == 0, run.stderr
    url = urlsplit(run.stdout.strip())
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        "https://connector.example.com/helpdesk/chatwoot/sidebar")
    query = parse_qs(url.query)
    assert query["lang"] == ["fr"] and query["k"] == [key_of(services)]
    assert run.stdout.strip() == dashboard_url("https://connector.example.com",
                                               SECRET_KEY.encode(),
                                               chatwoot_of(services).config, "fr")
    missing = connector("chatwoot-url", env={**env, "CONNECTOR_MANIFEST": str(MANIFEST)})
    if "chatwoot" not in yaml.safe_load(MANIFEST.read_text()).get("helpdesks", {}):
        assert missing.returncode == 1 and "helpdesks.chatwoot" in missing.stderr


# --- webhooks through the worker ----------------------------------------------------------------

def webhook(client: FlaskClient, name: str, delivery: str | None, stamp: int | None = None,
            body: bytes | None = None) -> Any:
    payload = fixture(name) if body is None else body
    return client.post("/helpdesk/chatwoot/webhook", data=payload,
                       headers=signed(payload, stamp=stamp, delivery=delivery))


def pauline(services: Services) -> str:
    found = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert found is not None
    return found.customer_id


def test_a_new_conversation_reaches_her_history_once_and_is_labelled(
        client: FlaskClient, services: Services, api: FakeChatwoot) -> None:
    before = len(services.events.contacts_of(pauline(services)))
    first = webhook(client, "conversation_created.json", "3f6b1a52-delivery-1")
    assert first.status_code == 202 and first.get_json()["status"] == "accepted"
    assert services.worker.run_once() == 1
    contacts = services.events.contacts_of(pauline(services))
    assert len(contacts) == before + 1
    (contact,) = [c for c in contacts if c.reason == "Commande 997890 : où en est-elle ?"]
    assert contact.channel == "email"
    assert contact.date == dt.datetime(2024, 7, 23, 18, 1, 48, tzinfo=dt.UTC)
    # Chatwoot retries with the same delivery id (signed again, later): done once
    again = webhook(client, "conversation_created.json", "3f6b1a52-delivery-1",
                    stamp=int(time.time()) + 5)
    assert again.status_code == 202 and again.get_json()["status"] == "duplicate"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert services.worker.run_once() == 0
    assert len(services.events.contacts_of(pauline(services))) == before + 1
    # written back: our labels on the conversation and the contact, her segment, a note
    profile = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert profile is not None and profile.flags
    ours = sorted(f"connector_{flag.key}" for flag in profile.flags)
    assert api.labels["conversations/42"] == ours
    assert api.labels["contacts/205"] == ours
    assert api.attributes["205"]["plan"] == "pro"  # theirs, kept
    assert api.attributes["205"]["connector_segment"] == profile.status.segment
    (note,) = api.messages["42"]
    assert note["private"] is True and note["message_type"] == "outgoing"
    assert profile.flags[0].label in note["content"]


def test_replies_and_contact_changes_refresh_without_a_contact(
        client: FlaskClient, services: Services, api: FakeChatwoot) -> None:
    before = len(services.events.contacts_of(pauline(services)))
    for name in ("message_created.json", "contact_updated.json", "conversation_updated.json"):
        answer = webhook(client, name, f"delivery-{name}")
        assert answer.status_code == 202 and answer.get_json()["status"] == "accepted", name
    assert services.worker.run_once() == 3
    assert len(services.events.contacts_of(pauline(services))) == before
    assert api.labels["contacts/205"]  # her labels, on the contact
    assert "42" not in api.messages  # no note without a new request


def test_ignored_unsigned_and_unreadable_webhooks(client: FlaskClient) -> None:
    ignored = webhook(client, "message_created_private_note.json", "note-1")
    assert ignored.status_code == 200 and ignored.get_json()["status"] == "ignored"
    body = fixture("conversation_created.json")
    unsigned = client.post("/helpdesk/chatwoot/webhook", data=body,
                           headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401 and "4.11" in unsigned.get_json()["error"]
    forged = client.post("/helpdesk/chatwoot/webhook", data=body,
                         headers=signed(body, secret="not-the-secret"))
    assert forged.status_code == 401
    stale = webhook(client, "conversation_created.json", None, stamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and "replay window" in stale.get_json()["error"]
    bad = webhook(client, "conversation_created.json", None, body=b"{not json")
    assert bad.status_code == 400


def test_without_its_secret_the_service_refuses_every_webhook(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> None:
    env = {"CONNECTOR_DEMO_DIR": str(demo_data), "DEMO_BACKOFFICE_URL": backoffice.url}
    built = in_process(write_manifest(tmp_path), env, tmp_path)
    try:
        client = create_app(services=built).test_client()
        body = fixture("conversation_created.json")
        for headers in (signed(body), signed(body, secret=""), {}):
            answer = client.post("/helpdesk/chatwoot/webhook", data=body, headers=headers)
            assert answer.status_code == 401
            assert "CHATWOOT_WEBHOOK_SECRET" in answer.get_json()["error"]
        assert built.events.counts() == {}
    finally:
        built.close()


# --- write-back, against the local Chatwoot API -----------------------------------------------

def api_adapter(api: FakeChatwoot, **config: Any) -> Chatwoot:
    return adapter(**{"base_url": api.url, "account_id": 1, "api_token": API_TOKEN, **config})


def test_labels_replace_only_ours_and_unchanged_ones_are_not_posted(api: FakeChatwoot) -> None:
    api.labels["conversations/43"] = ["billing", "connector_old_flag"]
    chatwoot = api_adapter(api)
    chatwoot.write_back(WriteBack(helpdesk="chatwoot", ticket_id="43",
                                  tags=("connector_vip", "connector_negative_review")))
    assert api.labels["conversations/43"] == [
        "billing", "connector_negative_review", "connector_vip"]
    api.calls.clear()
    chatwoot.write_back(WriteBack(helpdesk="chatwoot", ticket_id="43",
                                  tags=("connector_negative_review", "connector_vip")))
    assert api.calls == [("GET", "conversations/43/labels")]
    chatwoot.write_back(WriteBack(helpdesk="chatwoot", ticket_id="43", tags=()))
    assert api.labels["conversations/43"] == ["billing"]


def test_attributes_are_prefixed_and_merged(api: FakeChatwoot) -> None:
    api_adapter(api).write_back(WriteBack(helpdesk="chatwoot", requester_id="206",
                                          fields={"segment": "VIP", "abc_class": "A"}))
    assert api.attributes["206"] == {"connector_segment": "VIP", "connector_abc_class": "A"}
    assert ("PUT", "contacts/206") in api.calls
    assert not any(path.startswith("conversations") for _, path in api.calls)


def test_labels_chatwoot_does_not_know_are_reported(api: FakeChatwoot,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    api.reset(defined=("billing", "connector_vip"))
    api_adapter(api).write_back(WriteBack(helpdesk="chatwoot", requester_id="205",
                                          tags=("connector_vip", "connector_churn_risk")))
    assert api.labels["contacts/205"] == ["connector_vip"]
    assert "create connector_churn_risk under Settings → Labels" in caplog.text
    assert API_TOKEN not in caplog.text


def test_a_retried_change_never_posts_its_note_twice(api: FakeChatwoot) -> None:
    api.refuse(r"conversations/42/labels", 429, {"Retry-After": "7"})
    change = WriteBack(helpdesk="chatwoot", ticket_id="42", tags=("connector_vip",),
                       note="• VIP")
    with pytest.raises(RateLimited) as limited:
        api_adapter(api).write_back(change)
    assert limited.value.retry_after_s == 7
    assert api.messages == {}
    api_adapter(api).write_back(change)
    assert api.messages == {"42": [{"content": "• VIP", "message_type": "outgoing",
                                    "private": True}]}
    assert api.labels["conversations/42"] == ["connector_vip"]


@pytest.mark.parametrize(("status", "permanent", "says"), [
    (401, True, "CHATWOOT_API_TOKEN"), (403, True, "CHATWOOT_API_TOKEN"),
    (404, True, "does not know"), (422, True, "refused"), (500, False, "retry"),
    (503, False, "retry"),
])
def test_refusals_are_classified_once(api: FakeChatwoot, status: int, permanent: bool,
                                      says: str) -> None:
    api.refuse(r".*", status)
    with pytest.raises(WriteBackFailed) as failed:
        api_adapter(api).write_back(WriteBack(helpdesk="chatwoot", requester_id="205",
                                              tags=("connector_vip",)))
    assert failed.value.permanent is permanent and says in failed.value.public
    assert API_TOKEN not in failed.value.public


def test_a_429_without_retry_after_waits_a_minute(api: FakeChatwoot) -> None:
    api.refuse(r".*", 429)
    with pytest.raises(RateLimited) as limited:
        api_adapter(api).write_back(WriteBack(helpdesk="chatwoot", ticket_id="42"))
    assert limited.value.retry_after_s == 60


def test_a_wrong_token_is_refused_for_good(api: FakeChatwoot) -> None:
    with pytest.raises(WriteBackFailed) as failed:
        api_adapter(api, api_token="wrong").write_back(
            WriteBack(helpdesk="chatwoot", ticket_id="42", tags=("connector_vip",)))
    assert failed.value.permanent and "CHATWOOT_API_TOKEN" in failed.value.public
    assert api.labels["conversations/42"] == []


def test_write_back_needs_a_token_and_an_account(api: FakeChatwoot) -> None:
    change = WriteBack(helpdesk="chatwoot", ticket_id="42", tags=("connector_vip",))
    with pytest.raises(WriteBackFailed, match="CHATWOOT_API_TOKEN") as failed:
        api_adapter(api, api_token=None).write_back(change)
    assert failed.value.permanent
    with pytest.raises(WriteBackFailed, match="account_id"):
        api_adapter(api, account_id=None).write_back(change)
    with pytest.raises(WriteBackFailed, match="not a Chatwoot id"):
        api_adapter(api).write_back(WriteBack(helpdesk="chatwoot", ticket_id="../admin"))
    assert api.calls == []


def test_chatwoot_unreachable_is_retried() -> None:
    chatwoot = adapter(base_url="http://127.0.0.1:9", account_id=1, api_token=API_TOKEN)
    with pytest.raises(WriteBackFailed) as failed:
        chatwoot.write_back(WriteBack(helpdesk="chatwoot", ticket_id="42"))
    assert not failed.value.permanent


def test_an_oversized_timestamp_is_refused_not_a_500() -> None:
    body = fixture("conversation_created.json")
    headers = Headers(signed(body, stamp=10**20))  # signed, but past any calendar
    with pytest.raises(Unauthorized, match="no valid X-Chatwoot-Timestamp"):
        adapter(webhook_secret=WEBHOOK_SECRET).verify(headers, body)
    data = json.loads(body)
    data["conversation"] = {**data.get("conversation", {}), "created_at": 10**20}
    data["created_at"] = 10**20
    event = adapter().parse_event(Headers({}), json.dumps(data).encode())
    assert event is None or event.occurred_at is None or event.occurred_at.year < 10_000
