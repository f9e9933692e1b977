"""End to end, every part a real process: django-helpdesk from PyPI (the test site in
tests/helpdesk/djhelpdesk, migrated and served by `manage.py runserver`) and `connector serve`.

A ticket created through django-helpdesk's REST API reaches us by its own webhook (the secret
as the URL's password); the event worker of `connector serve` records the contact in the
customer's history, warms the cache and writes a private note back through the same API,
whose follow-up webhook comes back and is ignored. The ticket page, through the documented
template override, frames the customer's record by a sealed link.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import API_TOKEN, Backoffice, Service, free_port, service_env, start_service
from tests.conftest import stop as stop_process
from tests.helpdesk.django_helpdesk.djhelpdesk.desk import (
    AGENT,
    AGENT_PASSWORD,
    DeskSite,
    prepare_desk,
    serve_desk,
    webhook_url,
    write_manifest,
)

PAULINE = "pauline.deneve@easiware.fr"
SECRET = secrets.token_hex(16)
TITLE = "Colis jamais reçu (commande 997890)"


@dataclass
class Stack:
    connector: Service
    desk: DeskSite


@pytest.fixture(scope="module")
def stack(demo_data: Path, backoffice: Backoffice,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("django_helpdesk")
    desk_port = free_port()
    desk_url = f"http://127.0.0.1:{desk_port}/helpdesk"
    entry = {"webhook_secret": "${DJANGO_HELPDESK_WEBHOOK_SECRET:-}",
             "url": "${DJANGO_HELPDESK_URL:-}", "api_user": "${DJANGO_HELPDESK_API_USER:-}",
             "api_password": "${DJANGO_HELPDESK_API_PASSWORD:-}",
             "write_back": {"enabled": True, "note": True}}
    env = {**service_env(demo_data, backoffice.url, tmp / "var"),
           "CONNECTOR_MANIFEST": str(write_manifest(tmp / "manifest.yaml", entry)),
           "DJANGO_HELPDESK_WEBHOOK_SECRET": SECRET, "DJANGO_HELPDESK_URL": desk_url,
           "DJANGO_HELPDESK_API_USER": AGENT, "DJANGO_HELPDESK_API_PASSWORD": AGENT_PASSWORD}
    prepare_desk(tmp / "desk")
    connector = start_service(env)
    hook = webhook_url(connector.url, SECRET)
    try:
        desk = serve_desk(tmp / "desk", {
            **env, "HELPDESK_NEW_TICKET_WEBHOOK_URLS": hook,
            "HELPDESK_FOLLOWUP_WEBHOOK_URLS": hook, "CONNECTOR_URL": connector.url},
            port=desk_port)
    except Exception:
        stop_process(connector.process)
        raise
    yield Stack(connector, desk)
    desk.stop()
    stop_process(connector.process)


def metrics(service: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and labels."""
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def webhooks(service: Service, outcome: str) -> float:
    key = ("connector_webhooks_total", (("helpdesk", "django_helpdesk"), ("outcome", outcome)))
    return metrics(service).get(key, 0.0)


def cache_lookups(service: Service, result: str) -> dict[str, float]:
    return {dict(labels)["source"]: value for (name, labels), value in metrics(service).items()
            if name == "connector_cache_lookups_total" and dict(labels)["result"] == result}


