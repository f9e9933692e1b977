"""Our Zendesk sidebar in headless Chromium, framed by a stand-in Zendesk page that speaks the
ZAF postMessage protocol, with the real SDK from the npm package `zendesk_app_framework_sdk`
and a real `connector serve` over HTTP; a second one, whose links and sessions last seconds,
shows a ticket kept open past every lifetime still working."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from selenium.common.exceptions import (
    NoSuchElementException,
    NoSuchFrameException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import Identifiers
from tests.conftest import Backoffice, Service, screenshot, service_env, start_service, stop
from tests.helpdesk.zendesk.zaf.harness import (
    APP_GUID,
    Parent,
    bundled_sdk,
    public_pem,
    signed_url_token,
    start_parent,
    zendesk_manifest,
)

pytestmark = pytest.mark.browser

BRIEF_S = 4  # the brief service's link_ttl_s and session_ttl_s
PAULINE = {"id": 9001, "name": "Pauline Denève", "email": "pauline.deneve@easiware.fr",
           "identities": [{"type": "email", "value": "pauline.deneve@easiware.fr"},
                          {"type": "phone_number", "value": "+33653888890"}]}


@pytest.fixture(scope="module")
def parent() -> Iterator[Parent]:
    running = start_parent(bundled_sdk())
    yield running
    running.close()


@pytest.fixture(scope="module")
def zendesk(demo_data: Path, backoffice: Backoffice, parent: Parent,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`connector serve` with zendesk on: framed by the stand-in, the SDK served by it, users'
    external ids read as the ERP's own."""
    var = tmp_path_factory.mktemp("zendesk")
    manifest = zendesk_manifest(var, frame_ancestors=[parent.origin],
                                sdk_url=f"{parent.url}/zaf_sdk.min.js", external_id_source="erp")
    env = {**service_env(demo_data, backoffice.url, var), "CONNECTOR_MANIFEST": str(manifest),
           "ZENDESK_APP_PUBLIC_KEY": public_pem()}
    running = start_service(env)
    yield running
    stop(running.process)


