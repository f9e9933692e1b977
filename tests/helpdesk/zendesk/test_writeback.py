"""Zendesk write-back against a local fake of its REST API: our tags on the requester (only
ours added and removed), user fields, an internal note; failures classified (429, 4xx, 5xx,
timeouts); and through the queue: Retry-After honoured, pending changes merged, the Update User
limit (5 a minute per user) never reached by a busy customer."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from connector.app import Services, build_services
from connector.customer.links import LinkStore
from connector.events import writeback
from connector.events.writeback import WriteBackQueue
from connector.helpdesk.base import RateLimited, WriteBack, WriteBackFailed
from connector.helpdesk.config import WriteBackConfig
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk import adapter as zendesk
from connector.helpdesk.zendesk import api as zendesk_api
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.store.schema import writebacks
from connector.web import create_app as make_app
from tests.conftest import Backoffice, service_env
from tests.helpdesk.zendesk.fake_zendesk import (
    AGENT,
    PAULINE,
    PAULINE_ZENDESK_ID,
    SECRET,
    TOKEN,
    FakeZendesk,
    fixture,
    signed,
    write_manifest,
    zendesk_entry,
)

USER = f"/api/v2/users/{PAULINE_ZENDESK_ID}.json"
USER_TAGS = f"/api/v2/users/{PAULINE_ZENDESK_ID}/tags.json"
TICKET = "/api/v2/tickets/35436.json"


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    return FakeZendesk(httpserver)


def adapter(api_url: str, token: str | None = TOKEN, **config: object) -> zendesk.Zendesk:
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="https://c.example",
                        region="FR", secret_key=b"k", render_fragment=lambda _: "",
                        clock=lambda: 0.0)
    entry = zendesk.Config(api_url=api_url, api_email=AGENT, api_token=token, **config)
    return zendesk.build(entry, deps)


def change(tags: tuple[str, ...] = ("connector_vip", "connector_negative_review"),
           **extra: object) -> WriteBack:
    values: dict[str, object] = {"helpdesk": "zendesk", "requester_id": PAULINE_ZENDESK_ID,
                                 "tags": tags, **extra}
    return WriteBack(**values)  # type: ignore[arg-type]


# --- the adapter alone -----------------------------------------------------------------------
def test_our_tags_are_diffed_and_the_others_kept(fake: FakeZendesk) -> None:
    adapter(fake.url).write_back(change())
    assert [(c.method, c.path, c.body) for c in fake.calls] == [
        ("GET", USER, None),
        ("DELETE", USER_TAGS, {"tags": ["connector_old_flag"]}),
        ("PUT", USER_TAGS, {"tags": ["connector_negative_review", "connector_vip"]}),
    ]
    assert fake.users[PAULINE_ZENDESK_ID]["tags"] == [
        "newsletter", "connector_negative_review", "connector_vip"]


def test_what_zendesk_already_holds_is_not_written_again(fake: FakeZendesk) -> None:
    zd = adapter(fake.url)
    zd.write_back(change(fields={"segment": "VIP"}))
    fake.calls.clear()
    zd.write_back(change(fields={"segment": "VIP"}))
    assert [(c.method, c.path) for c in fake.calls] == [("GET", USER)]


def test_fields_go_to_prefixed_user_fields_or_the_mapped_keys(fake: FakeZendesk) -> None:
    adapter(fake.url).write_back(change(fields={"segment": "VIP", "lifecycle": "active"}))
    [put] = [c for c in fake.writes() if c.path == USER]
    assert put.body == {"user": {"user_fields": {"connector_segment": "VIP",
                                                 "connector_lifecycle": "active"}}}
    fields = fake.users[PAULINE_ZENDESK_ID]["user_fields"]
    assert fields["customer_tier"] == "gold"  # a field of the account's own, untouched
    fake.calls.clear()
    adapter(fake.url, user_fields={"segment": "customer_tier"}).write_back(
        change(fields={"segment": "VIP"}))
    [put] = [c for c in fake.writes() if c.path == USER]
    assert put.body == {"user": {"user_fields": {"customer_tier": "VIP"}}}


def test_a_note_is_an_internal_comment_on_the_ticket(fake: FakeZendesk) -> None:
    adapter(fake.url).write_back(change(ticket_id="35436", note="• Client VIP — segment VIP"))
    [put] = [c for c in fake.writes() if c.path == TICKET]
    assert put.body == {"ticket": {"comment": {"body": "• Client VIP — segment VIP",
                                               "public": False}}}
    assert fake.tickets["35436"]["tags"] == ["livraison", "connector_old_flag"]  # on the user


def test_without_a_requester_our_tags_go_on_the_ticket_in_one_update(fake: FakeZendesk) -> None:
    adapter(fake.url).write_back(change(requester_id=None, ticket_id="35436", note="VIP"))
    assert [(c.method, c.path) for c in fake.calls] == [("GET", TICKET), ("PUT", TICKET)]
    assert fake.calls[1].body == {"ticket": {
        "comment": {"body": "VIP", "public": False},
        "additional_tags": ["connector_negative_review", "connector_vip"],
        "remove_tags": ["connector_old_flag"]}}
    assert fake.tickets["35436"]["tags"] == ["livraison", "connector_negative_review",
                                             "connector_vip"]


def test_an_action_s_note_leaves_our_tags_on_the_ticket_as_they_are(
        fake: FakeZendesk) -> None:
    """A note only (an action done from the record) names no tags: it must not take ours
    off the ticket."""
    adapter(fake.url).write_back(change(requester_id=None, ticket_id="35436", tags=(),
                                        note="Retour ouvert", keeps_tags=True))
    assert [(c.method, c.path) for c in fake.calls] == [("PUT", TICKET)]
    assert fake.calls[0].body == {"ticket": {"comment": {"body": "Retour ouvert",
                                                         "public": False}}}
    assert fake.tickets["35436"]["tags"] == ["livraison", "connector_old_flag"]


def test_with_tags_switched_off_no_tag_is_touched(fake: FakeZendesk) -> None:
    off = adapter(fake.url, write_back=WriteBackConfig(enabled=True, tags=False, fields=True))
    off.write_back(change(tags=(), fields={"segment": "VIP"}))
    assert [c.path for c in fake.writes()] == [USER]
    assert "connector_old_flag" in fake.users[PAULINE_ZENDESK_ID]["tags"]


@pytest.mark.parametrize(("status", "headers", "body", "permanent", "message"), [
    (404, {}, {"error": "RecordNotFound", "description": "Not found"}, True, "no such record"),
    (422, {}, {"error": "RecordInvalid", "description": "Record validation errors"}, True,
     "RecordInvalid: Record validation errors"),
    (403, {}, {"error": "Forbidden"}, True, "ZENDESK_API_TOKEN"),
    (500, {}, {"error": "InternalError"}, False, "failed (500)"),
    (503, {"Retry-After": "5"}, {}, False, "failed (503)"),
])
def test_failures_are_classified_once(fake: FakeZendesk, status: int, headers: dict[str, str],
                                      body: dict[str, str], permanent: bool,
                                      message: str) -> None:
    fake.fail_next(f"GET {USER}", status, headers, body)
    with pytest.raises(WriteBackFailed) as failed:
        adapter(fake.url).write_back(change())
    assert failed.value.permanent is permanent and message in failed.value.public
    assert TOKEN not in failed.value.public and PAULINE not in failed.value.public


def test_a_429_gives_its_retry_after(fake: FakeZendesk) -> None:
    fake.fail_next(f"PUT {USER_TAGS}", 429, {"Retry-After": "17"})
    with pytest.raises(RateLimited) as limited:
        adapter(fake.url).write_back(change())
    assert limited.value.retry_after_s == 17 and "PUT /api/v2/users/{id}/tags.json" in str(
        limited.value)


def test_wrong_credentials_are_a_permanent_failure_naming_the_setting(fake: FakeZendesk) -> None:
    with pytest.raises(WriteBackFailed, match="ZENDESK_API_TOKEN") as failed:
        adapter(fake.url, token="wrong").write_back(change())
    assert failed.value.permanent


def test_an_unreachable_or_slow_zendesk_is_a_transient_failure(
        fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(WriteBackFailed, match="could not be reached") as failed:
        adapter(closed).write_back(change())
    assert not failed.value.permanent

    import time

    fake.server.clear()
    fake.server.expect_request(USER).respond_with_handler(lambda _: time.sleep(1))
    monkeypatch.setattr(zendesk_api, "TIMEOUT_S", (1.0, 0.2))
    with pytest.raises(WriteBackFailed, match="did not answer in time") as slow:
        adapter(fake.url).write_back(change())
    assert not slow.value.permanent


def test_without_api_credentials_write_back_fails_permanently_saying_what_to_set() -> None:
    with pytest.raises(WriteBackFailed, match="ZENDESK_API_TOKEN") as failed:
        adapter("https://maison-exemple.zendesk.com", token=None).write_back(change())
    assert failed.value.permanent


def test_an_id_that_is_not_a_zendesk_id_never_reaches_a_path(fake: FakeZendesk) -> None:
    with pytest.raises(WriteBackFailed, match="not a Zendesk id"):
        adapter(fake.url).write_back(change(requester_id="../tickets/1"))
    assert fake.calls == []


def test_the_declared_limits_keep_a_person_under_update_user(fake: FakeZendesk) -> None:
    limits = adapter(fake.url).write_limits
    assert 60 / limits.target_interval_s <= 5  # Update User: 5 a minute per user
    assert 600 / limits.target_interval_s <= 30  # Update Ticket: 30 per 10 min per ticket
    assert (limits.calls, limits.per_s) == (20, 60.0)


# --- through the queue -----------------------------------------------------------------------
class Clock:
    """Monotonic time for the queue and the fake's limit, and the wall clock they imply."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.epoch = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=self.now - 1000.0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, fake: FakeZendesk) -> Clock:
    ticking = Clock()
    monkeypatch.setattr(writeback, "_now", ticking.wall)
    fake.clock = ticking
    return ticking


