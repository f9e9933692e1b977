"""Zendesk's X (Twitter) and Facebook identities reach the identifiers: from the API in the
worker's `enrich`, from identity events, and from the sidebar page's POST."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer

from connector.helpdesk.base import Headers, TicketEvent
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk import adapter as zendesk
from connector.helpdesk.zendesk.api import ZendeskApi
from connector.helpdesk.zendesk.sidebar import sidebar_context
from connector.identifiers import Identifiers
from tests.helpdesk.zendesk.fake_zendesk import (
    AGENT,
    PAULINE,
    PAULINE_ZENDESK_ID,
    TOKEN,
    FakeZendesk,
    fixture,
)
from tests.helpdesk.zendesk.test_sidebar import Clock, config, deps, session, session_post

# api_show_many_identities_social.json: her email, phone, X handle, Facebook id, Google
# account, and identities that are not hers to be found by (agent_forwarding, messaging)
PAULINE_ALL = Identifiers(emails=(PAULINE, "pauline.deneve@gmail.com"),
                          phones=("+33653888890",),
                          handles=("twitter:pdeneve", "facebook:855769377321"))


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    running = FakeZendesk(httpserver)
    running.identities = json.loads(fixture("api_show_many_identities_social.json"))[
        "identities"]
    return running


def test_the_api_gives_every_identity_zendesk_documents(fake: FakeZendesk) -> None:
    found = ZendeskApi(fake.url, AGENT, TOKEN).identities(PAULINE_ZENDESK_ID, "FR")
    assert found == PAULINE_ALL


def test_an_event_naming_its_requester_by_id_is_enriched_with_her_handles(
        fake: FakeZendesk) -> None:
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=lambda: 0.0)
    adapter = zendesk.build(zendesk.Config(subdomain="maison-exemple", api_url=fake.url,
                                           api_email=AGENT, api_token=TOKEN), deps)
    event = adapter.parse_event(Headers(), fixture("event_ticket_created.json"))
    assert isinstance(event, TicketEvent) and not event.identifiers
    assert adapter.enrich(event).identifiers == PAULINE_ALL


def parse(name: str) -> TicketEvent | None:
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=lambda: dt.datetime(2024, 4, 19, 8, 5, tzinfo=dt.UTC).timestamp())
    return zendesk.build(zendesk.Config(), deps).parse_event(Headers(), fixture(name))


def test_an_identity_event_carries_the_new_identity() -> None:
    created = parse("event_user_identity_created_twitter.json")
    assert created is not None and created.kind == "customer.updated"
    assert created.requester_id == PAULINE_ZENDESK_ID
    assert created.identifiers == Identifiers(emails=(PAULINE,), handles=("twitter:pdeneve",))
    changed = parse("event_user_identity_changed.json")  # a phone, as before
    assert changed is not None and changed.identifiers == Identifiers(
        emails=(PAULINE,), phones=("+33653888890",))


def test_a_deleted_identity_no_longer_names_her() -> None:
    deleted = parse("event_user_identity_deleted_twitter.json")
    assert deleted is not None and deleted.identifiers == Identifiers(emails=(PAULINE,))


def test_the_sidebar_page_s_handles_reach_the_sealed_record() -> None:
    clock = Clock()
    answer = sidebar_context(config(), deps(clock), session_post(
        session(clock), emails=[], phones=[],
        handles=["twitter:@PDeneve", "facebook:855769377321", "@no_network", 42,
                 "twitter:not a handle"] + [f"twitter:h{n}" for n in range(20)],
        user_id=9001, ticket_id="35436"))
    assert answer.status == 200
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(answer.body)["url"]).query).items()}
    handles = deps(clock).links.read(query).identifiers.handles
    assert handles[:2] == ("twitter:pdeneve", "facebook:855769377321")
    assert len(handles) <= 10  # at most MAX_VALUES values are read, as for emails

