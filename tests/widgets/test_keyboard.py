"""The demo sidebar with the keyboard alone, in Debian's headless Chromium: from the top, Tab
reaches every link, button, summary and form field in document order, each showing where the
focus is; a note's edit page opens, fills and saves without a mouse."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.conftest import Service, screenshot

pytestmark = pytest.mark.browser

# What a keyboard user must reach; elements not rendered (a closed <details>, a hidden panel)
# are not focusable, and are left out.
FOCUSABLE = ("a[href], button, summary, input:not([type=hidden]), textarea, select, "
             "[tabindex]:not([tabindex='-1'])")
MARK = f"""
const all = [...document.querySelectorAll("{FOCUSABLE}")]
  .filter(e => !e.disabled && e.checkVisibility({{visibilityProperty: true}}));
all.forEach((e, i) => {{ e.dataset.kb = String(i); }});
return all.map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
"""
FOCUSED = """
const OURS = "rgb(5, 80, 174)";  // --link: #0550ae in sidebar.css
const e = document.activeElement;
const s = getComputedStyle(e);
// ours, not the browser's default ring (outline-style "auto"): 2px solid in the link colour
const ring = s.outlineStyle === "solid" && s.outlineWidth === "2px"
  && s.outlineColor === OURS;
return [e.dataset.kb === undefined ? e.tagName : e.dataset.kb, ring,
        s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor];
"""


def demo_sidebar(service: Service) -> str:
    """The URL of the sidebar the demo helpdesk frames beside Pauline's ticket."""
    page = requests.get(f"{service.url}/demo?ticket=1001", timeout=10)
    start = page.text.index('<iframe src="') + len('<iframe src="')
    src = page.text[start:page.text.index('"', start)].replace("&amp;", "&")
    return urljoin(service.url, src)


def keep_a_note(service: Service, sidebar_url: str, text: str) -> None:
    """Add a landmark through the sidebar's form, so the page offers to edit and remove it."""
    requests.get(sidebar_url, timeout=10)  # the record is opened first, as in the demo
    token = parse_qs(urlsplit(sidebar_url).query)["t"][0]
    answer = requests.post(f"{service.url}/helpdesk/embed/notes", timeout=10,
                           data={"t": token, "text": text, "author": "Léa", "lang": "fr"})
    assert answer.status_code == 200


def tab(driver: Any, times: int = 1) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(times):
        ActionChains(driver).send_keys(Keys.TAB).perform()


def test_tab_reaches_every_control_in_order_with_a_visible_focus(browser: Any,
                                                                 service: Service) -> None:
    url = demo_sidebar(service)
    keep_a_note(service, url, "Préfère le contact par email")
    browser.get(url)
    controls = browser.execute_script(MARK)
    kinds = {name.split(".")[0] for name in controls}
    # no name to type: the demo's link names its agent, who signs the notes
    assert {"a", "button", "summary", "textarea"} <= kinds and "input" not in kinds, kinds
    reached, unseen = [], []
    browser.execute_script("document.activeElement && document.activeElement.blur();")
    for _ in controls:
        tab(browser)
        index, ring, style = browser.execute_script(FOCUSED)
        reached.append(index)
        if not ring:
            unseen.append((controls[int(index)] if str(index).isdigit() else index, style))
    expected = [str(i) for i in range(len(controls))]
    assert reached == expected, "\n".join(f"{got} {want} {controls[int(want)]}"
                                          for got, want in zip(reached, expected, strict=True))
    assert unseen == [], "controls without a visible focus style"
    screenshot(browser, "sidebar-keyboard.png")


def test_a_note_is_edited_with_the_keyboard_alone(browser: Any, service: Service) -> None:
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url = demo_sidebar(service)
    keep_a_note(service, url, "Aime les macarons")
    browser.get(url)
    controls = browser.execute_script(MARK)
    # each note's "edit" is a button of the notes' one GET form (the sealed link's token once)
    buttons = browser.find_elements(By.CSS_SELECTOR, ".notes__byline button[name=note]")
    target = next(b for b in buttons if "Aime les macarons" in b.get_attribute("aria-label"))
    browser.execute_script("document.activeElement && document.activeElement.blur();")
    tab(browser, int(target.get_attribute("data-kb")) + 1)
    assert browser.switch_to.active_element == target
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    # the note's own page (its form is not in the record's first paint): Tab to its text
    WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException,
                                                   StaleElementReferenceException)).until(
        lambda d: d.find_element(By.ID, "note-edit").get_attribute("value")
        == "Aime les macarons")
    assert "/helpdesk/embed/notes/edit?" in browser.current_url and "note=" in browser.current_url
    browser.execute_script(MARK)
    area = browser.find_element(By.ID, "note-edit")
    browser.execute_script("document.activeElement && document.activeElement.blur();")
    tab(browser, int(area.get_attribute("data-kb")) + 1)
    assert browser.switch_to.active_element == area
    area.send_keys(Keys.END, " (surtout pistache)")
    tab(browser)  # the save button: the note is signed by the link's agent, no name to type
    assert browser.switch_to.active_element.get_attribute("type") == "submit"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    # the form posts, then the record comes back (a 303): wait for the page that says it,
    # not for a body that may be the one leaving (it failed so under a loaded machine)
    WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException,
                                                   StaleElementReferenceException)).until(
        lambda d: "Aime les macarons (surtout pistache)" in d.find_element(
            By.TAG_NAME, "body").text and "/sidebar?" in d.current_url)
    assert len(controls) > 10