def queue(tmp_path: Path, clock: Clock) -> WriteBackQueue:
    return WriteBackQueue(LinkStore(f"sqlite:///{tmp_path}/wb.sqlite").engine, clock=clock)


def test_a_429_pauses_zendesk_until_its_retry_after(tmp_path: Path, fake: FakeZendesk,
                                                    clock: Clock) -> None:
    q, zd = queue(tmp_path, clock), adapter(fake.url)
    q.enqueue(change())
    fake.fail_next(f"PUT {USER_TAGS}", 429, {"Retry-After": "30"})
    assert q.send_due({"zendesk": zd}) == 0
    calls = len(fake.calls)
    clock.now += 29
    assert q.send_due({"zendesk": zd}) == 0 and len(fake.calls) == calls  # not before
    clock.now += 2
    assert q.send_due({"zendesk": zd}) == 1
    assert fake.users[PAULINE_ZENDESK_ID]["tags"] == [
        "newsletter", "connector_negative_review", "connector_vip"]
    assert q.counts() == {}


def test_pending_changes_to_a_person_are_sent_as_one(tmp_path: Path, fake: FakeZendesk,
                                                     clock: Clock) -> None:
    q = queue(tmp_path, clock)
    q.enqueue(change(tags=("connector_vip",), fields={"segment": "VIP"}))
    q.enqueue(change(tags=("connector_negative_review",), fields={"lifecycle": "active"}))
    assert q.send_due({"zendesk": adapter(fake.url)}) == 1
    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", USER), ("DELETE", USER_TAGS), ("PUT", USER_TAGS), ("PUT", USER)]
    user = fake.users[PAULINE_ZENDESK_ID]
    assert user["tags"] == ["newsletter", "connector_negative_review"]  # the newest set
    assert user["user_fields"]["connector_segment"] == "VIP"
    assert user["user_fields"]["connector_lifecycle"] == "active"


