"""The sidebar served by `connector serve`, with every source live or some of them down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.helpdesk.embed import EmbedLinks
from tests.conftest import (
    API_TOKEN,
    MANIFEST,
    Backoffice,
    Service,
    connector,
    service_env,
    start_backoffice,
    start_service,
    stop,
)

LINKS = EmbedLinks(b"test-secret-key", 600, "FR")


def sidebar(service: Service, lang: str | None = None, **ids: str) -> requests.Response:
    return requests.get(LINKS.url(service.url, LINKS.token(**ids), lang), timeout=10)


def visible(html: str) -> str:
    """The page's text with Babel's narrow and non-breaking spaces as plain spaces."""
    text = re.sub(r"<[^>]+>", " ", html).replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text)


def test_the_white_paper_record_in_french(service: Service) -> None:
    page = sidebar(service, email="pauline.deneve@easiware.fr")
    assert page.status_code == 200
    text = visible(page.text)
    for expected in ["Pauline Denève", "1 464,00 €", "488,00 €", "05/08/2017", "8,5", "VIP",
                     "997890", "Retournée", "AU908764", "45,95 €", "120145", "Livrée",
                     "34543-A", "989,00 €", "1 AVENUE SPINOZA", "EMERAINVILLE"]:
        assert expected in text, expected
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")
    assert page.headers["Cache-Control"] == "no-store"


def test_the_same_record_in_english(service: Service) -> None:
    text = visible(sidebar(service, "en", phone="06 53 88 88 90").text)
    assert "€1,464.00" in text and "Returned" in text and "Delivered" in text


def test_unknown_customer_says_so_and_gets_the_search_box(service: Service) -> None:
    """No dead end: a caller nobody knows by this contact may be a known customer on a new
    phone; the page says so and offers the search, pre-filled with what the ticket gave."""
    page = sidebar(service, email="nobody@example.org")
    assert page.status_code == 404
    assert "Aucune fiche ne correspond à ce contact" in visible(page.text)
    assert 'name="q" type="search" value="nobody@example.org"' in page.text
    token = LINKS.token(email="nobody@example.org")
    found = requests.get(LINKS.url(service.url, token, None), params={"q": "Denève 77184"},
                         timeout=10)
    assert found.status_code == 200
    assert "Pauline" in visible(found.text) and "candidates__choice" in found.text


def test_not_this_person_leads_from_the_record_to_the_search(service: Service) -> None:
    """A record that is not the caller (a shared email, a household's phone): the strip's
    "not this person?" opens the search with the same sealed link, and the search finds the
    others; each result is a sealed link to that person's record."""
    page = sidebar(service, email="pauline.deneve@easiware.fr")
    found = re.search(r'<a class="summary__other" href="([^"]+)">Pas cette personne \?</a>',
                      page.text)
    assert found is not None
    url = found[1].replace("&amp;", "&")
    assert url.endswith("&lang=fr&find=1") and "t=" in url
    search = requests.get(f"{service.url}{url}", timeout=10)
    assert search.status_code == 200
    text = visible(search.text)
    assert "Ce n'est pas la bonne personne ?" in text.replace("&#39;", "'")
    assert 'id="q"' in search.text
    answer = requests.get(f"{service.url}{url.replace('&find=1', '')}&q=Deneve", timeout=10)
    assert "candidates__choice" in answer.text and "Pauline Denève" in visible(answer.text)


def test_expired_or_forged_link_is_401(service: Service) -> None:
    page = requests.get(f"{service.url}/helpdesk/embed/sidebar?t=forged", timeout=5)
    assert page.status_code == 401
    assert requests.get(f"{service.url}/helpdesk/nope/sidebar", timeout=5).status_code == 404


@pytest.fixture(scope="module")
def faulty(demo_data: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Backoffice, Service]]:
    """A private back office (to break) and the service using it, its ERP never cached fresh."""
    office = start_backoffice(demo_data)
    var = tmp_path_factory.mktemp("var")
    manifest = var / "manifest.yaml"
    manifest.write_text(MANIFEST.read_text().replace(
        "ttl_s: 300", "ttl_s: 0\n    revalidate_s: 0", 1))
    env = {**service_env(demo_data, office.url, var), "CONNECTOR_MANIFEST": str(manifest)}
    running = start_service(env)
    yield office, running
    stop(running.process)
    stop(office.process)


def test_source_down_marks_its_block_and_the_rest_renders(
    faulty: tuple[Backoffice, Service],
) -> None:
    office, service = faulty
    office.faults(erp="down", feedback="slow")
    try:
        page = sidebar(service, email="pauline.deneve@easiware.fr")
    finally:
        office.faults(erp="ok", feedback="ok")
    assert page.status_code == 200
    text = visible(page.text)
    assert "Paris Rivoli" in text            # loyalty (SQLite) still there
    assert "23/02/2019" in text              # contact history (JSONL) still there
    assert "indisponible" in text and "server error (503)" in text  # the ERP, marked
    assert "délai dépassé" in text           # the review feed, too slow
    assert "997890" not in text              # no orders without the ERP



def test_nobody_found_while_a_source_is_down_is_not_a_not_found(
    faulty: tuple[Backoffice, Service],
) -> None:
    """Issue 12 #1: the sidebar, the API and `connector lookup` said "not found" when the source
    that knows the customer did not answer. They say it did not answer (503, exit 5)."""
    office, service = faulty
    office.faults(erp="down")
    try:
        page = sidebar(service, email="nobody.at.all@example.com")
        api = requests.get(f"{service.url}/api/v1/customers/lookup", timeout=30,
                           params={"email": "nobody.at.all@example.com"},
                           headers={"Authorization": f"Bearer {API_TOKEN}"})
        run = connector("lookup", "--email", "nobody.at.all@example.com", env=service.env)
    finally:
        office.faults(erp="ok")
    assert page.status_code == 503 and "introuvable" not in page.text
    assert api.status_code == 503 and api.json()["error"] == "sources_unavailable"
    assert "erp" in api.json()["detail"] and api.headers["Retry-After"]
    assert run.returncode == 5, run.stderr
    assert "did not answer: erp" in run.stderr
    assert requests.get(f"{service.url}/api/v1/customers/lookup", timeout=30,
                        params={"email": "nobody.at.all@example.com"},
                        headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 404

def test_stale_copy_served_when_a_source_fails_later(faulty: tuple[Backoffice, Service]) -> None:
    office, service = faulty
    pauline = {"phone": "+33653888890"}
    assert "997890" in visible(sidebar(service, **pauline).text)  # cached from here on
    office.faults(erp="down")
    try:
        text = visible(sidebar(service, **pauline).text)
    finally:
        office.faults(erp="ok")
    assert "997890" in text  # the cached copy, within its stale TTL...
    assert "copie ancienne" in text  # ...said to be old


def test_the_first_paint_is_one_request_under_60_kb(env: dict[str, str],
                                                    tmp_path: Path) -> None:
    """Pauline's record as the demo serves it: a service of its own, so the landmarks other
    tests leave on her (each with its edit form, ~2 KB) do not change what is measured."""
    own = start_service({**env, "CONNECTOR_DATA_DIR": str(tmp_path / "var")})
    try:
        page = sidebar(own, email="pauline.deneve@easiware.fr")
    finally:
        stop(own.process)
    assert page.status_code == 200
    assert len(page.content) < 60 * 1024
    assert not re.search(r'<(link|img|script)[^>]+(src|href)="https?:', page.text)
