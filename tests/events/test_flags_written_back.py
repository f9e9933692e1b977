"""Write-back carries every flag, not the `flags.max_shown` the record displays (a VIP with
three other alerts keeps `connector_vip` in the helpdesk); the ticket being handled never
counts as its own past complaint, in the sidebar as in what the worker writes back, while it
still counts as a contact. Real files sources, real SQLite, the app in process."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.app import Services, build_services
from connector.customer.flags import evaluate_flags, shown
from connector.customer.rules import FlagRules
from connector.events.worker import EventWorker
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import Identifiers
from connector.jobs.config import RefreshFlagsJob
from connector.jobs.refresh_flags import refresh_flags
from connector.manifest import load_manifest
from connector.models import ContactEvent, CustomerProfile
from connector.settings import Settings
from connector.web import create_app

ANA = "ana.martin@example.org"  # a VIP with every other alert too
LEO = "leo.petit@example.org"  # no complaint before today's ticket
SECRET = "test-secret-key"
EVERY = ("connector_negative_review", "connector_detractor", "connector_past_complaint",
         "connector_vip")
MANIFEST = """\
version: 1
sources:
  shop:
    type: files
    path: shop.csv
    match: {email: email}
    sections:
      identity:
        path: "rows[0]"
        fields: {first_name: first_name, last_name: last_name, emails: email}
      status: {path: "rows[0]", fields: {segment: segment}}
  feedback:
    type: files
    path: feedback.jsonl
    match: {email: email}
    sections:
      reviews: {items: "rows[?site]", fields: {site: site, rating: stars, date: date}}
      surveys: {items: "rows[?kind]", fields: {kind: kind, score: score, date: date}}
  history:
    type: files
    path: contacts.jsonl
    match: {email: email}
    sections:
      contacts: {items: rows, fields: {date: at, channel: channel, reason: reason}}
