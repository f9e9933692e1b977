"""`refresh_reviews` with `alert: ticket`, over real HTTP, on SQLite and PostgreSQL: a 1★ review
of a known customer who has no recent ticket opens exactly one ticket in Zendesk and in
Freshdesk (local fakes of their documented Create Ticket), even when the job reads the review
again or the process restarts before it is sent; with a recent ticket it is a note, not a
ticket; a helpdesk whose adapter does not open tickets gets the tags alone (`no_ticket`). The
queue keeps a new-ticket change apart: never merged, and given up on an adapter that cannot."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import delete, select
from werkzeug import Request, Response

from connector.app import Services
from connector.events.worker import EventWorker
from connector.events.writeback import (
    FAILED,
    change_from_json,
    change_json,
    merge_changes,
    opens_tickets,
)
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.chatwoot.adapter import Chatwoot
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.django_helpdesk.adapter import DjangoHelpdesk
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.freescout.adapter import FreeScout
from connector.helpdesk.freshdesk import adapter as freshdesk
from connector.helpdesk.freshdesk.api import note_html
from connector.helpdesk.helpscout.adapter import HelpScout
from connector.helpdesk.zendesk import adapter as zendesk
from connector.identifiers import Identifiers
from connector.jobs.config import RefreshReviewsJob
from connector.jobs.refresh_reviews import alert_subject, refresh_reviews
from connector.models import Review
from connector.store.schema import feed_cursors, review_alerts
from tests.events.test_writeback import Recorder, due_now, queue
from tests.helpdesk.zendesk.fake_zendesk import (
    AGENT,
    PAULINE,
    PAULINE_ZENDESK_ID,
    TOKEN,
    FakeZendesk,
)
from tests.jobs.fake_feeds import Feed
from tests.jobs.test_refresh_reviews import NOW, TICKET, TODAY, build, review_cursor

FIXTURES = Path(__file__).parents[1] / "fixtures" / "freshdesk"
PAULINE_FRESHDESK_ID = "80012345678"  # the fixture contact
FD_KEY = "fd-api-key-for-tests"
ALERT = ("New review: 1/5 on Trustpilot, 22 Nov 2026\nhttps://reviews.example/r/2\n"
         "• Recent negative review — 1/5 · Trustpilot · 22 Nov 2026")
TICKETS = RefreshReviewsJob(alert="ticket")


@dataclass
class FakeFreshdesk:
    """Freshdesk's API v2 as write-back uses it (View/Update a contact, View/Update a ticket,
    Create a note, Create a ticket), in memory, behind the API key's basic auth; Create a
    ticket validates what the docs require (a requester, subject, description, status 2-5,
    priority 1-4) and answers 201 with the ticket."""

    server: HTTPServer
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)  # Create a ticket's bodies

    def __post_init__(self) -> None:
        contact = json.loads((FIXTURES / "api_contact.json").read_text())
        ticket = json.loads((FIXTURES / "api_ticket.json").read_text())
        self.contacts = {str(contact["id"]): contact}
        self.tickets = {str(ticket["id"]): ticket}
        self.server.expect_request(re.compile(r"^/api/v2/.*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def handle(self, request: Request) -> Response:
        key = base64.b64encode(f"{FD_KEY}:X".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {key}":
            return _json({"code": "invalid_credentials"}, 401)
        body = request.get_json(silent=True) or {}
        path, method = request.path, request.method
        if path == "/api/v2/tickets" and method == "POST":
            return self._create(body)
        if (found := re.match(r"^/api/v2/(contacts|tickets)/(\d+)$", path)) is not None:
            records = self.contacts if found.group(1) == "contacts" else self.tickets
            record = records.get(found.group(2))
            if record is None:
                return _json({"code": "access_denied"}, 404)
            record.update(body if method == "PUT" else {})
            return _json(record)
        if re.match(r"^/api/v2/tickets/\d+/notes$", path) and method == "POST":
            return _json({"id": 1, "private": body.get("private")}, 201)
        return _json({"code": "invalid_url"}, 404)

    def _create(self, body: dict[str, Any]) -> Response:
        missing = [name for name in ("subject", "description") if not body.get(name)]
        if str(body.get("requester_id")) not in self.contacts:
            missing.append("requester_id")
        if body.get("status") not in (2, 3, 4, 5) or body.get("priority") not in (1, 2, 3, 4):
            missing.append("status")
        if missing:
            return _json({"description": "Validation failed", "errors": [
                {"field": name, "code": "invalid_value"} for name in missing]}, 400)
        self.created.append(body)
        ticket = {**body, "id": 5000 + len(self.created)}
        self.tickets[str(ticket["id"])] = ticket
        return _json(ticket, 201)


@dataclass
class TicketRecorder(Recorder):
    """A helpdesk that opens tickets, as the queue sees it."""

    opens_tickets: bool = True


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")


@pytest.fixture
def site(httpserver: HTTPServer) -> Feed:
    feed = Feed(httpserver, "/site", "reviews", review_cursor)
    feed.add(email=PAULINE, site="Trustpilot", stars=5, title="Parfait",
             published_at="2026-10-01T10:00:00Z", url="https://reviews.example/r/1")
    return feed


@pytest.fixture
def services(tmp_path: Path, site: Feed, database: str | None) -> Iterator[Services]:
    built = build(tmp_path, site, database=database)
    yield built
    built.close()


def deps() -> HelpdeskDeps:
    return HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=lambda: 0.0)


def zendesk_writer(fake: FakeZendesk) -> tuple[zendesk.Zendesk, zendesk.Config]:
    config = zendesk.Config(api_url=fake.url, api_email=AGENT, api_token=TOKEN,
                            write_back=WriteBackConfig(enabled=True))
    return zendesk.build(config, deps()), config


def worker_seen(services: Services, helpdesk: str, writer: Any, config: AdapterConfig,
                ticket_id: str, requester_id: str, days_ago: int) -> EventWorker:
    """The event worker writing back to one helpdesk, after Pauline's ticket came in there
    `days_ago` days ago, and after the job read her older review (nothing left to send)."""
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {helpdesk: writer}, {helpdesk: config})
    worker.work(TicketEvent(helpdesk=helpdesk, key="evt-1", kind="ticket.created",
                            identifiers=Identifiers(emails=(PAULINE,)), ticket_id=ticket_id,
                            requester_id=requester_id, channel="email",
                            occurred_at=NOW - dt.timedelta(days=days_ago), new_request=True))
    assert refresh_reviews(worker, TICKETS, now=NOW)["alerts"] == 0  # the 5★ history
    send_all(services, worker)
    return worker


def send_all(services: Services, worker: EventWorker) -> None:
    """Send every queued change, as if each target's pacing interval had passed."""
    while True:
        due_now(services.writebacks)
        if not services.writebacks.send_due(worker.writers):
            return


