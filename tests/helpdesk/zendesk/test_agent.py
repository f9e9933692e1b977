"""Who is looking in Zendesk's sidebar: the agent the verified signed-URL JWT names (`sub`, a
bare id or the user's API address: both readings), kept in our session, never taken from our
page's POST; their role read from a fake Zendesk API (once per `role_ttl_s`) and mapped through
the entry's `roles`/`agent_roles`; every sealed record link carries both."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer

from connector.helpdesk.base import Headers, HttpRequest, Reply, SidebarContext
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk.adapter import Config, Zendesk
from connector.helpdesk.zendesk.agents import FAILURE_TTL_S, agent_id_of
from tests.helpdesk.zendesk.conftest import Clock
from tests.helpdesk.zendesk.fake_zendesk import AGENT, TOKEN, FakeZendesk
from tests.helpdesk.zendesk.zaf.harness import APP_GUID, public_pem, signed_url_token

ZENDESK = {"origin": "https://acme.zendesk.com", "app_guid": APP_GUID}
PAULINE = "pauline.deneve@easiware.fr"
SECRET = b"test-secret-key"
LOOKING = "1500"  # the agent the JWT names
LEA = {"id": 1500, "name": "Léa Martin", "email": "lea.martin@maison-exemple.fr",
       "role": "admin", "custom_role_id": None}
SHOW_LEA = f"/api/v2/users/{LOOKING}.json"


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    zendesk = FakeZendesk(httpserver)
    zendesk.users[LOOKING] = dict(LEA)
    return zendesk


def adapter(clock: Clock, fake: FakeZendesk | None = None, **changes: Any) -> Zendesk:
    api = {"api_url": fake.url, "api_email": AGENT, "api_token": TOKEN} if fake else {}
    config = Config.model_validate({"subdomain": "acme", "app_public_key": public_pem(),
                                    **api, **changes})
    deps = HelpdeskDeps(links=EmbedLinks(SECRET, 600, "FR", clock=clock),
                        public_url="http://testserver", region="FR", secret_key=SECRET,
                        render_fragment=lambda context: "", clock=clock)
    return Zendesk(config, deps)


def open_app(app: Zendesk, **claims: Any) -> str:
    """Zendesk's signed POST (the JWT with these claims): the session our page holds."""
    reply = app.sidebar_context(HttpRequest(
        method="POST", path="/helpdesk/zendesk/sidebar", args=ZENDESK,
        form={"token": signed_url_token(**claims)},
        headers=Headers({"Content-Type": "application/x-www-form-urlencoded"})))
    assert isinstance(reply, Reply) and reply.status == 200, reply
    marker = 'var page = '
    page = json.loads(reply.body.split(marker, 1)[1].split(";\n", 1)[0])
    return str(page["session"])


def record(app: Zendesk, session: str, **body: Any) -> tuple[SidebarContext, dict[str, Any]]:
    """Our page's POST for Pauline's record: the context its sealed link names, the answer."""
    payload = json.dumps({"session": session, "emails": [PAULINE], "ticket_id": "35436",
                          "user_id": 20978392, **body}).encode()
    reply = app.sidebar_context(HttpRequest(
        method="POST", path="/helpdesk/zendesk/sidebar", args=ZENDESK, body=payload,
        headers=Headers({"Content-Type": "application/json"})))
    assert isinstance(reply, Reply) and reply.status == 200, reply
    answer = json.loads(reply.body)
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer["url"]).query).items()}
    return app.deps.links.read(query), answer


def role_reads(fake: FakeZendesk) -> int:
    return sum(1 for c in fake.calls if c.method == "GET" and c.path == SHOW_LEA)


# --- the JWT's user -------------------------------------------------------------------------

@pytest.mark.parametrize(("sub", "found"), [
    (1500, "1500"), ("1500", "1500"),
    ("https://acme.zendesk.com/api/v2/users/1500.json", "1500"),
    ("https://other.zendesk.com/api/v2/users/1500.json", None),  # another account's user
    ("https://acme.zendesk.com/api/v2/users/1500.json?x", None),
    ("lea@maison-exemple.fr", None), (True, None), (-3, None), ("", None), (None, None),
    ({"id": 1500}, None), ("1" * 21, None),
])
def test_both_readings_of_sub_and_nothing_else(sub: Any, found: str | None) -> None:
    claims = {} if sub is None else {"sub": sub}
    assert agent_id_of(claims, "acme") == found


def test_the_agent_and_their_zendesk_role_come_with_the_record(clock: Clock,
                                                               fake: FakeZendesk) -> None:
    app = adapter(clock, fake)
    context, _ = record(app, open_app(app, sub=1500))
    assert context.agent == "lea.martin@maison-exemple.fr" and context.role == "admin"
    assert context.helpdesk == "zendesk" and context.identifiers.emails == (PAULINE,)
    mapped = adapter(clock, fake, roles={"admin": "supervisor"})
    context, _ = record(mapped, open_app(mapped, sub=f"https://acme.zendesk.com{SHOW_LEA}"))
    assert context.role == "supervisor"


