"""Freshdesk vouches for no agent: the app's body is built by its page in the agent's browser
(the FDK's `loggedInUser` too) and the request template adds the same token for every agent. A
body naming any agent or role gets a record, and a sealed link, for no one."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from connector.helpdesk.base import Headers, HttpRequest, Reply, SidebarContext
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.freshdesk.adapter import Config, Freshdesk

TOKEN = "fd-app-token-for-tests"
PAULINE = "pauline.deneve@easiware.fr"


def test_a_forged_logged_in_user_gives_no_agent_nor_role() -> None:
    links = EmbedLinks(b"test-secret-key", 600, "FR")
    rendered: list[SidebarContext] = []

    def render(context: SidebarContext) -> str:
        rendered.append(context)
        return "<div>record</div>"

    freshdesk = Freshdesk(Config.model_validate({"app_token": TOKEN}), HelpdeskDeps(
        links=links, public_url="https://connector.test", region="FR", secret_key=b"k",
        render_fragment=render, clock=lambda: 0.0))
    user = {"id": 1, "contact": {"email": "admin@maison-exemple.fr", "language": "fr"},
            "role_ids": [1], "roles": [{"name": "Account Administrator"}], "type": "admin"}
    body = {"ticket_id": "12", "emails": [PAULINE], "loggedInUser": user, "user": user,
            "agent": "admin@maison-exemple.fr", "role": "supervisor", "lang": "fr"}
    reply = freshdesk.sidebar_context(HttpRequest(
        method="POST", body=json.dumps(body).encode(),
        headers=Headers({"Authorization": f"Bearer {TOKEN}",
                         "Content-Type": "application/json"})))
    assert isinstance(reply, Reply) and reply.status == 200
    (context,) = rendered
    assert context.identifiers.emails == (PAULINE,)
    assert context.agent is None and context.role is None
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(reply.body)["url"]).query).items()}
    sealed = links.read(query)
    assert sealed.agent is None and sealed.role is None and sealed.ticket_id == "12"
