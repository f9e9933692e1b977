"""The scheduled jobs' work: refresh_flags writes back a flag that changed in a source with no
ticket at all; purge deletes exactly what is older than its retention; the helpdesk people the
worker remembers are erased with the customer. Real sources (files the test rewrites), real
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from connector.app import Services, build_services
from connector.customer.links import LinkStore
from connector.events.log import DONE, FAILED, PENDING, EventLog
from connector.events.worker import EventWorker
from connector.events.writeback import WriteBackQueue
from connector.helpdesk.base import TicketEvent, WriteBack
from connector.helpdesk.config import AdapterConfig, WriteBackConfig
from connector.identifiers import Identifiers
from connector.jobs.config import PurgeJob, RefreshFlagsJob
from connector.jobs.history import JobRuns
from connector.jobs.purge import purge
from connector.jobs.refresh_flags import refresh_flags
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.store.schema import choices, contacts, helpdesk_people, job_runs, writebacks
from connector.store.schema import ticket_events as events_table

ANA = "ana.martin@example.org"
LEO = "leo.petit@example.org"
SHOP = f"email,first_name,last_name\n{ANA},Ana,Martin\n{LEO},Léo,Petit\n"
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
  reviews:
    type: files
    label: Avis
    path: reviews.jsonl
    ttl_s: 3600
    match: {email: email}
    sections:
      reviews: {items: rows, fields: {site: site, rating: stars, date: date, title: title}}
"""


class Helpdesk:
    """A helpdesk that records what it is told (the real adapters are tested on their own)."""

    kind = "zendesk"

    def __init__(self) -> None:
        self.calls: list[WriteBack] = []

    def write_back(self, change: WriteBack) -> None:
        self.calls.append(change)


def write_review(folder: Path, stars: int, title: str) -> None:
    """The review feed now says this (a new file time, as a fresh export would have)."""
    path = folder / "reviews.jsonl"
    today = dt.date.today().isoformat()
    path.write_text(json.dumps({"email": ANA, "site": "Trustpilot", "stars": stars,
                                "date": today, "title": title}) + "\n", encoding="utf-8")
    stamp = path.stat().st_mtime + 5
    os.utime(path, (stamp, stamp))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    (tmp_path / "shop.csv").write_text(SHOP, encoding="utf-8")
    write_review(tmp_path, 5, "Parfait")
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    settings = Settings(data_dir=tmp_path, secret_key="k")  # type: ignore[arg-type]
    built = build_services(settings, load_manifest(tmp_path / "manifest.yaml"))
    yield built
    built.close()


def worker_writing_back(services: Services, helpdesk: Helpdesk) -> EventWorker:
    config = AdapterConfig(write_back=WriteBackConfig(enabled=True))
    return EventWorker(services.events, services.assembler, services.writebacks,
                       {"zendesk": helpdesk}, {"zendesk": config})


def ticket(number: str, requester: str = "9001", email: str = ANA) -> TicketEvent:
    return TicketEvent(helpdesk="zendesk", key=f"evt-{number}", kind="ticket.created",
                       identifiers=Identifiers(emails=(email,)), ticket_id=number,
                       requester_id=requester, channel="email", new_request=True)


def test_a_review_turned_negative_is_written_back_without_any_ticket(
        services: Services, tmp_path: Path) -> None:
    helpdesk = Helpdesk()
    worker = worker_writing_back(services, helpdesk)
    outcome = worker.work(ticket("1001"))  # the helpdesk asked about Ana once
    services.writebacks.send_due({"zendesk": helpdesk})
    assert [c.tags for c in helpdesk.calls] == [()]  # no flag then
    write_review(tmp_path, 1, "Colis jamais arrivé")  # yesterday's review, no ticket since
    cached = services.assembler.lookup(Identifiers(emails=(ANA,))).profile
    assert cached is not None and cached.flags == []  # the cache does not know yet

    counts = refresh_flags(worker, RefreshFlagsJob(pause_s=0))

    assert counts == {"people": 1, "queued": 1, "incomplete": 0, "unknown": 0, "deferred": 0}
    [change] = services.writebacks.pending()
    assert change == WriteBack(helpdesk="zendesk", requester_id="9001", ticket_id=None,
                               tags=("connector_negative_review",), tag_prefix="connector_")
    fresh = services.assembler.lookup(Identifiers(emails=(ANA,))).profile
    assert fresh is not None and fresh.customer_id == outcome.customer_id
    assert [f.key for f in fresh.flags] == ["negative_review"]


