"""The `marketing` sink, over real HTTP: a correction the ERP confirmed is posted once, signed,
with the correction's id as its idempotency key; a sink that is down gets it later (same key),
one that refuses it fails it with the reason; a delivery kept before its process died is still
made; `fields:` chooses what is told; the values are erased once it is settled."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.events.marketing import Delivery, classify
from connector.events.outbox import AGENT_KINDS, Outbox
from connector.identifiers import Identifiers
from connector.manifest import Manifest, load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.sources.cache import MemoryCache, SingleFlight
from connector.store.schema import audit, changes
from tests.conftest import until

SECRET = "marketing-test-secret"
OLD, NEW = "pauline.deneve@easiware.fr", "pauline.d@exemple.fr"
MANIFEST = """\
version: 1
sources:
  erp:
    type: rest
    base_url: {url}/erp
    lookup_by: [external, email, phone]
    requests: [{{name: c, path: /customers, params: {{id: "{{external}}", email: "{{email}}",
                 phone: "{{phone}}"}}}}]
    id: c.customers[0].id
    sections: {{identity: {{path: "c.customers[0]", fields: {{last_name: name, emails: email,
                                                             phones: "[mobile]"}}}},
               consent: {{path: "c.customers[0].optin", fields: {{
                 email_marketing.value: email, email_marketing.date: at, sms.value: sms}}}}}}
    writes:
      identity.emails:
        request: {{name: set_email, method: PATCH, path: "/customers/{{external}}",
                  body: {{email: "{{new}}"}}}}
      identity.phones:
        request: {{name: set_phone, method: PATCH, path: "/customers/{{external}}",
                  body: {{mobile: "{{new}}"}}}}
marketing:
  url: {url}/marketing
  secret: "${{MARKETING_SECRET}}"
  timeout_s: {timeout}
{extra}"""


class Clock:
    """The outbox's clock, moved on by the test instead of waiting for a back-off."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Sink:
    """The marketing tool: answers each POST with the next of `statuses` (the last one
    stays; 0: no answer until `released`), and keeps what it received."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def __call__(self, request: Request) -> Response:
        self.received.append((dict(request.headers), request.get_data()))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == 0:
            self.released.wait(10)
            status = 200
        return Response('{"error": "no"}' if status >= 400 else "{}", status=status,
                        content_type="application/json")

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.received]


@dataclass
class World:
    """An ERP that takes corrections, a marketing sink and the outbox between them."""

    erp: dict[str, str]
    sink: Sink
    outbox: Outbox
    clock: Clock
    customer_id: str
    manifest: Manifest
    store: LinkStore

    def correct(self, field: str = "identity.emails", new: str = NEW,
                old: str = OLD) -> str:
        kept = self.outbox.submit(self.customer_id, "erp", field,
                                  {"new": new, "old": old, "external": "C1"},
                                  actor="margaux@zendesk")
        self.clock.advance(1)  # sent, then confirmed, a moment after it was asked
        return kept.id

    def work(self) -> None:
        """One pass of the worker over the outbox."""
        self.outbox.send_due()

    def rows(self, kind: str | None = None) -> list[Any]:
        with self.store.engine.connect() as connection:
            query = select(changes).order_by(changes.c.created_at)
            if kind:
                query = query.where(changes.c.kind == kind)
            return list(connection.execute(query))


def erp_handlers(server: HTTPServer, erp: dict[str, str]) -> None:
    """A one-customer ERP: found by its id, email or mobile; corrections applied at once."""
    def customers(request: Request) -> Response:
        args = request.args
        found = (args.get("id") == erp["id"] or args.get("email") == erp["email"]
                 or args.get("phone") == erp["mobile"])
        return Response(json.dumps({"customers": [erp] if found else []}),
                        content_type="application/json")

    def patch(request: Request) -> Response:
        erp.update(request.get_json())
        return Response("{}", content_type="application/json")

    server.expect_request("/erp/customers", method="GET").respond_with_handler(customers)
    server.expect_request("/erp/customers/C1", method="PATCH").respond_with_handler(patch)


@pytest.fixture
def build(httpserver: HTTPServer, tmp_path: Path) -> Iterator[Any]:
    made: list[ProfileAssembler] = []
    sinks: list[Sink] = []

    def world(extra: str = "", statuses: tuple[int, ...] = (200,),
              timeout: float = 2, optin: dict[str, Any] | None = None) -> World:
        erp = {"id": "C1", "name": "Denève", "email": OLD, "mobile": "+33653888890",
               # what the customer agreed to (marketing is told nothing without it)
               "optin": {"email": True, "sms": True, "at": "2024-01-05"}
               if optin is None else optin}
        erp_handlers(httpserver, erp)
        sink = Sink(list(statuses))
        httpserver.expect_request("/marketing", method="POST").respond_with_handler(sink)
        path = tmp_path / "manifest.yaml"
        path.write_text(MANIFEST.format(url=httpserver.url_for("")[:-1], extra=extra,
                                        timeout=timeout))
        manifest = load_manifest(path, env={"MARKETING_SECRET": SECRET})
        store = LinkStore(f"sqlite:///{tmp_path}/store.sqlite")
        sources = {n: build_source(n, c, BuildContext(tmp_path))
                   for n, c in manifest.sources.items()}
        assembler = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache()),
                                     ThreadPoolExecutor(4), Resolver(store, manifest.identity))
        made.append(assembler)
        sinks.append(sink)
        found = assembler.lookup(Identifiers(emails=(OLD,)))
        assert found.profile is not None
        clock = Clock()
        outbox = Outbox(store.engine, assembler, clock=clock, marketing=manifest.marketing)
        return World(erp, sink, outbox, clock, found.profile.customer_id, manifest, store)

    yield world
    for sink in sinks:
        sink.released.set()
    for assembler in made:
        assembler.close()


def delivered(world: World, change_id: str) -> Any:
    """Work the outbox until the correction's delivery to marketing is settled."""
    def settled() -> Any:
        world.work()
        found = [r for r in world.rows("marketing") if r.item == change_id]
        return found[0] if found and found[0].state in ("done", "failed") else None
    return until(settled)


