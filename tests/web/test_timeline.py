"""The timeline through the API and the sidebar's own pages, over the demo data."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from connector.helpdesk.embed import EmbedLinks
from demo.generate import SAMPLE_EMAIL
from tests.conftest import API_TOKEN, Service

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")


def pauline(service: Service) -> str:
    answer = requests.get(f"{service.url}/api/v1/customers/lookup", headers=AUTH, timeout=10,
                          params={"email": SAMPLE_EMAIL})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["customer_id"])


def every_page(service: Service, who: str, **params: Any) -> list[dict[str, Any]]:
    """Every entry, page after page, following `next`."""
    entries: list[dict[str, Any]] = []
    before = None
    while True:
        answer = requests.get(f"{service.url}/api/v1/customers/{who}/timeline", headers=AUTH,
                              timeout=10, params={**params, **({"before": before} if before
                                                               else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        entries += page["entries"]
        assert len(entries) <= page["total"]
        if page["next"] is None:
            return entries
        before = page["next"]


def test_paulines_timeline_lists_her_requests_in_order(service: Service,
                                                       demo_data: Path) -> None:
    rows = [json.loads(line) for line in (demo_data / "contacts.jsonl").read_text().splitlines()]
    hers = sorted((datetime.fromisoformat(r["at"]) for r in rows if r["email"] == SAMPLE_EMAIL),
                  reverse=True)
    requests_ = every_page(service, pauline(service), kind="request", limit=7)
    dates = [datetime.fromisoformat(e["date"]) for e in requests_ if e["date"]]
    assert dates == sorted(dates, reverse=True)
    assert len(hers) == 23 and all(day in dates for day in hers)  # and tickets recorded since
    assert {e["kind"] for e in requests_} == {"request"}
    assert len({e["id"] for e in requests_}) == len(requests_)


def test_every_kind_pages_without_duplicates_and_agenda_and_documents_are_there(
        service: Service) -> None:
    who = pauline(service)
    everything = every_page(service, who, limit=5)
    assert len({e["id"] for e in everything}) == len(everything)
    assert every_page(service, who, limit=100) == everything
    kinds = {e["kind"] for e in everything}
    # her store purchase is her web order 120145 too (`kpis.dedupe`): one sale, shown once
    assert {"request", "order", "review", "survey", "agenda", "document"} <= kinds
    documents = every_page(service, who, kind="agenda,document")
    assert [e["title"] for e in documents] == ["Essayage canapé", "Facture 997890",
                                               "Facture 120145"]
    assert documents[1]["url"].endswith("/erp/orders/997890")


def test_unknown_customer_wrong_kind_and_no_token(service: Service) -> None:
    base = f"{service.url}/api/v1/customers"
    unknown = requests.get(f"{base}/cus_00000000000000000000/timeline", headers=AUTH,
                           timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"] == "no such customer"
    who = pauline(service)
    wrong = requests.get(f"{base}/{who}/timeline", params={"kind": "letters"}, headers=AUTH,
                         timeout=10)
    assert wrong.status_code == 400 and "unknown kind" in wrong.json()["error"]
    assert requests.get(f"{base}/{who}/timeline", params={"before": "soon"}, headers=AUTH,
                        timeout=10).status_code == 400
    assert requests.get(f"{base}/{who}/timeline", timeout=10).status_code == 401


def entries(page: str) -> list[str]:
    """The timeline entries of a page, as HTML."""
    return re.findall(r'<li class="timeline__entry[^"]*">(.*?)</li>', page, re.DOTALL)


def test_the_record_shows_the_first_page_and_links_to_the_next(service: Service) -> None:
    token = LINKS.token(email=SAMPLE_EMAIL)
    record = requests.get(LINKS.url(service.url, token, "en"), timeout=10).text
    assert "block--timeline" in record and "Older entries" in record
    assert record.count('<li class="timeline__entry ') == 10
    more = re.search(r'<p class="more"><a href="([^"]+)"', record)
    assert more is not None
    second = requests.get(f"{service.url}{html.unescape(more[1])}", timeout=10).text
    assert second.count('<li class="timeline__entry ') == 10 and "block--timeline" in second
    assert not set(entries(record)) & set(entries(second))
    page = requests.get(f"{service.url}/helpdesk/embed/timeline", timeout=10,
                        params={"t": token, "lang": "fr", "kind": "request"})
    assert page.status_code == 200
    assert "Retour à la fiche" in page.text and "Demande" in page.text
    assert "timeline__entry--order" not in page.text
    stranger = requests.get(f"{service.url}/helpdesk/embed/timeline", timeout=10,
                            params={"t": "forged", "lang": "en"})
    assert stranger.status_code == 401


def filter_row(page: str) -> tuple[str, dict[str, str], list[tuple[str, str]], str]:
    """The timeline's filter form: its action, hidden fields, its buttons (value, label) and
    the chosen filter's label."""
    row = re.search(r'<form method="get" action="([^"]+)">(.*?)</form>',
                    page[page.index("block--timeline"):], re.DOTALL)
    assert row is not None
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', row[2]))
    buttons = re.findall(r'<button type="submit" class="timeline__filter"'
                         r'(?: name="kind" value="(\w+)")?>([^<]+)<', row[2])
    chosen = re.search(r'aria-current="true">([^<]+)<', row[2])
    assert chosen is not None
    return html.unescape(row[1]), hidden, buttons, chosen[1].strip()


def test_the_filters_are_one_form_carrying_the_sealed_link_once(service: Service) -> None:
    token = LINKS.token(email=SAMPLE_EMAIL)
    record = requests.get(LINKS.url(service.url, token, "fr"), timeout=10).text
    action, hidden, buttons, chosen = filter_row(record)
    assert action == "/helpdesk/embed/timeline" and hidden == {"t": token, "lang": "fr"}
    assert chosen == "Tout" and ("request", "Demandes ") in buttons
    block = record[record.index("block--timeline"):record.index("</ol>")]
    assert block.count(token) == 1 and "kind=" not in block  # no link per filter
    # a browser submits the form's fields and the button pressed: the requests only
    page = requests.get(f"{service.url}{action}", params={**hidden, "kind": "request"},
                        timeout=10)
    assert page.status_code == 200 and "timeline__entry--order" not in page.text
    action, hidden, buttons, chosen = filter_row(page.text)
    assert chosen == "Demandes" and hidden["t"] == token
    assert buttons[0] == ("", "Tout ")  # "all": a button without a kind
    everything = requests.get(f"{service.url}{action}", params=hidden, timeout=10)
    assert filter_row(everything.text)[3] == "Tout"
    assert len(set(re.findall(r'timeline__entry--(\w+)"', everything.text))) > 1
