"""The `refresh_loyalty` job over a loyalty club's change feed (real HTTP, on SQLite and
PostgreSQL): the first tier seen of a customer is kept, a later change shows in the record as
`loyalty.previous_tier` / `tier_changed_at` and queues the person's write-back; a page read
again after a crash writes back again without counting a second change; cards of people we
do not know are counted, never created."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import delete, select

from connector.app import Services, build_services
from connector.events.worker import EventWorker
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers
from connector.jobs.config import RefreshLoyaltyJob
from connector.jobs.refresh_loyalty import refresh_loyalty
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.store.schema import feed_cursors, loyalty_tiers
from tests.jobs.fake_feeds import Feed

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
ANA = "ana.martin@example.org"
CARD = "29001234567"
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
  club:
    type: rest
    base_url: {url}
    lookup_by: [email]
    requests: [{{name: found, path: /lookup, params: {{email: "{{email}}"}}}}]
    found: "found.cards[0]"
    id: found.cards[0].card
    sections:
      loyalty: {{path: "found.cards[0]", fields: {{card: card, tier: tier, points: points}}}}
      identity: {{path: "found.cards[0]", fields: {{emails: email}}}}
    changes:
      loyalty:
        request: {{name: page, path: /changes, params: {{since: "{{since}}"}}, items: cards}}
        cursor: {{answer: cursor}}
        key: "join('|', [changed_at, card])"
        customer: {{id: card, email: email}}
"""


class Helpdesk:
    """A helpdesk that records what it is told (the real adapters are tested on their own)."""

    kind = "zendesk"

    def __init__(self) -> None:
        self.calls: list[WriteBack] = []

    def write_back(self, change: WriteBack) -> None:
        self.calls.append(change)


@pytest.fixture
def club(httpserver: HTTPServer) -> Feed:
    feed = Feed(httpserver, "/club", "cards", lambda c: f"{c['changed_at']}|{c['card']}")
    feed.add(card=CARD, email=ANA, tier="Argent", points=1500,
             changed_at="2026-11-20T10:00:00Z")
    return feed


@pytest.fixture
def services(tmp_path: Path, club: Feed, database: str | None) -> Iterator[Services]:
    (tmp_path / "shop.csv").write_text(f"email,first_name,last_name\n{ANA},Ana,Martin\n",
                                       encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(MANIFEST.format(url=club.url), encoding="utf-8")
    settings = Settings(data_dir=tmp_path, secret_key="k",  # type: ignore[arg-type]
                        database_url=database)
    built = build_services(settings, load_manifest(tmp_path / "manifest.yaml"))
    built.assembler.clock = lambda: NOW
    yield built
    built.close()


@pytest.fixture
def worker(services: Services) -> EventWorker:
    """A worker writing back to a helpdesk that saw Ana once."""
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True))
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": Helpdesk()}, {"zendesk": config})
    worker.work(TicketEvent(helpdesk="zendesk", key="evt-1", kind="ticket.created",
                            identifiers=Identifiers(emails=(ANA,)), ticket_id="1001",
                            requester_id="9001", new_request=True))
    services.writebacks.send_due(worker.writers)
    return worker


def test_a_tier_change_shows_in_the_record_and_is_written_back(
        services: Services, worker: EventWorker, club: Feed) -> None:
    first = refresh_loyalty(worker, RefreshLoyaltyJob(), now=NOW)
    assert (first["cards"], first["matched"], first["tier_changes"]) == (1, 1, 0)
    assert services.writebacks.pending() == []  # the first tier known is no change
    club.add(card=CARD, email=ANA, tier="Or", points=3100, changed_at="2026-11-22T08:00:00Z")

    counts = refresh_loyalty(worker, RefreshLoyaltyJob(), now=NOW)

    assert counts == {"sources": 1, "cards": 1, "matched": 1, "unknown": 0, "tier_changes": 1,
                      "flags_queued": 1, "incomplete": 0, "errors": 0}
    [change] = services.writebacks.pending()
    assert (change.helpdesk, change.requester_id) == ("zendesk", "9001")
    record = services.assembler.lookup(Identifiers(emails=(ANA,))).profile
    assert record is not None and record.loyalty is not None
    assert (record.loyalty.tier, record.loyalty.previous_tier, record.loyalty.tier_changed_at
            ) == ("Or", "Argent", dt.date(2026, 11, 22))


def test_a_page_read_again_writes_back_again_without_a_second_change(
        services: Services, worker: EventWorker, club: Feed) -> None:
    refresh_loyalty(worker, RefreshLoyaltyJob(), now=NOW)
    club.add(card=CARD, email=ANA, tier="Or", points=3100, changed_at="2026-11-22T08:00:00Z")
    refresh_loyalty(worker, RefreshLoyaltyJob(), now=NOW)
    services.writebacks.send_due(worker.writers)
    with services.events.engine.begin() as db:  # as if the run died before keeping its cursor
        db.execute(delete(feed_cursors))

    counts = refresh_loyalty(worker, RefreshLoyaltyJob(), now=NOW)

    assert (counts["cards"], counts["tier_changes"], counts["flags_queued"]) == (2, 0, 1)
    with services.events.engine.connect() as db:
        assert db.execute(select(loyalty_tiers.c.tier, loyalty_tiers.c.previous_tier)).all() == [
            ("Or", "Argent")]


def test_cards_of_people_we_do_not_know_are_counted_never_created(
        services: Services, worker: EventWorker, club: Feed) -> None:
    club.add(card="29009999999", email="stranger@example.org", tier="Or", points=9000,
             changed_at="2026-11-21T10:00:00Z")
    counts = refresh_loyalty(worker, RefreshLoyaltyJob(), now=NOW)
    assert (counts["cards"], counts["matched"], counts["unknown"]) == (2, 1, 1)
    with services.events.engine.connect() as db:
        assert db.execute(select(loyalty_tiers.c.external_id)).scalars().all() == [CARD]
