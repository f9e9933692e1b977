"""The default manifest's helpdesks over real HTTP: every adapter on, none accepting unsigned
events while its secret is unset; with a secret set, an event is acknowledged, worked by the
served process's worker and counted on the admin page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.manifest import load_manifest
from tests.conftest import (
    ADMIN_TOKEN,
    API_TOKEN,
    MANIFEST,
    Service,
    service_env,
    start_backoffice,
    start_service,
    stop,
)

# each adapter's secret variable, as its 401 must name it
SECRETS = {
    "zendesk": "ZENDESK_WEBHOOK_SECRET",
    "chatwoot": "CHATWOOT_WEBHOOK_SECRET",
    "helpscout": "HELPSCOUT_WEBHOOK_SECRET",
    "freescout": "FREESCOUT_WEBHOOK_SECRET",
    "freshdesk": "FRESHDESK_WEBHOOK_SECRET",
    "django_helpdesk": "DJANGO_HELPDESK_WEBHOOK_SECRET",
}
PAULINE = "pauline.deneve@easiware.fr"


@pytest.fixture(scope="module")
def unsigned(env: dict[str, str]) -> Iterator[Service]:
    """The default manifest with every helpdesk secret unset."""
    running = start_service({k: v for k, v in env.items() if k not in SECRETS.values()})
    yield running
    stop(running.process)


def test_the_default_manifest_enables_every_adapter() -> None:
    manifest = load_manifest(MANIFEST, env={"DEMO_BACKOFFICE_URL": "http://x"})
    assert set(manifest.helpdesks.adapters) == set(SECRETS)


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_an_adapter_without_its_secret_refuses_every_event(unsigned: Service, kind: str) -> None:
    body = json.dumps({"ticket": {"id": 1}, "event": "ticket.created"})
    answer = requests.post(f"{unsigned.url}/helpdesk/{kind}/webhook", data=body, timeout=10,
                           headers={"Content-Type": "application/json",
                                    "X-Connector-Secret": "", "X-HelpScout-Signature": "x"})
    assert answer.status_code == 401, answer.text
    assert SECRETS[kind] in answer.json()["error"]


def test_a_body_over_the_cap_is_a_413_before_any_signature_is_checked(
        unsigned: Service) -> None:
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"  # 3 MB; the cap is 2 MB
    answer = requests.post(f"{unsigned.url}/helpdesk/zendesk/webhook", data=big, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


@pytest.mark.parametrize("route", ["webhook", "sidebar"])
@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_json_nested_past_pythons_limit_is_refused_not_a_500(unsigned: Service, kind: str,
                                                             route: str) -> None:
    nested = b'{"a":' * 50_000 + b"1" + b"}" * 50_000  # 600 KB, under the size cap
    answer = requests.post(f"{unsigned.url}/helpdesk/{kind}/{route}", data=nested, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code != 500, (kind, route, answer.status_code)  # 501: no sidebar


def test_an_unknown_helpdesk_is_a_404(unsigned: Service) -> None:
    answer = requests.post(f"{unsigned.url}/helpdesk/nosuchdesk/webhook", data=b"{}", timeout=5)
    assert answer.status_code == 404


def test_a_signed_event_is_acknowledged_worked_and_counted(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    secret = "demo-helpscout-secret"
    # its own database: the contact it records must not change Pauline's record for later
    # tests sharing the run's (`connector lookup` in tests/cli counts her 23 past contacts)
    running = start_service({**env, "HELPSCOUT_WEBHOOK_SECRET": secret,
                             "CONNECTOR_DATA_DIR": str(tmp_path)})
    try:
        body = json.dumps({
            "id": 770001, "number": 7701, "type": "chat", "subject": "Ma carte ne marche plus",
            "createdAt": "2026-11-22T10:00:00Z", "source": {"type": "chat", "via": "customer"},
            "primaryCustomer": {"id": 5, "email": PAULINE},
            "createdBy": {"id": 5, "type": "customer", "email": PAULINE},
        }).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest())
        headers = {"X-HelpScout-Signature": signature.decode(),
                   "X-HelpScout-Event": "convo.created", "Content-Type": "application/json"}
        url = f"{running.url}/helpdesk/helpscout/webhook"
        first = requests.post(url, data=body, headers=headers, timeout=10)
        assert first.status_code == 202 and first.json()["status"] == "accepted"
        again = requests.post(url, data=body, headers=headers, timeout=10)
        assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
        tampered = requests.post(url, data=body.replace(b"7701", b"7702"), headers=headers,
                                 timeout=10)
        assert tampered.status_code == 401
        deadline = time.monotonic() + 20
        queues: dict[str, object] = {}
        while time.monotonic() < deadline:
            queues = requests.get(f"{running.url}/admin/health.json", timeout=5,
                                  auth=("admin", ADMIN_TOKEN)).json()
            if queues["events"] == {"done": 1}:
                break
            time.sleep(0.2)
        assert queues["events"] == {"done": 1} and "helpscout" in queues["helpdesks"]
        unset = queues["unset_secrets"]["helpscout"]  # type: ignore[index]
        assert "HELPSCOUT_APP_SECRET (app_secret)" in unset
        assert not any("HELPSCOUT_WEBHOOK_SECRET" in name for name in unset)
        record = requests.get(f"{running.url}/api/v1/customers/lookup", timeout=10,
                              params={"email": PAULINE},
                              headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
        assert record["contacts"]["last"]["reason"] == "Ma carte ne marche plus"
        assert record["contacts"]["last"]["channel"] == "chat"
        metrics = requests.get(f"{running.url}/metrics", timeout=5).text
        assert 'connector_webhooks_total{helpdesk="helpscout",outcome="duplicate"} 1.0' in metrics
    finally:
        stop(running.process)


def test_an_acknowledged_event_is_worked_even_if_the_process_dies_right_after(
        demo_data: Path, tmp_path: Path) -> None:
    """kill -9 while the worker is inside the event (the ERP made slow): the next process on the
    same database takes the event over once its lease ends, and works it once."""
    office = start_backoffice(demo_data)
    env = {**service_env(demo_data, office.url, tmp_path), "HELPSCOUT_WEBHOOK_SECRET": "s",
           "CONNECTOR_EVENT_LEASE_S": "2"}
    first = start_service(env)
    second = None
    try:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        before = requests.get(f"{first.url}/api/v1/customers/lookup", timeout=10,
                              params={"email": PAULINE}, headers=auth).json()
        requests.post(f"{first.url}/api/v1/cache/invalidate", json={"email": PAULINE},
                      headers=auth, timeout=10).raise_for_status()  # the worker must ask the ERP
        office.faults(erp="slow")
        body = json.dumps({"id": 880001, "number": 8801, "type": "email",
                           "subject": "Colis abîmé", "primaryCustomer": {"email": PAULINE},
                           "createdBy": {"type": "customer", "email": PAULINE}}).encode()
        signature = base64.b64encode(hmac.new(b"s", body, hashlib.sha1).digest()).decode()
        answer = requests.post(f"{first.url}/helpdesk/helpscout/webhook", data=body, timeout=10,
                               headers={"X-HelpScout-Signature": signature,
                                        "X-HelpScout-Event": "convo.created",
                                        "Content-Type": "application/json"})
        assert answer.status_code == 202
        time.sleep(0.4)  # the worker has claimed it and waits on the slow ERP
        subprocess.run(["pkill", "-KILL", "-P", str(first.process.pid)], check=False)
        first.process.kill()
        first.process.wait(timeout=10)
        with sqlite3.connect(tmp_path / "connector.sqlite") as db:  # died inside the event
            assert db.execute("SELECT state FROM ticket_events").fetchall() == [("working",)]
        office.faults(erp="ok")
        second = start_service(env)
        deadline = time.monotonic() + 30
        events: dict[str, int] = {}
        while time.monotonic() < deadline:
            events = requests.get(f"{second.url}/admin/health.json", timeout=5,
                                  auth=("admin", ADMIN_TOKEN)).json()["events"]
            if events == {"done": 1}:
                break
            time.sleep(0.3)
        assert events == {"done": 1}
        record = requests.get(f"{second.url}/api/v1/customers/lookup", timeout=10,
                              params={"email": PAULINE}, headers=auth).json()
        assert record["contacts"]["last"]["reason"] == "Colis abîmé"
        assert record["contacts"]["count"] == before["contacts"]["count"] + 1  # once
    finally:
        for running in (first, second):
            if running is not None and running.process.poll() is None:
                stop(running.process)
        stop(office.process)
