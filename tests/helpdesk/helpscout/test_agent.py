"""Who is looking, from Help Scout's signed dynamic-app POST: the `user` is the agent (their
email, else "First Last (#id)"), their role mapped through the entry's `roles`/`agent_roles`,
and the fragment's sealed link to the full record carries both, so the record offers what is
kept for that role."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from connector.app import Services
from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.helpscout.adapter import Config, HelpScout
from connector.web import create_app
from tests.conftest import Backoffice, service_env
from tests.helpdesk.scouts import (
    PAULINE,
    Renderer,
    deps,
    fixture,
    in_process,
    sha1_b64,
    write_manifest,
)

SECRET = "hs-app-secret-for-tests"
SUPERVISOR = {"owner": "supervisor", "admin": "supervisor"}


def dynamic_app(user: Any = None, **changes: Any) -> bytes:
    """The documented dynamic-app body (tests/fixtures/helpscout/dynamic_app.json), its user
    replaced."""
    data = json.loads(fixture("helpscout", "dynamic_app.json"))
    if user is None:
        data.pop("user")
    else:
        data["user"] = user
    return json.dumps({**data, **changes}).encode()


def context_for(body: bytes, **config: Any) -> Any:
    renderer = Renderer()
    app = HelpScout(Config.model_validate({"app_secret": SECRET, **config}),
                    deps(renderer))
    reply = app.sidebar_context(HttpRequest(
        method="POST", body=body, headers=Headers({"Content-Type": "application/json",
                                                   "X-HelpScout-Signature": sha1_b64(SECRET,
                                                                                     body)})))
    assert isinstance(reply, Reply) and reply.status == 200, reply
    (context,) = renderer.contexts
    return context


def test_the_documented_user_is_the_agent_in_their_role() -> None:
    """The fixture's user: `{"fname": "Camille", "lname": "Agent", "id": 4512, "role":
    "user"}` (no email in the documented example)."""
    context = context_for(fixture("helpscout", "dynamic_app.json"))
    assert context.agent == "Camille Agent (#4512)" and context.role == "user"


def test_an_email_names_the_agent_and_the_map_gives_our_role() -> None:
    body = dynamic_app({"id": 7, "fname": "Léa", "lname": "Owner", "role": "owner",
                        "email": " Lea.Owner@Maison-Exemple.fr "})
    context = context_for(body, roles=SUPERVISOR)
    assert context.agent == "lea.owner@maison-exemple.fr" and context.role == "supervisor"
    assert context_for(body).role == "owner"  # unmapped: Help Scout's word


def test_one_agent_s_own_role_wins_by_id_or_email() -> None:
    body = dynamic_app({"id": 4512, "fname": "Camille", "lname": "Agent", "role": "user"})
    assert context_for(body, roles=SUPERVISOR, agent_roles={"4512": "supervisor"}).role \
        == "supervisor"
    mailed = dynamic_app({"id": 9, "role": "admin", "email": "trainee@maison-exemple.fr"})
    assert context_for(mailed, roles=SUPERVISOR,
                       agent_roles={"Trainee@maison-exemple.fr": "trainee"}).role == "trainee"


@pytest.mark.parametrize(("user", "agent"), [
    (None, None),  # no user at all
    (False, None),
    ({"role": "owner"}, None),  # a role without anyone to name: neither
    ({"id": "12", "role": "admin"}, "#12"),
    ({"fname": "  Sam\n", "role": "admin"}, "Sam"),
    ({"id": True, "fname": "Sam", "lname": "Lee", "role": "admin"}, "Sam Lee"),
    ({"id": 3, "fname": "X" * 200, "role": ["admin"]}, f"{'X' * 60} (#3)"),
])
def test_what_the_user_lacks_is_never_made_up(user: Any, agent: str | None) -> None:
    context = context_for(dynamic_app(user))
    assert context.agent == agent
    role = user.get("role") if isinstance(user, dict) else None
    assert context.role == (role if agent and isinstance(role, str) else None)


# --- through the web layer: the fragment's link and the record it opens ----------------------

@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("helpscout-agent")
    entry = {"app_secret": "${HELPSCOUT_APP_SECRET:-}", "roles": SUPERVISOR}
    env = {**service_env(demo_data, backoffice.url, var), "HELPSCOUT_APP_SECRET": SECRET}
    running = in_process(write_manifest(var, {"helpscout": entry}), env, var)
    yield running
    running.close()


@pytest.fixture()
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def full_record_link(client: FlaskClient, body: bytes) -> str:
    answer = client.post("/helpdesk/helpscout/sidebar", data=body, headers={
        "Content-Type": "application/json", "X-HelpScout-Signature": sha1_b64(SECRET, body)})
    assert answer.status_code == 200
    link = re.search(r'href="http://connector\.test(/helpdesk/embed/sidebar\?t=[^"]+)"',
                     answer.get_json()["html"])
    assert link, answer.get_json()["html"]
    return link.group(1).replace("&amp;", "&")


def test_the_fragment_s_link_carries_the_agent_and_their_role(client: FlaskClient,
                                                              services: Services) -> None:
    owner = dynamic_app({"id": 7, "fname": "Léa", "lname": "Owner", "role": "owner",
                         "email": "lea.owner@maison-exemple.fr"})
    link = full_record_link(client, owner)
    context = services.embed.read({k: v[0] for k, v in parse_qs(urlsplit(link).query).items()})
    assert context.agent == "lea.owner@maison-exemple.fr" and context.role == "supervisor"
    assert context.helpdesk == "helpscout" and context.identifiers.emails == (PAULINE,)
    page = client.get(link).get_data(as_text=True)
    assert 'value="action:erp:resend_voucher:"' in page  # the demo keeps it for supervisors
    assert 'value="action:erp:open_return:' in page


def test_an_agent_of_another_role_is_not_offered_what_is_kept(client: FlaskClient) -> None:
    page = client.get(full_record_link(client, fixture("helpscout", "dynamic_app.json")))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="action:erp:open_return:' in text
    assert 'value="action:erp:resend_voucher:"' not in text
