"""Help Scout customers' social profiles (`{type, value}`, the value a profile's address)
reach the webhook's event and, when the dynamic app sends them, its sidebar context."""

from __future__ import annotations

import json

import pytest

from connector.helpdesk.base import Headers, Reply
from connector.identifiers import Identifiers
from tests.helpdesk.helpscout.test_adapter import APP_SECRET, adapter, hs, post
from tests.helpdesk.scouts import PAULINE, Renderer, sha1_b64

PHONE = "+33653888890"


@pytest.mark.parametrize(("name", "expected"), [
    ("customer_updated_social.json", Identifiers(
        emails=(PAULINE,), phones=(PHONE,),
        handles=("twitter:pdeneve", "facebook:pauline.deneve", "linkedin:pauline-deneve"))),
    ("customer_updated_webhook_object.json", Identifiers(
        emails=(PAULINE,), phones=(PHONE,), handles=("twitter:pdeneve",))),
    ("customer_created.json", Identifiers(emails=(PAULINE,), phones=(PHONE,))),
])
def test_a_customer_s_social_profiles_reach_the_event(name: str, expected: Identifiers) -> None:
    event = adapter().parse_event(Headers({"X-HelpScout-Event": "customer.updated"}), hs(name))
    assert event is not None and event.kind == "customer.updated"
    assert event.identifiers == expected


def test_profiles_of_other_types_or_sites_are_left() -> None:
    customer = json.loads(hs("customer_updated_social.json"))
    customer["_embedded"]["social_profiles"] = [
        {"type": "twitter", "value": "https://example.com/pdeneve"},  # not twitter's site
        {"type": "googleplus", "value": "https://plus.google.com/+PDeneve"},
        {"type": "twitter"}, "twitter", {"type": None, "value": "pdeneve"},
        {"type": "Twitter", "value": "@PDeneve"}]
    event = adapter().parse_event(Headers({"X-HelpScout-Event": "customer.created"}),
                                  json.dumps(customer).encode())
    assert event is not None and event.identifiers.handles == ("twitter:pdeneve",)


def test_the_dynamic_app_s_customer_profiles_are_read_when_present() -> None:
    renderer = Renderer()
    body = hs("dynamic_app_social.json")
    reply = adapter(renderer, app_secret=APP_SECRET).sidebar_context(
        post(body, sha1_b64(APP_SECRET, body)))
    assert isinstance(reply, Reply) and reply.status == 200
    (context,) = renderer.contexts
    assert context.identifiers == Identifiers(emails=(PAULINE,), handles=("twitter:pdeneve",))
