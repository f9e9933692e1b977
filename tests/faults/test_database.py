"""The database as a dependency that fails: `connector serve` on PostgreSQL through a proxy the
test owns (tests/faults/proxy.py), which refuses or hangs while every source stays up.

- refused: sidebars render from the sources, marked "identity not checked" (a contact several
  people may share gets the page saying identity cannot be checked: never a guess); webhooks
  answer 503 with Retry-After and nothing is acknowledged; /readyz is 503, /healthz 200;
- hung (TCP accepted, nothing answered): the same, within the timeouts, and /healthz answers
  at once while requests wait on the database;
- back: sidebars and webhooks work again within 5 s;
- events: an event whose database failed under it is given back, or its outcome written, as
  soon as the database answers (not after its lease), and worked once; a worker that stops
  gives back what it holds.
The shared PostgreSQL server is never stopped: only the proxy fails.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from connector.customer.links import LinkStore
from connector.events.log import DONE, PENDING, EventLog
from connector.events.worker import Outcome
from connector.helpdesk.base import TicketEvent
from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import Identifiers
from connector.store.guard import GRACE_S, Limits, unavailable
from connector.store.schema import ticket_events
from tests.conftest import (
    ADMIN_TOKEN,
    API_TOKEN,
    POSTGRES,
    Backoffice,
    Service,
    drop_schema,
    postgres_url,
    service_env,
    start_service,
    stop,
)
from tests.events.test_burst import Scripted
from tests.faults.proxy import HANG, PASS, REFUSE, Proxy

SECRET = "faults-helpscout-secret"
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE = "pauline.deneve@easiware.fr"
HOUSEHOLD_LANDLINE = "05 33 57 82 19"  # two people of the demo share it
UNCHECKED = "Identité non vérifiée"
CANNOT_CHECK = "Identité non vérifiable"
TIMEOUTS = {"CONNECTOR_DB_TIMEOUT_S": "1", "CONNECTOR_DB_STATEMENT_TIMEOUT_S": "2",
            "CONNECTOR_DB_RETRY_S": "0.5"}
# hung: a pooled connection's ping (1 s), then connecting (psycopg's 2 s at least), then the
# sources; and a statement under way: 2 s + its 1 s grace
HUNG_BOUND_S = 8.0
RECOVERY_S = 5.0
TICKETS = itertools.count(990001)


def proxied(schema: str, proxy: Proxy) -> str:
    """The schema's URL, through the proxy."""
    return (f"{POSTGRES}?options=-csearch_path%3D{schema}"
            .replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"))


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    running = Proxy()
    yield running
    running.close()


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    name = "connector_faults_" + uuid.uuid4().hex[:10]
    postgres_url(name)
    yield name
    drop_schema(name)


@pytest.fixture(scope="module")
def served(proxy: Proxy, schema: str, demo_data: Path, backoffice: Backoffice,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`connector serve` whose database is behind the proxy (its own schema)."""
    env = {**service_env(demo_data, backoffice.url, tmp_path_factory.mktemp("var")),
           "CONNECTOR_DATABASE_URL": proxied(schema, proxy),
           "HELPSCOUT_WEBHOOK_SECRET": SECRET, **TIMEOUTS}
    running = start_service(env)
    yield running
    stop(running.process)


@pytest.fixture
def database(proxy: Proxy, served: Service) -> Iterator[Proxy]:
    """The proxy, forwarding again after the test (and the service recovered)."""
    proxy.set(PASS)
    yield proxy
    proxy.set(PASS)
    until(lambda: sidebar(served, email=PAULINE).status_code == 200
          and UNCHECKED not in sidebar(served, email=PAULINE).text, RECOVERY_S)


# ---- the service ------------------------------------------------------------------------

def sidebar(service: Service, **ids: str) -> requests.Response:
    return requests.get(LINKS.url(service.url, LINKS.token(**ids)), timeout=15)


def webhook(service: Service) -> requests.Response:
    """A new Help Scout conversation from Pauline, signed (each call another ticket)."""
    number = next(TICKETS)
    body = json.dumps({
        "id": number, "number": number, "type": "email", "subject": "Où en est ma commande ?",
        "createdAt": "2026-11-22T10:00:00Z", "source": {"type": "email", "via": "customer"},
        "primaryCustomer": {"id": 5, "email": PAULINE},
        "createdBy": {"id": 5, "type": "customer", "email": PAULINE}}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha1).digest())
    return requests.post(f"{service.url}/helpdesk/helpscout/webhook", data=body, timeout=15,
                         headers={"X-HelpScout-Signature": signature.decode(),
                                  "X-HelpScout-Event": "convo.created",
                                  "Content-Type": "application/json"})


def until(condition: Callable[[], bool], seconds: float) -> float:
    """Wait for a condition (polled); how long it took. Fails past `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if condition():
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s")


def visible(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html).replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text)


def customers(data: Path, count: int) -> list[str]:
    people = json.loads((data / "erp.json").read_text())["customers"]
    return [p["email"] for p in people[:count]]


def recovered(service: Service) -> float:
    """Seconds until a sidebar is checked again and a webhook acknowledged."""
    return until(lambda: UNCHECKED not in (page := sidebar(service, email=PAULINE)).text
                 and page.status_code == 200 and webhook(service).status_code == 202,
                 RECOVERY_S)


def assert_unavailable_behaviour(service: Service, data: Path) -> None:
    """What the service answers while its database is down (refused or hung)."""
    page = sidebar(service, email=PAULINE)
    assert page.status_code == 200, page.status_code
    text = visible(page.text)
    assert UNCHECKED in text and "Pauline Denève" in text and "997890" in text
    assert "Repères indisponibles" in text and 'name="text"' not in page.text  # no notes form
    several = sidebar(service, phone=HOUSEHOLD_LANDLINE)  # never a guess between two people
    assert several.status_code == 503 and CANNOT_CHECK in visible(several.text)
    assert several.headers["Retry-After"]
    for email in customers(data, 4):
        assert sidebar(service, email=email).status_code in (200, 404, 503)
    record = requests.get(f"{service.url}/api/v1/customers/lookup", params={"email": PAULINE},
                          headers=AUTH, timeout=15)
    assert record.status_code == 200
    assert record.json()["identity_checked"] is False and record.json()["customer_id"] == ""
    assert "notes" in record.json()["unavailable"]
    for _ in range(3):
        answer = webhook(service)
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        assert answer.json()["error"] == "database_unavailable"
    ready = requests.get(f"{service.url}/readyz", timeout=15)
    assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
    assert requests.get(f"{service.url}/healthz", timeout=2).status_code == 200


def events_recorded(service: Service) -> int:
    events = requests.get(f"{service.url}/admin/health.json", auth=("admin", ADMIN_TOKEN),
                          timeout=10).json()["events"]
    return sum(events.values())


def test_a_refused_database_leaves_the_sidebar_to_the_sources_and_acknowledges_nothing(
        served: Service, database: Proxy, demo_data: Path) -> None:
    assert sidebar(served, email=PAULINE).status_code == 200  # known, linked, before
    assert requests.get(f"{served.url}/readyz", timeout=10).json()["status"] == "ready"
    before = events_recorded(served)
    database.set(REFUSE)
    assert_unavailable_behaviour(served, demo_data)
    database.set(PASS)
    assert recovered(served) <= RECOVERY_S
    assert requests.get(f"{served.url}/readyz", timeout=10).status_code == 200
    assert events_recorded(served) == before + 1  # the one acknowledged after it came back
    page = visible(sidebar(served, email=PAULINE).text)
    assert UNCHECKED not in page and "Repères indisponibles" not in page


def test_a_hung_database_is_waited_on_within_the_timeouts_and_healthz_stays_prompt(
        served: Service, database: Proxy, demo_data: Path) -> None:
    assert sidebar(served, email=PAULINE).status_code == 200  # a pooled connection to hang
    database.set(HANG)
    with ThreadPoolExecutor(4) as pool:
        waiting = [pool.submit(sidebar, served, email=PAULINE) for _ in range(3)]
        waiting.append(pool.submit(webhook, served))
        started = time.monotonic()
        assert requests.get(f"{served.url}/healthz", timeout=2).status_code == 200
        assert time.monotonic() - started < 1.0
        answers = [future.result() for future in waiting]
    assert time.monotonic() - started < HUNG_BOUND_S
    assert [a.status_code for a in answers] == [200, 200, 200, 503]
    assert all(UNCHECKED in a.text for a in answers[:3])
    started = time.monotonic()
    assert_unavailable_behaviour(served, demo_data)
    assert time.monotonic() - started < 3 * HUNG_BOUND_S  # each wait bounded, most at once
    database.set(PASS)
    assert recovered(served) <= RECOVERY_S


# ---- the event worker -------------------------------------------------------------------

@pytest.fixture
def events(proxy: Proxy) -> Iterator[tuple[EventLog, Proxy, sqlalchemy.Engine]]:
    """An event log through the proxy (a schema of its own: no served worker takes its
    events), and a direct look at its table."""
    proxy.set(PASS)
    schema = "connector_faults_events_" + uuid.uuid4().hex[:10]
    postgres_url(schema)
    store = LinkStore(proxied(schema, proxy), Limits(timeout_s=1, statement_timeout_s=2,
                                                     retry_s=0.2))
    direct = sqlalchemy.create_engine(f"{POSTGRES}?options=-csearch_path%3D{schema}")
    yield EventLog(store.engine), proxy, direct
    proxy.set(PASS)
    store.engine.dispose()
    direct.dispose()
    drop_schema(schema)


def ticket(key: str) -> TicketEvent:
    return TicketEvent(helpdesk="helpscout", key=key, kind="ticket.created",
                       identifiers=Identifiers(emails=(PAULINE,)), ticket_id=key,
                       occurred_at=dt.datetime.now(dt.UTC))


def row(direct: sqlalchemy.Engine, key: str) -> Any:
    with direct.connect() as connection:
        return connection.execute(select(ticket_events).where(
            ticket_events.c.key == key)).one()


def test_an_event_the_database_failed_under_is_given_back_as_soon_as_it_answers(
        events: tuple[EventLog, Proxy, sqlalchemy.Engine]) -> None:
    log, proxy, direct = events
    log.record(ticket("dropped-under"))
    calls = itertools.count()

    def drop_then_work(event: TicketEvent) -> Outcome:
        if next(calls) == 0:  # the database goes while the event is worked
            proxy.set(REFUSE)
            log.add_contact("cus_x", event)  # raises: refused
        return Outcome("cus_x")

    worker = Scripted(log, drop_then_work, interval_s=0.05)
    assert worker.run_once() == 1
    assert row(direct, "dropped-under").state == "working"  # the give-back waits for it
    assert worker.run_once() == 0  # still down: nothing claimed, nothing lost
    proxy.set(PASS)
    until(lambda: worker.run_once() >= 0 and row(direct, "dropped-under").state == DONE, 5)
    kept = row(direct, "dropped-under")
    assert kept.attempts == 1 and worker.completed == ["dropped-under"]  # worked once


def test_a_worked_event_whose_outcome_was_refused_is_finished_not_worked_again(
        events: tuple[EventLog, Proxy, sqlalchemy.Engine]) -> None:
    log, proxy, direct = events
    log.record(ticket("done-unsaid"))

    def work_then_drop(event: TicketEvent) -> Outcome:
        proxy.set(REFUSE)  # the work is done; writing that it is fails
        return Outcome("cus_y")

    worker = Scripted(log, work_then_drop, interval_s=0.05)
    worker.run_once()
    assert row(direct, "done-unsaid").state == "working"
    proxy.set(PASS)
    until(lambda: worker.run_once() >= 0 and row(direct, "done-unsaid").state == DONE, 5)
    assert row(direct, "done-unsaid").customer_id == "cus_y"
    assert worker.completed == ["done-unsaid"]


def test_a_stopping_worker_gives_back_the_events_it_holds(
        events: tuple[EventLog, Proxy, sqlalchemy.Engine]) -> None:
    log, _, direct = events
    log.record(ticket("held-at-stop"))
    inside, release = threading.Event(), threading.Event()

    def slow(event: TicketEvent) -> Outcome:
        inside.set()
        release.wait(10)  # a source that takes its time
        return Outcome("cus_z")

    dying = Scripted(log, slow, interval_s=0.05)
    dying.start()
    assert inside.wait(10)
    dying.stop(grace_s=0.2)  # shutting down: it cannot wait for the source
    given_back = row(direct, "held-at-stop")
    assert given_back.state == PENDING and given_back.claimed_at is None
    assert given_back.attempts == 0
    release.set()  # its late outcome is not written over the event it gave back
    until(lambda: dying.completed == ["held-at-stop"], 5)
    assert row(direct, "held-at-stop").state == PENDING
    other = Scripted(log, lambda event: Outcome("cus_z"), interval_s=0.05)  # another process
    assert other.run_once() == 1
    assert row(direct, "held-at-stop").state == DONE and other.completed == ["held-at-stop"]


@pytest.mark.parametrize("closing", ["refuse", "close"])
def test_the_proxy_s_refusal_ends_the_server_s_session_too(closing: str) -> None:
    """The proxy itself: a session held through it (idle in a transaction, its locks held)
    ends on PostgreSQL's side when the proxy refuses or closes, as when a server is killed —
    else a test's or a benchmark's clean-up waits for ever on those locks."""
    proxy = Proxy()
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test", poolclass=NullPool)
    admin = sqlalchemy.create_engine(POSTGRES, poolclass=NullPool)
    connection = engine.connect()
    backend = connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()

    def alive() -> bool:
        with admin.connect() as look:
            return bool(look.execute(sqlalchemy.text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": backend}).scalar_one())

    try:
        assert alive()  # idle in its transaction, through the proxy
        if closing == "refuse":
            proxy.set(REFUSE)
        else:
            proxy.close()
        deadline = time.monotonic() + 10
        while alive() and time.monotonic() < deadline:  # it ends as the proxy's socket does
            time.sleep(0.1)
        assert not alive(), f"PostgreSQL still holds session {backend} after the {closing}"
    finally:
        with admin.connect() as kill:  # never leave it holding locks, even failing
            kill.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with contextlib.suppress(Exception):
            connection.invalidate()
        proxy.close()
        engine.dispose()
        admin.dispose()


def test_a_hot_read_finds_a_hung_database_within_the_short_bound(schema: str) -> None:
    """A connection given back a moment ago is not pinged again (store.guard), so when the
    database hangs it is the next read that finds out: a request's point read (`reading`)
    waits the short timeout (a ping's) and its grace, not a statement's — an agent's sidebar
    waited 11 s in bench_database_faults before this bound."""
    local = Proxy()
    store = LinkStore(proxied(schema, local), Limits(timeout_s=1.0, statement_timeout_s=6.0,
                                                     retry_s=1.0))
    try:
        store.link("cus_hot", [("email", "hot@example.fr", "erp")])
        assert store.owners([("email", "hot@example.fr")])  # its connection back just now
        local.set(HANG)
        started = time.monotonic()
        with pytest.raises(sqlalchemy.exc.DBAPIError) as failed:
            store.owners([("email", "cold@example.fr")])
        took = time.monotonic() - started
        assert unavailable(failed.value)
        assert took < 1.0 + GRACE_S + 1.0, took  # a statement's bound would be 6 s + 1 s
    finally:
        local.close()
        store.engine.dispose()
