"""One language per page: the shipped manifest is French-labelled, yet the English sidebar shows
no French word outside the customer's own data (names, addresses, reviews, reasons…), its
detail buttons and detail lines included. A source's coded values (tiers, statuses, segments,
tags) are not customer data: the French words the manifest's `sidebar.values` names them by are
looked for too, on the page and in the details' values."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from connector.helpdesk.embed import EmbedLinks
from connector.i18n import CATALOGS
from tests.conftest import API_TOKEN, MANIFEST, Service, start_service, stop

LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
WORD = re.compile(r"[^\W\d_]+")
# a source's coded values: shown through the locales or the manifest's `sidebar.values`, never
# as the source wrote them, so they are not customer data to look past
CODED = {"tier", "previous_tier", "status", "channel", "kind", "segment", "tags", "abc_class",
         "tone"}
OTHERS = 4  # customers of the demo's tickets besides Pauline


def words(texts: list[str]) -> set[str]:
    """The words of some texts, placeholders left out, case-folded."""
    return {w.casefold() for t in texts for w in WORD.findall(re.sub(r"\{[^}]*\}", "", t))}


def named_in(language: str) -> list[str]:
    """The names the shipped manifest's `sidebar.values` gives coded values in a language."""
    values = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["sidebar"]["values"]
    return [name if isinstance(name, str) else name[language]
            for names in values.values() for name in names.values()]


# French words: the French locale's and the French names of the manifest's coded values, that
# the English ones do not use too
FRENCH = {w for w in (words(list(CATALOGS["fr"].values())) | words(named_in("fr")))
          - words(list(CATALOGS["en"].values())) - words(named_in("en")) if len(w) >= 4}
# the detail fields of the shipped manifest that hold coded values, and which ones
CODED_DETAILS = {("loyalty", "balance", "tier"): "loyalty.tier",
                 ("erp", "tracking", "status"): "orders.status"}


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


def named_customers(demo_data: Path) -> list[dict[str, str]]:
    """A demo customer for each segment and tag the shipped manifest names (`sidebar.values`):
    none of the tickets' customers is in the French-named segment or carries those tags."""
    values = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["sidebar"]["values"]
    customers = json.loads((demo_data / "erp.json").read_text(encoding="utf-8"))["customers"]
    wanted = [("segment", v) for v in values["status.segment"]] + [
        ("tags", v) for v in values["status.tags"]]
    emails = [next(c["email"] for c in customers
                   if value in (c[key] if key == "tags" else [c[key]]))
              for key, value in wanted]
    return [{"email": e} for e in dict.fromkeys(emails)]


def english_page_shows_no_french(service: Service, ids: dict[str, str]) -> str:
    """The English page of a customer, once checked for French words, its details' too."""
    record = requests.get(f"{service.url}/api/v1/customers/lookup", params=ids,
                          headers=AUTH, timeout=10).json()
    data = customer_data(record)
    page = requests.get(LINKS.url(service.url, LINKS.token(**ids), "en"), timeout=10)
    assert page.status_code == 200, ids
    assert stray_french(visible(page.text), data) == set(), ids
    for answer in detail_answers(service, page.text):
        shown = " ".join([answer["label"], *answer["fields"]])  # its title, its lines' labels
        assert stray_french(shown, data) == set(), (ids, answer["detail"])
    return visible(page.text)


def detail_answers(service: Service, page: str) -> list[dict[str, Any]]:
    """The answer of every detail button of a page, as its script asks them."""
    answers = []
    for url, key in re.findall(r'data-detail-url="([^"]+)" data-detail-key="([^"]+)"', page):
        detail = requests.get(f"{service.url}{html.unescape(url)}{key}", timeout=10)
        assert detail.status_code == 200, url
        answers.append(detail.json())
    return answers


def test_french_ui_words_are_known() -> None:
    assert {"fidélité", "avis", "suivi", "palier", "commandes"} <= FRENCH
    assert {"argent", "livré", "retour"} <= FRENCH  # coded values the manifest names
    assert {"professionnel", "litige", "ambassadeur"} <= FRENCH  # its segments and tags


def test_the_english_sidebar_shows_no_french_word(service: Service, demo_data: Path) -> None:
    customers = demo_customers(demo_data)
    assert len(customers) >= 3
    for ids in customers:
        english_page_shows_no_french(service, ids)


def test_segments_and_tags_are_named_in_english(service: Service, demo_data: Path) -> None:
    customers = named_customers(demo_data)
    assert len(customers) >= 2
    shown = " ".join(english_page_shows_no_french(service, ids) for ids in customers)
    assert "Professional" in shown and "dispute" in shown


def test_the_loyalty_tier_is_named_in_english(service: Service) -> None:
    ids = {"email": "pauline.deneve@easiware.fr"}
    english = visible(requests.get(LINKS.url(service.url, LINKS.token(**ids), "en"),
                                   timeout=10).text)
    french = visible(requests.get(LINKS.url(service.url, LINKS.token(**ids), "fr"),
                                  timeout=10).text)
    assert "Gold" in english and "Gold" not in french  # sidebar.values: {Or: {fr: Or, en: Gold}}


@pytest.fixture(scope="module")
def declared(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Service]:
    """`connector serve` on the shipped manifest whose coded detail fields say which coded
    field their values are (`values:`), as CODED_DETAILS lists them."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for (source, detail, field), coded in CODED_DETAILS.items():
        manifest["sources"][source]["details"][detail]["fields"][field].setdefault(
            "values", coded)
    folder = tmp_path_factory.mktemp("declared")
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True,
                                                         sort_keys=False), encoding="utf-8")
    running = start_service({**env, "CONNECTOR_MANIFEST": str(folder / "manifest.yaml"),
                             "CONNECTOR_DATA_DIR": str(folder)})
    yield running
    stop(running.process)


def test_coded_detail_values_are_named_in_english(declared: Service, demo_data: Path) -> None:
    shown: list[str] = []
    for ids in demo_customers(demo_data):
        record = requests.get(f"{declared.url}/api/v1/customers/lookup", params=ids,
                              headers=AUTH, timeout=10).json()
        page = requests.get(LINKS.url(declared.url, LINKS.token(**ids), "en"), timeout=10)
        for answer in detail_answers(declared, page.text):
            values = [v for v in answer["fields"].values() if v]
            assert stray_french(" ".join(values), customer_data(record)) == set(), ids
            shown += values
    assert {"Gold", "Silver", "Delivered", "In transit"} <= set(shown)
    assert not {"Or", "Argent", "Livré", "En transit"} & set(shown)