"""


class Helpdesk:
    """A helpdesk that records what it is told."""

    kind = "zendesk"

    def __init__(self) -> None:
        self.calls: list[WriteBack] = []

    def write_back(self, change: WriteBack) -> None:
        self.calls.append(change)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    today = dt.date.today().isoformat()
    month_ago = f"{dt.date.today() - dt.timedelta(days=30)}T09:00:00Z"  # within the window
    (tmp_path / "shop.csv").write_text(
        f"email,first_name,last_name,segment\n{ANA},Ana,Martin,VIP\n{LEO},Léo,Petit,\n",
        encoding="utf-8")
    feedback = [{"email": ANA, "site": "Google", "stars": 1, "date": today},
                {"email": ANA, "kind": "nps", "score": 2, "date": today}]
    contacts = [{"email": ANA, "at": month_ago, "channel": "email",
                 "reason": "Réclamation colis"},
                {"email": LEO, "at": month_ago, "channel": "phone",
                 "reason": "Question produit"}]
    for name, rows in (("feedback.jsonl", feedback), ("contacts.jsonl", contacts)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows),
                                     encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "var", secret_key=SECRET,  # type: ignore[arg-type]
                        public_url="http://connector.test")
    built = build_services(settings, load_manifest(tmp_path / "manifest.yaml", env={}))
    yield built
    built.close()


def worker(services: Services, helpdesk: Helpdesk, note: bool = False) -> EventWorker:
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True, note=note))
    return EventWorker(services.events, services.assembler, services.writebacks,
                       {"zendesk": helpdesk}, {"zendesk": config})


def ticket(number: str, email: str, subject: str, kind: str = "ticket.created") -> TicketEvent:
    return TicketEvent(helpdesk="zendesk", key=f"evt-{number}-{kind}", kind=kind,  # type: ignore[arg-type]
                       identifiers=Identifiers(emails=(email,)), ticket_id=number,
                       requester_id=f"req-{email}", channel="email", subject=subject,
                       new_request=kind == "ticket.created")


def test_every_flag_is_written_back_though_three_are_shown(services: Services) -> None:
    found = services.assembler.lookup(Identifiers(emails=(ANA,)))
    assert found.profile is not None
    assert [f.key for f in found.flags] == ["negative_review", "detractor", "past_complaint",
                                            "vip"]
    assert [f.key for f in found.profile.flags] == ["negative_review", "detractor",
                                                    "past_complaint"]  # max_shown: 3
    worker(services, Helpdesk(), note=True).work(ticket("2001", ANA, "Bonjour"))
    [change] = services.writebacks.pending()
    assert change.tags == EVERY
    assert change.note is not None and change.note.count("•") == 4 and "VIP" in change.note


def test_the_refresh_job_writes_back_every_flag_too(services: Services) -> None:
    helpdesk = Helpdesk()
    job_worker = worker(services, helpdesk)
    job_worker.work(ticket("2002", ANA, "Bonjour"))
    services.writebacks.send_due({"zendesk": helpdesk})
    refresh_flags(job_worker, RefreshFlagsJob(pause_s=0))
    [change] = services.writebacks.pending()
    assert change.tags == EVERY


def test_max_shown_limits_only_the_display() -> None:
    profile = CustomerProfile(customer_id="x")
    profile.status.segment = "VIP"
    complaint = ContactEvent(date=dt.datetime(2024, 3, 2, tzinfo=dt.UTC), reason="Litige")
    rules = FlagRules(max_shown=1)
    every = evaluate_flags(profile, [complaint], rules, dt.date(2024, 3, 20), "en")
    assert [f.key for f in every] == ["past_complaint", "vip"]
    assert [f.key for f in shown(every, rules)] == ["past_complaint"]


def test_the_ticket_in_context_is_not_its_own_past_complaint() -> None:
    profile = CustomerProfile(customer_id="x")
    day = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
    this = ContactEvent(date=day, reason="Réclamation : colis abîmé")
    before = ContactEvent(date=day - dt.timedelta(days=40), reason="Plainte")
    rules, today = FlagRules(), dt.date(2024, 3, 20)
    assert evaluate_flags(profile, [this], rules, today, "en", current=[this]) == []
    [flag] = evaluate_flags(profile, [this, before], rules, today, "en", current=[this])
    assert flag.key == "past_complaint" and flag.reason.startswith("1 × Plainte")
    # the same contact seen from another ticket is a past complaint
    [other] = evaluate_flags(profile, [this, before], rules, today, "en")
    assert other.reason.startswith("2 × Réclamation")


def test_through_the_sidebar_and_the_worker_the_current_ticket_is_not_past(
        services: Services) -> None:
    helpdesk = Helpdesk()
    events = worker(services, helpdesk)
    events.work(ticket("3001", LEO, "Réclamation : colis abîmé"))  # recorded as a contact
    services.writebacks.send_due({"zendesk": helpdesk})
    assert helpdesk.calls[-1].tags == ()  # no flag then
    events.work(ticket("3001", LEO, "Réclamation : colis abîmé", kind="ticket.updated"))
    [change] = services.writebacks.pending()
    assert change.tags == ()  # still its own ticket: not a past complaint

    web = create_app(services=services).test_client()
    links = EmbedLinks(SECRET.encode(), 600, "FR")
    this = web.get(links.url("", links.token(email=LEO, ticket="3001", helpdesk="zendesk"),
                             "fr")).get_data(as_text=True)
    assert "A déjà réclamé" not in this
    lookup = services.assembler.lookup(Identifiers(emails=(LEO,)), ticket=("zendesk", "3001"))
    assert lookup.profile is not None and lookup.flags == []
    assert lookup.profile.contacts.count == 2  # it still counts as a contact
    assert lookup.profile.contacts.complaints == []

    later = web.get(links.url("", links.token(email=LEO, ticket="3002", helpdesk="zendesk"),
                              "fr")).get_data(as_text=True)
    assert "A déjà réclamé" in later  # from the next ticket, it is a past complaint