def eventually(check: Callable[[], Any], seconds: float = 20) -> Any:
    """The first true value of `check`, polled (the worker runs in the connector's thread)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {check.__doc__ or check}")


def desk_api() -> requests.Session:
    """django-helpdesk's REST API as its staff agent (HTTP Basic, DRF's default)."""
    session = requests.Session()
    session.auth = (AGENT, AGENT_PASSWORD)
    return session


def test_a_ticket_from_django_helpdesk_lands_in_the_customers_history(stack: Stack) -> None:
    api = desk_api()
    created = api.post(f"{stack.desk.url}/api/tickets/", timeout=30, json={
        "queue": 1, "title": TITLE, "submitter_email": PAULINE, "priority": 3,
        "description": "Bonjour, je n'ai toujours pas reçu ma commande."})
    assert created.status_code == 201, created.text
    ticket = created.json()["id"]
    # django-helpdesk posts its webhook before its API answers (unless we took over 3 s)
    eventually(lambda: webhooks(stack.connector, "accepted") == 1)

    def our_note() -> dict[str, Any] | None:
        """the worker's private note on the ticket"""
        followups = api.get(f"{stack.desk.url}/api/tickets/{ticket}/", timeout=10).json()
        return next((f for f in followups["followup_set"] if not f["public"]), None)

    note = eventually(our_note)  # written after the contact was recorded and the cache warmed
    misses, hits = cache_lookups(stack.connector, "miss"), cache_lookups(stack.connector, "hit")
    assert misses, "the worker looked the customer up"

    found = requests.get(f"{stack.connector.url}/api/v1/customers/lookup",
                         params={"email": PAULINE}, timeout=10,
                         headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert found.status_code == 200
    record = found.json()
    assert record["contacts"]["last"]["reason"] == TITLE
    assert record["contacts"]["last"]["channel"] == "web"
    # every source answered from the cache the worker warmed: no new miss, one hit each
    assert cache_lookups(stack.connector, "miss") == misses
    after = cache_lookups(stack.connector, "hit")
    assert all(after.get(source, 0) > hits.get(source, 0) for source in misses), (hits, after)

    assert record["flags"], "Pauline's record raises flags: the note says which"
    for flag in record["flags"]:
        assert flag["label"] in note["comment"]
    ticket_now = api.get(f"{stack.desk.url}/api/tickets/{ticket}/", timeout=10).json()
    assert ticket_now["title"] == TITLE
    # our note's own follow-up webhook came back, and private notes are ignored
    eventually(lambda: webhooks(stack.connector, "ignored") == 1)
    assert webhooks(stack.connector, "accepted") == 1


def test_a_public_reply_reaches_us_as_an_event(stack: Stack) -> None:
    api = desk_api()
    before = webhooks(stack.connector, "accepted")
    ticket = api.post(f"{stack.desk.url}/api/tickets/", timeout=30, json={
        "queue": 1, "title": "Retour produit", "submitter_email": PAULINE, "priority": 3,
        "description": "Je souhaite retourner un article."}).json()["id"]
    eventually(lambda: webhooks(stack.connector, "accepted") == before + 1)
    reply = api.post(f"{stack.desk.url}/api/followups/", timeout=30, json={
        "ticket": ticket, "comment": "Voici l'étiquette de retour.", "public": True})
    assert reply.status_code == 201, reply.text
    eventually(lambda: webhooks(stack.connector, "accepted") == before + 2)


def test_the_ticket_page_frames_the_record_by_a_sealed_link(stack: Stack) -> None:
    api = desk_api()
    ticket = api.post(f"{stack.desk.url}/api/tickets/", timeout=30, json={
        "queue": 1, "title": "Question sur ma carte", "submitter_email": PAULINE,
        "priority": 3, "description": "Combien de points ai-je ?"}).json()["id"]
    browser = requests.Session()
    login = browser.get(f"{stack.desk.url}/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert csrf is not None
    browser.post(f"{stack.desk.url}/login/", timeout=10, data={
        "username": AGENT, "password": AGENT_PASSWORD, "csrfmiddlewaretoken": csrf.group(1),
        "next": f"/helpdesk/tickets/{ticket}/"}, headers={"Referer": login.url})
    page = browser.get(f"{stack.desk.url}/tickets/{ticket}/", timeout=10)
    assert page.status_code == 200 and "Question sur ma carte" in page.text
    frame = re.search(r'<iframe class="connector-sidebar"[^>]* src="([^"]+)"', page.text)
    assert frame is not None, "the template override adds the record"
    src = unescape(frame.group(1))
    assert src.startswith(f"{stack.connector.url}/helpdesk/embed/sidebar?t=")
    assert "easiware" not in src and "pauline" not in src.lower()  # no identifier in the URL
    record = requests.get(src, timeout=10)
    assert record.status_code == 200
    assert "Denève" in record.text
    desk_origin = stack.desk.url.removesuffix("/helpdesk")
    assert desk_origin in record.headers["Content-Security-Policy"].split("frame-ancestors")[1]