def test_a_person_whose_sources_did_not_all_answer_is_left_alone(
        services: Services, tmp_path: Path) -> None:
    worker = worker_writing_back(services, Helpdesk())
    worker.work(ticket("1002"))
    services.writebacks.send_due(worker.writers)
    (tmp_path / "reviews.jsonl").unlink()  # the feed is away: its flag may still hold
    counts = refresh_flags(worker, RefreshFlagsJob(pause_s=0))
    assert (counts["people"], counts["incomplete"], counts["queued"]) == (1, 1, 0)
    assert services.writebacks.pending() == []


def test_only_recent_people_of_helpdesks_that_write_back_are_refreshed(
        services: Services) -> None:
    helpdesk = Helpdesk()
    worker = worker_writing_back(services, helpdesk)
    worker.work(ticket("1003"))
    services.writebacks.send_due(worker.writers)
    with services.events.engine.begin() as connection:
        connection.execute(update(helpdesk_people).values(
            last_seen=dt.datetime.now(dt.UTC) - dt.timedelta(days=31)))
    assert refresh_flags(worker, RefreshFlagsJob(pause_s=0))["people"] == 0
    assert refresh_flags(worker, RefreshFlagsJob(pause_s=0, seen_days=60))["people"] == 1
    quiet = EventWorker(services.events, services.assembler, services.writebacks,
                        {"zendesk": helpdesk}, {"zendesk": AdapterConfig()})  # write-back off
    assert refresh_flags(quiet, RefreshFlagsJob(pause_s=0, seen_days=60))["people"] == 0


def test_people_are_paced_and_a_run_never_outlives_its_lease(services: Services) -> None:
    worker = worker_writing_back(services, Helpdesk())
    worker.work(ticket("1004"))
    worker.work(ticket("1005", requester="9002", email=LEO))
    worker.work(ticket("1006", requester="9003", email="nobody@example.org"))  # never resolved
    pauses: list[float] = []
    reported: list[tuple[int, int | None]] = []
    counts = refresh_flags(worker, RefreshFlagsJob(pause_s=0.25), sleep=pauses.append,
                           progress=lambda done, total: reported.append((done, total)))
    assert (counts["people"], counts["queued"], pauses) == (2, 2, [0.25])
    assert reported == [(1, 2), (2, 2)]  # each person looked up, of those to look up
    moments = iter([0.0, 1.0, 3000.0])  # the second person would start past 80 % of the lease
    counts = refresh_flags(worker, RefreshFlagsJob(lease_s=3600), clock=lambda: next(moments),
                           sleep=pauses.append)
    assert (counts["people"], counts["deferred"]) == (1, 1)
    assert refresh_flags(worker, RefreshFlagsJob(pause_s=0, max_people=1))["people"] == 1


def test_requesters_are_listed_most_recent_first_within_the_limit(tmp_path: Path) -> None:
    log = EventLog(LinkStore(f"sqlite:///{tmp_path}/people.sqlite").engine)
    for n, (helpdesk, requester, customer) in enumerate([
            ("zendesk", "1", "cus-a"), ("chatwoot", "7", "cus-a"), ("zendesk", "2", "cus-b"),
            ("zendesk", "3", "cus-c"), ("helpscout", "4", "cus-d")]):
        log.remember_requester(helpdesk, requester, customer)
        with log.engine.begin() as connection:
            connection.execute(update(helpdesk_people).where(
                helpdesk_people.c.requester_id == requester).values(
                last_seen=dt.datetime(2026, 11, 1 + n, tzinfo=dt.UTC)))
    since = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    found = log.requesters_since(since, ["zendesk", "chatwoot"], limit=2)
    assert found == {"cus-c": [("zendesk", "3")], "cus-b": [("zendesk", "2")]}
    everyone = log.requesters_since(since, ["zendesk", "chatwoot"], limit=10)
    assert everyone["cus-a"] == [("chatwoot", "7"), ("zendesk", "1")]
    log.remember_requester("zendesk", "2", "cus-e")  # merged or re-resolved: now someone else
    assert "cus-e" in log.requesters_since(since, ["zendesk"], limit=10)



NOW = dt.datetime(2026, 11, 22, 3, 30, tzinfo=dt.UTC)


