"""The demo helpdesk posts one signed webhook per ticket to the service (as Zendesk does), so
its tickets count: through the signature check, the event log and the worker, each ticket
becomes a request in its customer's contact history and timeline. Run on data generated for
today, with nothing pinning the day, as `make run` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from demo import generate as gen
from demo.webhooks import (
    SECRET_VAR,
    PostFailed,
    announce,
    ensure_secret,
    load_tickets,
    post_tickets,
)
from tests.conftest import (
    API_TOKEN,
    Service,
    free_port,
    service_env,
    start_backoffice,
    start_service,
    stop,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE_TICKETS = (1001, 1002)  # her e-mail, and her call from her mobile


@dataclass
class Demo:
    """The demo's service on today's data, and the secret its helpdesk signs with."""

    service: Service
    secret: str
    data: Path
    tickets: dict[int, dict[str, Any]]
    first_post: str


@pytest.fixture(scope="module")
def today_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data as `make run` generates them: for today, nothing pinning the day."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(gen.TODAY_VAR, raising=False)
        return gen.ensure(tmp_path_factory.mktemp("today") / "demo")


@pytest.fixture(scope="module")
def demo(today_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Its own back office and service (the shared one keeps the white paper's contacts), the
    webhook secret made for the run as `python -m demo` makes it, and the tickets posted."""
    office = start_backoffice(today_data)
    try:
        env = service_env(today_data, office.url, tmp_path_factory.mktemp("var"))
        env.pop(SECRET_VAR, None)
        secret = ensure_secret(env)
        assert env[SECRET_VAR] == secret and len(secret) >= 32
        service = start_service(env)
        try:
            tickets = {t["id"]: t for t in load_tickets(today_data)}
            line = announce(service.url, secret, today_data)
            yield Demo(service, secret, today_data, tickets, line)
        finally:
            stop(service.process)
    finally:
        stop(office.process)


def lookup(service: Service, **ids: str) -> dict[str, Any]:
    answer = requests.get(f"{service.url}/api/v1/customers/lookup", params=ids, headers=AUTH,
                          timeout=10)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


def last_request(service: Service, **ids: str) -> str | None:
    last = (lookup(service, **ids).get("contacts") or {}).get("last") or {}
    return last.get("date")


