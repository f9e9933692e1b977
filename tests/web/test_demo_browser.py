"""The demo helpdesk in headless Chromium: tickets, and the customer sidebar beside each."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import Service, screenshot

pytestmark = pytest.mark.browser


def sidebar_text(driver: Any) -> str:
    driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
    try:
        text: str = driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.switch_to.default_content()
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_demo_opens_the_record_beside_the_ticket(browser: Any, service: Service) -> None:
    browser.get(f"{service.url}/demo")
    queue = browser.find_element(By.CSS_SELECTOR, "nav").text
    assert "Pauline Denève" in queue and "Appel entrant" in queue
    text = sidebar_text(browser)
    for expected in ["Pauline Denève", "1 464,00 €", "488,00 €", "05/08/2017", "8,5",
                     "997890", "Retournée", "AU908764", "120145", "Livrée", "34543-A"]:
        assert expected in text, expected
    path = screenshot(browser, "demo-fr.png")
    assert path.stat().st_size > 10_000


def test_a_phone_call_finds_the_same_customer(browser: Any, service: Service) -> None:
    browser.get(f"{service.url}/demo?ticket=1002&lang=en")
    text = sidebar_text(browser)
    assert "Pauline Denève" in text and "€1,464.00" in text
    screenshot(browser, "demo-en-phone.png")


def test_a_ticket_without_identifier_lets_the_agent_search(browser: Any,
                                                          service: Service) -> None:
    browser.get(f"{service.url}/demo?ticket=1006")
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        box = browser.find_element(By.ID, "q")
        box.send_keys("DENEVE 77184")  # no accent, upper case, with her postcode
        box.submit()
        results = WebDriverWait(browser, 15).until(  # the answer page, not the form leaving
            lambda d: d.find_elements(By.CSS_SELECTOR, ".candidates__choice"))
        assert [r.text.split("\n")[0] for r in results] == ["Pauline Denève"]
        screenshot(browser, "demo-search.png")
        results[0].click()
        WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR,
                                                                   ".block--kpis"))
        text = browser.find_element(By.TAG_NAME, "body").text.replace("\u202f", " ")
    finally:
        browser.switch_to.default_content()
    assert "1 464,00 €" in text


def test_clicking_a_ticket_switches_the_sidebar(browser: Any, service: Service) -> None:
    browser.get(f"{service.url}/demo")
    links = browser.find_elements(By.CSS_SELECTOR, "nav a")
    links[2].click()
    name = browser.find_element(By.CSS_SELECTOR, "main h2").text
    assert name and "Pauline" not in sidebar_text(browser).split("\n")[0]


def test_an_agent_opens_an_order_s_tracking_in_the_sidebar(browser: Any, service: Service) -> None:
    browser.get(f"{service.url}/demo?ticket=1001")
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        buttons = [b for b in browser.find_elements(By.CSS_SELECTOR, "button[aria-controls]")
                   if b.get_attribute("aria-expanded") == "false"]
        assert buttons, "the orders offer their tracking"
        buttons[0].click()
        WebDriverWait(browser, 5).until(
            lambda d: "Colissimo" in d.find_element(By.TAG_NAME, "body").text
            or "Chronopost" in d.find_element(By.TAG_NAME, "body").text)
        assert buttons[0].get_attribute("aria-expanded") == "true"
        screenshot(browser, "demo-tracking.png")
    finally:
        browser.switch_to.default_content()


def test_an_agent_keeps_a_landmark_from_the_sidebar(browser: Any, service: Service) -> None:
    browser.get(f"{service.url}/demo?ticket=1007")
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        try:  # the record (and its notes form) once the frame has it, whatever the load
            WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "note-text"))
        except TimeoutException:
            pytest.fail("no notes form in the sidebar: "
                        + browser.find_element(By.TAG_NAME, "body").text[:500])
        browser.find_element(By.ID, "note-text").send_keys("Prépare son CAP pâtissier")
        # no name to type: the demo's link names its agent, who signs the note
        assert not browser.find_elements(By.ID, "note-author")
        browser.find_element(By.CSS_SELECTOR, ".notes__add button[type=submit]").click()
        # the record the submit comes back to (the page being left may still be read: its
        # elements go stale under the wait, which reads them again)
        WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: any("Prépare son CAP pâtissier" in note.text
                          for note in d.find_elements(By.CSS_SELECTOR, ".notes__text")))
        assert "margaux.demo" in browser.find_element(By.CSS_SELECTOR, ".notes__byline").text
        screenshot(browser, "demo-note.png")
    finally:
        browser.switch_to.default_content()


def test_a_ticket_s_time_is_the_agents_own(service: Service) -> None:
    """The demo helpdesk writes when a ticket came in as the record does: in the page's
    language, in the brand's time zone (the tests' day: 2026-11-01, 08:00 UTC = 09:00 Paris)."""
    import re

    import requests

    page = requests.get(f"{service.url}/demo?ticket=1001", timeout=10).text
    shown = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    assert shown is not None and shown[1] == "2026-11-01T08:00:00Z"
    assert shown[2] == "01/11/2026 09:00"
    english = requests.get(f"{service.url}/demo?ticket=1001&lang=en", timeout=10).text
    assert ">1 Nov 2026 09:00</time>" in english.replace("\u202f", " ")


def test_the_demo_agent_s_role_decides_what_the_record_offers(service: Service) -> None:
    """The demo's header switches its agent's role: the sealed link carries it, and the
    record offers 'Renvoyer le bon d'achat' (kept for supervisors) in that role only."""
    import re

    import requests

    def record(role: str | None) -> str:
        page = requests.get(f"{service.url}/demo", params={"ticket": "1001", **(
            {"role": role} if role else {})}, timeout=10).text
        src = re.search(r'<iframe src="([^"]+)"', page)
        assert src is not None
        return requests.get(service.url + src[1].replace("&amp;", "&"), timeout=10).text

    assert 'value="action:erp:resend_voucher:"' not in record(None)
    assert 'value="action:erp:resend_voucher:"' in record("supervisor")
    assert 'value="action:erp:open_return:' in record(None)
