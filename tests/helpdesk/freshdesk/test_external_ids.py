"""A Freshdesk contact's `unique_external_id` (the brand's own customer number) reaches the
webhook's event and the app's sidebar context as `external_id_source`'s own id; unset,
nothing changes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connector.helpdesk.freshdesk import app as freshdesk_app
from connector.identifiers import Identifiers
from tests.helpdesk.freshdesk.test_adapter import (
    FIXTURES,
    PAULINE,
    TOKEN,
    adapter,
    fixture,
    signed,
)
from tests.helpdesk.freshdesk.test_social import RUN_APP

ERP_ID = ("erp", "C100997")
PAULINE_ERP = Identifiers(emails=(PAULINE,), phones=("+33653888890",), externals=(ERP_ID,))


def test_the_contact_s_external_id_reaches_the_event() -> None:
    body = fixture("webhook_ticket_created_external_id.json")
    event = adapter(external_id_source="erp").parse_event(signed(), body)
    assert event is not None and event.identifiers == PAULINE_ERP
    assert (event.ticket_id, event.new_request) == ("4231", True)


def test_unset_the_external_id_is_not_read_and_nothing_else_changes() -> None:
    body = fixture("webhook_ticket_created_external_id.json")
    read = adapter(external_id_source="erp").parse_event(signed(), body)
    unset = adapter().parse_event(signed(), body)
    assert read is not None and unset is not None and not unset.identifiers.externals
    assert unset == dataclasses.replace(read, identifiers=dataclasses.replace(
        read.identifiers, externals=()))


@pytest.mark.parametrize(("body", "expected"), [
    ({"freshdesk_webhook": {"ticket_id": 4232, "ticket_contact_unique_external_id": "C100997"}},
     (ERP_ID,)),
    ({"ticket_id": 4232, "unique_external_id": 100997}, (("erp", "100997"),)),
    ({"ticket_id": 4232, "contact": {  # a placeholder Freshdesk left unrendered
        "unique_external_id": "{{ticket.requester.unique_external_id}}"}}, ()),
    ({"ticket_id": 4232, "contact": {"unique_external_id": "null"}}, ()),
])
def test_simple_content_flat_keys_and_placeholders(body: dict[str, Any],
                                                   expected: tuple[Any, ...]) -> None:
    event = adapter(external_id_source="erp").parse_event(signed(), json.dumps(body).encode())
    assert event is not None and event.identifiers.externals == expected


def test_the_app_s_contact_external_id_reaches_the_sidebar_context() -> None:
    contact = json.loads(fixture("fdk_contact_external_id.json"))["contact"]
    body = {"ticket_id": "4231", "emails": [contact["email"]], "phones": [contact["phone"]],
            "unique_external_id": [contact["unique_external_id"]]}
    context = adapter(app_token=TOKEN, external_id_source="erp").context_of(body)
    assert context.identifiers == PAULINE_ERP
    unset = adapter(app_token=TOKEN).context_of(body)
    assert unset.identifiers == Identifiers(emails=(PAULINE,), phones=("+33653888890",))


def test_the_app_s_sealed_link_keeps_the_external_id() -> None:
    freshdesk = adapter(app_token=TOKEN, external_id_source="erp")
    context = freshdesk.context_of({"unique_external_id": ["C100997"]})
    sealed = freshdesk.deps.links.read({"t": freshdesk.deps.links.seal(context)})
    assert sealed.identifiers == Identifiers(externals=(ERP_ID,))


def test_app_js_posts_the_contact_s_external_id(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = freshdesk_app.TEMPLATES / "app" / "scripts" / "app.js"
    runner = tmp_path / "run_app.js"
    runner.write_text(RUN_APP)
    done = subprocess.run(
        [node, str(runner), str(script), str(FIXTURES / "fdk_ticket.json"),
         str(FIXTURES / "fdk_contact_external_id.json"),
         str(FIXTURES / "fdk_logged_in_user.json")],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    posted = json.loads(done.stdout.strip().splitlines()[-1])
    assert posted["unique_external_id"] == ["C100997"]
    context = adapter(app_token=TOKEN, external_id_source="erp").context_of(posted)
    assert context.identifiers.externals == (ERP_ID,)
