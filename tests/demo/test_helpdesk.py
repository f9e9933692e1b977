"""The demo helpdesk's Zendesk-shaped API (demo/helpdesk.py), and over real HTTP the demo's
whole path: an action run from the demo's sealed link on a ticket ends as an internal note on
that ticket, which the demo page lists under it."""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from connector.helpdesk.base import WriteBackFailed
from connector.helpdesk.zendesk.api import ZendeskApi
from connector.manifest.document import load_manifest
from demo.__main__ import helpdesk_env
from demo.backoffice import create_backoffice
from demo.generate import generate
from demo.helpdesk import API_AGENT_ID, API_EMAIL, API_TOKEN, PREFIX
from demo.webhooks import helpdesk_ticket_id, load_tickets
from tests.conftest import (
    MANIFEST,
    Backoffice,
    Service,
    service_env,
    start_backoffice,
    start_service,
    stop,
    until,
)

NOTE = "Retour ouvert pour la commande 997890 : Article abîmé."


def basic(email: str, token: str) -> dict[str, str]:
    """Zendesk's API token authentication: HTTP basic `{email}/token:{token}`."""
    pair = base64.b64encode(f"{email}/token:{token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


AUTH = basic(API_EMAIL, API_TOKEN)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("helpdesk") / "data", customers=60)


@pytest.fixture()
def client(small_data: Path) -> FlaskClient:
    return create_backoffice(small_data, latency_ms=(0, 0)).test_client()


def first_ticket(data: Path) -> str:
    """The first demo ticket's number in the helpdesk, as its webhook gave it."""
    return helpdesk_ticket_id(load_tickets(data)[0])


@pytest.mark.parametrize("headers", [{}, basic(API_EMAIL, "wrong"), basic("x@y.example", API_TOKEN),
                                     {"Authorization": f"Bearer {API_TOKEN}"}])
def test_the_api_refuses_a_call_without_its_token(client: FlaskClient, small_data: Path,
                                                   headers: dict[str, str]) -> None:
    number = first_ticket(small_data)
    for method, path in (("GET", f"/tickets/{number}/comments.json"),
                         ("PUT", f"/tickets/{number}.json")):
        answer = client.open(f"{PREFIX}/api/v2{path}", method=method, headers=headers,
                             json={"ticket": {"comment": {"body": "x", "public": False}}})
        assert (answer.status_code, answer.get_json()) == (
            401, {"error": "Couldn't authenticate you"})
    listed = client.get(f"{PREFIX}/api/v2/tickets/{number}/comments.json", headers=AUTH)
    assert len(listed.get_json()["comments"]) == 1  # nothing was written


def test_a_note_put_on_a_ticket_is_listed_with_its_comments(client: FlaskClient,
                                                            small_data: Path) -> None:
    ticket = load_tickets(small_data)[0]
    number = helpdesk_ticket_id(ticket)
    base = f"{PREFIX}/api/v2/tickets/{number}"
    put = client.put(f"{base}.json", headers=AUTH, json={"ticket": {
        "comment": {"body": NOTE, "public": False}, "additional_tags": ["connector_vip"]}})
    assert put.status_code == 200
    assert put.get_json()["ticket"]["tags"] == ["connector_vip"]
    listed = client.get(f"{base}/comments.json", headers=AUTH).get_json()
    assert (listed["count"], listed["next_page"]) == (2, None)
    opening, note = listed["comments"]
    assert (opening["body"], opening["public"]) == (ticket["body"], True)
    assert (note["body"], note["public"], note["author_id"]) == (NOTE, False, API_AGENT_ID)
    assert note["type"] == "Comment" and note["created_at"].endswith("Z")
    shown = client.get(f"{base}.json", headers=AUTH).get_json()["ticket"]
    assert shown["id"] == int(number) and shown["tags"] == ["connector_vip"]
    removed = client.put(f"{base}.json", headers=AUTH,
                         json={"ticket": {"remove_tags": ["connector_vip"]}})
    assert removed.get_json()["ticket"]["tags"] == []


def test_unknown_tickets_and_users_are_not_found(client: FlaskClient) -> None:
    for method, path in (("GET", "/tickets/1.json"), ("PUT", "/tickets/1.json"),
                         ("GET", "/tickets/1/comments.json"), ("GET", "/users/1.json"),
                         ("PUT", "/users/1/tags.json")):
        answer = client.open(f"{PREFIX}/api/v2{path}", method=method, headers=AUTH,
                             json={"ticket": {"comment": {"body": "x"}}, "tags": ["a"]})
        assert answer.status_code == 404, path
        assert answer.get_json()["error"] == "RecordNotFound"


