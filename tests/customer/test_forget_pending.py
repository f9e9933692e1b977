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


def test_removals_go_to_every_ticket_we_know_is_theirs(store: LinkStore) -> None:
    """The removals `forget` queues reach every ticket any table ties to the person — the
    ticket we opened for their review, the one an agent chose them for, the one a change was
    asked from — not only the requests recorded; someone else's stay untouched."""
    from sqlalchemy import insert

    from connector.customer.links import HeldBy
    from connector.events.log import _now
    from connector.store.schema import changes, choices, helpdesk_people, review_alerts

    store.link("cus_1", [("email", PAULINE, "erp")])
    log = EventLog(store.engine)
    log.add_contact("cus_1", event("5001", PAULINE))
    log.remember_requester("zendesk", "9001", "cus_1")
    now = _now()
    with store.engine.begin() as connection:
        connection.execute(insert(review_alerts).values(
            source="reviews", review_key="k1", helpdesk="zendesk", customer_id="cus_1",
            ticket_id="7001", sent_at=now))
        connection.execute(insert(choices).values(
            helpdesk="freescout", ticket_id="88", customer_id="cus_1", chosen_at=now))
        connection.execute(insert(choices).values(
            helpdesk="freescout", ticket_id="89", customer_id="cus_2", chosen_at=now))
        connection.execute(insert(changes).values(
            id="c1", customer_id="cus_1", source="erp", kind="correction", name="phone",
            state="confirmed", attempts=1, not_before=now, actor="agent", helpdesk="zendesk",
            ticket_id="6001", created_at=now, updated_at=now))
        connection.execute(insert(helpdesk_people).values(
            helpdesk="zendesk", requester_id="9002", customer_id="cus_2", last_seen=now))
    queued: list[HeldBy] = []

    def removals(_connection: object, held: list[HeldBy]) -> int:
        queued.extend(held)
        return len(held)

    assert store.erase("cus_1", actor="admin", removals=removals).removals == 5
    assert queued == [HeldBy("freescout", ticket_id="88"),
                      HeldBy("zendesk", requester_id="9001"),
                      HeldBy("zendesk", ticket_id="5001"), HeldBy("zendesk", ticket_id="6001"),
                      HeldBy("zendesk", ticket_id="7001")]
