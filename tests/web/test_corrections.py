"""Corrections from the record, end to end over real HTTP: the API keeps a change before its 202,
the worker sends it to the demo ERP with its idempotency key, reads the record again and
confirms it; a killed process, a timed-out call or a refusal never applies it twice."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import (
    API_TOKEN,
    Backoffice,
    Service,
    service_env,
    start_backoffice,
    start_service,
    stop,
    until,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE = "pauline.deneve@easiware.fr"


@pytest.fixture
def office(demo_data: Path) -> Iterator[Backoffice]:
    """A back office of this test's own: corrections change its customers."""
    running = start_backoffice(demo_data)
    yield running
    stop(running.process)


@pytest.fixture
def env(demo_data: Path, office: Backoffice, tmp_path: Path) -> dict[str, str]:
    return {**service_env(demo_data, office.url, tmp_path / "var"),
            "CONNECTOR_EVENT_LEASE_S": "3"}  # a change held by a dead process: 3 s later


@pytest.fixture
def service(env: dict[str, str]) -> Iterator[Service]:
    running = start_service(env)
    yield running
    stop(running.process)


def pauline(service: Service, email: str = PAULINE) -> dict[str, Any]:
    answer = requests.get(f"{service.url}/api/v1/customers/lookup", params={"email": email},
                          headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


def correct(service: Service, customer_id: str, **body: object) -> requests.Response:
    return requests.post(f"{service.url}/api/v1/customers/{customer_id}/corrections",
                         json=body, headers=AUTH, timeout=10)


def warm(service: Service, customer_id: str) -> None:
    """Read the record by our id (as a correction reads it), so that it is in the cache
    before the test puts a fault on the ERP."""
    requests.get(f"{service.url}/api/v1/customers/{customer_id}/timeline", headers=AUTH,
                 timeout=10).raise_for_status()


def state(service: Service, change_id: str) -> dict[str, Any]:
    answer = requests.get(f"{service.url}/api/v1/changes/{change_id}", headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def settled(service: Service, change_id: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        found = state(service, change_id)
        return found if found["state"] in ("confirmed", "unconfirmed", "failed") else None
    return check


def applied(office: Backoffice) -> list[dict[str, Any]]:
    writes: list[dict[str, Any]] = requests.get(f"{office.url}/_admin/writes",
                                                timeout=10).json()["writes"]
    return writes


def test_an_email_corrected_through_the_api_reaches_the_erp_and_the_record(
        service: Service, office: Backoffice) -> None:
    record = pauline(service)
    answer = correct(service, record["customer_id"], field="identity.emails",
                     value=" Pauline.Deneve@Exemple.FR ", agent="margaux@zendesk")
    assert answer.status_code == 202, answer.text
    kept = answer.json()
    assert kept["state"] in ("pending", "sending", "sent", "confirmed")
    assert answer.headers["Location"] == f"/api/v1/changes/{kept['id']}"
    assert "pauline" not in answer.text.lower()  # never the values, only where it stands
    done = until(settled(service, kept["id"]), seconds=45)
    assert done["state"] == "confirmed" and done["outcome"] == "erp shows the new value"
    assert applied(office) == [{"key": kept["id"], "customer_id": record["identity"][
        "external_ids"]["erp"], "fields": ["email"]}]
    again = pauline(service, "pauline.deneve@exemple.fr")  # the link store follows
    assert again["customer_id"] == record["customer_id"]
    assert again["identity"]["emails"][0] == "pauline.deneve@exemple.fr"
    listed = requests.get(f"{service.url}/api/v1/customers/{record['customer_id']}/changes",
                          headers=AUTH, timeout=10).json()["changes"]
    assert [c["id"] for c in listed] == [kept["id"]] and listed[0]["actor"] == "margaux@zendesk"


def test_bad_corrections_are_refused_with_their_reason(service: Service) -> None:
    record = pauline(service)
    customer = record["customer_id"]
    assert correct(service, customer, field="identity.emails", value="nope").status_code == 400
    assert "already" in correct(service, customer, field="identity.emails",
                                value=PAULINE.upper()).json()["error"]
    assert correct(service, customer, field="identity.birth_date",
                   value="1980-01-01").status_code == 400
    assert correct(service, customer, field="identity.phones", value="0611223344",
                   replaces="0699999999").status_code == 409
    assert correct(service, "cus_nobody", field="identity.emails",
                   value="a@b.fr").status_code == 404
    assert requests.get(f"{service.url}/api/v1/changes/nope", headers=AUTH,
                        timeout=10).status_code == 404
    assert requests.post(f"{service.url}/api/v1/customers/{customer}/corrections",
                         json={"field": "identity.emails", "value": "a@b.fr"},
                         timeout=10).status_code == 401


def test_a_timed_out_call_is_sent_again_with_its_key_and_applied_once(
        service: Service, office: Backoffice) -> None:
    record = pauline(service)
    warm(service, record["customer_id"])
    office.faults(erp="slow")  # answers after 5 s: the 1.5 s timeout gives up, the ERP applies
    answer = correct(service, record["customer_id"], field="identity.phones",
                     value="06 11 22 33 44", replaces="06 53 88 88 90")
    assert answer.status_code == 202, answer.text
    kept = answer.json()
    # the first call timed out: the change waits for its next try, its outcome says why
    until(lambda: "did not answer" in (state(service, kept["id"])["outcome"] or ""))
    office.faults(erp="ok")
    done = until(settled(service, kept["id"]), seconds=60)
    assert done["state"] == "confirmed"
    assert [w["key"] for w in applied(office)] == [kept["id"]]  # the second call: a replay
    assert "+33611223344" in pauline(service)["identity"]["phones"]


def test_a_change_kept_before_a_kill_9_is_sent_once_by_the_next_process(
        env: dict[str, str], office: Backoffice) -> None:
    first = start_service(env)
    try:
        record = pauline(first)
        warm(first, record["customer_id"])
        office.faults(erp="down")  # the change waits in the outbox
        answer = correct(first, record["customer_id"], field="identity.emails",
                         value="p.deneve@exemple.fr")
        assert answer.status_code == 202, answer.text
        kept = answer.json()
        assert state(first, kept["id"])["state"] in ("pending", "sending")
    finally:
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    office.faults(erp="ok")
    second = start_service(env)
    try:
        done = until(settled(second, kept["id"]), seconds=60)
        assert done["state"] == "confirmed"
        assert [w["key"] for w in applied(office)] == [kept["id"]]
    finally:
        stop(second.process)


@pytest.mark.browser
def test_an_agent_corrects_an_email_from_the_record(browser: Any, service: Service,
                                                   office: Backoffice) -> None:
    """Edit, pending, confirmed: in headless Chromium on the record page itself."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    from connector.helpdesk.embed import EmbedLinks

    links = EmbedLinks(b"test-secret-key", 600, "FR")
    browser.get(links.url(service.url, links.token(email=PAULINE), "fr"))
    browser.find_element(By.XPATH, "//button[normalize-space()=\"Corriger l'email\"]").click()
    box = WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "correction-value"))
    assert "pauline.deneve@easiware.fr" in browser.find_element(By.TAG_NAME, "body").text
    box.send_keys("not an email")
    box.submit()
    WebDriverWait(browser, 15).until(  # refused, said in words, on the same page
        lambda d: d.find_elements(By.CSS_SELECTOR, ".correction__error"))
    box = browser.find_element(By.ID, "correction-value")
    box.clear()
    box.send_keys("Pauline.Deneve@Exemple.fr")
    box.submit()
    line = WebDriverWait(browser, 15).until(  # back on the record: the change says its state
        lambda d: d.find_elements(By.CSS_SELECTOR, "#block-identity .changes li"))[0]
    assert line.text.startswith("Correction (email) · ERP :")

    def confirmed(driver: Any) -> bool:
        driver.refresh()
        shown = driver.find_elements(By.CSS_SELECTOR, "#block-identity .changes li")
        return bool(shown) and shown[0].text.endswith("confirmée")

    WebDriverWait(browser, 45, poll_frequency=1).until(confirmed)
    identity = browser.find_element(By.ID, "block-identity").text
    assert "pauline.deneve@exemple.fr" in identity  # read again from the ERP
    assert [w["fields"] for w in applied(office)] == [["email"]]
