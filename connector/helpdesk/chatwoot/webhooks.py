"""Chatwoot's webhook payloads read as `TicketEvent`s, and a contact's identifiers.

Shapes (chatwoot/chatwoot `app/listeners/webhook_listener.rb`, docs `webhook-events.md`):
conversation events are the conversation's `push_data` at the top level (`id` is the display
id the API uses, `channel` the inbox's channel type, the contact under `meta.sender`),
`conversation_updated` adds `changed_attributes` (a list of `{attribute: {previous_value,
current_value}}`); `message_created` is the message with its `conversation` (same shape) and
`sender`; contact events are the contact itself at the top level (`contact_updated` with
`changed_attributes`). Every payload carries `event`.

A contact's social accounts are in its `additional_attributes` (`Contact#webhook_data` and
`push_event_data` carry them): `social_profiles` (the contact form's facebook, twitter,
linkedin, github, instagram, as names: `SocialIcons.vue` appends them to the site's address),
and what the social inboxes store: `screen_name` (Twitter, `Twitter::WebhooksBaseService`),
`social_instagram_user_name` (Instagram) and `social_tiktok_user_name` (TikTok: seen only in
a TikTok inbox's code, unconfirmed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from connector.helpdesk.base import (
    EventKind,
    Headers,
    TicketEvent,
    body_key,
    iso_moment,
    json_object,
    lenient_identifiers,
)
from connector.identifiers import Identifiers, normalise

KIND = "chatwoot"
IdentifierUse = Literal["auto", "card", "ignore"]

# Chatwoot's inbox channel types, as the contact history names channels.
CHANNELS: Mapping[str, str] = {
    "Channel::Email": "email",
    "Channel::WebWidget": "chat",
    "Channel::Whatsapp": "whatsapp",
    "Channel::Api": "other",
    "Channel::FacebookPage": "facebook",
    "Channel::Instagram": "instagram",
    "Channel::TwitterProfile": "social",
    "Channel::Tiktok": "social",
    "Channel::Telegram": "telegram",
    "Channel::Line": "line",
    "Channel::Sms": "sms",
    "Channel::TwilioSms": "sms",
    "Channel::Voice": "phone",
}
# where a contact's additional_attributes name its accounts: `social_profiles` by network, and
# the handles social inboxes store
SOCIAL_PROFILES = ("facebook", "twitter", "instagram", "linkedin", "github", "tiktok")
INBOX_HANDLES = (("twitter", "screen_name"), ("instagram", "social_instagram_user_name"),
                 ("tiktok", "social_tiktok_user_name"))
# Changes we cause ourselves (labels, custom attributes) or that say nothing about who the
# customer is: an update made only of these is not worth a lookup (and would echo our writes).
QUIET_CHANGES = frozenset({"label_list", "cached_label_list", "custom_attributes", "updated_at",
                           "last_activity_at", "agent_last_seen_at", "contact_last_seen_at",
                           "assignee_last_seen_at", "waiting_since", "first_reply_created_at"})


@dataclass(frozen=True)
class EventReading:
    """How this installation's events are read: the brand's phone region, what a contact's
    `identifier` is (`external_source`: the source whose own id it holds), and channel names
    over the defaults."""

    region: str
    identifier: IdentifierUse = "auto"
    channels: Mapping[str, str] = field(default_factory=dict)
    account_id: int | None = None
    external_source: str | None = None

    def channel(self, channel_type: Any) -> str | None:
        """Our channel name for a Chatwoot channel type (`Channel::Email` → `email`)."""
        if not isinstance(channel_type, str) or not channel_type:
            return None
        return self.channels.get(channel_type) or CHANNELS.get(channel_type) or "other"


def contact_identifiers(reading: EventReading, email: Any, phone: Any, identifier: Any,
                        attributes: Any = None) -> Identifiers:
    """A contact's usable identifiers: email, phone, social handles (its
    `additional_attributes`), and its `identifier` as the `external_source`'s own id when one
    is set, else as an email or a phone when it reads as one (`auto`), as a loyalty card
    (`card`), or not at all (`ignore`)."""
    emails, phones = [_text(email)], [_text(phone)]
    extra = _text(identifier)
    source = reading.external_source if reading.identifier == "auto" else None
    if extra and reading.identifier == "auto" and not source:
        (emails if "@" in extra else phones).append(extra)
    ids = lenient_identifiers(reading.region, emails=emails, phones=phones,
                              handles=contact_handles(attributes), externals=[(source, extra)])
    if extra and reading.identifier == "card" and (card := normalise("card", extra, "")):
        ids = replace(ids, cards=(card,))
    return ids


def contact_handles(attributes: Any) -> list[tuple[str, str | None]]:
    """(network, name) of the social accounts a contact's `additional_attributes` name."""
    extra = _dict(attributes)
    profiles = _dict(extra.get("social_profiles"))
    return [(network, _text(profiles.get(network))) for network in SOCIAL_PROFILES] + [
        (network, _text(extra.get(key))) for network, key in INBOX_HANDLES]


