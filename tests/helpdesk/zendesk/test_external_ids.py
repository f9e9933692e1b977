"""A Zendesk user's `external_id` (the brand's own customer number) reaches the identifiers as
`external_id_source`'s own id: from trigger templates, user events, the API in the worker's
`enrich` and the sidebar page's POST of the ZAF user's `externalId`; unset, nothing changes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer

from connector.helpdesk.base import Headers, TicketEvent
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk import adapter as zendesk
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

ERP_ID = ("erp", "C100997")


def parse(name: str | bytes, **changes: Any) -> TicketEvent | None:
    """A stored payload (or a body) read by an adapter with these manifest settings."""
    links = EmbedLinks(b"k", 600, "FR")
    stamp = dt.datetime(2024, 4, 19, 8, 5, tzinfo=dt.UTC).timestamp()
    deps_ = HelpdeskDeps(links=links, public_url="https://c.example", region="FR",
                         secret_key=b"k", render_fragment=lambda _: "", clock=lambda: stamp)
    body = fixture(name) if isinstance(name, str) else name
    return zendesk.build(zendesk.Config(**changes), deps_).parse_event(Headers(), body)


def test_a_trigger_s_requester_external_id_is_the_erp_s_own_id() -> None:
    event = parse("trigger_recommended_external_id.json", external_id_source="erp")
    assert event is not None and event.requester_id == PAULINE_ZENDESK_ID
    assert event.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",),
                                            externals=(ERP_ID,))


def test_unset_the_external_id_is_not_read_and_nothing_else_changes() -> None:
    read = parse("trigger_recommended_external_id.json", external_id_source="erp")
    unset = parse("trigger_recommended_external_id.json")
    assert read is not None and unset is not None and not unset.identifiers.externals
    assert unset == dataclasses.replace(read, identifiers=dataclasses.replace(
        read.identifiers, externals=()))


@pytest.mark.parametrize(("body", "expected"), [
    ({"ticket_id": "35439", "requester_external_id": " C100997 "}, (ERP_ID,)),
    ({"ticketId": "35439", "requesterExternalId": 100997}, (("erp", "100997"),)),
    ({"ticket": {"id": "35439", "requester_external_id": "C100997"}}, (ERP_ID,)),
    # a ticket's own external id, an unrendered placeholder, an empty or oversized value
    ({"ticket_id": "35439", "external_id": "T-88"}, ()),
    ({"ticket": {"id": "35439", "external_id": "T-88", "requester": {
        "external_id": "{{ticket.requester.external_id}}"}}}, ()),
    ({"ticket_id": "35439", "requester_external_id": "  "}, ()),
    ({"ticket_id": "35439", "requester_external_id": "C" * 65}, ()),
])
def test_flat_and_odd_templates(body: dict[str, Any], expected: tuple[Any, ...]) -> None:
    event = parse(json.dumps(body).encode(), external_id_source="erp")
    assert event is not None and event.identifiers.externals == expected


def test_a_user_event_carries_the_new_external_id() -> None:
    changed = parse("event_user_external_id_changed.json", external_id_source="erp")
    assert changed is not None and changed.kind == "customer.updated"
    assert changed.requester_id == PAULINE_ZENDESK_ID
    assert changed.identifiers == Identifiers(emails=(PAULINE,), externals=(ERP_ID,))
    unset = parse("event_user_external_id_changed.json")
    assert unset is not None and unset.identifiers == Identifiers(emails=(PAULINE,))


def test_every_user_event_s_detail_names_it_and_a_ticket_s_own_never_does() -> None:
    identity = json.loads(fixture("event_user_identity_changed.json"))
    identity["detail"]["external_id"] = "C100997"
    event = parse(json.dumps(identity).encode(), external_id_source="erp")
    assert event is not None and event.identifiers.externals == (ERP_ID,)
    ticket = json.loads(fixture("event_ticket_created.json"))
    ticket["detail"]["external_id"] = "T-88"  # the ticket's, not the requester's
    created = parse(json.dumps(ticket).encode(), external_id_source="erp")
    assert created is not None and not created.identifiers


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    running = FakeZendesk(httpserver)
    shown = json.loads(fixture("api_show_many_identities_external_id.json"))
    running.users = {str(u["id"]): u for u in shown["users"]}
    running.identities = shown["identities"]
    return running


@pytest.mark.parametrize(("source", "expected"), [("erp", (ERP_ID,)), (None, ())])
def test_the_worker_s_enrich_reads_the_user_s_external_id(
        fake: FakeZendesk, source: str | None, expected: tuple[Any, ...]) -> None:
    deps_ = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                         region="FR", secret_key=b"k", render_fragment=lambda _: "",
                         clock=lambda: 0.0)
    adapter = zendesk.build(zendesk.Config(subdomain="maison-exemple", api_url=fake.url,
                                           api_email=AGENT, api_token=TOKEN,
                                           external_id_source=source), deps_)
    event = adapter.parse_event(Headers(), fixture("event_ticket_created.json"))
    assert event is not None and not event.identifiers
    found = adapter.enrich(event).identifiers
    assert found == Identifiers(emails=(PAULINE,), phones=("+33653888890",),
                                handles=("twitter:pdeneve",), externals=expected)


@pytest.mark.parametrize(("source", "external_id", "expected"), [
    ("erp", "C100997", (ERP_ID,)),
    (None, "C100997", ()),
    ("erp", ["C100997"], ()),  # not the ZAF user's field as the page sends it
])
def test_the_sidebar_page_s_external_id_reaches_the_sealed_record(
        source: str | None, external_id: object, expected: tuple[Any, ...]) -> None:
    clock = Clock()
    answer = zendesk_answer(clock, source, external_id)
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(answer)["url"]).query).items()}
    sealed = deps(clock).links.read(query).identifiers
    assert sealed == Identifiers(emails=(PAULINE,), externals=expected)


def zendesk_answer(clock: Clock, source: str | None, external_id: object) -> str:
    """What the sidebar answers the page's POST of Pauline with this external id."""
    answer = sidebar_context(config(external_id_source=source), deps(clock), session_post(
        session(clock), emails=[PAULINE], phones=[], handles=[], external_id=external_id,
        user_id=9001, ticket_id="35436"))
    assert answer.status == 200
    return answer.body
