"""A forgotten person's removal (`WriteBack.erases`) against the local fake of Zendesk's REST
API: every tag we own taken off the user and their ticket, the others kept, our user fields
emptied, even when write-back no longer writes tags or fields (an earlier setting did)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from connector.customer.links import HeldBy
from connector.events.writeback import removals
from connector.helpdesk.config import WriteBackConfig
from tests.helpdesk.zendesk.fake_zendesk import PAULINE_ZENDESK_ID, FakeZendesk
from tests.helpdesk.zendesk.test_writeback import USER, adapter, change


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeZendesk:
    return FakeZendesk(httpserver)


def test_a_removal_takes_off_every_tag_we_own_and_empties_our_fields(fake: FakeZendesk) -> None:
    adapter(fake.url).write_back(change(fields={"segment": "VIP", "lifecycle": "active"}))
    user = fake.users[PAULINE_ZENDESK_ID]
    assert "connector_vip" in user["tags"] and user["user_fields"]["connector_segment"] == "VIP"
    fake.calls.clear()
    [person, ticket] = removals([HeldBy("zendesk", requester_id=PAULINE_ZENDESK_ID),
                                 HeldBy("zendesk", ticket_id="35436")], {"zendesk": "connector_"})

    off = adapter(fake.url, write_back=WriteBackConfig(enabled=True, tags=False, fields=False))
    off.write_back(person)
    off.write_back(ticket)

    assert user["tags"] == ["newsletter"]  # not ours: kept
    assert user["user_fields"]["connector_segment"] is None
    assert user["user_fields"]["connector_lifecycle"] is None
    assert user["user_fields"]["customer_tier"] == "gold"  # the account's own field
    [put] = [c for c in fake.writes() if c.path == USER]
    assert put.body == {"user": {"user_fields": {"connector_segment": None,
                                                 "connector_lifecycle": None}}}
    assert fake.tickets["35436"]["tags"] == ["livraison"]
    assert not any("comment" in (c.body or {}).get("ticket", {}) for c in fake.writes())


def test_a_removal_where_nothing_of_ours_is_left_writes_nothing(fake: FakeZendesk) -> None:
    [person] = removals([HeldBy("zendesk", requester_id=PAULINE_ZENDESK_ID)],
                        {"zendesk": "connector_"})
    zd = adapter(fake.url)
    zd.write_back(person)
    fake.calls.clear()
    zd.write_back(person)  # sent again after a crash: one read, no write
    assert [(c.method, c.path) for c in fake.calls] == [("GET", USER)]
