"""Name search: agents find a person however they type the name: in any order, with or without
particles, hyphens, apostrophes, accents or German and other transliterations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolution, Resolver
from connector.customer.search import CustomerSearch
from connector.identifiers import Identifiers, name_key
from connector.manifest import load_manifest
from connector.sources.cache import MemoryCache, SingleFlight

MANIFEST = """\
version: 1
sources:
  erp: {type: files, path: a.csv, match: {email: e},
        sections: {identity: {items: null, fields: {last_name: n}}}}
"""
PEOPLE = {
    "cus_pauline": ("Pauline Denève", "77184"),
    "cus_yann": ("Yann Le Gall", "29200"),
    "cus_jp": ("Jean-Pierre Martin", "75011"),
    "cus_siobhan": ("Siobhán O’Brien", "75012"),
    "cus_hans": ("Hans Müller", "10115"),
    "cus_petra": ("Petra Mueller", "80331"),
    "cus_klaus": ("Klaus Größer", "20095"),
    "cus_anna": ("Anna Äschbach", "3011"),
    "cus_soren": ("Søren Ødegård", "0150"),
    "cus_lukasz": ("Łukasz Nowak", "00-001"),
    "cus_ayse": ("Ayşe Yıldız", "34000"),
}


@pytest.fixture
def search(store: LinkStore, tmp_path: Path) -> CustomerSearch:
    """A search over the link store only (no source declares a search), with PEOPLE in it."""
    for customer_id, (name, postcode) in PEOPLE.items():
        store.remember(customer_id, name, name_key(name), postcode)
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    return CustomerSearch(ProfileAssembler(manifest, {}, SingleFlight(MemoryCache()),
                                           ThreadPoolExecutor(2),
                                           Resolver(store, manifest.identity)))


def names(search: CustomerSearch, query: str) -> set[str | None]:
    return {candidate.name for candidate in search.search(query)}


@pytest.mark.parametrize(("query", "who"), [
    ("Denève", "Pauline Denève"), ("DENEVE Pauline", "Pauline Denève"),
    ("deneve pauline", "Pauline Denève"), ("Pauline   DENÈVE", "Pauline Denève"),
    ("DENEVE 77184", "Pauline Denève"), ("77184 pauline", "Pauline Denève"),
    ("legall", "Yann Le Gall"), ("Le Gall", "Yann Le Gall"), ("le-gall yann", "Yann Le Gall"),
    ("Jean Pierre", "Jean-Pierre Martin"), ("jeanpierre", "Jean-Pierre Martin"),
    ("Pierre-Jean Martin", "Jean-Pierre Martin"), ("Martin J-P", "Jean-Pierre Martin"),
    ("OBrien", "Siobhán O’Brien"), ("O'Brien", "Siobhán O’Brien"),
    ("O’Brien", "Siobhán O’Brien"), ("O Brien Siobhan", "Siobhán O’Brien"),
    ("Mueller", "Hans Müller"), ("Müller", "Hans Müller"), ("muller hans", "Hans Müller"),
    ("Müller", "Petra Mueller"), ("Muller", "Petra Mueller"),
    ("Groesser", "Klaus Größer"), ("Grösser", "Klaus Größer"), ("Grosser", "Klaus Größer"),
    ("Aeschbach", "Anna Äschbach"), ("aschbach", "Anna Äschbach"),
    ("Soren", "Søren Ødegård"), ("Odegard", "Søren Ødegård"), ("Lukasz", "Łukasz Nowak"),
    ("Yildiz", "Ayşe Yıldız"), ("ayse yildiz", "Ayşe Yıldız"),
])
def test_agents_find_a_name_however_they_type_it(search: CustomerSearch, query: str,
                                                  who: str) -> None:
    assert who in names(search, query)


@pytest.mark.parametrize(("query", "found"), [
    ("Pauline Martin", set()),  # every word must match the same person
    ("DENEVE 75011", set()),  # the postcode too
    ("Müller", {"Hans Müller", "Petra Mueller"}),
    ("Martin", {"Jean-Pierre Martin"}),
])
def test_every_word_must_match(search: CustomerSearch, query: str, found: set[str]) -> None:
    assert names(search, query) == found


def test_the_store_matches_every_word_in_any_order(store: LinkStore) -> None:
    store.remember("cus_pauline", "Pauline Denève", name_key("Pauline Denève"), "77184")
    assert [p.customer_id for p in store.search_people("deneve pauline")] == ["cus_pauline"]
    assert store.search_people("deneve martin") == []
    assert [p.customer_id for p in store.search_people("deneve", "77184")] == ["cus_pauline"]
    assert store.search_people("%", None) == [] and store.search_people(" ", None) == []


def test_what_a_lookup_learns_is_found_by_the_search(search: CustomerSearch) -> None:
    resolver = search.assembler.resolver
    resolver.learn(Resolution(None, Identifiers()), [("erp", "C42", "erp")], "Yann Le Gall",
                   "29000")
    assert {c.postcode for c in search.search("legall")} == {"29200", "29000"}