def one_star(site: Feed) -> None:
    site.add(email=PAULINE, site="Trustpilot", stars=1, title="Colis jamais arrivé",
             published_at=TODAY, url="https://reviews.example/r/2")


def read_again(services: Services, worker: EventWorker) -> dict[str, int]:
    """A run that reads every review again (its cursor lost): none is alerted twice."""
    with services.events.engine.begin() as db:
        db.execute(delete(feed_cursors))
    counts = refresh_reviews(worker, TICKETS, now=NOW)
    send_all(services, worker)
    return counts


def alerts_kept(services: Services) -> list[tuple[str, str]]:
    with services.events.engine.connect() as db:
        return [tuple(row) for row in db.execute(
            select(review_alerts.c.helpdesk, review_alerts.c.ticket_id)).all()]


def created_in_zendesk(fake: FakeZendesk) -> list[dict[str, Any]]:
    return [c.body["ticket"] for c in fake.calls
            if (c.method, c.path) == ("POST", "/api/v2/tickets.json")]


def test_without_a_recent_ticket_zendesk_gets_one_new_ticket_even_across_a_restart(
        tmp_path: Path, services: Services, site: Feed, fake_zendesk: FakeZendesk,
        database: str | None) -> None:
    writer, config = zendesk_writer(fake_zendesk)
    worker = worker_seen(services, "zendesk", writer, config, TICKET, PAULINE_ZENDESK_ID,
                         days_ago=30)
    fake_zendesk.calls.clear()
    one_star(site)

    counts = refresh_reviews(worker, TICKETS, now=NOW)

    assert counts == {"sources": 1, "reviews": 1, "answers": 0, "matched": 1, "unknown": 0,
                      "flags_queued": 1, "alerts": 1, "tickets": 1, "no_ticket": 0,
                      "incomplete": 0, "errors": 0}
    services.close()  # the process dies before sending: the queued ticket survives it
    restarted = build(tmp_path, site, database=database)
    try:
        writer, config = zendesk_writer(fake_zendesk)
        worker = EventWorker(restarted.events, restarted.assembler, restarted.writebacks,
                             {"zendesk": writer}, {"zendesk": config})
        send_all(restarted, worker)
        [ticket] = created_in_zendesk(fake_zendesk)
        assert ticket == {"requester_id": int(PAULINE_ZENDESK_ID),
                          "subject": "Negative review: 1/5 on Trustpilot",
                          "comment": {"body": ALERT, "public": False},
                          "tags": ["connector_negative_review"]}
        assert "connector_negative_review" in fake_zendesk.users[PAULINE_ZENDESK_ID]["tags"]
        assert "comments" not in fake_zendesk.tickets[TICKET]  # the old ticket untouched

        assert refresh_reviews(worker, TICKETS, now=NOW)["reviews"] == 0
        again = read_again(restarted, worker)
        assert (again["reviews"], again["alerts"], again["tickets"]) == (2, 0, 0)
        assert len(created_in_zendesk(fake_zendesk)) == 1
        assert alerts_kept(restarted) == [("zendesk", "new")]
    finally:
        restarted.close()


