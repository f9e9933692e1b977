"""The `refresh_reviews` job over a review site's change feed (real HTTP), on SQLite and
PostgreSQL, with a local fake of Zendesk's documented API: the cursor advances page by page and
survives a restart; a new negative review of a known customer puts exactly one internal note on
their ticket, even when a run dies before its cursor is kept; a reviewer we do not know is
counted, never created; a manifest without a feed makes the job a counted no-op."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from connector.app import Services, build_services
from connector.events.worker import EventWorker
from connector.helpdesk.base import TicketEvent
from connector.helpdesk.config import WriteBackConfig
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk import adapter as zendesk
from connector.identifiers import Identifiers
from connector.jobs import feeds
from connector.jobs.config import RefreshReviewsJob
from connector.jobs.refresh_reviews import refresh_reviews
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.store.schema import feed_cursors, review_alerts
from tests.helpdesk.zendesk.fake_zendesk import (
    AGENT,
    PAULINE,
    PAULINE_ZENDESK_ID,
    TOKEN,
    FakeZendesk,
)
from tests.jobs.fake_feeds import Feed

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
TODAY = "2026-11-22T08:30:00Z"
TICKET = "35436"  # the fake's ticket, requested by Pauline
SHOP = f"email,first_name,last_name\n{PAULINE},Pauline,Deneve\nleo@example.org,Léo,Petit\n"
MANIFEST = """\
version: 1
brand: {{locale: en}}
sources:
  shop:
    type: files
    path: shop.csv
    match: {{email: email}}
    sections:
      identity:
        path: "rows[0]"
        fields: {{first_name: first_name, last_name: last_name, emails: email}}
  site:
    type: rest
    label: Reviews
    base_url: {url}
    lookup_by: [email]
    requests: [{{name: found, path: /lookup, params: {{email: "{{email}}"}}}}]
    found: "found.reviews[0]"
    sections:
      reviews:
        items: found.reviews
        fields: {{site: site, rating: stars, date: published_at, title: title, url: url}}
{changes}"""
CHANGES = """\
    changes:
      reviews:
        request:
          {name: page, path: /changes, params: {since: "{since}", limit: "2"}, items: reviews}
        cursor: {last_item: "join('|', [published_at, url])"}
        key: url
        customer: {email: email}
