"""`refresh_reviews` and `refresh_loyalty` run for real over a private demo back office (its
own copy of the demo data: tier changes are written to the loyalty database) with the shipped
manifest: a review posted through `POST /_admin/reviews` and a tier moved through
`POST /_admin/loyalty` are picked up at the next run, matched to the customer an agent looked
up, and written back (the review with its note on the customer's ticket)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from connector.app import Services
from connector.events.worker import EventWorker
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers
from connector.jobs.refresh_loyalty import refresh_loyalty
from connector.jobs.refresh_reviews import refresh_reviews
from tests.conftest import MANIFEST, Backoffice, service_env, start_backoffice, stop
from tests.helpdesk.scouts import in_process


@dataclass
class Demo:
    office: Backoffice
    services: Services
    worker: EventWorker
    email: str
    card: str
    tier: str


class Helpdesk:
    """A helpdesk that records what it is told (the real adapters are tested on their own)."""

    kind = "zendesk"

    def __init__(self) -> None:
        self.calls: list[WriteBack] = []

    def write_back(self, change: WriteBack) -> None:
        self.calls.append(change)


def a_member(data: Path) -> tuple[str, str, str]:
    """A card holder whose email is one ERP customer's: (email, card, tier)."""
    customers = json.loads((data / "erp.json").read_text(encoding="utf-8"))["customers"]
    emails = [c["email"].lower() for c in customers]
    with sqlite3.connect(data / "loyalty.sqlite") as db:
        members = db.execute("SELECT email, card, tier FROM members ORDER BY card").fetchall()
    db.close()
    return next((e.lower(), card, tier) for e, card, tier in members
                if e and emails.count(e.lower()) == 1)


@pytest.fixture
def demo(demo_data: Path, tmp_path: Path) -> Iterator[Demo]:
    data = tmp_path / "demo"
    shutil.copytree(demo_data, data)
    office = start_backoffice(data)
    services = in_process(MANIFEST, service_env(data, office.url, tmp_path / "var"),
                          tmp_path / "var")
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": Helpdesk()},
                         {"zendesk": AdapterConfig(write_back=WriteBackConfig(enabled=True))})
    email, card, tier = a_member(data)
    worker.work(TicketEvent(helpdesk="zendesk", key="evt-1", kind="ticket.created",
                            identifiers=Identifiers(emails=(email,)), ticket_id="501",
                            requester_id="77", channel="email", new_request=True))
    services.writebacks.send_due(worker.writers)
    try:
        yield Demo(office, services, worker, email, card, tier)
    finally:
        services.close()
        stop(office.process)


def test_a_review_posted_to_the_demo_is_picked_up_and_noted(demo: Demo) -> None:
    rules = demo.services.manifest.jobs.refresh_reviews
    assert refresh_reviews(demo.worker, rules)["reviews"] == 0  # the first run starts now
    url = "https://fr.trustpilot.com/reviews/test-feed-job"
    requests.post(f"{demo.office.url}/_admin/reviews", timeout=5, json={
        "email": demo.email, "site": "Trustpilot", "stars": 1, "title": "Très déçue",
        "text": "Commande incomplète.", "url": url}).raise_for_status()

    counts = refresh_reviews(demo.worker, rules)

    assert (counts["reviews"], counts["matched"], counts["alerts"], counts["errors"]) == (
        1, 1, 1, 0)
    [change] = demo.services.writebacks.pending()
    assert (change.requester_id, change.ticket_id) == ("77", "501")
    assert change.note is not None and "1/5" in change.note and url in change.note
    assert "connector_negative_review" in change.tags


def test_a_tier_moved_in_the_demo_is_picked_up_and_written_back(demo: Demo) -> None:
    rules = demo.services.manifest.jobs.refresh_loyalty
    assert refresh_loyalty(demo.worker, rules)["cards"] == 0
    tier = "Or" if demo.tier != "Or" else "Argent"
    requests.post(f"{demo.office.url}/_admin/loyalty", timeout=5,
                  json={"card": demo.card, "tier": tier}).raise_for_status()

    counts = refresh_loyalty(demo.worker, rules)

    assert (counts["cards"], counts["matched"], counts["tier_changes"],
            counts["flags_queued"]) == (1, 1, 1, 1)
    record = demo.services.assembler.lookup(Identifiers(emails=(demo.email,))).profile
    assert record is not None and record.loyalty is not None
    assert (record.loyalty.tier, record.loyalty.previous_tier) == (tier, demo.tier)
    assert record.loyalty.tier_changed_at is not None


def test_a_detractor_answer_given_in_the_demo_is_noticed_like_a_review(demo: Demo) -> None:
    """The survey feed is read by the same job, with its own cursor: a 2/10 NPS answer from a
    customer an agent looked up raises `detractor`, and their ticket gets its note."""
    rules = demo.services.manifest.jobs.refresh_reviews
    assert refresh_reviews(demo.worker, rules)["answers"] == 0  # the first run starts now
    requests.post(f"{demo.office.url}/_admin/surveys", timeout=5, json={
        "email": demo.email, "type": "nps", "score": 2,
        "comment": "Plus jamais."}).raise_for_status()

    counts = refresh_reviews(demo.worker, rules)

    assert (counts["answers"], counts["reviews"], counts["matched"], counts["alerts"]) == (
        1, 0, 1, 1)
    [change] = demo.services.writebacks.pending()
    assert change.ticket_id == "501" and change.note is not None
    assert change.note.startswith("Nouvelle réponse à l'enquête NPS : 2/10")
    assert "Plus jamais." in change.note and "connector_detractor" in change.tags
    again = refresh_reviews(demo.worker, rules)
    assert (again["answers"], again["alerts"]) == (0, 0)  # read once, noted once