def test_with_a_recent_ticket_it_is_a_note_not_a_new_ticket(
        services: Services, site: Feed, fake_zendesk: FakeZendesk) -> None:
    writer, config = zendesk_writer(fake_zendesk)
    worker = worker_seen(services, "zendesk", writer, config, TICKET, PAULINE_ZENDESK_ID,
                         days_ago=1)
    one_star(site)

    counts = refresh_reviews(worker, TICKETS, now=NOW)
    send_all(services, worker)

    assert (counts["alerts"], counts["tickets"], counts["no_ticket"]) == (1, 0, 0)
    assert fake_zendesk.tickets[TICKET]["comments"] == [{"body": ALERT, "public": False}]
    assert created_in_zendesk(fake_zendesk) == []
    assert alerts_kept(services) == [("zendesk", TICKET)]


def test_an_adapter_that_does_not_open_tickets_gets_the_tags_alone(
        services: Services, site: Feed, fake_zendesk: FakeZendesk) -> None:
    writer, config = zendesk_writer(fake_zendesk)
    writer.opens_tickets = False  # as Help Scout, FreeScout, Chatwoot, django-helpdesk
    worker = worker_seen(services, "zendesk", writer, config, TICKET, PAULINE_ZENDESK_ID,
                         days_ago=30)
    one_star(site)

    counts = refresh_reviews(worker, TICKETS, now=NOW)
    send_all(services, worker)

    assert (counts["alerts"], counts["tickets"], counts["no_ticket"],
            counts["flags_queued"]) == (0, 0, 1, 1)
    assert "connector_negative_review" in fake_zendesk.users[PAULINE_ZENDESK_ID]["tags"]
    assert created_in_zendesk(fake_zendesk) == []
    assert alerts_kept(services) == []
    assert not any(opens_tickets(kind) for kind in (HelpScout, FreeScout, Chatwoot,
                                                     DjangoHelpdesk))


