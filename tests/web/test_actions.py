"""Back-office actions from the record, over real HTTP: the record offers them on its items,
an action asked for is checked, kept before its 202, sent once to the demo ERP with its
idempotency key, and leaves its note on the ticket it was run from (a local Chatwoot API)."""

from __future__ import annotations

import re
from collections.abc import Iterator
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
from tests.helpdesk.chatwoot.test_adapter import (
    API_TOKEN as CHATWOOT_TOKEN,
)
from tests.helpdesk.chatwoot.test_adapter import (
    WEBHOOK_SECRET,
    FakeChatwoot,
    write_manifest,
)
from tests.web.test_corrections import applied, pauline

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE = "pauline.deneve@easiware.fr"  # whom the sealed links name


@pytest.fixture(scope="module")
def office(demo_data: Path) -> Iterator[Backoffice]:
    running = start_backoffice(demo_data)  # its own: actions change its orders
    yield running
    stop(running.process)


@pytest.fixture(scope="module")
def chatwoot() -> Iterator[FakeChatwoot]:
    api = FakeChatwoot()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def service(demo_data: Path, office: Backoffice, chatwoot: FakeChatwoot,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    var = tmp_path_factory.mktemp("actions")
    env = {**service_env(demo_data, office.url, var),
           "CONNECTOR_MANIFEST": str(write_manifest(var, write_back=True)),
           "CHATWOOT_URL": chatwoot.url, "CHATWOOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "CHATWOOT_API_TOKEN": CHATWOOT_TOKEN}
    running = start_service(env)
    yield running
    stop(running.process)


def offered(service: Service, customer_id: str, lang: str = "fr") -> list[dict[str, Any]]:
    answer = requests.get(f"{service.url}/api/v1/customers/{customer_id}/actions",
                          params={"lang": lang}, headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["actions"]
    return found


def act(service: Service, customer_id: str, name: str, **body: object) -> requests.Response:
    return requests.post(f"{service.url}/api/v1/customers/{customer_id}/actions/{name}",
                         json=body, headers=AUTH, timeout=10)


def change(service: Service, change_id: str) -> dict[str, Any]:
    found: dict[str, Any] = requests.get(f"{service.url}/api/v1/changes/{change_id}",
                                         headers=AUTH, timeout=10).json()
    return found


def test_the_record_offers_its_actions_with_their_inputs_in_each_language(
        service: Service) -> None:
    record = pauline(service)
    actions = offered(service, record["customer_id"])
    returns = {a["key"]: a for a in actions if a["name"] == "open_return"}
    # her returned and delivered orders (997890, 120145, 118502): every one the ERP holds
    assert set(returns) == {o["number"] for o in record["orders"]
                            if o["status"] in ("delivered", "returned")}
    first = returns["997890"]
    assert first["label"] == "Ouvrir un retour" and first["applies_to"] == "orders"
    assert first["confirm"] == "Ouvrir un retour pour la commande 997890 ?"
    reason = next(i for i in first["inputs"] if i["name"] == "reason")
    assert reason["kind"] == "choice" and reason["choices"]["damaged"] == "Article abîmé"
    voucher = [a for a in actions if a["name"] == "resend_voucher"]
    assert [(v["key"], v["applies_to"]) for v in voucher] == [(None, "customer")]
    english = offered(service, record["customer_id"], "en")
    assert {a["label"] for a in english} == {"Open a return", "Resend the voucher",
                                             "Goodwill gesture"}
    grid = next(a for a in english if a["name"] == "goodwill")["compensation"]
    assert (grid["customer_type"], grid["label"]) == ("strategic", "Strategic customer")  # VIP
    assert [(g["severity"], g["up_to"]) for g in grid["gestures"]] == [
        ("minor", "15.00"), ("medium", "40.00"), ("severe", "80.00")]
    assert all(a["compensation"] is None for a in english if a["name"] != "goodwill")


def test_a_return_opened_from_a_ticket_reaches_the_erp_once_and_notes_the_ticket(
        service: Service, office: Backoffice, chatwoot: FakeChatwoot) -> None:
    record = pauline(service)
    answer = act(service, record["customer_id"], "open_return", key="997890",
                 inputs={"reason": "damaged", "comment": "carton écrasé"},
                 agent="margaux@chatwoot", helpdesk="chatwoot", ticket="57")
    assert answer.status_code == 202, answer.text
    kept = answer.json()
    assert kept["kind"] == "action" and kept["field"] == "open_return"
    done = until(lambda: (c := change(service, kept["id"]))["state"] == "done" and c, 30)
    assert done["outcome"] == "erp took it"
    assert [w["fields"] for w in applied(office) if w["key"] == kept["id"]] == [["return"]]
    notes = until(lambda: chatwoot.messages.get("57"), 30)
    assert any("Retour ouvert pour la commande 997890 : Article abîmé." in n["content"]
               and n["private"] is True for n in notes)


def test_an_action_not_offered_or_ill_filled_is_refused_with_its_reason(
        service: Service) -> None:
    customer = pauline(service)["customer_id"]
    bad = act(service, customer, "open_return", key="997890", inputs={"reason": "bored"})
    assert bad.status_code == 400 and "reason: one of" in bad.json()["error"]
    missing = act(service, customer, "open_return", key="997890", inputs={})
    assert missing.status_code == 400 and "reason: required" in missing.json()["error"]
    extra = act(service, customer, "open_return", key="997890",
                inputs={"reason": "late", "amount": "3"})
    assert extra.status_code == 400 and "unknown input 'amount'" in extra.json()["error"]
    someone_elses = act(service, customer, "open_return", key="000001", inputs={"reason": "late"})
    assert someone_elses.status_code == 409
    assert act(service, customer, "format_disk").status_code == 404
    assert act(service, "cus_nobody", "open_return", key="997890").status_code == 404


def test_an_action_kept_for_a_role_is_refused_to_others_and_sent_once(
        service: Service, office: Backoffice) -> None:
    customer = pauline(service)["customer_id"]
    voucher = next(a for a in offered(service, customer) if a["name"] == "resend_voucher")
    assert voucher["roles"] == ["supervisor"]
    for role in (None, "agent"):
        refused = act(service, customer, "resend_voucher", agent="api-test", role=role)
        assert refused.status_code == 403 and "may not run" in refused.json()["error"]
    kept = act(service, customer, "resend_voucher", agent="api-test", role="Supervisor").json()
    until(lambda: change(service, kept["id"])["state"] == "done", 30)
    assert [w["fields"] for w in applied(office) if w["key"] == kept["id"]] == [["voucher"]]


@pytest.mark.browser
def test_an_agent_opens_a_return_from_the_record(browser: Any, service: Service,
                                                office: Backoffice) -> None:
    """The order's action, its page (what it does, what to fill), a refusal in words, then
    the record saying where the action stands, in headless Chromium."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    from connector.helpdesk.embed import EmbedLinks

    links = EmbedLinks(b"test-secret-key", 600, "FR")
    browser.get(links.url(service.url, links.token(email=PAULINE), "fr"))
    order = next(row for row in browser.find_elements(By.CSS_SELECTOR, "tr.order")
                 if "120145" in row.text)
    order.find_element(By.XPATH, ".//button[normalize-space()='Ouvrir un retour']").click()
    confirm = WebDriverWait(browser, 15).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".action__confirm"))
    assert confirm.text == "Ouvrir un retour pour la commande 120145 ?"
    comment = browser.find_element(By.ID, "action-comment")
    comment.send_keys("x" * 10)
    browser.execute_script(  # past the browser's own checks: the server refuses, in words
        "document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    comment.submit()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR,
                                                               ".correction__error"))
    assert "Remplissez" in browser.find_element(By.CSS_SELECTOR, ".correction__error").text
    browser.find_element(By.CSS_SELECTOR, "input[value='late']").click()
    browser.find_element(By.CSS_SELECTOR, ".correction button[type=submit]").click()
    WebDriverWait(browser, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#block-identity .changes li"))

    def done(driver: Any) -> bool:
        driver.refresh()
        shown = [li.text for li in driver.find_elements(By.CSS_SELECTOR,
                                                        "#block-identity .changes li")]
        return any(t.startswith("Ouvrir un retour (120145) · ERP :") and t.endswith("faite")
                   for t in shown)

    WebDriverWait(browser, 30, poll_frequency=1).until(done)
    assert ["return"] in [w["fields"] for w in applied(office)]


def test_a_role_without_the_right_sees_no_link_and_is_refused(service: Service) -> None:
    """The sealed link says who looks (as the helpdesk vouches): an agent sees no link to an
    action kept for supervisors, and its page refuses them, in words."""
    from connector.helpdesk.embed import EmbedLinks

    links = EmbedLinks(b"test-secret-key", 600, "FR")
    pages = {}
    for role in ("agent", "supervisor"):
        token = links.token(email=PAULINE, agent="margaux", role=role)
        pages[role] = (token, requests.get(links.url(service.url, token, "fr"), timeout=10))
    assert 'value="action:erp:resend_voucher:"' not in pages["agent"][1].text
    assert 'value="action:erp:resend_voucher:"' in pages["supervisor"][1].text
    assert 'value="action:erp:open_return:' in pages["agent"][1].text  # for every agent
    refused = requests.post(f"{service.url}/helpdesk/embed/actions", timeout=10, data={
        "t": pages["agent"][0], "lang": "fr", "source": "erp", "action": "resend_voucher"})
    assert refused.status_code == 403
    assert "Votre rôle ne permet pas" in refused.text.replace("&#39;", "'")


def _once(page: requests.Response) -> str:
    """The single-use token of an action's or a correction's form."""
    found = re.search(r'name="once" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_the_same_form_sent_twice_makes_one_change_and_a_hand_made_one_none(
        service: Service, office: Backoffice) -> None:
    """A form's single-use token names its change: sent twice (a double click, a replay),
    one return is opened; posted without it, or with the token of another item's form, none."""
    from connector.helpdesk.embed import EmbedLinks

    customer = pauline(service)["customer_id"]
    keys = [a["key"] for a in offered(service, customer) if a["name"] == "open_return"]
    key, other = keys[-1], keys[0]
    token = EmbedLinks(b"test-secret-key", 600, "FR").token(email=PAULINE, agent="margaux")
    url = f"{service.url}/helpdesk/embed/actions"
    asked = {"t": token, "lang": "en", "source": "erp", "action": "open_return"}
    page = requests.get(url, params={**asked, "key": key}, timeout=10)
    form = {**asked, "key": key, "input.reason": "damaged", "once": _once(page)}
    before = len(requests.get(f"{service.url}/api/v1/customers/{customer}/changes",
                              headers=AUTH, timeout=10).json()["changes"])
    first = requests.post(url, data=form, timeout=10, allow_redirects=False)
    again = requests.post(url, data=form, timeout=10, allow_redirects=False)
    assert (first.status_code, again.status_code) == (303, 303)
    hand_made = requests.post(url, data={**form, "once": ""}, timeout=10)
    elsewhere = requests.post(url, data={**form, "key": other}, timeout=10)
    for refused in (hand_made, elsewhere):
        assert refused.status_code == 400
        assert "This form was open too long" in refused.text
        assert _once(refused) != form["once"]  # shown again with a fresh token
    kept = requests.get(f"{service.url}/api/v1/customers/{customer}/changes", headers=AUTH,
                        timeout=10).json()["changes"]
    assert len(kept) == before + 1 and kept[0]["item"] == key
    until(lambda: change(service, kept[0]["id"])["state"] in ("done", "failed"), 30)
    settled = change(service, kept[0]["id"])
    assert settled["state"] == "done", settled["outcome"]
    assert [w["fields"] for w in applied(office) if w["key"] == kept[0]["id"]] == [["return"]]


def test_an_idempotency_key_makes_an_api_call_safe_to_repeat(service: Service) -> None:
    customer = pauline(service)["customer_id"]
    key = next(a["key"] for a in offered(service, customer) if a["name"] == "open_return")
    body = {"key": key, "inputs": {"reason": "late"}, "agent": "api-test"}
    headers = {**AUTH, "Idempotency-Key": "order-retry-1"}
    url = f"{service.url}/api/v1/customers/{customer}/actions"
    first = requests.post(f"{url}/open_return", json=body, headers=headers, timeout=10)
    again = requests.post(f"{url}/open_return", json=body, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    reused = requests.post(f"{url}/resend_voucher", json={"role": "supervisor"},
                           headers=headers, timeout=10)
    assert reused.status_code == 422 and "another change" in reused.json()["error"]
    bad = requests.post(f"{url}/open_return", json=body, timeout=10,
                        headers={**AUTH, "Idempotency-Key": "é" * 3})
    assert bad.status_code == 400


def test_nothing_is_changed_for_a_ticket_that_fits_several_people(service: Service) -> None:
    """A household's landline names two people: until the agent chooses, the action and
    correction pages refuse, saying why (409), and nothing is kept."""
    from connector.helpdesk.embed import EmbedLinks

    token = EmbedLinks(b"test-secret-key", 600, "FR").token(phone="05 33 57 82 19")
    for path, asked in (("actions", {"source": "erp", "action": "open_return", "key": "1"}),
                        ("corrections", {"field": "identity.emails"})):
        for send in (requests.get, requests.post):
            answer = send(f"{service.url}/helpdesk/embed/{path}", timeout=10,
                          params={"t": token, "lang": "en", **asked})
            assert answer.status_code == 409, (path, answer.status_code)
            assert "This contact matches 2 customers" in answer.text


def test_a_gesture_beyond_the_grid_is_refused_to_an_agent_and_left_to_a_supervisor(
        service: Service, office: Backoffice) -> None:
    """Pauline is a strategic customer: for a medium harm the grid lets an agent give up to
    40 €; 60 € is a supervisor's call. The page shows her row beside the action."""
    from connector.helpdesk.embed import EmbedLinks

    customer = pauline(service)["customer_id"]
    gesture = {"inputs": {"severity": "medium", "amount": "60"}, "agent": "margaux"}
    refused = act(service, customer, "goodwill", **gesture, role="agent")
    assert refused.status_code == 403
    assert "allows up to 40.00 for this customer (strategic)" in refused.json()["error"]
    within = act(service, customer, "goodwill", agent="margaux", role="agent",
                 inputs={"severity": "medium", "amount": "40"})
    beyond = act(service, customer, "goodwill", **gesture, role="supervisor")
    assert (within.status_code, beyond.status_code) == (202, 202)
    for kept in (within.json(), beyond.json()):
        until(lambda k=kept: change(service, k["id"])["state"] == "done", 30)
    given = [w for w in applied(office) if w["fields"] == ["goodwill_voucher"]]
    assert {w["key"] for w in given} == {within.json()["id"], beyond.json()["id"]}
    token = EmbedLinks(b"test-secret-key", 600, "FR").token(email=PAULINE, agent="margaux",
                                                              role="agent")
    page = requests.get(f"{service.url}/helpdesk/embed/actions", timeout=10, params={
        "t": token, "lang": "fr", "source": "erp", "action": "goodwill"})
    assert page.status_code == 200
    text = re.sub(r"[\u202f\xa0]", " ", page.text).replace("&#39;", "'")
    assert "Grille de compensation · Client stratégique" in text
    assert "Bon de 40 €" in text and "jusqu'à 40,00 €" in text
    assert "Votre rôle permet d'aller au-delà" not in text  # an agent: within the grid
    sent = requests.post(f"{service.url}/helpdesk/embed/actions", timeout=10, data={
        "t": token, "lang": "fr", "source": "erp", "action": "goodwill", "once": _once(page),
        "input.severity": "medium", "input.amount": "60"})
    assert sent.status_code == 403
    assert "dépasse ce que la grille de compensation permet" in sent.text.replace("&#39;", "'")


def test_the_record_s_change_buttons_share_one_form_carrying_the_token_once(
        service: Service) -> None:
    """Every correction and action button of the record submits one GET form (the sealed
    token once in the page, not per link); its answer is that change's page."""
    from connector.helpdesk.embed import EmbedLinks

    token = EmbedLinks(b"test-secret-key", 600, "FR").token(email=PAULINE, agent="margaux")
    page = requests.get(f"{service.url}/helpdesk/embed/sidebar",
                        params={"t": token, "lang": "fr"}, timeout=10)
    assert page.text.count('<form id="changes" method="get" action="/helpdesk/embed/change">') \
        == 1
    buttons = re.findall(r'<button form="changes" type="submit" name="do" value="([^"]+)"',
                         page.text)
    assert "correction:identity.emails" in buttons and "action:erp:open_return:997890" in buttons
    assert "corrections?t=" not in page.text and "actions?t=" not in page.text
    asked = {"t": token, "lang": "fr"}
    for do, shown in (("action:erp:open_return:997890", "Ouvrir un retour pour la commande "
                       "997890 ?"), ("correction:identity.emails", "Corriger l")):
        answer = requests.get(f"{service.url}/helpdesk/embed/change",
                              params={**asked, "do": do}, timeout=10)
        assert answer.status_code == 200 and shown in answer.text.replace("&#39;", "'")
    for bad in ("correction:identity.birth_date", "action:erp", "format:disk"):
        refused = requests.get(f"{service.url}/helpdesk/embed/change",
                               params={**asked, "do": bad}, timeout=10)
        assert refused.status_code == 404