def wait_for(condition: Any, what: str, seconds: float = 30) -> None:
    """Wait until condition() holds (the worker records the requests after the 202)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.1)


def same_moment(a: str | None, b: str) -> bool:
    """Whether two ISO times are the same moment (`…Z` or `…+00:00`)."""
    return a is not None and a.replace("+00:00", "Z")[:16] == b.replace("+00:00", "Z")[:16]


def requests_of(service: Service, customer_id: str) -> tuple[list[dict[str, Any]], int]:
    """Every request in the customer's timeline (newest first), and the timeline's count."""
    entries: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        answer = requests.get(f"{service.url}/api/v1/customers/{customer_id}/timeline",
                              params={"kind": "request", "limit": 100,
                                      **({"before": before} if before else {})},
                              headers=AUTH, timeout=10)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        entries += page["entries"]
        if page["next"] is None:
            return entries, page["total"]
        before = page["next"]


def test_every_ticket_is_posted_signed_and_taken(demo: Demo) -> None:
    assert demo.first_post == ("  Demo helpdesk: 8 of 8 tickets posted as signed webhooks "
                               "(/helpdesk/zendesk/webhook): 8 new, 0 already recorded")


def test_pauline_s_last_request_is_today_s_ticket(demo: Demo) -> None:
    hers = sorted(demo.tickets[n]["created_at"] for n in PAULINE_TICKETS)
    assert all(stamp.startswith(date.today().isoformat()) for stamp in hers)
    wait_for(lambda: same_moment(last_request(demo.service, email=gen.SAMPLE_EMAIL), hers[-1]),
             "Pauline's last request is her call of today")
    record = lookup(demo.service, email=gen.SAMPLE_EMAIL)
    assert record["contacts"]["last"]["channel"] == "phone"
    assert record["contacts"]["count"] == 25  # the white paper's 23, and today's two
    assert record["kpis"]["last_order_date"].startswith("2017-08-05")  # her history stays


def test_the_timeline_counts_today_s_tickets(demo: Demo) -> None:
    hers = [demo.tickets[n] for n in PAULINE_TICKETS]
    latest = max(t["created_at"] for t in hers)
    wait_for(lambda: same_moment(last_request(demo.service, email=gen.SAMPLE_EMAIL), latest),
             "Pauline's tickets recorded")
    customer_id = lookup(demo.service, email=gen.SAMPLE_EMAIL)["customer_id"]
    entries, total = requests_of(demo.service, customer_id)
    assert total == len(entries) == 25
    today = [e for e in entries if e["date"].startswith(date.today().isoformat())]
    assert sorted((e["date"][:16], e["title"], e["channel"]) for e in today) == sorted(
        (t["created_at"][:16], t["subject"], t["channel"]) for t in hers)
    assert entries[0]["title"] == "Appel entrant"  # the newest first: her call


def test_each_known_requester_s_ticket_counts_and_their_order_shows_as_the_ticket_says(
        demo: Demo) -> None:
    """The chat, the Facebook message and the e-mail about a parcel each name one customer:
    each ticket is their last request; the orders the chat and the e-mail are about show
    shipped, with their tracking; the refund Pauline asks about, returned."""
    for number in (1003, 1004, 1007):
        ticket = demo.tickets[number]
        email = ticket["requester"]["email"]
        wait_for(lambda email=email, at=ticket["created_at"]: same_moment(
            last_request(demo.service, email=email), at), f"ticket {number} recorded")
        assert lookup(demo.service, email=email)["contacts"]["last"]["channel"] \
            == ticket["channel"]
    for number, status in ((1003, "shipped"), (1007, "shipped"), (1001, "returned")):
        ticket = demo.tickets[number]
        orders = {o["number"]: o for o in
                  lookup(demo.service, email=ticket["requester"]["email"])["orders"]}
        cited = next(n for n in orders if n in ticket["body"])
        assert (orders[cited]["status"], bool(orders[cited]["tracking"])) == (status, True), \
            ticket


def test_posting_again_records_nothing_twice(demo: Demo) -> None:
    """The demo restarted the same day posts the same webhooks: acknowledged, not counted."""
    hers = max(demo.tickets[n]["created_at"] for n in PAULINE_TICKETS)
    wait_for(lambda: same_moment(last_request(demo.service, email=gen.SAMPLE_EMAIL), hers),
             "Pauline's tickets recorded")
    again = announce(demo.service.url, demo.secret, demo.data)
    assert again.endswith(": 0 new, 8 already recorded"), again
    assert lookup(demo.service, email=gen.SAMPLE_EMAIL)["contacts"]["count"] == 25


def test_a_refused_or_unreachable_post_is_said_and_the_demo_goes_on(demo: Demo) -> None:
    tickets = list(demo.tickets.values())
    with pytest.raises(PostFailed, match="ticket 1001: HTTP 401"):
        post_tickets(demo.service.url, "not-the-secret", tickets)
    refused = announce(demo.service.url, "not-the-secret", demo.data)
    assert refused.startswith("  Demo helpdesk: its tickets' webhooks were not posted: "
                              "ticket 1001: HTTP 401"), refused
    nobody = announce(f"http://127.0.0.1:{free_port()}", demo.secret, demo.data)
    assert "were not posted" in nobody and "did not answer" in nobody, nobody
    missing = announce(demo.service.url, demo.secret, demo.data / "nowhere")
    assert "were not posted" in missing and "tickets.json" in missing, missing


def test_a_secret_the_user_set_is_kept() -> None:
    env = {SECRET_VAR: "from-the-user"}
    assert ensure_secret(env) == "from-the-user" and env == {SECRET_VAR: "from-the-user"}
    empty = {SECRET_VAR: ""}  # `${ZENDESK_WEBHOOK_SECRET:-}` would leave the adapter shut
    assert len(ensure_secret(empty)) >= 32 and empty[SECRET_VAR]
