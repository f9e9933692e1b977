"""A Chatwoot contact's `identifier` read as `external_id_source`'s own id (the brand's
customer number) in webhooks' events and the dashboard app's sealed record; unset, `identifier`
is read as before (auto, card, ignore), and a contradictory entry is refused at load."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.chatwoot.adapter import app_key
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from tests.helpdesk.chatwoot.test_adapter import (
    ENTRY,
    PAULINE,
    PAULINE_PHONE,
    adapter,
    fixture,
    write_manifest,
)

ERP_ID = ("erp", "C100997")


def test_the_contact_s_identifier_is_the_erp_s_own_id() -> None:
    event = adapter(external_id_source="erp").parse_event(
        Headers({}), fixture("contact_updated_identifier.json"))
    assert event is not None and event.kind == "customer.updated"
    assert event.identifiers == Identifiers(emails=(PAULINE,), phones=(PAULINE_PHONE,),
                                            externals=(ERP_ID,))


def test_unset_the_identifier_is_read_as_before_and_nothing_else_changes() -> None:
    body = fixture("contact_updated_identifier.json")
    read = adapter(external_id_source="erp").parse_event(Headers({}), body)
    unset = adapter().parse_event(Headers({}), body)  # auto: C100997 reads as no email/phone
    assert read is not None and unset is not None and not unset.identifiers.externals
    assert unset == dataclasses.replace(read, identifiers=dataclasses.replace(
        read.identifiers, externals=()))


@pytest.mark.parametrize(("identifier", "expected"), [
    ("pauline.deneve@easiware.fr", (("erp", PAULINE),)),  # whatever it holds: the ERP's id
    ("  ", ()), ("C" * 65, ()), (None, ()),
])
def test_a_conversation_s_contact_identifier(identifier: str | None,
                                             expected: tuple[Any, ...]) -> None:
    data = json.loads(fixture("conversation_created.json"))
    data["meta"]["sender"]["identifier"] = identifier
    event = adapter(external_id_source="erp").parse_event(Headers({}), json.dumps(data).encode())
    assert event is not None and event.identifiers == Identifiers(emails=(PAULINE,),
                                                                  externals=expected)


def test_the_dashboard_app_s_contact_is_sealed_with_the_erp_s_id() -> None:
    chatwoot = adapter(external_id_source="erp")
    asked = {"k": app_key(b"k", chatwoot.config), "conversation": "61", "email": None,
             "phone_number": None, "identifier": "C100997", "additional_attributes": {}}
    reply = chatwoot.sidebar_context(HttpRequest(method="POST", body=json.dumps(asked).encode()))
    assert isinstance(reply, Reply) and reply.status == 200
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(reply.body)["url"]).query).items()}
    context = chatwoot.deps.links.read(query)
    assert context.identifiers == Identifiers(externals=(ERP_ID,))
    assert context.ticket_id == "61"


@pytest.mark.parametrize("use", ["card", "ignore"])
def test_an_identifier_read_otherwise_is_refused_with_the_source(tmp_path: Path,
                                                                  use: str) -> None:
    entry = {**ENTRY, "identifier": use, "external_id_source": "erp"}
    with pytest.raises(ManifestError) as refused:
        load_manifest(write_manifest(tmp_path, entry), env={})
    assert refused.value.errors == [
        "helpdesks.chatwoot.identifier: must be auto when external_id_source is set (the "
        "contact's identifier is then that source's own id)"]