def test_without_a_recent_ticket_freshdesk_gets_one_new_ticket(
        services: Services, site: Feed, fake_freshdesk: FakeFreshdesk) -> None:
    config = freshdesk.Config(api_key=SecretStr(FD_KEY), api_url=fake_freshdesk.url,
                              tags_on="contact", write_back=WriteBackConfig(enabled=True))
    worker = worker_seen(services, "freshdesk", freshdesk.build(config, deps()), config,
                         "4217", PAULINE_FRESHDESK_ID, days_ago=30)
    one_star(site)

    counts = refresh_reviews(worker, TICKETS, now=NOW)
    send_all(services, worker)

    assert (counts["alerts"], counts["tickets"], counts["no_ticket"]) == (1, 1, 0)
    assert fake_freshdesk.created == [{
        "requester_id": int(PAULINE_FRESHDESK_ID),
        "subject": "Negative review: 1/5 on Trustpilot", "description": note_html(ALERT),
        "status": 2, "priority": 2, "tags": ["connector_negative_review"]}]
    assert "connector_negative_review" in fake_freshdesk.contacts[PAULINE_FRESHDESK_ID]["tags"]
    again = read_again(services, worker)
    assert (again["alerts"], again["tickets"]) == (0, 0)
    assert len(fake_freshdesk.created) == 1
    assert alerts_kept(services) == [("freshdesk", "new")]


def test_the_subject_says_the_rating_and_the_site_in_the_brands_language() -> None:
    review = Review(site="Google", rating=Decimal(1), max_rating=Decimal(5))
    assert alert_subject(review, "fr") == "Avis négatif : 1/5 sur Google"
    assert alert_subject(review, "en") == "Negative review: 1/5 on Google"


def test_a_new_ticket_change_survives_json_and_is_never_merged(tmp_path: object) -> None:
    opening = WriteBack(helpdesk="zendesk", requester_id="42", tags=("connector_vip",),
                        note="first", new_ticket_subject="Negative review: 1/5 on Google")
    assert change_from_json(change_json(opening)) == opening
    flags_only = replace(opening, note=None, new_ticket_subject=None)
    assert "new_ticket_subject" not in change_json(flags_only)  # older payloads read the same
    with pytest.raises(ValueError, match="never merged"):
        merge_changes(opening, replace(opening, note="second"))

    q = queue(tmp_path)
    q.enqueue(opening)
    q.enqueue(replace(opening, note="second"))  # another review: another ticket
    q.enqueue(flags_only)
    q.enqueue(replace(flags_only, tags=("connector_detractor",)))  # merged into the one above
    assert [(c.note, c.new_ticket_subject is not None, c.tags) for c in q.pending()] == [
        ("first", True, ("connector_vip",)), ("second", True, ("connector_vip",)),
        (None, False, ("connector_detractor",))]
    recorder = TicketRecorder()
    due_now(q)
    assert q.send_due({"zendesk": recorder}) == 1  # one per target at a time
    assert [c.note for c in recorder.calls] == ["first"]


def test_a_new_ticket_change_is_given_up_where_the_adapter_cannot_open_one(
        tmp_path: object) -> None:
    q = queue(tmp_path)
    q.enqueue(WriteBack(helpdesk="zendesk", requester_id="42", note="alert",
                        new_ticket_subject="Negative review"))
    recorder = Recorder()  # no `opens_tickets`
    assert q.send_due({"zendesk": recorder}) == 0
    assert recorder.calls == [] and q.counts() == {FAILED: 1}


@pytest.fixture
def fake_zendesk(httpserver: HTTPServer) -> FakeZendesk:
    return FakeZendesk(httpserver)


@pytest.fixture
def fake_freshdesk(httpserver: HTTPServer) -> FakeFreshdesk:
    return FakeFreshdesk(httpserver)