def read_event(reading: EventReading, headers: Headers, body: bytes) -> TicketEvent | None:
    """The event a verified delivery carries; None for events we do not use."""
    data = json_object(body)
    reader = READERS.get(str(data.get("event")))
    if reader is None or not _same_account(reading, data):
        return None
    # what is signed names the event: the delivery id is not, and a replay under a new one
    # must still be a duplicate (Chatwoot's retries resend the same body)
    key = body_key(body)
    return reader(reading, key, data)


def _conversation_created(reading: EventReading, key: str,
                          data: dict[str, Any]) -> TicketEvent | None:
    return _from_conversation(reading, key, data, "ticket.created", new_request=True)


def _conversation_updated(reading: EventReading, key: str,
                          data: dict[str, Any]) -> TicketEvent | None:
    if _quiet(data.get("changed_attributes")):
        return None
    return _from_conversation(reading, key, data, "ticket.updated")


def _message_created(reading: EventReading, key: str, data: dict[str, Any]) -> TicketEvent | None:
    """A message the customer wrote; agents' replies and private notes (ours too) are not
    news about the customer."""
    if data.get("private") or data.get("message_type") not in ("incoming", 0):
        return None
    conversation = _dict(data.get("conversation"))
    sender = _dict(data.get("sender"))
    contact = _dict(_dict(conversation.get("meta")).get("sender")) or (
        sender if sender.get("type") in (None, "contact") else {})
    event = _event(reading, key, "message.created", contact, conversation)
    return replace(event, occurred_at=_moment(data.get("created_at")) or event.occurred_at)


def _contact_event(kind: EventKind) -> Callable[[EventReading, str, dict[str, Any]],
                                                TicketEvent | None]:
    def read(reading: EventReading, key: str, data: dict[str, Any]) -> TicketEvent | None:
        if _quiet(data.get("changed_attributes")):
            return None
        return _event(reading, key, kind, data, {})
    return read


def _from_conversation(reading: EventReading, key: str, conversation: dict[str, Any],
                       kind: EventKind, new_request: bool = False) -> TicketEvent:
    contact = _dict(_dict(conversation.get("meta")).get("sender"))
    event = _event(reading, key, kind, contact, conversation)
    return replace(event, new_request=new_request, subject=_subject(conversation))


def _event(reading: EventReading, key: str, kind: EventKind, contact: dict[str, Any],
           conversation: dict[str, Any]) -> TicketEvent:
    ids = contact_identifiers(reading, contact.get("email"), contact.get("phone_number"),
                              contact.get("identifier"), contact.get("additional_attributes"))
    moment = _moment(conversation.get("created_at")) or _moment(conversation.get("timestamp"))
    return TicketEvent(helpdesk=KIND, key=key, kind=kind, identifiers=ids,
                       ticket_id=_id(conversation.get("id")), requester_id=_id(contact.get("id")),
                       channel=reading.channel(conversation.get("channel")), occurred_at=moment)


READERS: Mapping[str, Callable[[EventReading, str, dict[str, Any]], TicketEvent | None]] = {
    "conversation_created": _conversation_created,
    "conversation_updated": _conversation_updated,
    "message_created": _message_created,
    "contact_created": _contact_event("customer.updated"),
    "contact_updated": _contact_event("customer.updated"),
}


def _subject(conversation: dict[str, Any]) -> str | None:
    """An email's subject, else the last message the conversation shows (cut short later)."""
    subject = _text(_dict(conversation.get("additional_attributes")).get("mail_subject"))
    if subject:
        return subject
    messages = conversation.get("messages")
    last = _dict(messages[-1]) if isinstance(messages, list) and messages else {}
    return _text(last.get("content"))


def _quiet(changes: Any) -> bool:
    """Whether an update changed only what does not concern the customer's identity."""
    if not isinstance(changes, list) or not changes:
        return False  # older installs send no list: take the event
    names = {name for change in changes if isinstance(change, dict) for name in change}
    return names <= QUIET_CHANGES


def _same_account(reading: EventReading, data: dict[str, Any]) -> bool:
    """False when the payload names another account than the configured one."""
    account = _dict(data.get("account")).get("id") or data.get("account_id")
    return reading.account_id is None or account is None or str(account) == str(
        reading.account_id)


def _moment(value: Any) -> dt.datetime | None:
    """A Chatwoot time: epoch seconds, or ISO 8601 (`2021-07-23T18:02:48.000Z`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value > 0:
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):  # past year 9999: no time at all
            return None
    return iso_moment(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, int | str) and str(value).strip() else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
