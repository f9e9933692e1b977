"""The body of a Freshdesk automation rule's "Trigger webhook", as a `TicketEvent`.

Freshdesk signs nothing and fixes no shape: the admin composes the body. We document one
(docs/helpdesks/freshdesk.md) and read reasonable variants of it:

- the recommended JSON ("Advanced" content): `{"event": "ticket_created", "ticket": {"id":
  "{{ticket.id}}", "subject": …, "source": …}, "contact": {"id": …, "email": …, "phone": …,
  "mobile": …}}`, and the contact's `twitter_id` (its X handle), `facebook_id` and
  `unique_external_id` (the brand's own customer number, read with `external_id_source`) when
  the body carries them (API v2 contact fields);
- "Simple" content (the fields ticked in the rule), sent wrapped in `freshdesk_webhook` with
  flat keys (`ticket_id`, `ticket_subject`, `ticket_contact_email`…);
- flat keys (`ticket_id`, `email`, `phone`…), JSON or form-encoded.

The idempotency key is the ticket id and the event name (and `updated_at` when given, else
the body's digest for events other than a creation); without an event name, the body's
digest: a rule firing twice for the same change is worked once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from connector.helpdesk.base import (
    BadEvent,
    EventKind,
    Headers,
    RawExternal,
    TicketEvent,
    body_key,
    iso_moment,
    lenient_identifiers,
    loads,
)

KIND = "freshdesk"
EVENT_HEADER = "X-Connector-Event"
# Freshdesk's documented ticket sources (API v2 `source`), by number or by the name a
# `{{ticket.source}}` placeholder renders
SOURCES = {
    "1": "email", "email": "email",
    "2": "web", "portal": "web",
    "3": "phone", "phone": "phone",
    "7": "chat", "chat": "chat",
    "9": "web", "feedback widget": "web", "feedback_widget": "web",
    "10": "email", "outbound email": "email", "outbound_email": "email",
    "facebook": "facebook", "instagram": "instagram", "whatsapp": "chat",
    "mobihelp": "app", "twitter": "other", "forum": "web", "ecommerce": "web",
}
# a contact's social accounts (API v2 contact fields), by network: the contact's own field,
# then the flat keys of Simple content and hand-written bodies
SOCIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "twitter": ("twitter_id", "ticket_contact_twitter_id", "ticket_requester_twitter_id"),
    "facebook": ("facebook_id", "ticket_contact_facebook_id", "ticket_requester_facebook_id"),
}
# the contact's external id (API v2 `unique_external_id`): its own field, then flat keys
EXTERNAL_ID_FIELDS = ("unique_external_id", "ticket_contact_unique_external_id",
                      "ticket_requester_unique_external_id")
EVENTS: dict[str, EventKind] = {
    "ticket_created": "ticket.created", "ticket.created": "ticket.created",
    "created": "ticket.created", "ticket_create": "ticket.created",
    "ticket_updated": "ticket.updated", "ticket.updated": "ticket.updated",
    "updated": "ticket.updated", "ticket_update": "ticket.updated",
    "reply": "message.created", "reply_created": "message.created",
    "note_added": "message.created", "conversation_created": "message.created",
    "message.created": "message.created",
    "contact_updated": "customer.updated", "customer.updated": "customer.updated",
}


def parse_event(headers: Headers, body: bytes, region: str,
                external_source: str | None = None) -> TicketEvent | None:
    """The event an authenticated rule sent (the contact's external id as `external_source`'s
    own id, when set); BadEvent when it names no ticket."""
    data = _document(headers, body)
    ticket = _mapping(data.get("ticket"))
    contact = _first_mapping(data.get("contact"), data.get("requester"),
                             ticket.get("contact"), ticket.get("requester"))
    ticket_id = _value(ticket.get("id"), data.get("ticket_id"), ticket.get("display_id"),
                       data.get("id"))
    if ticket_id is None:
        raise BadEvent("the webhook names no ticket: send {\"ticket\": {\"id\": "
                       "\"{{ticket.id}}\"}, …}")
    event = _value(data.get("event"), headers.get(EVENT_HEADER))
    kind: EventKind = EVENTS.get(event.lower(), "other") if event else "ticket.created"
    updated = _value(ticket.get("updated_at"), data.get("ticket_updated_at"),
                     data.get("updated_at"))
    key = _key(ticket_id, event, updated, kind, body)
    emails = [_value(contact.get("email")), _value(data.get("ticket_contact_email")),
              _value(data.get("ticket_requester_email")), _value(data.get("email"))]
    emails += [_value(e) for e in _list(contact.get("other_emails"))]
    phones = [_value(contact.get(k)) for k in ("phone", "mobile")] + [
        _value(data.get(k)) for k in ("ticket_contact_phone", "ticket_contact_mobile",
                                      "ticket_requester_phone", "ticket_requester_mobile",
                                      "phone", "mobile")]
    source = _value(ticket.get("source"), data.get("ticket_source"), data.get("source"))
    created = _value(ticket.get("created_at"), data.get("ticket_created_at"),
                     data.get("created_at"))
    return TicketEvent(
        helpdesk=KIND, key=key, kind=kind,
        identifiers=lenient_identifiers(region, emails=emails, phones=phones,
                                        handles=social_handles(contact, data),
                                        externals=external_ids(external_source, contact, data)),
        ticket_id=ticket_id,
        requester_id=_value(contact.get("id"), ticket.get("requester_id"),
                            data.get("ticket_requester_id"), data.get("requester_id")),
        channel=SOURCES.get(source.lower(), "other") if source else None,
        subject=_value(ticket.get("subject"), data.get("ticket_subject"), data.get("subject")),
        occurred_at=iso_moment(created if kind == "ticket.created" else updated or created),
        new_request=kind == "ticket.created",
    )


def social_handles(*places: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(network, handle) of the social fields these mappings hold (a contact, flat keys)."""
    return [(network, _value(place.get(key))) for place in places
            for network, keys in SOCIAL_FIELDS.items() for key in keys]


