"""The summary strip above the fold and blocks that fold, in headless Chromium on the demo:
for every demo ticket, in both languages, at 320 px wide, who/value/mood/alerts end within the
first 300 px; alerts lead to their evidence; a block an agent folds stays folded."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import Service, screenshot

pytestmark = pytest.mark.browser
FOLD = 300  # px: what a 320 px sidebar shows before any scrolling


def record_url(browser: Any, service: Service, ticket: object, lang: str) -> str:
    """The sealed record link the demo helpdesk frames for this ticket."""
    browser.get(f"{service.url}/demo?ticket={ticket}&lang={lang}")
    src = browser.find_element(By.TAG_NAME, "iframe").get_attribute("src")
    assert isinstance(src, str) and src
    return src


def narrow(browser: Any) -> None:
    """A 320 px wide viewport, as the narrowest helpdesk sidebars."""
    browser.set_window_size(320, 700)
    width = browser.execute_script("return window.innerWidth")
    if width != 320:  # the window's frame: widen it by the difference
        browser.set_window_size(320 + (320 - width), 700)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_summary_ends_above_the_fold_for_every_demo_ticket(
        browser: Any, service: Service, demo_data: Path, lang: str) -> None:
    tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
    summed = 0
    for ticket in tickets:
        url = record_url(browser, service, ticket["id"], lang)
        narrow(browser)
        browser.get(url)
        strips = browser.find_elements(By.CSS_SELECTOR, ".block--summary")
        if not strips:  # nobody to sum up: the search box, or the people it may be
            assert browser.find_elements(By.CSS_SELECTOR, "#q, .candidates"), ticket["id"]
            continue
        summed += 1
        bottom = browser.execute_script(
            "return document.querySelector('.block--summary').getBoundingClientRect().bottom"
            " + window.scrollY")
        assert bottom <= FOLD, (ticket["id"], lang, bottom)
        text = strips[0].text
        assert re.search(r"\d", text), text  # a value, a score or a date at least
        for link in strips[0].find_elements(By.CSS_SELECTOR, ".summary__alerts a"):
            target = (link.get_attribute("href") or "").split("#", 1)[1]
            assert browser.find_elements(By.ID, target), (ticket["id"], target)
        browser.set_window_size(1280, 900)
    assert summed >= len(tickets) // 2  # most demo tickets name a known customer
    screenshot(browser, f"summary-{lang}.png")


def test_every_demo_record_fits_300_px_without_scrolling_sideways(
        browser: Any, service: Service, demo_data: Path) -> None:
    tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
    urls = [record_url(browser, service, ticket["id"], lang)
            for ticket in tickets for lang in ("fr", "en")]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 300, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        for url in urls:
            browser.get(url)
            wide = browser.execute_script(
                "const e = document.documentElement, w = e.clientWidth;"
                "return [w, e.scrollWidth, [...document.querySelectorAll('main *')]"
                ".filter(n => n.getBoundingClientRect().right > w + 0.5)"
                ".map(n => n.className).slice(0, 3)];")
            assert wide[1] <= wide[0] and not wide[2], (url, wide)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_an_alert_opens_its_evidence_and_a_folded_block_stays_folded(
        browser: Any, service: Service, demo_data: Path) -> None:
    tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
    url = record_url(browser, service, tickets[0]["id"], "fr")
    browser.get(url)
    orders = browser.find_element(By.ID, "block-orders")
    toggle = orders.find_element(By.CSS_SELECTOR, ".block__toggle")
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    assert "block--folded" in (orders.get_attribute("class") or "")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not orders.find_element(By.CSS_SELECTOR, "table").is_displayed()
    # the manifest folds the sources' block until an agent opens it
    sources = browser.find_element(By.ID, "block-freshness")
    assert "block--folded" in (sources.get_attribute("class") or "")
    sources.find_element(By.CSS_SELECTOR, ".block__toggle").click()
    browser.get(url)  # the agent's browser remembers both choices
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR,
                                                               "#block-orders .block__toggle"))
    assert "block--folded" in (browser.find_element(By.ID, "block-orders")
                               .get_attribute("class") or "")
    assert "block--folded" not in (browser.find_element(By.ID, "block-freshness")
                                   .get_attribute("class") or "")
    # a link to a folded block (the orders tab) opens it
    browser.find_element(By.CSS_SELECTOR, "a.tab--orders").click()
    orders = browser.find_element(By.ID, "block-orders")
    assert "block--folded" not in (orders.get_attribute("class") or "")
    assert orders.find_element(By.CSS_SELECTOR, "table").is_displayed()
    browser.execute_script("localStorage.clear()")