def test_a_busy_customer_never_reaches_the_update_user_limit(tmp_path: Path, fake: FakeZendesk,
                                                             clock: Clock) -> None:
    """A change every 3 s for four minutes: each is queued, merged, sent at the person's pace;
    Zendesk (the fake enforces 5 a minute per user) never answers 429, the last value wins."""
    q, zd = queue(tmp_path, clock), adapter(fake.url)
    for step in range(80):
        q.enqueue(change(tags=("connector_vip",), fields={"segment": f"S{step}"}))
        q.send_due({"zendesk": zd})
        clock.now += 3
    clock.now += zd.write_limits.target_interval_s
    q.send_due({"zendesk": zd})
    updates = fake.user_updates[PAULINE_ZENDESK_ID]
    assert fake.refused == 0
    assert all(sum(1 for t in updates if start <= t < start + 60) <= 5 for start in updates)
    assert 10 <= len(updates) <= 13  # one every 20 s, not 80
    assert fake.users[PAULINE_ZENDESK_ID]["user_fields"]["connector_segment"] == "S79"
    assert q.counts() == {}


# --- the worker writes back what it learnt ---------------------------------------------------
@pytest.fixture
def services(demo_data: Path, backoffice: Backoffice, tmp_path: Path,
             fake: FakeZendesk) -> Iterator[Services]:
    entry = zendesk_entry(fake.url, write_back={"enabled": True, "tags": True, "fields": True,
                                                "note": True})
    env = {**service_env(demo_data, backoffice.url, tmp_path),
           "ZENDESK_WEBHOOK_SECRET": SECRET, "ZENDESK_API_TOKEN": TOKEN}
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data,  # type: ignore[arg-type]
                        secret_key="test-secret-key", public_url="http://connector.test")
    built = build_services(settings, load_manifest(write_manifest(tmp_path, entry), env=env))
    yield built
    built.close()


