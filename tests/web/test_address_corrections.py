"""The postal address corrected from the record, over real HTTP: given as an object to the API
or part by part on the record's page (its single-use token), kept before the answer, sent
to the demo ERP, read back and confirmed; what cannot be an address is refused with why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Backoffice, Service, service_env, start_backoffice, start_service, stop
from tests.conftest import until as wait_until
from tests.web.test_actions import _once
from tests.web.test_corrections import AUTH, PAULINE, applied, correct, pauline, settled

LILAS = {"line1": "12 rue des Lilas", "postcode": "69003", "city": "Lyon", "country": "FR"}


@pytest.fixture(scope="module")
def office(demo_data: Path) -> Iterator[Backoffice]:
    """A back office of this module's own: corrections change its customers."""
    running = start_backoffice(demo_data)
    yield running
    stop(running.process)


@pytest.fixture(scope="module")
def service(demo_data: Path, office: Backoffice,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start_service(service_env(demo_data, office.url,
                                        tmp_path_factory.mktemp("address")))
    yield running
    stop(running.process)


def erp_address(office: Backoffice, external: str) -> dict[str, Any]:
    """The customer's address as the demo ERP keeps it."""
    found = requests.get(f"{office.url}/erp/api/customers", params={"id": external},
                         headers={"Authorization": "Bearer demo-erp-token"}, timeout=10)
    address: dict[str, Any] = found.json()["customers"][0]["address"]
    return address


def test_an_address_corrected_through_the_api_reaches_the_erp_and_the_record(
        service: Service, office: Backoffice) -> None:
    record = pauline(service)
    external = record["identity"]["external_ids"]["erp"]
    given = {"line1": " 12  rue des Lilas ", "postcode": "69003", "city": "Lyon",
             "country": "fr"}
    answer = correct(service, record["customer_id"], field="identity.address", value=given,
                     agent="margaux@zendesk")
    assert answer.status_code == 202, answer.text
    kept = answer.json()
    assert "lilas" not in answer.text.lower()  # never the values, only where it stands
    done = wait_until(settled(service, kept["id"]), seconds=45)
    assert done["state"] == "confirmed" and done["outcome"] == "erp shows the new value"
    assert [w for w in applied(office) if w["key"] == kept["id"]] == [
        {"key": kept["id"], "customer_id": external, "fields": ["address"]}]
    assert erp_address(office, external) == {"street": "12 rue des Lilas", "zip": "69003",
                                             "city": "Lyon", "country": "FR"}
    assert pauline(service)["identity"]["address"] == LILAS
    again = correct(service, record["customer_id"], field="identity.address",
                    value={**LILAS, "line1": "12 RUE DES LILAS"})
    assert again.status_code == 400 and "holds this value already" in again.json()["error"]


@pytest.mark.parametrize(("value", "error"), [
    ("12 rue des Lilas, Lyon", "give the new value as an object"),
    ({"line1": "12 rue des Lilas"}, "identity.address.city: required"),
    ({"line1": "12 rue des Lilas", "city": "Lyon", "country": "XX"}, "not an ISO 3166"),
    ({"line1": "12 rue\x00 des Lilas", "city": "Lyon"}, "control characters"),
    ({"line1": "12 rue des Lilas", "city": "Lyon", "street": "?"}, "unknown part"),
])
def test_what_is_no_address_is_refused_with_its_reason(service: Service, value: object,
                                                       error: str) -> None:
    answer = correct(service, pauline(service)["customer_id"], field="identity.address",
                     value=value)
    assert answer.status_code == 400 and error in answer.json()["error"], answer.text


def test_an_agent_corrects_the_address_on_the_record_page(service: Service,
                                                          office: Backoffice) -> None:
    """The identity block links the form; its four inputs hold the record's address; sent
    with its single-use token, the change is kept once, then confirmed."""
    from connector.helpdesk.embed import EmbedLinks

    links = EmbedLinks(b"test-secret-key", 600, "FR")
    token = links.token(email=PAULINE, agent="margaux")
    record = requests.get(links.url(service.url, token, "en"), timeout=10)
    assert "Correct the address" in record.text
    assert 'value="correction:identity.address"' in record.text
    french = requests.get(links.url(service.url, token, "fr"), timeout=10)
    assert "Corriger l&#39;adresse" in french.text or "Corriger l'adresse" in french.text
    url = f"{service.url}/helpdesk/embed/corrections"
    asked = {"t": token, "lang": "en", "field": "identity.address"}
    page = requests.get(url, params=asked, timeout=10)
    assert page.status_code == 200, page.text[:500]
    current = pauline(service)["identity"]["address"]
    for name in ("line1", "postcode", "city", "country"):
        assert f'name="value.{name}"' in page.text
        assert f'value="{current[name]}"' in page.text  # filled with the record's address
    assert 'name="replaces"' not in page.text
    form = {**asked, "once": _once(page), "value.line1": "3 quai Saint-Vincent",
            "value.postcode": "", "value.city": "Lyon", "value.country": "FR"}
    refused = requests.post(url, data={**form, "value.country": "France"}, timeout=10)
    assert refused.status_code == 400
    assert "two-letter ISO code" in refused.text and 'value="France"' in refused.text
    first = requests.post(url, data=form, timeout=10, allow_redirects=False)
    again = requests.post(url, data=form, timeout=10, allow_redirects=False)
    assert (first.status_code, again.status_code) == (303, 303)
    customer = pauline(service)["customer_id"]
    kept = [c for c in requests.get(f"{service.url}/api/v1/customers/{customer}/changes",
                                    headers=AUTH, timeout=10).json()["changes"]
            if c["field"] == "identity.address" and c["actor"] == "margaux"]
    assert len(kept) == 1  # the same form sent twice: one change
    done = wait_until(settled(service, kept[0]["id"]), seconds=45)
    assert done["state"] == "confirmed", done["outcome"]
    assert pauline(service)["identity"]["address"] == {
        "line1": "3 quai Saint-Vincent", "postcode": None, "city": "Lyon", "country": "FR"}
    shown = requests.get(links.url(service.url, token, "en"), timeout=10).text
    assert "Correction (address) · ERP: confirmed" in shown


@pytest.mark.browser
def test_the_address_form_in_a_browser(browser: Any, service: Service) -> None:
    """The identity block's link opens the four inputs, the record's address in them."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    from connector.helpdesk.embed import EmbedLinks
    from tests.conftest import screenshot

    links = EmbedLinks(b"test-secret-key", 600, "FR")
    browser.get(links.url(service.url, links.token(email=PAULINE), "fr"))
    browser.find_element(By.XPATH, "//button[normalize-space()=\"Corriger l'adresse\"]").click()
    city = WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "correction-city"))
    assert city.get_attribute("value") == pauline(service)["identity"]["address"]["city"]
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".correction__parts label")]
    assert labels == ["Numéro et rue", "Code postal (facultatif)", "Ville",
                      "Pays (code ISO : FR, BE…) (facultatif)"]
    screenshot(browser, "address-correction.png")
