"""`GET /api/v1/customers/<id>/export`: an access request answered with everything connector
keeps on the person, behind the admin token only (never the API token), audited, never logged.
The service wired in this process on the default manifest and the demo back office."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pydantic import SecretStr

from connector.app import Services
from connector.web import create_app
from tests.conftest import ADMIN_TOKEN, API_TOKEN, Backoffice, service_env
from tests.helpdesk.scouts import in_process

PAULINE = "pauline.deneve@easiware.fr"
API = {"Authorization": f"Bearer {API_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOTE = "Son fils adore la mousse au chocolat"


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("export")
    running = in_process(Path("manifest.yaml").resolve(),
                         service_env(demo_data, backoffice.url, var), var)
    yield running
    running.close()


def client(services: Services, **settings: Any) -> FlaskClient:
    update = {"api_token": SecretStr(API_TOKEN), "admin_token": SecretStr(ADMIN_TOKEN),
              "rate_limit": "off", "auth_failure_limit": "off", **settings}
    app = create_app(services=dataclasses.replace(
        services, settings=services.settings.model_copy(update=update)))
    return app.test_client()


def pauline(web: FlaskClient) -> str:
    """Pauline's customer id, her record looked up (so the store knows her) and a note kept."""
    found = web.get("/api/v1/customers/lookup", query_string={"email": PAULINE}, headers=API)
    assert found.status_code == 200, found.json
    who: str = found.json["customer_id"]
    kept = web.post(f"/api/v1/customers/{who}/notes", json={"text": NOTE, "author": "Margaux"},
                    headers=API)
    assert kept.status_code == 201, kept.json
    return who


def test_the_export_is_her_whole_footprint(services: Services) -> None:
    web = client(services)
    who = pauline(web)
    answer = web.get(f"/api/v1/customers/{who}/export", headers=ADMIN)
    assert answer.status_code == 200, answer.json
    assert answer.headers["Cache-Control"] == "no-store"
    found = answer.json
    assert found["customer_id"] == who
    vouched = {(i["kind"], i["value"]): i["source"] for i in found["identifiers"]}
    assert vouched[("email", PAULINE)] in services.manifest.sources
    assert all(i["learned_at"] and i["confirmed_at"] for i in found["identifiers"])
    assert found["person"]["display_name"] and NOTE in [n["text"] for n in found["notes"]]
    assert {"note_add"} <= {e["action"] for e in found["audit"]}
    for kind in ("contacts", "ticket_events", "changes", "writebacks", "segments",
                 "loyalty_tiers", "helpdesk_requesters", "suppressed"):
        assert isinstance(found[kind], list), kind
    again = web.get(f"/api/v1/customers/{who}/export", headers=ADMIN).json
    assert ("export", "admin") in {(e["action"], e["actor"]) for e in again["audit"]}


@pytest.mark.parametrize("headers", [API, {}, {"Authorization": "Bearer nope"},
                                     {"Authorization": f"Basic {ADMIN_TOKEN}"}])
def test_only_the_admin_token_exports(services: Services, headers: dict[str, str]) -> None:
    web = client(services)
    who = pauline(web)
    refused = web.get(f"/api/v1/customers/{who}/export", headers=headers)
    assert refused.status_code == 401 and refused.is_json
    assert "admin token" in refused.json["error"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_export_is_closed_while_the_admin_token_is_unset(services: Services) -> None:
    web = client(services, admin_token=None)
    answer = web.get(f"/api/v1/customers/{pauline(web)}/export", headers=ADMIN)
    assert answer.status_code == 401 and "CONNECTOR_ADMIN_TOKEN" in answer.json["error"]


@pytest.mark.parametrize("customer", ["cus_doesnotexist", "x" * 41, "cus%0Ax"])
def test_an_unknown_customer_is_a_404(services: Services, customer: str) -> None:
    answer = client(services).get(f"/api/v1/customers/{customer}/export", headers=ADMIN)
    assert answer.status_code == 404 and answer.json == {"error": "no such customer"}


def test_the_export_logs_nothing_of_hers(services: Services,
                                         caplog: pytest.LogCaptureFixture) -> None:
    web = client(services)
    who = pauline(web)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        assert web.get(f"/api/v1/customers/{who}/export", headers=ADMIN).status_code == 200
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert PAULINE not in logged and NOTE not in logged and "Denève" not in logged


def test_after_forget_only_the_audit_trails_ids_remain(services: Services) -> None:
    web = client(services)
    who = pauline(web)
    assert web.post("/api/v1/customers/forget", json={"email": PAULINE},
                    headers=API).status_code == 200
    found = web.get(f"/api/v1/customers/{who}/export", headers=ADMIN).json
    assert found["person"] is None
    assert [k for k, v in found.items() if isinstance(v, list) and v] == ["audit"]
    assert "forget" in {e["action"] for e in found["audit"]}
    assert PAULINE not in str(found) and NOTE not in str(found)