def test_a_custom_role_is_mapped_by_its_id_before_the_role(clock: Clock,
                                                           fake: FakeZendesk) -> None:
    fake.users[LOOKING].update(role="agent", custom_role_id=360002)
    app = adapter(clock, fake, roles={"360002": "supervisor", "agent": "agent"})
    assert record(app, open_app(app, sub=1500))[0].role == "supervisor"
    fake.users[LOOKING]["custom_role_id"] = 360009  # another custom role: its base role
    other = adapter(clock, fake, roles={"360002": "supervisor"})
    assert record(other, open_app(other, sub=1500))[0].role == "agent"


def test_one_agent_s_own_role_wins(clock: Clock, fake: FakeZendesk) -> None:
    app = adapter(clock, fake, roles={"admin": "supervisor"},
                  agent_roles={"Lea.Martin@maison-exemple.fr": "trainee"})
    assert record(app, open_app(app, sub=1500))[0].role == "trainee"


def test_the_role_is_read_once_per_ttl(clock: Clock, fake: FakeZendesk) -> None:
    app = adapter(clock, fake, role_ttl_s=60)
    session = open_app(app, sub=1500)
    for _ in range(3):
        assert record(app, session)[0].role == "admin"
    assert role_reads(fake) == 1
    fake.users[LOOKING]["role"] = "agent"  # demoted in Zendesk
    clock.offset = 59
    assert record(app, session)[0].role == "admin" and role_reads(fake) == 1
    clock.offset = 61
    assert record(app, session)[0].role == "agent" and role_reads(fake) == 2


def test_the_page_s_post_cannot_name_the_agent(clock: Clock, fake: FakeZendesk) -> None:
    app = adapter(clock, fake, agent_roles={"20978392": "supervisor", "666": "supervisor"})
    forged = {"agent": "boss@maison-exemple.fr", "role": "supervisor", "agent_id": 666,
              "sub": 666, "currentUser": {"id": 666, "role": "admin"}}
    context, _ = record(app, open_app(app, sub=1500), **forged)
    assert context.agent == "lea.martin@maison-exemple.fr" and context.role == "admin"
    # a JWT naming nobody: the record is for no agent, whatever the page says
    context, _ = record(app, open_app(app), **forged)
    assert context.agent is None and context.role is None
    assert role_reads(fake) == 1


def test_without_the_api_the_agent_is_their_id_and_only_agent_roles_apply(clock: Clock) -> None:
    app = adapter(clock)
    context, _ = record(app, open_app(app, sub=1500))
    assert context.agent == "zendesk user 1500" and context.role is None
    named = adapter(clock, agent_roles={1500: "supervisor"})
    assert record(named, open_app(named, sub=1500))[0].role == "supervisor"


def test_a_failed_read_gives_no_role_and_is_tried_again_later(clock: Clock,
                                                               fake: FakeZendesk) -> None:
    fake.fail_next(f"GET {SHOW_LEA}", 500)
    app = adapter(clock, fake)
    session = open_app(app, sub=1500)
    context, _ = record(app, session)
    assert context.agent == "zendesk user 1500" and context.role is None
    record(app, session)
    assert role_reads(fake) == 1  # not asked again at once
    clock.offset = FAILURE_TTL_S + 1
    assert record(app, session)[0].role == "admin" and role_reads(fake) == 2


# --- the session and renewals keep the agent ------------------------------------------------

def test_the_renewed_session_still_names_the_agent(clock: Clock, fake: FakeZendesk) -> None:
    app = adapter(clock, fake)
    _, answer = record(app, open_app(app, sub=1500))
    clock.offset = 500  # the first session would be near its end; the renewed one is fresh
    context, _ = record(app, answer["session"])
    assert context.agent == "lea.martin@maison-exemple.fr"


def test_a_frame_s_token_is_renewed_only_for_the_same_agent_and_role(clock: Clock,
                                                                     fake: FakeZendesk) -> None:
    app = adapter(clock, fake)
    session = open_app(app, sub=1500)
    context, answer = record(app, session)
    own = parse_qs(urlsplit(answer["url"]).query)["t"][0]
    _, again = record(app, session, renew=own)
    assert again["renewed"] is True
    someone_else = app.deps.links.token(email="someone@example.com", agent="boss",
                                        role="supervisor")
    context, answer = record(app, session, renew=someone_else)
    assert answer["renewed"] is False  # the requester's record, for Léa, instead
    assert context.agent == "lea.martin@maison-exemple.fr" and context.role == "admin"
    assert context.identifiers.emails == (PAULINE,)
