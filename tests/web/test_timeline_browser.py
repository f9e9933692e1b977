"""The timeline's "older" link on the full record, in headless Chromium on the demo: each click
appends the next entries in place (the page stays, its URL too), focus goes to the first new
entry, the link moves to the next cursor, and it is gone at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from demo.generate import SAMPLE_EMAIL
from tests.conftest import API_TOKEN, Service, screenshot

pytestmark = pytest.mark.browser
ENTRIES = "#block-timeline ol.timeline > li.timeline__entry"
OLDER = "#block-timeline > p.more > a"


def paulines_total(service: Service) -> int:
    """How many entries her timeline holds, as the API counts them."""
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    found = requests.get(f"{service.url}/api/v1/customers/lookup", headers=auth, timeout=10,
                         params={"email": SAMPLE_EMAIL}).json()
    page = requests.get(f"{service.url}/api/v1/customers/{found['customer_id']}/timeline",
                        headers=auth, timeout=10).json()
    return int(page["total"])


def test_older_appends_in_place_until_the_end(browser: Any, service: Service,
                                              demo_data: Path) -> None:
    tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
    browser.get(f"{service.url}/demo?ticket={tickets[0]['id']}&lang=fr")
    url = browser.find_element(By.TAG_NAME, "iframe").get_attribute("src")
    assert isinstance(url, str) and url
    browser.get(url)
    browser.execute_script("localStorage.clear(); window.stayed = true;")  # no reload below
    total = paulines_total(service)
    assert total > 20  # three pages at least: the link moves twice
    shown = len(browser.find_elements(By.CSS_SELECTOR, ENTRIES))
    assert shown == 10
    cursors = []
    while shown < total:
        link = browser.find_element(By.CSS_SELECTOR, OLDER)
        href = link.get_attribute("href")
        assert isinstance(href, str) and "before=" in href and "part=" not in href
        cursors.append(href)
        link.click()
        expected = min(shown + 10, total)
        WebDriverWait(browser, 10).until(
            lambda d, n=expected: len(d.find_elements(By.CSS_SELECTOR, ENTRIES)) == n)
        entries = browser.find_elements(By.CSS_SELECTOR, ENTRIES)
        assert browser.switch_to.active_element == entries[shown]  # the first new entry
        shown = expected
        if shown < total:  # the link moved on to the next cursor
            WebDriverWait(browser, 10).until(
                lambda d: d.find_element(By.CSS_SELECTOR, OLDER).get_attribute("href")
                not in cursors)
    assert len(cursors) >= 2
    assert not browser.find_elements(By.CSS_SELECTOR, OLDER)  # the end: no link
    assert not browser.find_elements(By.CSS_SELECTOR, ".timeline__error")
    assert browser.current_url == url and browser.execute_script("return window.stayed")
    texts = [e.get_attribute("textContent") for e in
             browser.find_elements(By.CSS_SELECTOR, ENTRIES)]
    assert any("Black Friday : -30 % sur tout le salon" in t for t in texts)  # her campaigns
    screenshot(browser, "timeline-older.png")


def test_an_expired_link_says_so_like_the_details(browser: Any, service: Service,
                                                  demo_data: Path) -> None:
    tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
    browser.get(f"{service.url}/demo?ticket={tickets[0]['id']}&lang=fr")
    url = browser.find_element(By.TAG_NAME, "iframe").get_attribute("src")
    browser.get(url)
    browser.execute_script(  # a sealed link gone out of date while the record was open
        "const a = document.querySelector(arguments[0]);"
        "a.href = a.href.replace(/([?&]t=)[^&]+/, '$1expired');", OLDER)
    browser.find_element(By.CSS_SELECTOR, OLDER).click()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#block-timeline .timeline__error"))
    note = browser.find_element(By.CSS_SELECTOR, "#block-timeline .timeline__error")
    assert note.text == "Cette fiche n'est plus à jour : rechargez-la."
    assert len(browser.find_elements(By.CSS_SELECTOR, ENTRIES)) == 10
    assert browser.current_url == url
