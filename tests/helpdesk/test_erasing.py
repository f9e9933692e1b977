"""A forgotten person's removal (`WriteBack.erases`, queued by `forget`) in the helpdesks other
than Zendesk (tests/helpdesk/zendesk/test_erasure.py): Chatwoot takes our labels off and deletes
our custom attributes, Freshdesk takes our tags off and empties our contact fields, Help Scout
(tags on conversations only) has nothing of ours on a person and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from connector.customer.links import HeldBy
from connector.events.writeback import removals
from connector.helpdesk.base import WriteBack
from connector.helpdesk.chatwoot.api import ChatwootApi
from connector.helpdesk.freshdesk import api as freshdesk
from connector.helpdesk.helpscout.adapter import HelpScout


def removal(helpdesk: str, **where: str) -> WriteBack:
    [change] = removals([HeldBy(helpdesk, **where)], {helpdesk: "connector_"})
    return change


class Answer:
    """A requests response with a JSON body."""

    def __init__(self, body: dict[str, Any], status_code: int = 200) -> None:
        self.body, self.status_code, self.headers = body, status_code, {}
        self.content = b"{}"

    def json(self) -> dict[str, Any]:
        return self.body


class Session:
    """A Chatwoot account: a contact labelled by us and by the team."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, url: str, json: Any = None, timeout: Any = None) -> Answer:
        self.calls.append((method, url.split("/accounts/3/", 1)[1], json))
        if method == "GET":
            return Answer({"payload": ["vip-team", "connector_vip", "connector_detractor"]})
        return Answer({"payload": (json or {}).get("labels", [])})


def test_chatwoot_takes_our_labels_off_and_deletes_our_attributes() -> None:
    session = Session()
    api = ChatwootApi("https://chat.example", 3, "token", session=session)  # type: ignore[arg-type]
    api.write(removal("chatwoot", requester_id="77"))
    assert session.calls == [
        ("GET", "contacts/77/labels", None),
        ("POST", "contacts/77/labels", {"labels": ["vip-team"]}),
        ("POST", "contacts/77/destroy_custom_attributes",
         {"custom_attributes": ["connector_segment", "connector_lifecycle",
                                "connector_abc_class"]}),
    ]


def test_freshdesk_takes_our_tags_off_and_empties_our_contact_fields(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, Any]] = []

    def request(method: str, url: str, json: Any = None, **_: Any) -> Answer:
        calls.append((method, url.removeprefix("https://fd.example"), json))
        return Answer({"tags": ["gold", "connector_vip"], "requester_id": 12})

    monkeypatch.setattr(freshdesk.requests, "request", request)
    api = freshdesk.FreshdeskApi("https://fd.example", "key", tags_on="contact",
                                 contact_fields={"segment": "cf_segment"})
    api.apply(removal("freshdesk", requester_id="12"))
    assert calls == [("GET", "/api/v2/contacts/12", None),
                     ("PUT", "/api/v2/contacts/12",
                      {"custom_fields": {"cf_segment": None}, "tags": ["gold"]})]


def test_help_scout_holds_nothing_of_ours_on_a_person() -> None:
    scout = HelpScout.__new__(HelpScout)
    scout.api = object()  # type: ignore[assignment]  # never called
    scout.write_back(removal("helpscout", requester_id="55"))
