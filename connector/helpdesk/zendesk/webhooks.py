"""Zendesk webhooks: the signature, and the two shapes a webhook's body takes.

Signature (developer.zendesk.com, "Verifying webhook authenticity"):
`X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(key = the webhook's signing secret as
literal bytes, message = `X-Zendesk-Webhook-Signature-Timestamp` + raw body)), no separator.
The timestamp (ISO 8601) must fall within the replay window.

Shapes ("Anatomy of a webhook request"):
- a webhook subscribed to Zendesk events sends a fixed JSON: `type`
  (`zen:event-type:ticket.created`…), `id` (the event's id: our idempotency key), `time`,
  `subject` (`zen:ticket:35436`, not the ticket's title) and `detail` (the ticket: `id`,
  `requester_id`, `subject`, `via.channel`…; its `external_id` is the ticket's). It names the
  requester by id only: the adapter's `enrich` asks the API for their identities, in the
  worker. User events carry the user's `detail.email` and `detail.external_id` (the brand's
  own customer number, read with `external_id_source`), identity events the identity as
  `event.current` (`{type, value}`), `user.external_id_changed` the new id as `event.current`.
- a webhook connected to a trigger or an automation sends whatever JSON the admin templated.
  The recommended template (docs/helpdesks/zendesk.md) nests `ticket` with `requester`; flat
  keys (`ticket_id`, `requester_email`, `requester_external_id`…) and camelCase are accepted
  too. Its idempotency key is the `X-Zendesk-Webhook-Invocation-Id` header (every request
  carries one; retries of one invocation reuse it), else ticket + event + time, else the
  body's digest.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from connector.helpdesk.base import (
    BadEvent,
    EventKind,
    Headers,
    RawExternal,
    TicketEvent,
    Unauthorized,
    body_key,
    check_fresh,
    check_hmac,
    hmac_b64,
    iso_moment,
    json_object,
    lenient_identifiers,
)
from connector.identifiers import Identifiers

KIND = "zendesk"
SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
# `zen:event-type:ticket.created`; a few documented types are written `zen:event-type/…`
EVENT_TYPE = re.compile(r"^zen:event-type[:/](\w+)\.(\w+)$")
ZENDESK_ID = re.compile(r"^\d{1,20}$")
# user identity types (User Identities API) as ours: an email (a Google account is one), a
# phone, else the network of a handle (`twitter`: an X handle, `facebook`: a Facebook id);
# the others (agent_forwarding, sdk, messaging, any_channel, foreign) do not name the person
IDENTITY_TYPES = {"email": "email", "google": "email", "phone_number": "phone",
                  "twitter": "twitter", "facebook": "facebook"}

# via.channel codes (Tickets API) and the names `{{ticket.via}}` renders, to our channels
CHANNELS: dict[str, str] = {
    "web": "web", "web_form": "web", "help_center": "web", "web_widget": "web",
    "email": "email", "mail": "email", "mailgun": "email",
    "chat": "chat", "chat_transcript": "chat", "native_messaging": "chat", "messaging": "chat",
    "sms": "chat", "messagebird_sms": "chat", "whatsapp": "chat", "line": "chat",
    "wechat": "chat", "telegram": "chat", "viber": "chat", "kakaotalk": "chat",
    "apple_business_chat": "chat", "google_business_messages": "chat", "google_rcs": "chat",
    "voice": "phone", "phone": "phone", "voicemail": "phone", "phone_call_inbound": "phone",
    "phone_call_outbound": "phone",
    "mobile": "app", "mobile_sdk": "app",
    "facebook": "facebook", "facebook_post": "facebook", "facebook_message": "facebook",
    "sunshine_conversations_facebook_messenger": "facebook",
    "instagram": "instagram", "instagram_dm": "instagram",
    "twitter": "social", "twitter_dm": "social", "x_corp": "social", "x": "social",
    "sunshine_conversations_twitter_dm": "social",
    "api": "other", "web_service": "other", "rule": "other", "system": "other",
    "any_channel": "other", "closed_ticket": "other", "side_conversation": "other",
    "sample_ticket": "other", "merge": "other", "batch": "other", "linked_problem": "other",
}
CHANNEL_WORDS = (("mail", "email"), ("voice", "phone"), ("phone", "phone"), ("call", "phone"),
                 ("chat", "chat"), ("messag", "chat"), ("facebook", "facebook"),
                 ("instagram", "instagram"), ("twitter", "social"), ("tweet", "social"),
                 ("mobile", "app"), ("web", "web"), ("form", "web"))
# words of a template's `event` value, first match wins
EVENT_WORDS: tuple[tuple[str, EventKind], ...] = (
    ("comment", "message.created"), ("message", "message.created"),
    ("reply", "message.created"), ("user", "customer.updated"), ("customer", "customer.updated"),
    ("requester", "customer.updated"), ("created", "ticket.created"),
    ("create", "ticket.created"), ("new", "ticket.created"),
)


def verify(secret: bytes, headers: Headers, body: bytes, now: dt.datetime,
           window_s: int) -> None:
    """Raise Unauthorized unless the body is signed with this secret, recently."""
    stamp = headers.get(TIMESTAMP)
    if not stamp:
        raise Unauthorized(f"the request carries no {TIMESTAMP} header")
    check_hmac(hmac_b64(secret, stamp.encode() + body), headers.get(SIGNATURE),
               f"{SIGNATURE} header")
    sent = iso_moment(stamp)
    if sent is None:
        raise Unauthorized(f"the {TIMESTAMP} header is not an ISO 8601 time")
    check_fresh(sent, now, window_s)


def parse(headers: Headers, body: bytes, region: str,
          external_source: str | None = None) -> TicketEvent | None:
    """The event a verified webhook carries (a requester's `external_id` as that source's own
    id, when set); None for what we do not use."""
    data = json_object(body)
    if str(data.get("type") or "").startswith("zen:event-type"):
        return _subscription(data, headers, body, region, external_source)
    return _template(data, headers, body, region, external_source)


def identities_of(identities: Iterable[Any], region: str, emails: Iterable[str | None] = (),
                  phones: Iterable[str | None] = (),
                  externals: Iterable[RawExternal] = ()) -> Identifiers:
    """The identifiers of Zendesk user identities (`{type, value}`), then of these emails,
    phones (a user's primary ones) and external ids."""
    found: dict[str, list[str | None]] = {"email": [], "phone": []}
    handles: list[tuple[str, str]] = []
    for identity in identities:
        kind = IDENTITY_TYPES.get(str(_mapping(identity).get("type")))
        value = _text(_mapping(identity).get("value"))
        if kind is None or value is None:
            continue
        if kind in found:
            found[kind].append(value)
        else:
            handles.append((kind, value))
    return lenient_identifiers(region, emails=[*found["email"], *emails],
                               phones=[*found["phone"], *phones], handles=handles,
                               externals=externals)


def channel_of(raw: Any) -> str | None:
    """Our channel for a Zendesk `via.channel` code or a `{{ticket.via}}` name."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    code = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    if code in CHANNELS:
        return CHANNELS[code]
    return next((ours for word, ours in CHANNEL_WORDS if word in code), "other")


def _subscription(data: dict[str, Any], headers: Headers, body: bytes, region: str,
                  external_source: str | None) -> TicketEvent | None:
    """An event-subscription payload (`zen:event-type:…`)."""
    matched = EVENT_TYPE.match(str(data["type"]))
    if matched is None:
        return None
    domain, action = matched.groups()
    detail = _mapping(data.get("detail"))
    subject = str(data.get("subject") or "")
    key = f"event:{data['id']}" if data.get("id") else body_key(body)
    occurred = iso_moment(data.get("time"))
    if domain == "user":
        user_id = _zendesk_id(detail.get("id")) or _zendesk_id(subject.rpartition(":")[2])
        # an identity event's new identity (`event.current`, or the event itself); a deleted
        # one no longer names the person
        event = _mapping(data.get("event"))
        current = event.get("current", event) if action != "identity_deleted" else None
        external = (event.get("current") if action == "external_id_changed"
                    else detail.get("external_id"))
        ids = identities_of([current], region, emails=[_text(detail.get("email"))],
                            phones=[_text(detail.get("phone"))],
                            externals=[(external_source, _text(external))])
        if not (user_id or ids):
            return None
        return TicketEvent(helpdesk=KIND, key=key, kind="customer.updated", identifiers=ids,
                           requester_id=user_id, occurred_at=occurred)
    if domain != "ticket":
        return None
    ticket_id = _zendesk_id(detail.get("id")) or _zendesk_id(subject.rpartition(":")[2])
    if ticket_id is None:
        raise BadEvent("the ticket event names no ticket")
    kinds: dict[str, EventKind] = {"created": "ticket.created",
                                   "comment_added": "message.created"}
    kind = kinds.get(action, "ticket.updated")
    via = _mapping(detail.get("via"))
    return TicketEvent(helpdesk=KIND, key=key, kind=kind,
                       identifiers=lenient_identifiers(region),
                       ticket_id=ticket_id, requester_id=_zendesk_id(detail.get("requester_id")),
                       channel=channel_of(via.get("channel")),
                       subject=_text(detail.get("subject")), occurred_at=occurred,
                       new_request=kind == "ticket.created")


def _template(data: dict[str, Any], headers: Headers, body: bytes, region: str,
              external_source: str | None) -> TicketEvent | None:
    """A trigger or automation's templated JSON (nested `ticket`, or flat keys)."""
    ticket = _mapping(data.get("ticket"))
    requester = _mapping(ticket.get("requester")) or _mapping(data.get("requester"))
    ticket_id = _zendesk_id(_first((ticket, ("id",)), (data, ("ticket_id", "ticketId"))))
    requester_id = _zendesk_id(_first((requester, ("id",)), (ticket, ("requester_id",)),
                                      (data, ("requester_id", "requesterId", "user_id"))))
    ids = lenient_identifiers(
        region,
        emails=[_first((requester, ("email",)), (ticket, ("requester_email",)),
                       (data, ("requester_email", "requesterEmail", "email")))],
        phones=[_first((requester, ("phone", "phone_number")), (ticket, ("requester_phone",)),
                       (data, ("requester_phone", "requesterPhone", "phone")))],
        externals=[(external_source, _first(  # never `external_id` alone: a ticket's own
            (requester, ("external_id", "externalId")), (ticket, ("requester_external_id",)),
            (data, ("requester_external_id", "requesterExternalId"))))])
    if not (ticket_id or requester_id or ids):
        return None  # a test delivery, or a template without anything we can use
    kind = _event_kind(_first((data, ("event", "event_type", "type", "kind")),
                              (ticket, ("event",))), ticket_id)
    stamp = _first((data, ("time", "timestamp", "occurred_at")),
                   (ticket, ("updated_at", "created_at")), (data, ("created_at",)))
    # from what is signed (the body), never the invocation id header, which is not
    key = f"ticket:{ticket_id}:{kind}:{stamp}" if ticket_id and stamp else body_key(body)
    return TicketEvent(
        helpdesk=KIND, key=key, kind=kind, identifiers=ids, ticket_id=ticket_id,
        requester_id=requester_id,
        channel=channel_of(_first((ticket, ("via", "channel")), (data, ("via", "channel")))),
        subject=_first((ticket, ("subject", "title")), (data, ("subject", "title"))),
        occurred_at=iso_moment(stamp), new_request=kind == "ticket.created" and bool(ticket_id))


def _event_kind(raw: str | None, ticket_id: str | None) -> EventKind:
    """A template's `event` value as our kind; a ticket update when it says nothing."""
    words = set(re.split(r"[^a-z]+", (raw or "").lower()))
    found = next((kind for word, kind in EVENT_WORDS if word in words), None)
    if found is None:
        return "ticket.updated" if ticket_id else "customer.updated"
    return found


def _mapping(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _first(*places: tuple[Mapping[str, Any], tuple[str, ...]]) -> str | None:
    """The first non-empty text among these keys of these mappings."""
    for mapping, keys in places:
        for key in keys:
            value = _text(mapping.get(key))
            if value:
                return value
    return None


def _text(value: Any) -> str | None:
    """A scalar as trimmed text; None for empty values and unrendered `{{placeholders}}`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text if text and not text.startswith("{{") else None


def _zendesk_id(value: Any) -> str | None:
    text = _text(value)
    return text if text and ZENDESK_ID.match(text) else None