def days_ago(days: int, hours: int = 0) -> dt.datetime:
    return NOW - dt.timedelta(days=days, hours=hours)


def test_purge_deletes_exactly_what_is_older_than_its_retention(store: LinkStore) -> None:
    EventLog(store.engine)
    WriteBackQueue(store.engine)
    JobRuns(store.engine)
    old, new = 1, -1  # an hour past the retention, an hour within it
    with store.engine.begin() as db:
        for n, hours in enumerate((old, new)):
            db.execute(insert(contacts).values(customer_id="cus-1", helpdesk="zendesk",
                                               ticket_id=f"t{n}", at=days_ago(730, hours)))
            db.execute(insert(helpdesk_people).values(helpdesk="zendesk", requester_id=str(n),
                                                      customer_id="cus-1",
                                                      last_seen=days_ago(365, hours)))
            db.execute(insert(job_runs).values(job="purge", holder="h", started_at=days_ago(
                90, hours), outcome="ok"))
            db.execute(insert(choices).values(helpdesk="zendesk", ticket_id=f"t{n}",
                                              customer_id="cus-1",
                                              chosen_at=days_ago(365, hours)))
            for state in (DONE, FAILED):
                db.execute(insert(events_table).values(
                    helpdesk="zendesk", key=f"{state}{n}", kind="ticket.created",
                    received_at=days_ago(40), state=state, attempts=1,
                    done_at=days_ago(30, hours)))
            db.execute(insert(writebacks).values(helpdesk="zendesk", target=f"{n}|", payload="{}",
                                                 state="failed", attempts=6,
                                                 not_before=days_ago(31),
                                                 claimed_at=days_ago(30, hours)))
        # waiting work is never purged, however old
        db.execute(insert(events_table).values(helpdesk="zendesk", key="waiting",
                                               kind="ticket.created", received_at=days_ago(99),
                                               state=PENDING, attempts=0, payload="{}"))
        db.execute(insert(writebacks).values(helpdesk="zendesk", target="w|", payload="{}",
                                             state="pending", attempts=0, not_before=days_ago(99)))
        db.execute(insert(job_runs).values(job="refresh_flags", holder="h",
                                           started_at=days_ago(99), outcome="running"))

    counts = purge(store.engine, PurgeJob(), now=NOW)

    assert counts == {"contacts": 1, "events": 2, "writebacks": 1, "requesters": 1,
                      "choices": 1, "targets": 0, "job_runs": 1, "people": 0, "links": 0,
                      "names": 0, "refusals": 0, "tiers": 0, "alerts": 0, "changes": 0,
                      "notes": 0, "audit": 0}
    with store.engine.connect() as db:
        assert db.execute(select(contacts.c.ticket_id)).scalars().all() == ["t1"]
        assert db.execute(select(helpdesk_people.c.requester_id)).scalars().all() == ["1"]
        assert db.execute(select(choices.c.ticket_id)).scalars().all() == ["t1"]
        assert sorted(db.execute(select(events_table.c.key)).scalars()) == [
            "done1", "failed1", "waiting"]
        assert sorted(db.execute(select(writebacks.c.target)).scalars()) == ["1|", "w|"]
        assert sorted(db.execute(select(job_runs.c.outcome)).scalars()) == ["ok", "running"]
    [entry] = store.audit_trail()
    assert (entry["actor"], entry["action"], entry["customer_id"]) == ("job:purge", "purge", None)
    assert entry["detail"] == ("contacts=1 events=2 writebacks=1 requesters=1 choices=1 "
                               "targets=0 job_runs=1 people=0 links=0 names=0 refusals=0 "
                               "tiers=0 alerts=0 changes=0 notes=0 audit=0")
    assert purge(store.engine, PurgeJob(), now=NOW) == dict.fromkeys(counts, 0)


def test_forget_erases_who_the_customer_is_in_each_helpdesk(store: LinkStore) -> None:
    log = EventLog(store.engine)
    log.remember_requester("zendesk", "9001", "cus-1")
    log.remember_requester("chatwoot", "17", "cus-1")
    log.remember_requester("zendesk", "9002", "cus-2")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    store.forget("cus-1", actor="test")
    assert log.requesters_since(since, ["zendesk", "chatwoot"], 10) == {
        "cus-2": [("zendesk", "9002")]}