def external_ids(source: str | None, *places: Mapping[str, Any]) -> list[RawExternal]:
    """(source, id) of the external id these mappings hold (a contact, flat keys)."""
    return [(source, _value(place.get(key))) for place in places for key in EXTERNAL_ID_FIELDS]


def _key(ticket_id: str, event: str | None, updated: str | None, kind: EventKind,
         body: bytes) -> str:
    """The ticket and the event (and its moment); a creation is one event per ticket; other
    events without a moment are told apart by their body (a retry sends the same body)."""
    if not event:
        return body_key(body)
    if updated:
        return f"{ticket_id}:{event}:{updated}"
    return f"{ticket_id}:{event}" if kind == "ticket.created" \
        else f"{ticket_id}:{event}:{body_key(body)}"


def _document(headers: Headers, body: bytes) -> dict[str, Any]:
    """The body as a mapping (JSON, or form-encoded), unwrapped from `freshdesk_webhook`."""
    kind = headers.get("Content-Type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            data: Any = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        else:
            data = loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadEvent("the webhook body is not JSON (a placeholder with a quote in it can "
                       "break hand-written JSON: see the recommended body)") from exc
    if not isinstance(data, dict):
        raise BadEvent("the webhook body is not a JSON object")
    wrapped = data.get("freshdesk_webhook")
    return wrapped if isinstance(wrapped, dict) else data


def _value(*candidates: Any) -> str | None:
    """The first usable value: a non-empty string or a number, never an unrendered
    `{{placeholder}}` (Freshdesk leaves unknown ones as they were written)."""
    for candidate in candidates:
        if isinstance(candidate, bool) or not isinstance(candidate, str | int | float):
            continue
        text = str(candidate).strip()
        if text and "{{" not in text and text.lower() not in ("null", "none"):
            return text
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first_mapping(*values: Any) -> Mapping[str, Any]:
    return next((v for v in values if isinstance(v, Mapping) and v), {})


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else []
