"""FreeScout customers' social profiles (the API's `_embedded.social_profiles`) reach the
webhook's event, read as Help Scout's."""

from __future__ import annotations

from connector.helpdesk.base import Headers
from connector.identifiers import Identifiers
from tests.helpdesk.freescout.test_adapter import WEBHOOK_SECRET, adapter, fs
from tests.helpdesk.scouts import PAULINE


def test_a_customer_s_social_profiles_reach_the_event() -> None:
    event = adapter(webhook_secret=WEBHOOK_SECRET).parse_event(
        Headers({"X-FreeScout-Event": "customer.updated"}), fs("customer_updated_social.json"))
    assert event is not None and event.helpdesk == "freescout"
    assert event.identifiers == Identifiers(
        emails=(PAULINE,), phones=("+33653888890",),
        handles=("twitter:pdeneve", "facebook:100004123456789"))