def test_a_confirmed_correction_reaches_marketing_once_signed(build: Any) -> None:
    world = build()
    change = world.correct()
    row = delivered(world, change)
    assert row.state == "done" and row.outcome == "marketing took it (answered 200 OK)"
    assert world.outbox.get(change).state == "confirmed"  # type: ignore[union-attr]
    for _ in range(3):  # later passes send nothing again
        world.clock.advance(3600)
        world.work()
    [(headers, raw)] = world.sink.received
    payload = json.loads(raw)
    assert payload == {"event": "correction.confirmed", "change": change,
                       "customer_id": world.customer_id, "field": "identity.emails",
                       "old": OLD, "new": NEW, "source": "erp", "at": payload["at"]}
    assert dt.datetime.fromisoformat(payload["at"]).tzinfo is not None
    assert headers["Idempotency-Key"] == change
    assert headers["Content-Type"] == "application/json"
    # what a receiver does: HMAC-SHA256 of "{timestamp}.{raw body}", compared in constant time
    timestamp = headers["X-Connector-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    assert hmac.compare_digest(headers["X-Connector-Signature"],
                               f"sha256={expected.hexdigest()}")


def test_values_are_erased_once_told_and_never_audited(build: Any) -> None:
    world = build()
    change = world.correct()
    delivered(world, change)
    assert [(r.kind, r.state, r.payload) for r in world.rows()] == [
        ("correction", "confirmed", None), ("marketing", "done", None)]
    with world.store.engine.connect() as connection:
        trail = [(r.action, r.detail) for r in connection.execute(select(audit))]
    assert ("change.done", f"identity.emails at marketing (change "
            f"{world.rows('marketing')[0].id})") in trail
    text = repr(trail)
    assert OLD not in text and NEW not in text and SECRET not in text


def test_a_sink_down_gets_it_later_with_the_same_key_and_once(build: Any) -> None:
    world = build(statuses=(503, 200))
    change = world.correct()
    until(lambda: world.work() or world.sink.received)
    [row] = world.rows("marketing")
    assert (row.state, row.attempts, row.payload is not None) == ("pending", 1, True)
    assert row.outcome == "marketing answered 503 Service Unavailable: tried again later"
    world.work()  # not due yet: the back-off holds it (10 s)
    assert len(world.sink.received) == 1
    world.clock.advance(11)
    assert delivered(world, change).state == "done"
    keys = [headers["Idempotency-Key"] for headers, _ in world.sink.received]
    assert keys == [change, change]
    assert world.sink.payloads()[0] == world.sink.payloads()[1]  # the same delivery again


