"""One language per page: the shipped manifest is French-labelled, yet the English sidebar shows
no French word outside the customer's own data (names, addresses, reviews, reasons…), its
detail buttons and detail lines included."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import requests

from connector.helpdesk.embed import EmbedLinks
from connector.i18n import CATALOGS
from tests.conftest import API_TOKEN, Service

LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
WORD = re.compile(r"[^\W\d_]+")
# a source's coded values: shown through the locales or the manifest's `sidebar.values`, never
# as the source wrote them, so they are not customer data to look past
CODED = {"tier", "previous_tier", "status", "channel", "kind", "segment", "abc_class", "tone"}
OTHERS = 4  # customers of the demo's tickets besides Pauline


def words(texts: list[str]) -> set[str]:
    """The words of some texts, placeholders left out, case-folded."""
    return {w.casefold() for t in texts for w in WORD.findall(re.sub(r"\{[^}]*\}", "", t))}


# French UI words: the French locale's words that the English one does not use too
FRENCH = {w for w in words(list(CATALOGS["fr"].values())) - words(list(CATALOGS["en"].values()))
          if len(w) >= 4}


def visible(page: str) -> str:
    """The page's text and its attributes' texts (tooltips, accessible names)."""
    attributes = re.findall(r'(?:title|aria-label|placeholder|alt)="([^"]*)"', page)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = " ".join([re.sub(r"<[^>]+>", " ", page), *attributes])
    return re.sub(r"\s+", " ", html.unescape(text).replace("\u202f", " ").replace("\xa0", " "))


def customer_data(node: Any, key: str = "") -> list[str]:
    """Every text of the customer's record as the API gives it, coded values left out."""
    if isinstance(node, dict):
        return [t for k, v in node.items() if k not in CODED for t in customer_data(v, k)]
    if isinstance(node, list):
        return [t for v in node for t in customer_data(v, key)]
    return [str(node)] if isinstance(node, str) and node.strip() else []


def stray_french(text: str, data: list[str]) -> set[str]:
    """The French UI words of `text` once the customer's own texts are taken out."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return words([text]) & FRENCH


def demo_customers(demo_data: Path) -> list[dict[str, str]]:
    """Pauline (the demo's sample customer) and the customers of the demo's other tickets."""
    tickets = json.loads((demo_data / "tickets.json").read_text(encoding="utf-8"))
    emails = dict.fromkeys(t["requester"]["email"] for t in tickets
                           if t["requester"].get("email"))
    assert "pauline.deneve@easiware.fr" in emails
    return [{"email": e} for e in list(emails)[: OTHERS + 1]]


def test_french_ui_words_are_known() -> None:
    assert {"fidélité", "avis", "suivi", "palier", "commandes"} <= FRENCH


def test_the_english_sidebar_shows_no_french_word(service: Service, demo_data: Path) -> None:
    customers = demo_customers(demo_data)
    assert len(customers) >= 3
    for ids in customers:
        record = requests.get(f"{service.url}/api/v1/customers/lookup", params=ids,
                              headers=AUTH, timeout=10).json()
        data = customer_data(record)
        page = requests.get(LINKS.url(service.url, LINKS.token(**ids), "en"), timeout=10)
        assert page.status_code == 200, ids
        assert stray_french(visible(page.text), data) == set(), ids
        for url, key in re.findall(r'data-detail-url="([^"]+)" data-detail-key="([^"]+)"',
                                   page.text):
            detail = requests.get(f"{service.url}{html.unescape(url)}{key}", timeout=10)
            assert detail.status_code == 200, url
            answer = detail.json()
            shown = " ".join([answer["label"], *answer["fields"]])  # its title, its lines' labels
            assert stray_french(shown, data) == set(), (ids, url)


def test_the_loyalty_tier_is_named_in_english(service: Service) -> None:
    ids = {"email": "pauline.deneve@easiware.fr"}
    english = visible(requests.get(LINKS.url(service.url, LINKS.token(**ids), "en"),
                                   timeout=10).text)
    french = visible(requests.get(LINKS.url(service.url, LINKS.token(**ids), "fr"),
                                  timeout=10).text)
    assert "Gold" in english and "Gold" not in french  # sidebar.values: {Or: {fr: Or, en: Gold}}
