"""Writes keyed by a customer id refuse an id the link store does not know (404 "no such
customer"), so nothing is kept that no lookup shows and `forget` cannot reach: notes (add,
edit, delete) through the API and the sealed sidebar, corrections, actions. A malformed body
is still a 400 first. The service wired in this process on the default manifest."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pydantic import SecretStr
from sqlalchemy import func, select

from connector.app import Services
from connector.identifiers import Identifiers
from connector.store.schema import changes, notes
from connector.web import create_app
from tests.conftest import API_TOKEN, Backoffice, service_env
from tests.helpdesk.scouts import in_process

API = {"Authorization": f"Bearer {API_TOKEN}"}
NOBODY = "cus_doesnotexist"
WRITES = [
    ("POST", f"/api/v1/customers/{NOBODY}/notes", {"text": "orphan", "author": "Léa"}),
    ("PUT", f"/api/v1/customers/{NOBODY}/notes/1", {"text": "orphan", "author": "Léa"}),
    ("DELETE", f"/api/v1/customers/{NOBODY}/notes/1", None),
    ("POST", f"/api/v1/customers/{NOBODY}/corrections",
     {"field": "identity.emails", "value": "orphan@example.fr", "agent": "Léa"}),
    ("POST", f"/api/v1/customers/{NOBODY}/actions/open_return",
     {"key": "997890", "inputs": {"reason": "damaged"}, "agent": "Léa"}),
]


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("unknown")
    running = in_process(Path("manifest.yaml").resolve(),
                         service_env(demo_data, backoffice.url, var), var)
    yield running
    running.close()


@pytest.fixture
def web(services: Services) -> FlaskClient:
    update = {"api_token": SecretStr(API_TOKEN), "rate_limit": "off",
              "auth_failure_limit": "off"}
    app = create_app(services=dataclasses.replace(
        services, settings=services.settings.model_copy(update=update)))
    return app.test_client()


def kept(services: Services, table: object, customer_id: str) -> int:
    """How many rows of notes or changes are kept under this id."""
    query = select(func.count()).where(table.c.customer_id == customer_id)  # type: ignore[attr-defined]
    with services.assembler.resolver.store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_write_for_an_unknown_customer_is_a_404_and_keeps_nothing(
        services: Services, web: FlaskClient, method: str, path: str,
        body: dict[str, object] | None) -> None:
    answer = web.open(path, method=method, json=body, headers=API)
    assert answer.status_code == 404 and answer.json == {"error": "no such customer"}
    assert kept(services, notes, NOBODY) == 0 and kept(services, changes, NOBODY) == 0


@pytest.mark.parametrize(("method", "path"), [("POST", f"/api/v1/customers/{NOBODY}/notes"),
                                              ("PUT", f"/api/v1/customers/{NOBODY}/notes/1")])
def test_a_malformed_note_is_a_400_before_the_customer_is_looked_for(
        web: FlaskClient, method: str, path: str) -> None:
    answer = web.open(path, method=method, json={"text": 5}, headers=API)
    assert answer.status_code == 400 and answer.json == {"error": "text: give a string"}
    empty = web.open(path, method=method, json={"text": "  "}, headers=API)
    assert empty.status_code == 400 and empty.json == {"error": "a note needs some text"}


def test_notes_of_a_known_customer_are_kept_until_forgotten(services: Services,
                                                            web: FlaskClient) -> None:
    found = web.get("/api/v1/customers/lookup", headers=API,
                    query_string={"email": "pauline.deneve@easiware.fr"})
    who = found.json["customer_id"]
    base = f"/api/v1/customers/{who}/notes"
    added = web.post(base, json={"text": "Préfère le matin"}, headers=API)
    assert added.status_code == 201
    note = added.json["id"]
    assert web.put(f"{base}/{note}", json={"text": "Plutôt le soir"},
                   headers=API).status_code == 200
    assert web.post("/api/v1/customers/forget", json={"email": "pauline.deneve@easiware.fr"},
                    headers=API).status_code == 200
    after = web.post(base, json={"text": "after forget"}, headers=API)
    assert after.status_code == 404 and after.json == {"error": "no such customer"}
    assert web.delete(f"{base}/{note}", headers=API).json == {"error": "no such customer"}
    assert kept(services, notes, who) == 0


def test_a_sealed_link_to_an_unknown_customer_keeps_no_note(services: Services,
                                                            web: FlaskClient) -> None:
    token = services.embed.token(customer_id=NOBODY)
    for action, extra in (("add", {}), ("edit", {"note": "1"}), ("delete", {"note": "1"})):
        answer = web.post("/helpdesk/embed/notes", data={
            "t": token, "action": action, "text": "orphan", "lang": "en", **extra})
        assert answer.status_code == 404, (action, answer.status_code)
    assert kept(services, notes, NOBODY) == 0
    refused = web.post("/helpdesk/embed/notes", data={"t": token, "text": " ", "lang": "en"})
    assert refused.status_code == 400  # what is wrong with the form is said first


def test_a_sealed_link_to_a_known_customer_keeps_the_note(
        services: Services, web: FlaskClient, demo_data: Path) -> None:
    customers = json.loads((demo_data / "erp.json").read_text())["customers"]
    email = next(c["email"] for c in customers if c["id"] == "C101001")
    found = web.get("/api/v1/customers/lookup", headers=API, query_string={"email": email})
    who = found.json["customer_id"]
    token = services.embed.token(customer_id=who)
    answer = web.post("/helpdesk/embed/notes", data={"t": token, "text": "Chausse du 38",
                                                     "lang": "en"})
    assert answer.status_code == 303
    assert kept(services, notes, who) == 1


def test_a_customer_only_the_contact_history_knows_takes_notes_that_forget_erases(
        backoffice: Backoffice, demo_data: Path, tmp_path: Path) -> None:
    """Someone who only ever contacted the service (their email in the helpdesk's exported
    history, in no source with ids): the sealed link's record takes their note, shows it at
    the next opening, and `forget` by their email erases it."""
    import shutil

    data = tmp_path / "demo"
    shutil.copytree(demo_data, data)
    email = "nouvelle.cliente@example.fr"
    with (data / "contacts.jsonl").open("a") as history:
        history.write(json.dumps({"email": email, "at": "2026-10-28T09:00:00Z",
                                  "channel": "phone", "reason": "Renseignement"}) + "\n")
    var = tmp_path / "var"
    var.mkdir()
    running = in_process(Path("manifest.yaml").resolve(),
                         service_env(data, backoffice.url, var), var)
    try:
        update = {"api_token": SecretStr(API_TOKEN), "rate_limit": "off",
                  "auth_failure_limit": "off"}
        web = create_app(services=dataclasses.replace(
            running, settings=running.settings.model_copy(update=update))).test_client()
        token = running.embed.token(email=email)
        first = web.get(running.embed.url("", token, "en"))
        assert first.status_code == 200 and "Renseignement" in first.get_data(as_text=True)
        answer = web.post("/helpdesk/embed/notes", data={"t": token, "text": "Rappeler jeudi",
                                                         "lang": "en"})
        assert answer.status_code == 303
        again = web.get(running.embed.url("", token, "en")).get_data(as_text=True)
        assert "Rappeler jeudi" in again
        who = running.assembler.lookup(Identifiers(emails=(email,)), record=False).customer_id
        assert who is not None and kept(running, notes, who) == 1
        erased = web.post("/api/v1/customers/forget", json={"email": email}, headers=API)
        assert erased.status_code == 200 and erased.json["erased"].get("notes") == 1
        assert kept(running, notes, who) == 0
    finally:
        running.close()