def test_a_sink_that_refuses_it_fails_it_with_the_reason(build: Any,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    world = build(statuses=(400,))
    change = world.correct()
    with caplog.at_level(logging.DEBUG):
        row = delivered(world, change)
    assert (row.state, row.outcome, row.payload) == (
        "failed", "marketing refused it (400 Bad Request)", None)
    world.clock.advance(3600)
    world.work()
    assert len(world.sink.received) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "refused it (400 Bad Request)" in logged  # the failure is logged, its values never
    assert OLD not in logged and NEW not in logged and SECRET not in logged


@pytest.mark.parametrize(("status", "retry_after", "expected"), [
    (204, None, Delivery(True, False, "answered 204 No Content")),
    (429, "120", Delivery(False, True, "answered 429 Too Many Requests", 120.0)),
    (502, None, Delivery(False, True, "answered 502 Bad Gateway")),
    (404, None, Delivery(False, False, "refused it (404 Not Found)")),
    (401, None, Delivery(False, False, "refused it (401 Unauthorized)")),
    (301, None, Delivery(False, False, "redirected (301 Moved Permanently): set marketing.url "
                                       "to the final address")),
])
def test_each_answer_is_classified_once(status: int, retry_after: str | None,
                                        expected: Delivery) -> None:
    assert classify(status, retry_after) == expected


def test_a_sink_that_never_answers_fails_after_max_attempts(build: Any) -> None:
    world = build(statuses=(500,))
    world.outbox.max_attempts = 3
    change = world.correct()
    until(lambda: world.work() or world.sink.received)
    for _ in range(3):
        world.clock.advance(1800)
        world.work()
    [row] = world.rows("marketing")
    assert (row.state, row.outcome, len(world.sink.received)) == (
        "failed", "marketing answered 500 Internal Server Error after 3 tries", 3)
    assert row.item == change


def test_a_delivery_kept_before_its_process_died_is_still_made(build: Any,
                                                               tmp_path: Path) -> None:
    world = build()
    change = world.correct()
    until(lambda: world.work() or world.rows("marketing"))  # confirmed, the delivery kept
    world.outbox._claim(20)  # the dying process took it, and never sent it
    [row] = world.rows("marketing")
    assert row.state == "sending" and not world.sink.received
    # the next process: its own engine on the same database, its own outbox; nothing of the
    # first one's memory (the dead outbox is never used again)
    store = LinkStore(f"sqlite:///{tmp_path}/store.sqlite")
    clock = Clock()
    again = Outbox(store.engine, world.outbox.assembler, clock=clock,
                   marketing=world.manifest.marketing)
    again.send_due()
    assert not world.sink.received  # still leased by the dead process
    clock.advance(121)  # its lease is over
    again.send_due()
    assert [headers["Idempotency-Key"] for headers, _ in world.sink.received] == [change]
    assert again.get(row.id).state == "done"  # type: ignore[union-attr]


def test_fields_chooses_what_marketing_is_told(build: Any) -> None:
    world = build(extra="  fields: [identity.phones]\n")
    world.correct()
    until(lambda: world.work() or world.rows("correction")[0].state == "confirmed")
    world.work()
    assert world.rows("marketing") == [] and not world.sink.received
    phone = world.correct("identity.phones", "+33611223344", "+33653888890")
    delivered(world, phone)
    assert [(p["field"], p["old"], p["new"]) for p in world.sink.payloads()] == [
        ("identity.phones", "+33653888890", "+33611223344")]


def test_a_sink_switched_off_is_told_nothing(build: Any) -> None:
    world = build(extra="  enabled: false\n")
    world.correct()
    until(lambda: world.work() or world.rows("correction")[0].state == "confirmed")
    world.work()
    assert world.rows("marketing") == [] and not world.sink.received


def test_the_record_lists_what_agents_asked_and_the_api_every_change(build: Any) -> None:
    world = build()
    change = world.correct()
    row = delivered(world, change)
    assert [(c.kind, c.source, c.name, c.item) for c in world.outbox.of(world.customer_id)] == [
        ("marketing", "marketing", "identity.emails", change),
        ("correction", "erp", "identity.emails", None)]
    assert [c.id for c in world.outbox.of(world.customer_id, kinds=AGENT_KINDS)] == [change]
    assert world.outbox.counts() == {"confirmed": 1, "done": 1}
    assert world.outbox.get(row.id).as_json()["state"] == "done"  # type: ignore[union-attr]


def test_a_sink_taken_off_the_manifest_fails_what_waits(build: Any) -> None:
    world = build(statuses=(503,))
    change = world.correct()
    until(lambda: world.work() or world.sink.received)
    world.outbox.marketing = None
    world.clock.advance(60)
    row = delivered(world, change)
    assert (row.state, row.outcome) == ("failed", "the marketing sink is no longer on in the "
                                                  "manifest")


def test_a_sink_too_slow_to_answer_gets_it_later(build: Any) -> None:
    world = build(statuses=(0, 200), timeout=0.5)
    change = world.correct()
    [row] = until(lambda: world.work() or [r for r in world.rows("marketing") if r.attempts])
    world.sink.released.set()  # the late answer comes once the call was given up
    assert (row.state, row.outcome) == ("pending",
                                        "marketing no answer within 0.5 s: tried again later")
    world.clock.advance(11)
    assert delivered(world, change).state == "done"
    assert [h["Idempotency-Key"] for h, _ in world.sink.received] == [change, change]


def test_a_sink_down_costs_one_try_a_pass_not_one_per_delivery(build: Any) -> None:
    world = build(statuses=(503,))
    email = world.correct()
    phone = world.correct("identity.phones", "+33611223344", "+33653888890")
    until(lambda: world.work() or len(world.rows("marketing")) == 2)
    world.clock.advance(1)
    world.work()  # both due in one pass: the first meets the 503, the second waits untried
    assert len(world.sink.received) == 1
    by_change = {r.item: r for r in world.rows("marketing")}
    tried, waited = sorted(by_change.values(), key=lambda r: -r.attempts)
    assert {tried.item, waited.item} == {email, phone}
    assert (tried.attempts, waited.attempts, waited.state) == (1, 0, "pending")
    assert waited.outcome == ("marketing did not answer another delivery: tried again later")


def test_a_change_our_code_failed_on_is_due_again_then_failed_after_its_tries(
        build: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of ours while sending (not the source's refusal) puts the change back in line,
    never leaves it held by nobody; a change that always meets it fails in the end."""
    world = build()
    source = world.outbox.assembler.sources["erp"]
    real, calls = source.write, []

    def broken_once(field: str, values: dict[str, Any]) -> Any:
        calls.append(field)
        if len(calls) == 1:
            raise RuntimeError("a bug of ours")
        return real(field, values)

    monkeypatch.setattr(source, "write", broken_once)
    change = world.correct()
    world.work()
    assert world.outbox.get(change).state == "pending"  # type: ignore[union-attr]
    world.clock.advance(60)
    until(lambda: (world.work(), world.outbox.get(change).state)[1]  # type: ignore[union-attr]
          == "confirmed")
    assert len(calls) == 2
    monkeypatch.setattr(source, "write", lambda *_: 1 / 0)
    doomed = world.correct(field="identity.phones", new="+33611111111", old="+33653888890")
    for _ in range(world.outbox.max_attempts):
        world.work()
        world.clock.advance(60)
    assert world.outbox.get(doomed).state == "failed"  # type: ignore[union-attr]


def test_a_change_id_given_twice_keeps_one_change(build: Any) -> None:
    from connector.events.outbox import DuplicateChange

    world = build()
    values = {"new": NEW, "old": OLD, "external": "C1"}
    first = world.outbox.submit(world.customer_id, "erp", "identity.emails", values,
                                actor="margaux", change_id="a" * 32)
    again = world.outbox.submit(world.customer_id, "erp", "identity.emails", values,
                                actor="margaux", change_id="a" * 32)
    assert first.id == again.id == "a" * 32
    assert len(world.rows()) == 1
    with pytest.raises(DuplicateChange):
        world.outbox.submit(world.customer_id, "erp", "identity.phones", values,
                            actor="margaux", change_id="a" * 32)
