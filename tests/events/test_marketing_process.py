"""The `marketing` sink with real processes: `connector serve` on the demo, its ERP taking a
correction, and a process killed (kill -9) while it was telling marketing: the next process
takes the delivery once its lease is over and sends it again with the same idempotency key."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer

from tests.conftest import (
    API_TOKEN,
    MANIFEST,
    Backoffice,
    service_env,
    start_backoffice,
    start_service,
    stop,
    until,
)
from tests.events.test_marketing import SECRET, Sink

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE = "pauline.deneve@easiware.fr"


@pytest.fixture
def office(demo_data: Path) -> Iterator[Backoffice]:
    """A back office of this test's own: the correction changes its customer."""
    running = start_backoffice(demo_data)
    yield running
    stop(running.process)


@pytest.fixture
def sink_server() -> Iterator[HTTPServer]:
    """The marketing tool's server: threaded, so that a call held open never holds the next."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def changes_of(url: str, customer_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{url}/api/v1/customers/{customer_id}/changes", headers=AUTH,
                          timeout=10)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["changes"]
    return listed


def test_a_delivery_held_by_a_killed_process_is_sent_by_the_next_with_its_key(
        demo_data: Path, office: Backoffice, sink_server: HTTPServer, tmp_path: Path) -> None:
    sink = Sink([0, 200])  # the first call gets no answer: the process dies holding it
    sink_server.expect_request("/marketing", method="POST").respond_with_handler(sink)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(MANIFEST.read_text(encoding="utf-8") + f"""
marketing:
  url: {sink_server.url_for("/marketing")}
  secret: "${{MARKETING_WEBHOOK_SECRET}}"
  fields: [identity.emails]
""", encoding="utf-8")
    env = {**service_env(demo_data, office.url, tmp_path / "var"),
           "CONNECTOR_MANIFEST": str(manifest), "MARKETING_WEBHOOK_SECRET": SECRET,
           "CONNECTOR_EVENT_LEASE_S": "3"}
    first = start_service(env)
    try:
        record = requests.get(f"{first.url}/api/v1/customers/lookup", params={"email": PAULINE},
                              headers=AUTH, timeout=10).json()
        customer = record["customer_id"]
        answer = requests.post(f"{first.url}/api/v1/customers/{customer}/corrections",
                               json={"field": "identity.emails", "value": "p.deneve@exemple.fr",
                                     "agent": "margaux@zendesk"}, headers=AUTH, timeout=10)
        assert answer.status_code == 202, answer.text
        change = answer.json()["id"]
        until(lambda: sink.received, seconds=45)  # confirmed, and marketing is being told
    finally:
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        sink.released.set()  # the call held open ends with its process
    second = start_service(env)
    try:
        until(lambda: len(sink.received) == 2, seconds=30)
        listed = until(lambda: [c for c in changes_of(second.url, customer)
                                if c["kind"] == "marketing" and c["state"] == "done"])
    finally:
        stop(second.process)
    assert [headers["Idempotency-Key"] for headers, _ in sink.received] == [change, change]
    first_try, second_try = sink.payloads()
    assert first_try == second_try
    assert {k: first_try[k] for k in ("event", "change", "customer_id", "field", "new",
                                      "source")} == {
        "event": "correction.confirmed", "change": change, "customer_id": customer,
        "field": "identity.emails", "new": "p.deneve@exemple.fr", "source": "erp"}
    assert first_try["old"] == PAULINE
    [delivery] = listed
    assert (delivery["source"], delivery["field"], delivery["item"], delivery["actor"]) == (
        "marketing", "identity.emails", change, "connector")
    assert delivery["outcome"] == "marketing took it (answered 200 OK)"
