"""Chatwoot contacts' social accounts (`additional_attributes`: the contact form's
`social_profiles`, what Twitter and Instagram inboxes store) reach the webhooks' events and
the dashboard app's sealed record."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.chatwoot.adapter import app_key
from connector.identifiers import Identifiers
from tests.helpdesk.chatwoot.test_adapter import PAULINE, PAULINE_PHONE, adapter, fixture

EXPECTED = {
    "conversation_created_instagram.json": dict(
        channel="instagram", requester_id="207",
        identifiers=Identifiers(handles=("instagram:claire_deco67",))),
    "conversation_created_twitter.json": dict(
        channel="social", requester_id="208",
        identifiers=Identifiers(handles=("twitter:claire_deco67",))),
    "contact_updated_social_profiles.json": dict(
        channel=None, requester_id="205",
        identifiers=Identifiers(emails=(PAULINE,), phones=(PAULINE_PHONE,),
                                handles=("facebook:pauline.deneve", "twitter:pdeneve",
                                         "instagram:pauline_dnv", "linkedin:pauline-deneve"))),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_contact_s_social_accounts_reach_the_event(name: str) -> None:
    event = adapter().parse_event(Headers({}), fixture(name))
    assert event is not None
    for field, value in EXPECTED[name].items():
        assert getattr(event, field) == value, field


def test_a_message_names_the_sender_s_accounts_too() -> None:
    conversation = json.loads(fixture("conversation_created_instagram.json"))
    message = {"event": "message_created", "message_type": "incoming", "private": False,
               "id": 9470, "content": "Merci !", "created_at": 1721808800,
               "conversation": conversation, "sender": conversation["meta"]["sender"]}
    event = adapter().parse_event(Headers({}), json.dumps(message).encode())
    assert event is not None and event.identifiers.handles == ("instagram:claire_deco67",)


def test_odd_attributes_are_dropped_not_fatal() -> None:
    conversation = json.loads(fixture("conversation_created_twitter.json"))
    conversation["meta"]["sender"]["additional_attributes"] = {
        "social_profiles": ["twitter"], "screen_name": {"value": "x"},
        "social_instagram_user_name": "not a handle"}
    event = adapter().parse_event(Headers({}), json.dumps(conversation).encode())
    assert event is not None and event.identifiers == Identifiers()


def test_the_dashboard_app_s_contact_is_sealed_with_its_handles() -> None:
    chatwoot = adapter()
    asked = {"k": app_key(b"k", chatwoot.config), "conversation": "61", "email": None,
             "phone_number": None, "identifier": None,
             "additional_attributes": {"social_profiles": {"instagram": "claire_deco67",
                                                           "twitter": ""},
                                       "screen_name": "Claire_Deco67"}}
    reply = chatwoot.sidebar_context(HttpRequest(method="POST", body=json.dumps(asked).encode()))
    assert isinstance(reply, Reply) and reply.status == 200
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(reply.body)["url"]).query).items()}
    context = chatwoot.deps.links.read(query)
    assert context.identifiers == Identifiers(handles=("instagram:claire_deco67",
                                                       "twitter:claire_deco67"))
    assert context.ticket_id == "61"
