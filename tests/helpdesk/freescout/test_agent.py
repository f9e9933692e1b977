"""FreeScout's Sidebar Webhook module (3.0.0) sends no agent: whatever a payload adds, the
record is for no one."""

from __future__ import annotations

import json

from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.freescout.adapter import Config, FreeScout
from tests.helpdesk.scouts import PAULINE, Renderer, deps, fixture

SECRET = "freescout-shared-secret"  # the fixture's


def test_the_module_names_no_agent_and_added_fields_are_not_believed() -> None:
    body = json.loads(fixture("freescout", "sidebar.json"))
    body.update(user={"id": 1, "email": "admin@maison-exemple.fr", "role": "admin"},
                agent="admin@maison-exemple.fr", role="supervisor")
    renderer = Renderer()
    freescout = FreeScout(Config.model_validate({"secret": SECRET}), deps(renderer))
    reply = freescout.sidebar_context(HttpRequest(
        method="POST", body=json.dumps(body).encode(),
        headers=Headers({"Content-Type": "application/json"})))
    assert isinstance(reply, Reply) and reply.status == 200
    (context,) = renderer.contexts
    assert context.identifiers.emails == (PAULINE,)
    assert context.agent is None and context.role is None
