"""A webhook event acknowledged but not worked yet names the person only in its payload:
erasing the person deletes it too (it would otherwise keep their email until it is worked and
purged), and leaves other people's events alone."""

from __future__ import annotations

from connector.customer.links import LinkStore
from connector.events.log import EventLog
from connector.helpdesk.base import TicketEvent
from connector.identifiers import Identifiers
from connector.store.schema import ticket_events

PAULINE = "pauline.deneve@easiware.fr"


def event(key: str, email: str, phone: str | None = None) -> TicketEvent:
    ids = Identifiers(emails=(email,), phones=(phone,) if phone else ())
    return TicketEvent(helpdesk="zendesk", key=key, kind="ticket.created", identifiers=ids,
                       ticket_id=key, subject="Retour", new_request=True)


def test_an_unworked_event_naming_the_person_is_erased_with_them(store: LinkStore) -> None:
    log = EventLog(store.engine)
    store.link("cus_1", [("email", PAULINE, "erp"), ("phone", "+33653888890", "erp")])
    log.record(event("1", PAULINE))
    log.record(event("2", "someone@example.fr", "+33653888890"))  # her phone, another email
    log.record(event("3", "someone.else@example.fr"))
    erased = store.erase("cus_1", actor="admin")
    assert erased.rows["ticket_events"] == 2
    with store.engine.connect() as connection:
        left = [row.payload for row in connection.execute(ticket_events.select())]
    assert len(left) == 1 and "someone.else@example.fr" in left[0]
    assert not any(PAULINE in payload or "+33653888890" in payload for payload in left)
