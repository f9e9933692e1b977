"""The Chatwoot dashboard app in headless Chromium: a parent page on another origin speaks
Chatwoot's protocol (DashboardApp/Frame.vue: `JSON.stringify({event: "appContext", data:
{conversation, contact, currentAgent}})` posted to the frame with target `*`, answered to the
exact string `chatwoot-dashboard-app:fetch-info`) but drops the post on load and the first
ask, so only our re-asking gets the context; Pauline's record must end up inside the frame,
a conversation switch must replace it, and (with links lasting seconds) a tab kept open past
the link's lifetime must still open details."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from pytest_httpserver import HTTPServer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from connector.helpdesk.chatwoot.adapter import Config, dashboard_url
from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import Identifiers
from tests.conftest import Backoffice, Service, screenshot, service_env, start_service, stop
from tests.helpdesk.chatwoot.test_adapter import PAULINE, SECRET_KEY, WEBHOOK_SECRET, write_manifest

pytestmark = pytest.mark.browser
BRIEF_S = 4  # the brief service's link_ttl_s

CONTEXT = {
    "conversation": {"id": 42, "inbox_id": 4, "channel": "Channel::Email", "status": "open",
                     "meta": {"sender": {"id": 205, "name": "Pauline Denève", "email": PAULINE,
                                         "phone_number": None, "identifier": None,
                                         "type": "contact"}}},
    "contact": {"id": 205, "name": "Pauline Denève", "email": PAULINE, "phone_number": None,
                "identifier": None, "custom_attributes": {}},
    "currentAgent": {"id": 3, "name": "Camille", "email": "camille@maison-exemple.fr"},
}
PARENT = """<!doctype html>
<html><head><meta charset="utf-8"><title>Chatwoot</title></head>
<body>
<div class="dashboard-app--container">
  <iframe id="dashboard-app--frame-0-0" src="%(src)s"
          style="width: 420px; height: 860px; border: 0"></iframe>
</div>
<script>
  // As Frame.vue does: post the context to the frame, with target "*", when it asks with
  // this exact string. Unlike Frame.vue, nothing is posted on load and the first ask is
  // dropped (as some builds do), so only a re-ask gets an answer.
  window.asks = 0;
  window.answered = 0;
  window.context = %(context)s;
  function postContext() {
    var frame = document.getElementById("dashboard-app--frame-0-0");
    var eventData = {event: "appContext", data: window.context};
    frame.contentWindow.postMessage(JSON.stringify(eventData), "*");
    window.answered += 1;
  }
  window.onmessage = function (e) {
    if (typeof e.data !== "string" || e.data !== "chatwoot-dashboard-app:fetch-info") {
      return;
    }
    window.asks += 1;
    if (window.asks === 1) { return; }
    postContext();
  };
  // the agent opens another conversation: newer builds post the new context
  window.switchTo = function (context) { window.context = context; postContext(); };
