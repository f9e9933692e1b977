"""Help Scout's JSON, read once for Help Scout and for FreeScout (its open-source clone,
whose "API & Webhooks" module sends the same events with the same object shapes).

Webhook bodies are Mailbox API v2 objects (developer.helpscout.com/webhooks): a
conversation (`id`, `number`, `type` email|chat|phone, `subject`, `createdAt`,
`source.type`/`source.via`, `primaryCustomer` {id, first, last, email}, `createdBy`
{id, type, email}) or a customer (`firstName`, `_embedded.emails[].value`,
`_embedded.phones[].value`, `_embedded.social_profiles[]`; `socialProfiles` in the webhooks'
own object pages). A social profile is `{type, value}`, its value the profile's address
(`https://twitter.com/helpscout`) or a name; the types that name a person's handle are read
(twitter, facebook, linkedin; instagram, should FreeScout send it). FreeScout's objects name
the customer `customer` rather than `primaryCustomer`; both are read. Values may be missing
or null anywhere: nothing here is fatal except a body that is not a JSON object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connector.helpdesk.base import (
    BadEvent,
    EventKind,
    TicketEvent,
    body_key,
    iso_moment,
    json_object,
    lenient_identifiers,
)
from connector.identifiers import Identifiers

# The events we work. Every other event is acknowledged and ignored: agents' actions tell
# us nothing about the customer, and `convo.tags` / `convo.note.created` are what our own
# write-back causes (working them would loop).
CONVERSATION_EVENTS: dict[str, EventKind] = {
    "convo.created": "ticket.created",
    "convo.customer.reply.created": "message.created",
}
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})

# `source.type` values that mean the customer wrote through a form on a site or an app
WEB_SOURCES = frozenset({"web", "beacon", "beacon-v2", "mobile", "api"})
PERSON_KEYS = ("primaryCustomer", "customer")
# social profile types whose value is a handle (or a profile's address naming it); the
# others (aboutme, google, googleplus, quora, youtube, flickr, other…) are left
SOCIAL_TYPES = frozenset({"twitter", "facebook", "linkedin", "instagram"})


def values(items: Any, *keys: str) -> list[str]:
    """Strings from a value that is a string, a list of strings, or a list of objects
    holding the string under one of `keys` (`{"value": …}`, `{"email": …}`)."""
    if isinstance(items, str):
        return [items]
    if not isinstance(items, list):
        return []
    found: list[str] = []
    for item in items:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            found.extend(str(item[k]) for k in keys if isinstance(item.get(k), str | int))
    return found


def mapping(value: Any) -> Mapping[str, Any]:
    """A JSON object, or an empty one for anything else (null, false, a list)."""
    return value if isinstance(value, Mapping) else {}


def person_identifiers(people: Iterable[Any], region: str) -> Identifiers:
    """The emails, phones and social handles of customer objects, in any of the shapes Help
    Scout uses."""
    emails: list[str | None] = []
    phones: list[str | None] = []
    handles: list[tuple[str, str]] = []
    for person in people:
        if not isinstance(person, Mapping):
            continue
        embedded = mapping(person.get("_embedded"))
        for source in (person, embedded):
            emails += values(source.get("email"), "value", "email")
            emails += values(source.get("emails"), "value", "email")
            phones += values(source.get("phone"), "value")
            phones += values(source.get("phones"), "value")
            handles += social_profiles(source.get("socialProfiles"))
            handles += social_profiles(source.get("social_profiles"))
    return lenient_identifiers(region, emails=emails, phones=phones, handles=handles)


def social_profiles(items: Any) -> list[tuple[str, str]]:
    """(network, value) of the social profiles (`{type, value}`) that name a handle."""
    found: list[tuple[str, str]] = []
    for item in items if isinstance(items, list) else []:
        kind, value = mapping(item).get("type"), mapping(item).get("value")
        if isinstance(kind, str) and kind.lower() in SOCIAL_TYPES and isinstance(value, str):
            found.append((kind.lower(), value))
    return found


def conversation_people(conversation: Mapping[str, Any]) -> list[Any]:
    """The customer objects a conversation carries (its creator only when a customer)."""
    people = [conversation.get(key) for key in PERSON_KEYS]
    creator = conversation.get("createdBy")
    if isinstance(creator, Mapping) and creator.get("type") == "customer":
        people.append(creator)
    return people


def channel_of(conversation: Mapping[str, Any]) -> str | None:
    """Our channel for a conversation: its type (email, chat, phone), an email written
    through a site's form or Beacon being `web`."""
    kind = conversation.get("type")
    via = mapping(conversation.get("source")).get("type")
    if kind == "email" and isinstance(via, str) and via in WEB_SOURCES:
        return "web"
    return kind if isinstance(kind, str) and kind else None


def new_request(conversation: Mapping[str, Any]) -> bool:
    """Whether a new conversation is a customer's request: an email an agent started
    (`source.via` user) is outbound, not a contact; a phone call or chat an agent logged is."""
    source = mapping(conversation.get("source"))
    return not (conversation.get("type") == "email" and source.get("via") == "user")


def scout_event(helpdesk: str, event: str | None, body: bytes, region: str) -> TicketEvent | None:
    """The TicketEvent of a verified webhook (`event` from its `X-…-Event` header); None
    for events we do not use. Neither helpdesk sends a delivery id: the key is the event's
    name and the body's digest, the same on every retry of one delivery."""
    if not event:
        raise BadEvent("the request names no event (X-HelpScout-Event / X-FreeScout-Event)")
    if event not in CONVERSATION_EVENTS and event not in CUSTOMER_EVENTS:
        return None
    data = json_object(body)
    key = body_key(body)  # the signed body only: the event header is not signed
    if event in CUSTOMER_EVENTS:
        return TicketEvent(helpdesk=helpdesk, key=key, kind="customer.updated",
                           identifiers=person_identifiers([data], region))
    if data.get("id") in (None, ""):
        raise BadEvent("the conversation has no id")
    kind = CONVERSATION_EVENTS[event]
    created = kind == "ticket.created"
    subject = data.get("subject")
    # Help Scout keeps tags on conversations, not on customers: write-back targets the
    # conversation, so no requester id is given (see HelpScout.write_back)
    return TicketEvent(helpdesk=helpdesk, key=key, kind=kind,
                       identifiers=person_identifiers(conversation_people(data), region),
                       ticket_id=str(data["id"]), channel=channel_of(data),
                       subject=subject if isinstance(subject, str) else None,
                       occurred_at=iso_moment(data.get("createdAt")) if created else None,
                       new_request=created and new_request(data))