def test_the_manifest_writes_back_to_zendesk_only_when_the_demo_says_so() -> None:
    """manifest.yaml's zendesk entry: unset variables keep a real install's default (no
    write-back, Zendesk's own address); the demo's point it at the demo helpdesk."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("ZENDESK_")}
    zendesk: Any = load_manifest(MANIFEST, plain).helpdesks.adapters["zendesk"]
    assert (zendesk.api_url, zendesk.write_back.enabled) == (None, False)
    demo = load_manifest(MANIFEST, {**plain, **helpdesk_env("http://127.0.0.1:8071", "t")})
    zendesk = demo.helpdesks.adapters["zendesk"]
    assert (zendesk.api_url, zendesk.api_email) == ("http://127.0.0.1:8071/zendesk", API_EMAIL)
    assert zendesk.write_back.enabled and zendesk.api_token is not None


@pytest.fixture(scope="module")
def office(demo_data: Path) -> Iterator[Backoffice]:
    running = start_backoffice(demo_data)  # its own: an action changes its orders and tickets
    yield running
    stop(running.process)


def test_the_adapters_client_writes_and_reads_notes_over_http(office: Backoffice,
                                                              demo_data: Path) -> None:
    """The product's Zendesk client, as the service builds it from the demo's variables."""
    variables = helpdesk_env(office.url, API_TOKEN)
    api = ZendeskApi(variables["ZENDESK_API_URL"], variables["ZENDESK_API_EMAIL"],
                     variables["ZENDESK_API_TOKEN"])
    number = helpdesk_ticket_id(load_tickets(demo_data)[-1])
    api.update_ticket(number, note="Vu au téléphone.")
    assert [(c["body"], c["public"]) for c in api.comments(number)][1:] == [
        ("Vu au téléphone.", False)]
    with pytest.raises(WriteBackFailed, match="refused the API credentials"):
        ZendeskApi(variables["ZENDESK_API_URL"], API_EMAIL, "wrong").comments(number)


@pytest.fixture(scope="module")
def service(demo_data: Path, office: Backoffice,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service as `python -m demo` runs it: its Zendesk adapter on the demo helpdesk."""
    env = {**service_env(demo_data, office.url, tmp_path_factory.mktemp("noted")),
           **helpdesk_env(office.url, API_TOKEN)}
    running = start_service(env)
    yield running
    stop(running.process)


class Form(HTMLParser):
    """The hidden and text fields of a page's form, as a browser sends them (an empty text
    field included)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") in ("hidden", "text") and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def notes_on(page: str) -> list[str]:
    """The internal notes the demo page lists under the ticket."""
    return [html.unescape(n) for n in re.findall(r'<div class="note__body">(.*?)</div>', page,
                                                 re.S)]


def test_an_action_run_from_a_demo_ticket_ends_as_a_note_on_it(service: Service,
                                                               demo_data: Path) -> None:
    """Ticket 1001 (Pauline's email about order 997890): the sealed link names it as a
    Zendesk ticket; the return opened from the record leaves its note there, listed by the
    demo page once the agent comes back to the ticket."""
    page = requests.get(f"{service.url}/demo", params={"ticket": "1001"}, timeout=10)
    assert page.status_code == 200 and "Notes internes" in page.text
    assert "Pas encore de note interne sur ce ticket" in page.text and notes_on(page.text) == []
    frame = html.unescape(re.search(r'<iframe src="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    record = requests.get(service.url + frame, timeout=20)  # the frame, as the browser loads it
    assert record.status_code == 200 and 'value="action:erp:open_return:997890"' in record.text
    token = parse_qs(urlsplit(frame).query)["t"][0]
    form = requests.get(f"{service.url}/helpdesk/embed/actions", timeout=10, params={
        "t": token, "lang": "fr", "source": "erp", "action": "open_return", "key": "997890"})
    assert form.status_code == 200, form.text
    fields = Form()
    fields.feed(form.text)
    sent = requests.post(f"{service.url}/helpdesk/embed/actions", timeout=10,
                         allow_redirects=False,
                         data={**fields.fields, "input.reason": "damaged"})
    assert sent.status_code == 303, sent.text

    def noted() -> list[str] | None:
        shown = requests.get(f"{service.url}/demo", params={"ticket": "1001"}, timeout=10)
        return notes_on(shown.text) or None

    assert until(noted, 30) == [NOTE]
    number = helpdesk_ticket_id(next(t for t in load_tickets(demo_data) if t["id"] == 1001))
    api = ZendeskApi(f"{service.env['ZENDESK_API_URL']}", API_EMAIL, API_TOKEN)
    assert [(c["body"], c["public"]) for c in api.comments(number)][1:] == [(NOTE, False)]
    english = requests.get(f"{service.url}/demo", params={"ticket": "1001", "lang": "en"},
                           timeout=10).text
    assert "Internal notes" in english and notes_on(english) == [NOTE]
    other = requests.get(f"{service.url}/demo", params={"ticket": "1002"}, timeout=10).text
    assert notes_on(other) == []  # the note is on the ticket it was run from, only