def test_a_new_ticket_writes_our_flags_back_to_zendesk(services: Services,
                                                       fake: FakeZendesk) -> None:
    profile = services.assembler.lookup(Identifiers(emails=(PAULINE,))).profile
    assert profile is not None and profile.flags  # Pauline is a VIP with a recent complaint
    client = make_app(services=services).test_client()
    body = fixture("event_ticket_created.json")
    answer = client.post("/helpdesk/zendesk/webhook", data=body, headers=signed(body))
    assert answer.status_code == 202
    assert services.worker.run_once() == 1
    user = fake.users[PAULINE_ZENDESK_ID]
    ours = sorted(f"connector_{flag.key}" for flag in profile.flags)
    assert user["tags"] == ["newsletter", *ours]
    assert user["user_fields"]["connector_segment"] == profile.status.segment
    [note] = fake.tickets["35436"]["comments"]
    assert note["public"] is False
    assert all(flag.label in note["body"] for flag in profile.flags)
    assert services.writebacks.counts() == {}


def test_a_refused_write_back_is_kept_as_failed_with_its_reason(services: Services,
                                                                fake: FakeZendesk) -> None:
    fake.fail_next(f"GET {USER}", 403, body={"error": "Forbidden"})
    services.writebacks.enqueue(change())
    assert services.writebacks.send_due(services.adapters) == 0
    assert services.writebacks.counts() == {"failed": 1}
    with services.writebacks.engine.connect() as connection:
        error = connection.execute(writebacks.select()).one().error
    assert "ZENDESK_API_TOKEN" in error and TOKEN not in error