</script>
</body></html>
"""


@dataclass
class Chatwoot:
    parent: HTTPServer
    service: Service


@contextmanager
def serving(demo_data: Path, backoffice: Backoffice, var: Path,
            link_ttl_s: int | None = None) -> Iterator[Chatwoot]:
    """A Chatwoot stand-in framing `connector serve` (its links lasting `link_ttl_s`)."""
    # threaded: with one thread, stopping it sometimes waited ~50 s on a connection the
    # browser kept open
    parent = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    parent.start()
    origin = parent.url_for("/").rstrip("/")
    manifest = write_manifest(var)
    if link_ttl_s is not None:
        data = yaml.safe_load(manifest.read_text())
        data["helpdesks"].setdefault("embed", {})["link_ttl_s"] = link_ttl_s
        manifest.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    env = {**service_env(demo_data, backoffice.url, var),
           "CONNECTOR_MANIFEST": str(manifest), "CHATWOOT_URL": origin,
           "CHATWOOT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    service = start_service(env)
    src = dashboard_url(service.url, SECRET_KEY.encode(), Config(account_id=1), "fr")
    parent.expect_request("/app/accounts/1/conversations/42").respond_with_data(
        PARENT % {"src": src, "context": json.dumps(CONTEXT)}, content_type="text/html")
    parent.expect_request("/favicon.ico").respond_with_data("", status=204)
    try:
        yield Chatwoot(parent, service)
    finally:
        stop(service.process)
        parent.clear()
        parent.stop()


@pytest.fixture(scope="module")
def chatwoot(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chatwoot]:
    with serving(demo_data, backoffice, tmp_path_factory.mktemp("chatwoot-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def brief(demo_data: Path, backoffice: Backoffice,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chatwoot]:
    """The same, its sealed links lasting BRIEF_S seconds."""
    with serving(demo_data, backoffice, tmp_path_factory.mktemp("chatwoot-brief"),
                 link_ttl_s=BRIEF_S) as running:
        yield running


def inner_text(driver: Any) -> str:
    text: str = driver.find_element(By.TAG_NAME, "body").text
    return text.replace("\u202f", " ").replace("\xa0", " ")


def enter_record(driver: Any) -> None:
    """From the top page into our dashboard app, then into the record it shows."""
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, "dashboard-app--frame-0-0"))
    WebDriverWait(driver, 15).until(
        lambda d: d.find_element(By.ID, "record").is_displayed())
    driver.switch_to.frame(driver.find_element(By.ID, "record"))


def test_the_record_opens_inside_chatwoot_after_a_re_ask(browser: Any, chatwoot: Chatwoot
                                                         ) -> None:
    browser.get(chatwoot.parent.url_for("/app/accounts/1/conversations/42"))
    try:
        enter_record(browser)
        WebDriverWait(browser, 15).until(lambda d: "Pauline Denève" in inner_text(d))
        text = inner_text(browser)
        for expected in ("1 464,00 €", "997890", "AU908764"):
            assert expected in text, expected
        where = browser.execute_script("return location.href")
        assert where.startswith(f"{chatwoot.service.url}/helpdesk/embed/sidebar?t=")
        browser.switch_to.default_content()
        asks = browser.execute_script("return window.asks")
        assert asks >= 2 and browser.execute_script("return window.answered") >= 1
        path = screenshot(browser, "chatwoot-dashboard-app.png")
        assert path.stat().st_size > 10_000
    finally:
        browser.switch_to.default_content()


def test_another_conversation_replaces_the_record(browser: Any, chatwoot: Chatwoot) -> None:
    browser.get(chatwoot.parent.url_for("/app/accounts/1/conversations/42"))
    try:
        enter_record(browser)
        WebDriverWait(browser, 15).until(lambda d: "Pauline Denève" in inner_text(d))
        browser.switch_to.default_content()
        someone = {**CONTEXT, "conversation": {"id": 77, "meta": {"sender": {"id": 300}}},
                   "contact": {"id": 300, "name": "Nobody", "email": "nobody@example.org",
                               "phone_number": None, "identifier": None}}
        browser.execute_script("window.switchTo(arguments[0])", someone)
        enter_record(browser)
        WebDriverWait(browser, 15).until(  # nobody: the search, pre-filled, says why
            lambda d: "Aucune fiche ne correspond à ce contact" in inner_text(d))
        assert "Pauline Denève" not in inner_text(browser)
    finally:
        browser.switch_to.default_content()


def test_the_contact_s_social_accounts_are_sent_with_it(browser: Any, chatwoot: Chatwoot
                                                        ) -> None:
    browser.get(chatwoot.parent.url_for("/app/accounts/1/conversations/42"))
    try:
        enter_record(browser)
        WebDriverWait(browser, 15).until(lambda d: "Pauline Denève" in inner_text(d))
        browser.switch_to.default_content()
        attributes = {"social_profiles": {"instagram": "claire_deco67", "github": None},
                      "social_instagram_user_name": "claire_deco67",
                      "screen_name": "Claire_Deco67", "city": "Lyon"}
        claire = {**CONTEXT, "conversation": {"id": 61, "meta": {"sender": {"id": 207}}},
                  "contact": {"id": 207, "name": "Claire", "email": None, "phone_number": None,
                              "identifier": None, "additional_attributes": attributes}}
        browser.execute_script("window.switchTo(arguments[0])", claire)
        browser.switch_to.frame(browser.find_element(By.ID, "dashboard-app--frame-0-0"))
        links = EmbedLinks(SECRET_KEY.encode(), 600, "FR")  # the service's key

        def sealed(driver: Any) -> Any:  # a second record replaces the frame's location
            source = driver.execute_script(
                "return document.getElementById('record').contentWindow.location.href")
            query = {k: v[0] for k, v in parse_qs(urlsplit(source).query).items()}
            context = links.read(query) if "t" in query else None
            return context if context is not None and context.ticket_id == "61" else False

        context = WebDriverWait(browser, 15).until(sealed)
        assert context.identifiers == Identifiers(handles=("instagram:claire_deco67",
                                                           "twitter:claire_deco67"))
    finally:
        browser.switch_to.default_content()


def test_a_tab_kept_open_past_the_link_s_lifetime_still_opens_details(
        browser: Any, brief: Chatwoot) -> None:
    browser.get(brief.parent.url_for("/app/accounts/1/conversations/42"))
    try:
        enter_record(browser)
        WebDriverWait(browser, 15).until(lambda d: "Pauline Denève" in inner_text(d))
        first = browser.execute_script(
            "window.mark = 'kept'; return new URLSearchParams(location.search).get('t')")
        time.sleep(BRIEF_S + 1.3)  # tokens count whole seconds: one more
        gone = requests.get(f"{brief.service.url}/helpdesk/embed/sidebar", params={"t": first},
                            timeout=5)
        assert gone.status_code == 401
        mark, token = browser.execute_script(
            "return [window.mark, new URLSearchParams(location.search).get('t')]")
        assert mark == "kept" and token != first  # renewed in place, nothing reloaded
        button = browser.find_element(By.CSS_SELECTOR, "button[data-detail-key='997890']")
        button.click()
        panel = browser.find_element(By.ID, button.get_attribute("aria-controls"))
        WebDriverWait(browser, 10).until(lambda _: "Colissimo" in panel.text)
    finally:
        browser.switch_to.default_content()