@pytest.fixture(scope="module")
def brief(demo_data: Path, backoffice: Backoffice, parent: Parent,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The same, but its sealed links and sessions last BRIEF_S seconds, sessions renewed for a
    minute at most after Zendesk's token."""
    var = tmp_path_factory.mktemp("zendesk-brief")
    manifest = zendesk_manifest(var, link_ttl_s=BRIEF_S, session_ttl_s=BRIEF_S,
                                session_max_s=60, frame_ancestors=[parent.origin],
                                sdk_url=f"{parent.url}/zaf_sdk.min.js")
    env = {**service_env(demo_data, backoffice.url, var), "CONNECTOR_MANIFEST": str(manifest),
           "ZENDESK_APP_PUBLIC_KEY": public_pem()}
    running = start_service(env)
    yield running
    stop(running.process)


def open_app(browser: Any, parent: Parent, zendesk: Service, name: str, **config: Any) -> None:
    """Load a stand-in ticket page that POSTs a signed-URL token into the app's iframe."""
    query = urlencode({"origin": parent.origin, "app_guid": APP_GUID})
    settings = {"app_url": f"{zendesk.url}/helpdesk/zendesk/sidebar?{query}",
                "app_origin": zendesk.url, "token": signed_url_token(), "requester": PAULINE,
                "ticket_id": 35436, "locale": "fr", **config}
    browser.get(parent.page(name, **settings))


def record_text(browser: Any, expected: str, seconds: float = 20) -> str:
    """The record's text once it shows `expected`: Zendesk's frame, then ours inside it."""
    def shown(driver: Any) -> str | bool:
        try:
            driver.switch_to.frame(driver.find_element(By.ID, "app"))
            record = driver.find_element(By.ID, "record")
            if not record.is_displayed():
                return False
            driver.switch_to.frame(record)
            text = driver.find_element(By.TAG_NAME, "body").text
            text = text.replace("\u202f", " ").replace("\xa0", " ")
            return text if expected in text else False
        except (NoSuchElementException, NoSuchFrameException, StaleElementReferenceException):
            return False
        finally:
            driver.switch_to.default_content()
    return str(WebDriverWait(browser, seconds, poll_frequency=0.2).until(shown))


def app_status(browser: Any, expected: str, seconds: float = 15,
               frame: bool = True) -> str:
    """The message our page shows (in Zendesk's frame, or at the top when alone)."""
    def shown(driver: Any) -> str | bool:
        try:
            if frame:
                driver.switch_to.frame(driver.find_element(By.ID, "app"))
            status = driver.find_element(By.ID, "status")
            return status.text if expected in status.text else False
        except (NoSuchElementException, NoSuchFrameException, StaleElementReferenceException):
            return False
        finally:
            driver.switch_to.default_content()
    return str(WebDriverWait(browser, seconds, poll_frequency=0.2).until(shown))


def in_record(browser: Any, script: str) -> Any:
    """Run a script in the record's frame (in our page, in Zendesk's frame)."""
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        browser.switch_to.frame(browser.find_element(By.ID, "record"))
        return browser.execute_script(script)
    finally:
        browser.switch_to.default_content()


def test_pauline_s_record_opens_inside_zendesk_through_the_real_sdk(
        browser: Any, parent: Parent, zendesk: Service) -> None:
    open_app(browser, parent, zendesk, "ticket")
    text = record_text(browser, "Pauline Denève")
    for expected in ["Pauline Denève", "997890", "AU908764", "1 464,00 €"]:
        assert expected in text, expected
    zaf = browser.execute_script("return window.zaf")
    assert zaf["received"][0] == "iframe.handshake"  # the SDK spoke first, as in Zendesk
    assert "get" in zaf["received"]
    for event in ("ticket.requester.email.changed", "ticket.requester.id.changed",
                  "app.activated"):
        assert zaf["subscriptions"][event] == 1, event
    assert zaf["resized"] and int(zaf["resized"][-1]["height"].removesuffix("px")) > 300
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        kept = browser.execute_script("return location.search")
        nested = browser.find_element(By.ID, "record").get_attribute("src")
    finally:
        browser.switch_to.default_content()
    assert f"app_guid={APP_GUID}" in kept and "origin=http" in kept
    assert "/helpdesk/embed/sidebar?t=" in nested and "pauline" not in nested.lower()
    assert screenshot(browser, "zendesk-sidebar.png").stat().st_size > 10_000


def test_a_change_of_requester_opens_the_new_record(browser: Any, parent: Parent,
                                                    zendesk: Service, demo_data: Path) -> None:
    customers = json.loads((demo_data / "erp.json").read_text())["customers"]
    other = next(c for c in customers if c["id"] == "C101001")
    name = f"{other['first_name']} {other['last_name']}"
    open_app(browser, parent, zendesk, "change")
    record_text(browser, "Pauline Denève")
    browser.execute_script("changeRequester(arguments[0])",
                           {"id": 9002, "name": name, "email": other["email"]})
    text = record_text(browser, name)
    assert "Pauline" not in text.split("\n")[0]
    screenshot(browser, "zendesk-sidebar-requester-changed.png")


def test_a_requester_without_email_or_phone_opens_the_search(browser: Any, parent: Parent,
                                                             zendesk: Service) -> None:
    open_app(browser, parent, zendesk, "anonymous",
             requester={"id": 9003, "name": "Visitor 4412", "email": None, "identities": []})
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        WebDriverWait(browser, 20).until(
            lambda d: d.find_element(By.ID, "record").is_displayed())
        browser.switch_to.frame(browser.find_element(By.ID, "record"))
        box = browser.find_element(By.ID, "q")
        box.send_keys("DENEVE 77184")
        box.submit()
        results = WebDriverWait(browser, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".candidates__choice"))
        assert [r.text.split("\n")[0] for r in results] == ["Pauline Denève"]
    finally:
        browser.switch_to.default_content()


