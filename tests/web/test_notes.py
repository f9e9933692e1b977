"""Agents' landmarks: kept, shown in the record, length-limited, audited, erased."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from connector.helpdesk.embed import EmbedLinks
from tests.conftest import API_TOKEN, Service, start_service, stop

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")


def customer(service: Service, email: str) -> dict:  # type: ignore[type-arg]
    answer = requests.get(f"{service.url}/api/v1/customers/lookup", params={"email": email},
                          headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def someone(demo_data: Path) -> str:
    """The email of a demo customer other than the white paper's."""
    customers = json.loads((demo_data / "erp.json").read_text())["customers"]
    return str(next(c["email"] for c in customers if c["id"] == "C101001"))


def test_notes_through_the_api(service: Service, demo_data: Path) -> None:
    email = someone(demo_data)
    who = customer(service, email)["customer_id"]
    base = f"{service.url}/api/v1/customers/{who}/notes"
    added = requests.post(base, json={"text": "  Prépare son   CAP pâtissier ", "author": "Léa"},
                          headers=AUTH, timeout=5)
    assert added.status_code == 201
    note_id = added.json()["id"]
    record = customer(service, email)
    assert record["notes"][0]["text"] == "Prépare son CAP pâtissier"
    assert record["notes"][0]["author"] == "Léa"
    too_long = requests.post(base, json={"text": "x" * 281}, headers=AUTH, timeout=5)
    assert too_long.status_code == 400
    assert too_long.json()["error"] == "a note is at most 280 characters (281 given)"
    edited = requests.put(f"{base}/{note_id}", json={"text": "A eu son CAP", "author": "Léa"},
                          headers=AUTH, timeout=5)
    assert edited.status_code == 200
    assert requests.get(base, headers=AUTH, timeout=5).json()["notes"][0]["text"] == \
        "A eu son CAP"
    assert requests.delete(f"{base}/{note_id}", headers=AUTH, timeout=5).status_code == 200
    assert requests.delete(f"{base}/{note_id}", headers=AUTH, timeout=5).status_code == 404
    assert requests.get(base, timeout=5).status_code == 401


def test_notes_from_the_sidebar_form(service: Service) -> None:
    token = LINKS.token(email="pauline.deneve@easiware.fr")
    requests.get(LINKS.url(service.url, token), timeout=10)  # the record is opened first
    posted = requests.post(f"{service.url}/helpdesk/embed/notes", timeout=10,
                           data={"t": token, "text": "Son fils adore la mousse au chocolat",
                                 "author": "Margaux", "lang": "fr"}, allow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["Location"].startswith("/helpdesk/embed/sidebar?t=")
    record = customer(service, "pauline.deneve@easiware.fr")
    assert any(n["text"] == "Son fils adore la mousse au chocolat" for n in record["notes"])
    forged = requests.post(f"{service.url}/helpdesk/embed/notes", timeout=10,
                           data={"t": "forged", "text": "x"})
    assert forged.status_code == 401


def test_a_refused_note_says_why(service: Service) -> None:
    token = LINKS.token(email="pauline.deneve@easiware.fr")
    requests.get(LINKS.url(service.url, token), timeout=10)
    refused = requests.post(f"{service.url}/helpdesk/embed/notes", timeout=10,
                            data={"t": token, "text": "   ", "lang": "fr"})
    assert refused.status_code == 400
    assert "Note non enregistrée" in refused.text and "a note needs some text" in refused.text


# A landmark of the maximum length, French as agents write it (accents take two bytes, an
# apostrophe is escaped into five): the heaviest text a note of the record carries.
LONGEST = ("Préfère être appelée le matin avant 10 h ; l'après-midi elle garde ses petits-enfants. "
           "Son fils adore la mousse au chocolat et prépare un CAP pâtissier à Émerainville. "
           "A déjà réclamé pour une livraison en retard : proposer le retrait en magasin d'abord. "
           "Très fidèle depuis 2014.")[:280].ljust(280, ".")


def test_ten_notes_of_the_maximum_length_keep_the_first_paint_under_60_kb(
        env: dict[str, str], tmp_path: Path) -> None:
    """The record with as many landmarks as it shows, each as long as allowed: still one
    request under 60 KB (each note's edit form is loaded on demand, not in the first paint)."""
    own = start_service({**env, "CONNECTOR_DATA_DIR": str(tmp_path / "var")})
    try:
        who = customer(own, "pauline.deneve@easiware.fr")["customer_id"]
        for number in range(10):
            text = f"{number} {LONGEST}"[:280]
            added = requests.post(f"{own.url}/api/v1/customers/{who}/notes", headers=AUTH,
                                  json={"text": text, "author": "Marie-Élisabeth"}, timeout=5)
            assert added.status_code == 201, added.text
        page = requests.get(LINKS.url(own.url, LINKS.token(email="pauline.deneve@easiware.fr")),
                            timeout=10)
    finally:
        stop(own.process)
    assert page.status_code == 200
    assert page.text.count('class="notes__text"') == 10
    assert len(LONGEST) == 280
    assert len(page.content) < 60 * 1024, f"{len(page.content) / 1024:.1f} KB"


def test_a_note_is_signed_by_the_agent_the_link_vouches_for(service: Service,
                                                           demo_data: Path) -> None:
    """A link the helpdesk had made for an agent: the form asks no name, and a note posted
    with one typed by hand is still signed by that agent."""
    email = someone(demo_data)
    token = LINKS.token(email=email, agent="margaux.demo", role="agent")
    page = requests.get(LINKS.url(service.url, token, "fr"), timeout=10)
    assert 'name="author"' not in page.text and "Signé margaux.demo" in page.text
    posted = requests.post(f"{service.url}/helpdesk/embed/notes", timeout=10, data={
        "t": token, "lang": "fr", "text": "Préfère le retrait en magasin", "author": "Mallory"})
    assert posted.status_code == 200
    kept = requests.get(f"{service.url}/api/v1/customers/{customer(service, email)['customer_id']}"
                        "/notes", headers=AUTH, timeout=10).json()["notes"]
    mine = [n for n in kept if n["text"] == "Préfère le retrait en magasin"]
    assert [n["author"] for n in mine] == ["margaux.demo"]
    unsigned = requests.get(LINKS.url(service.url, LINKS.token(email=email), "fr"), timeout=10)
    assert 'name="author"' in unsigned.text  # no agent in the link: the name is typed
