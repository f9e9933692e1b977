"""Chatwoot against a real `connector serve` process, over HTTP: the dashboard app URL the
CLI prints, the context POST and the sealed record, a signed webhook worked by the service's
own worker into the history (once), and the labels and note it writes back to a local
Chatwoot API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import sqlalchemy

from tests.conftest import (
    Backoffice,
    Service,
    connector,
    service_env,
    start_service,
    stop,
    until,
)
from tests.helpdesk.chatwoot.test_adapter import (
    API_TOKEN,
    WEBHOOK_SECRET,
    FakeChatwoot,
    fixture,
    signed,
    write_manifest,
)

T = TypeVar("T")


@dataclass
class Running:
    service: Service
    api: FakeChatwoot
    var: Path


@pytest.fixture(scope="module")
def running(demo_data: Path, backoffice: Backoffice,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    api = FakeChatwoot()
    var = tmp_path_factory.mktemp("chatwoot-serve")
    env = {**service_env(demo_data, backoffice.url, var),
           "CONNECTOR_MANIFEST": str(write_manifest(var, write_back=True)),
           "CHATWOOT_URL": api.url, "CHATWOOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "CHATWOOT_API_TOKEN": API_TOKEN}
    service = start_service(env)
    yield Running(service, api, var)
    stop(service.process)
    api.stop()


def contacts(var: Path, ticket: str) -> list[Any]:
    engine = sqlalchemy.create_engine(f"sqlite:///{var / 'connector.sqlite'}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(sqlalchemy.text(
                "SELECT channel, subject FROM contacts WHERE helpdesk = 'chatwoot' "
                "AND ticket_id = :ticket"), {"ticket": ticket}))
    finally:
        engine.dispose()


def test_the_dashboard_app_opens_her_record_through_the_service(running: Running) -> None:
    url = running.service.url
    printed = connector("chatwoot-url", env={**running.service.env, "CONNECTOR_PUBLIC_URL": url})
    assert printed.returncode == 0, printed.stderr
    page = requests.get(printed.stdout.strip(), timeout=10)
    assert page.status_code == 200
    assert f"frame-ancestors {running.api.url} 'self'" in page.headers["Content-Security-Policy"]
    assert "chatwoot-dashboard-app:fetch-info" in page.text
    key = printed.stdout.strip().split("k=")[1]
    sealed = requests.post(f"{url}/helpdesk/chatwoot/sidebar", timeout=10, json={
        "k": key, "conversation": 57, "email": None, "phone_number": "+33653888890"})
    assert sealed.status_code == 200
    record = requests.get(url + sealed.json()["url"], timeout=10)
    assert record.status_code == 200 and "Pauline Denève" in record.text
    forged = requests.post(f"{url}/helpdesk/chatwoot/sidebar", timeout=10,
                           json={"k": key[::-1], "email": "pauline.deneve@easiware.fr"})
    assert forged.status_code == 401
    assert requests.get(f"{url}/helpdesk/chatwoot/sidebar", timeout=10).status_code == 401


def test_a_signed_whatsapp_conversation_is_worked_once_and_written_back(
        running: Running) -> None:
    body = fixture("conversation_created_whatsapp.json")
    url = f"{running.service.url}/helpdesk/chatwoot/webhook"
    first = requests.post(url, data=body, timeout=10, headers=signed(body, delivery="wa-57"))
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    (contact,) = until(lambda: contacts(running.var, "57"))
    assert contact.channel == "whatsapp"
    assert contact.subject == "Bonjour, le colis AU908764 n'est pas arrivé"
    notes = until(lambda: running.api.messages.get("57"))
    assert notes[0]["private"] is True
    labels = running.api.labels["conversations/57"]
    assert labels and all(label.startswith("connector_") for label in labels)
    assert running.api.labels["contacts/206"] == labels
    again = requests.post(url, data=body, timeout=10, headers=signed(body, delivery="wa-57"))
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    time.sleep(1)
    assert len(contacts(running.var, "57")) == 1 and len(running.api.messages["57"]) == 1
    unsigned = requests.post(url, data=body, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert "X-Chatwoot-Signature" in json.loads(unsigned.text)["error"]
