"""Chatwoot vouches for no agent: its `currentAgent` comes in the same unsigned message as the
rest of the context, relayed by our page from the agent's browser. A POST naming any agent or
role gets a record sealed for no one (only what is kept for no role is offered)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.chatwoot.adapter import Chatwoot, Config, app_key
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks

SECRET_KEY = b"k"
PAULINE = "pauline.deneve@easiware.fr"
FORGED_AGENT = {"id": 1, "name": "Admin", "email": "admin@maison-exemple.fr",
                "role": "administrator", "account_id": 1}


def test_a_forged_current_agent_gives_no_agent_nor_role() -> None:
    config = Config(account_id=1)
    links = EmbedLinks(SECRET_KEY, 600, "FR")
    chatwoot = Chatwoot(config, HelpdeskDeps(
        links=links, public_url="http://connector.test", region="FR", secret_key=SECRET_KEY,
        render_fragment=lambda _: "", clock=time.time))
    body = {"k": app_key(SECRET_KEY, config), "email": PAULINE, "conversation": "57",
            "currentAgent": FORGED_AGENT, "agent": "admin@maison-exemple.fr",
            "role": "supervisor", "data": {"currentAgent": FORGED_AGENT}}
    reply = chatwoot.sidebar_context(HttpRequest(
        method="POST", body=json.dumps(body).encode(),
        headers=Headers({"Content-Type": "application/json"})))
    assert isinstance(reply, Reply) and reply.status == 200
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(reply.body)["url"]).query).items()}
    context = links.read(query)
    assert context.identifiers.emails == (PAULINE,) and context.ticket_id == "57"
    assert context.agent is None and context.role is None