def test_x_and_facebook_identities_are_sent_as_handles(browser: Any, parent: Parent,
                                                      zendesk: Service) -> None:
    claire = {"id": 9004, "name": "Claire Deco", "email": None,
              "identities": [{"type": "twitter", "value": "Claire_Deco67"},
                             {"type": "facebook", "value": "855769377321"},
                             {"type": "google", "value": "claire.deco@gmail.com"},
                             {"type": "messaging", "value": "b1c8e2f04d"}]}
    open_app(browser, parent, zendesk, "social", requester=claire)
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        source = WebDriverWait(browser, 20).until(
            lambda d: d.find_element(By.ID, "record").get_attribute("src"))
    finally:
        browser.switch_to.default_content()
    query = {k: v[0] for k, v in parse_qs(urlsplit(source).query).items()}
    sealed = EmbedLinks(b"test-secret-key", 600, "FR").read(query)  # the service's key
    assert sealed.identifiers == Identifiers(emails=("claire.deco@gmail.com",),
                                             handles=("twitter:claire_deco67",
                                                      "facebook:855769377321"))


def test_a_requester_known_by_her_erp_number_alone_opens_her_record(
        browser: Any, parent: Parent, zendesk: Service) -> None:
    """The ZAF user's `externalId` is the ERP's customer number: no email, no phone needed."""
    known = {"id": 9005, "name": "P. Denève", "email": None, "externalId": "C100997",
             "identities": []}
    open_app(browser, parent, zendesk, "external", requester=known)
    text = record_text(browser, "Pauline Denève")
    assert "997890" in text


def test_a_zendesk_that_does_not_answer_times_out_saying_so(browser: Any, parent: Parent,
                                                            zendesk: Service) -> None:
    open_app(browser, parent, zendesk, "silent", silent=True)
    message = app_status(browser, "5", seconds=15)
    assert message.startswith(("Zendesk did not answer within 5 seconds",
                               "Zendesk n'a pas répondu en 5 secondes")), message


def test_our_page_alone_says_it_works_inside_zendesk_only(browser: Any, parent: Parent,
                                                          zendesk: Service) -> None:
    open_app(browser, parent, zendesk, "alone", target="_self")
    message = app_status(browser, "Zendesk", frame=False)
    assert "inside Zendesk only" in message or "que dans Zendesk" in message


def test_a_ticket_kept_open_past_every_lifetime_still_opens_details_and_saves_notes(
        browser: Any, parent: Parent, brief: Service) -> None:
    open_app(browser, parent, brief, "kept-open")
    record_text(browser, "Pauline Denève")
    first = in_record(browser, "window.mark = 'kept';"
                               "return new URLSearchParams(location.search).get('t')")
    # past the first link's and the first session's lifetimes: the page renewed both at 80 %
    time.sleep(BRIEF_S + 1.3)  # tokens count whole seconds: one more
    browser.execute_script("activate()")  # back on the ticket: nothing breaks either
    gone = requests.get(f"{brief.url}/helpdesk/embed/sidebar", params={"t": first}, timeout=5)
    assert gone.status_code == 401 and "Fiche à recharger" in gone.text
    mark, token = in_record(browser, "return [window.mark, "
                                     "new URLSearchParams(location.search).get('t')]")
    assert mark == "kept" and token != first  # renewed in place: the agent's place is kept
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        browser.switch_to.frame(browser.find_element(By.ID, "record"))
        button = browser.find_element(By.CSS_SELECTOR, "button[data-detail-key='997890']")
        button.click()
        panel = browser.find_element(By.ID, button.get_attribute("aria-controls"))
        WebDriverWait(browser, 10).until(lambda _: "Colissimo" in panel.text)
        box = browser.find_element(By.ID, "note-text")
        box.send_keys("Rappeler après 17 h")
        box.submit()
    finally:
        browser.switch_to.default_content()
    assert "Rappeler après 17 h" in record_text(browser, "Rappeler après 17 h")
    screenshot(browser, "zendesk-sidebar-kept-open.png")


def test_past_session_max_s_the_app_asks_to_be_reloaded(browser: Any, parent: Parent,
                                                         brief: Service) -> None:
    # Zendesk's token is 57 s old: the first link comes, a renewal 3 s later is refused
    open_app(browser, parent, brief, "capped", token=signed_url_token(now=time.time() - 57))
    record_text(browser, "Pauline Denève")
    message = app_status(browser, "rechargez les applications", seconds=15)
    assert message.startswith("Cette session a expiré"), message
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        assert not browser.find_element(By.ID, "record").is_displayed()
    finally:
        browser.switch_to.default_content()
