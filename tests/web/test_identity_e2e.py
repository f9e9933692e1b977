"""One customer whatever the channel, and never two people merged — through the real service."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from connector.customer.links import LinkStore
from connector.helpdesk.embed import EmbedLinks
from tests.conftest import API_TOKEN, Service, connector

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
HOUSEHOLD_LANDLINE = "05 33 57 82 19"


def lookup(service: Service, **params: str) -> requests.Response:
    return requests.get(f"{service.url}/api/v1/customers/lookup", params=params, headers=AUTH,
                        timeout=10)


def visible(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html).replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text)


def test_every_way_of_writing_her_finds_the_same_customer(service: Service) -> None:
    ids = set()
    for params in ({"email": "PAULINE.DENEVE@EASIWARE.FR"}, {"phone": "+33 (0)6 53 88 88 90"},
                   {"phone": "0033 6 53 88 88 90"}, {"phone": "06.53.88.88.90"},
                   {"phone": "+32 (0)186953033"}, {"card": "2900 0123 456"}):
        answer = lookup(service, **params)
        assert answer.status_code == 200, params
        ids.add(answer.json()["customer_id"])
    assert len(ids) == 1


def test_a_household_landline_offers_the_candidates(service: Service) -> None:
    answer = lookup(service, phone=HOUSEHOLD_LANDLINE)
    assert answer.status_code == 300
    names = sorted(c["name"] for c in answer.json()["candidates"])
    assert names == ["Camille Bertrand", "Eugène Bertrand"]


def test_the_agent_chooses_and_gets_that_person_only(service: Service) -> None:
    page = requests.get(LINKS.url(service.url, LINKS.token(phone=HOUSEHOLD_LANDLINE)),
                        timeout=10)
    assert page.status_code == 200
    assert "Plusieurs clients possibles" in page.text
    choices = re.findall(r'href="(/helpdesk/embed/sidebar\?[^"]+)"[^>]*>\s*<span[^>]*>([^<]+)<',
                         page.text)
    assert sorted(name.strip() for _, name in choices) == ["Camille Bertrand", "Eugène Bertrand"]
    url = next(link for link, name in choices if "Eugène" in name)
    record = requests.get(service.url + url.replace("&amp;", "&"), timeout=10)
    text = visible(record.text)
    assert record.status_code == 200
    assert "Eugène Bertrand" in text and "ebertrand@example.com" in text
    assert "camille.bertrand30@example.com" not in text


def test_the_sidebar_says_how_she_was_recognised(service: Service) -> None:
    page = requests.get(LINKS.url(service.url, LINKS.token(phone="06 53 88 88 90")), timeout=10)
    text = visible(page.text)
    assert "Reconnu par" in text
    assert re.search(r"téléphone · [^·]*ERP", text)


def test_cli_lookup_of_a_shared_number_exits_4_with_the_candidates(service: Service) -> None:
    result = connector("lookup", "--phone", HOUSEHOLD_LANDLINE, env=service.env)
    assert result.returncode == 4, result.stderr
    assert len(json.loads(result.stdout)["candidates"]) == 2


def store_of(service: Service) -> LinkStore:
    """The link store the running service writes to."""
    return LinkStore(f"sqlite:///{Path(service.env['CONNECTOR_DATA_DIR']) / 'connector.sqlite'}")


def test_unlink_is_audited_and_sticks(service: Service) -> None:
    customer = lookup(service, email="oceane.richard80@example.com").json()
    who, phone = customer["customer_id"], customer["identity"]["phones"][0]
    assert ("phone", phone) in {(link.kind, link.value) for link in store_of(service).links_of(who)}
    args = ["--customer", who, "--phone", phone, "--actor", "qa"]
    first = connector("unlink", *args, env=service.env)
    assert first.returncode == 0, first.stderr
    assert connector("unlink", *args, env=service.env).returncode == 3
    requests.post(f"{service.url}/api/v1/cache/invalidate", json={"phone": phone},
                  headers=AUTH, timeout=5)
    assert lookup(service, phone=phone).status_code == 200  # the ERP still says so...
    store = store_of(service)
    assert ("phone", phone) not in {(link.kind, link.value) for link in store.links_of(who)}
    entry = store.audit_trail(who)[-1]  # ...but the link stays refused, and it was audited
    assert (entry["action"], entry["actor"]) == ("unlink", "qa")
    assert phone not in str(entry["detail"])


def test_forget_erases_what_we_keep(service: Service) -> None:
    assert lookup(service, email="pauline.deneve@easiware.fr").status_code == 200
    erased = requests.post(f"{service.url}/api/v1/customers/forget", headers=AUTH, timeout=10,
                           json={"email": "pauline.deneve@easiware.fr"})
    assert erased.status_code == 200
    body = erased.json()
    assert body["customers"] == 1 and body["links"] >= 4 and body["cache_entries"] >= 1
    store = store_of(service)
    assert store.owners([("email", "pauline.deneve@easiware.fr")]) == {
        ("email", "pauline.deneve@easiware.fr"): []}
    assert store.search_people("deneve") == []


@pytest.mark.parametrize("query", ["Denève", "deneve", "DENEVE", "pauline deneve",
                                   "deneve 77184", "PAULINE.DENEVE@easiware.fr",
                                   "06 53 88 88 90"])
def test_agents_find_her_however_they_type(service: Service, query: str) -> None:
    answer = requests.get(f"{service.url}/api/v1/customers/search", params={"q": query},
                          headers=AUTH, timeout=10)
    assert answer.status_code == 200
    found = {r["name"]: r["customer_id"] for r in answer.json()["results"]}
    assert found["Pauline Denève"] == lookup(service, phone="06 53 88 88 90").json()[
        "customer_id"]


def test_search_explains_what_it_cannot_search(service: Service) -> None:
    short = requests.get(f"{service.url}/api/v1/customers/search", params={"q": "d"},
                         headers=AUTH, timeout=5)
    assert (short.status_code, short.json()["error"]) == (400, "type at least 2 characters")
    nobody = requests.get(f"{service.url}/api/v1/customers/search", params={"q": "zzyzx"},
                          headers=AUTH, timeout=10)
    assert nobody.json()["results"] == []


def test_the_choice_is_remembered_for_the_ticket(service: Service) -> None:
    ticket = LINKS.token(phone=HOUSEHOLD_LANDLINE, ticket="T-remember-1", helpdesk="helpscout")
    page = requests.get(LINKS.url(service.url, ticket), timeout=10)
    assert "Plusieurs clients possibles" in page.text
    choices = re.findall(r'href="(/helpdesk/embed/sidebar\?[^"]+)"[^>]*>\s*<span[^>]*>([^<]+)<',
                         page.text)
    url = next(link for link, name in choices if "Camille" in name)
    chosen = requests.get(service.url + url.replace("&amp;", "&"), timeout=10)
    assert chosen.status_code == 200 and "Camille Bertrand" in visible(chosen.text)
    again = requests.get(LINKS.url(service.url, ticket), timeout=10)  # the ticket reopened
    assert "Plusieurs clients possibles" not in again.text
    assert "Camille Bertrand" in visible(again.text) and "Eugène" not in visible(again.text)
    other = LINKS.token(phone=HOUSEHOLD_LANDLINE, ticket="T-remember-2", helpdesk="helpscout")
    assert "Plusieurs clients possibles" in requests.get(LINKS.url(service.url, other),
                                                         timeout=10).text


def test_a_person_found_by_search_on_a_social_ticket_learns_the_handle(
        service: Service) -> None:
    handle = "instagram:@Claire_Test_Handle"
    ticket = LINKS.token(handle=handle, ticket="T-insta-1", helpdesk="helpscout")
    page = requests.get(LINKS.url(service.url, ticket), params={"q": "Denève"}, timeout=10)
    assert page.status_code == 200
    results = re.findall(r'href="(/helpdesk/embed/sidebar\?[^"]+)"[^>]*>\s*<span[^>]*>([^<]+)<',
                         page.text)
    url = next(link for link, name in results if "Pauline" in name)
    chosen = requests.get(service.url + url.replace("&amp;", "&"), timeout=10)
    assert chosen.status_code == 200
    found = lookup(service, handle=handle)
    assert found.status_code == 200 and found.json()["identity"]["full_name"] == "Pauline Denève"


def test_agents_find_her_by_her_erp_number(service: Service) -> None:
    erp_id = lookup(service, email="pauline.deneve@easiware.fr").json()[
        "identity"]["external_ids"]["erp"]
    for query in (erp_id, f"erp:{erp_id}"):
        found = requests.get(f"{service.url}/api/v1/customers/search", params={"q": query},
                             headers=AUTH, timeout=10).json()["results"]
        assert [p["name"] for p in found] == ["Pauline Denève"], query
    nobody = requests.get(f"{service.url}/api/v1/customers/search", params={"q": "erp:"},
                          headers=AUTH, timeout=10)
    assert nobody.status_code == 200