"""


def review_cursor(review: dict[str, object]) -> str:
    return f"{review['published_at']}|{review['url']}"


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    return FakeZendesk(httpserver)


@pytest.fixture
def site(httpserver: HTTPServer) -> Feed:
    feed = Feed(httpserver, "/site", "reviews", review_cursor)
    feed.add(email=PAULINE, site="Trustpilot", stars=5, title="Parfait",
             published_at="2026-10-01T10:00:00Z", url="https://reviews.example/r/1")
    return feed


def build(folder: Path, site: Feed, changes: str = CHANGES,
          database: str | None = None) -> Services:
    (folder / "shop.csv").write_text(SHOP, encoding="utf-8")
    (folder / "manifest.yaml").write_text(MANIFEST.format(url=site.url, changes=changes),
                                          encoding="utf-8")
    settings = Settings(data_dir=folder, secret_key="k",  # type: ignore[arg-type]
                        database_url=database)
    services = build_services(settings, load_manifest(folder / "manifest.yaml"))
    services.assembler.clock = lambda: NOW
    return services


@pytest.fixture
def services(tmp_path: Path, site: Feed, database: str | None) -> Iterator[Services]:
    built = build(tmp_path, site, database=database)
    yield built
    built.close()


def worker_for(services: Services, fake: FakeZendesk) -> EventWorker:
    """The event worker writing back to the fake Zendesk, after Pauline's ticket came in."""
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=lambda: 0.0)
    config = zendesk.Config(api_url=fake.url, api_email=AGENT, api_token=TOKEN,
                            write_back=WriteBackConfig(enabled=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": zendesk.build(config, deps)}, {"zendesk": config})
    worker.work(TicketEvent(helpdesk="zendesk", key="evt-1", kind="ticket.created",
                            identifiers=Identifiers(emails=(PAULINE,)), ticket_id=TICKET,
                            requester_id=PAULINE_ZENDESK_ID, channel="email",
                            occurred_at=NOW - dt.timedelta(days=1), new_request=True))
    services.writebacks.send_due(worker.writers)
    fake.calls.clear()
    return worker


def notes_on_ticket(fake: FakeZendesk) -> list[dict[str, object]]:
    return list(fake.tickets[TICKET].get("comments", []))


def test_a_new_negative_review_notes_the_open_ticket_once_through_zendesk(
        services: Services, site: Feed, fake: FakeZendesk) -> None:
    worker = worker_for(services, fake)
    rules = RefreshReviewsJob()
    first = refresh_reviews(worker, rules, now=NOW)  # the history: one 5★ review, no alert
    assert (first["reviews"], first["matched"], first["alerts"]) == (1, 1, 0)
    services.writebacks.send_due(worker.writers)
    site.add(email=PAULINE, site="Trustpilot", stars=1, title="Colis jamais arrivé",
             published_at=TODAY, url="https://reviews.example/r/2")

    counts = refresh_reviews(worker, rules, now=NOW)

    assert counts == {"sources": 1, "reviews": 1, "answers": 0, "matched": 1, "unknown": 0,
                      "flags_queued": 1, "alerts": 1, "incomplete": 0, "errors": 0}
    assert services.writebacks.send_due(worker.writers) == 1
    [note] = notes_on_ticket(fake)
    assert note["public"] is False
    assert note["body"] == ("New review: 1/5 on Trustpilot, 22 Nov 2026\n"
                            "https://reviews.example/r/2\n"
                            "• Recent negative review — 1/5 · Trustpilot · 22 Nov 2026")
    assert "connector_negative_review" in fake.users[PAULINE_ZENDESK_ID]["tags"]
    again = refresh_reviews(worker, rules, now=NOW)
    services.writebacks.send_due(worker.writers)
    assert (again["reviews"], again["alerts"]) == (0, 0)
    assert len(notes_on_ticket(fake)) == 1


def test_the_cursor_advances_page_by_page_and_survives_a_restart(
        tmp_path: Path, services: Services, site: Feed, database: str | None) -> None:
    worker = EventWorker(services.events, services.assembler, services.writebacks, {}, {})
    services.assembler.lookup(Identifiers(emails=(PAULINE,)))  # an agent saw her once
    for n in range(2, 5):
        site.add(email=PAULINE, site="Avis", stars=4, title="Bien",
                 published_at=f"2026-11-2{n - 2}T10:00:00Z",
                 url=f"https://reviews.example/r/{n}")
    counts = refresh_reviews(worker, RefreshReviewsJob(), now=NOW)
    assert (counts["reviews"], counts["matched"], counts["flags_queued"]) == (4, 4, 0)
    last = review_cursor(site.items[-1])
    assert site.asked == ["", review_cursor(site.items[1]), last]  # two per page
    services.close()

    restarted = build(tmp_path, site, database=database)  # a new process, the same database
    try:
        worker = EventWorker(restarted.events, restarted.assembler, restarted.writebacks, {}, {})
        assert refresh_reviews(worker, RefreshReviewsJob(), now=NOW)["reviews"] == 0
        assert site.asked[-1] == last
        with restarted.events.engine.connect() as db:
            assert db.execute(select(feed_cursors.c.cursor)).scalars().all() == [last]
    finally:
        restarted.close()


def test_a_run_that_dies_before_keeping_its_cursor_reads_again_without_a_second_note(
        services: Services, site: Feed, fake: FakeZendesk,
        monkeypatch: pytest.MonkeyPatch) -> None:
    worker = worker_for(services, fake)
    refresh_reviews(worker, RefreshReviewsJob(), now=NOW)
    kept = site.asked[-1]
    site.add(email=PAULINE, site="Trustpilot", stars=1, title="Jamais arrivé",
             published_at=TODAY, url="https://reviews.example/r/9")

    def crash(*_args: object) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(feeds.FeedCursors, "save", crash)
    with pytest.raises(RuntimeError):
        refresh_reviews(worker, RefreshReviewsJob(), now=NOW)  # noted, cursor not kept
    monkeypatch.undo()

    counts = refresh_reviews(worker, RefreshReviewsJob(), now=NOW)

    # the page the dead run read, read again; then the next one
    assert site.asked[-3:] == [kept, kept, review_cursor(site.items[-1])]
    assert (counts["reviews"], counts["alerts"], counts["flags_queued"]) == (1, 0, 1)
    while services.writebacks.send_due(worker.writers):
        pass
    assert len(notes_on_ticket(fake)) == 1
    with services.events.engine.connect() as db:
        assert db.execute(select(review_alerts.c.helpdesk, review_alerts.c.ticket_id)
                          ).all() == [("zendesk", TICKET)]


def test_a_reviewer_we_do_not_know_is_counted_never_created(
        services: Services, site: Feed) -> None:
    worker = EventWorker(services.events, services.assembler, services.writebacks, {}, {})
    site.items.clear()
    site.add(email="stranger@example.org", site="Trustpilot", stars=1, title="Nul",
             published_at=TODAY, url="https://reviews.example/r/3")
    counts = refresh_reviews(worker, RefreshReviewsJob(), now=NOW)
    assert (counts["reviews"], counts["matched"], counts["unknown"]) == (1, 0, 1)
    stranger = Identifiers(emails=("stranger@example.org",))
    assert services.assembler.resolver.resolve(stranger).customer_id is None


def test_without_a_feed_the_job_does_nothing_and_says_so(tmp_path: Path, site: Feed) -> None:
    services = build(tmp_path, site, changes="")
    try:
        worker = EventWorker(services.events, services.assembler, services.writebacks, {}, {})
        counts = refresh_reviews(worker, RefreshReviewsJob(), now=NOW)
    finally:
        services.close()
    assert counts == dict.fromkeys(counts, 0) and "sources" in counts
    assert site.asked == []


def test_the_first_run_starts_where_the_manifest_says() -> None:
    from connector.sources.rest import RestChangeFeed

    feed = RestChangeFeed.model_validate({
        "request": {"name": "page", "path": "/changes", "params": {"since": "{since}"}},
        "cursor": {"answer": "cursor"}, "key": "url", "customer": {"email": "email"},
        "start": "{now}"})
    assert feed.first_cursor(NOW) == "2026-11-22T09:00:00Z"
