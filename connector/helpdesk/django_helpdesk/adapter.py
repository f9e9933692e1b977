"""django-helpdesk (the open-source Django ticket tracker, 2.x): its webhooks on new tickets and
follow-ups, and private follow-up notes written back through its REST API.

What django-helpdesk sends (`helpdesk/webhooks.py`, 2.6): `requests.post(url, json=…)` to each
URL of `HELPDESK_NEW_TICKET_WEBHOOK_URLS` / `HELPDESK_FOLLOWUP_WEBHOOK_URLS`, a body of
`{"ticket": <TicketSerializer>, "queue_slug": …}` plus `"followup_id"` for a follow-up; no
signature, no header of its own, no delivery id, no retry. The only secret it can carry is
the URL's user-info: `https://django-helpdesk:SECRET@connector…/webhook` is sent by requests as
`Authorization: Basic …` (the secret travels in a header, never in the request line a proxy
logs), and that password is what we check, in constant time.

No sidebar API: the record is shown by a sealed link a django-helpdesk template makes
(docs/helpdesks/django-helpdesk.md); `/helpdesk/django_helpdesk/sidebar` says so instead of
pretending.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from connector.helpdesk.base import (
    BadEvent,
    Headers,
    HttpRequest,
    Limits,
    RateLimited,
    Reply,
    SidebarContext,
    TicketEvent,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
    check_hmac,
    iso_moment,
    json_object,
    lenient_identifiers,
    require_secret,
    retry_after,
)
from connector.helpdesk.config import AdapterConfig, secret
from connector.helpdesk.deps import HelpdeskDeps

KIND = "django_helpdesk"
SECRET_VARIABLE = "DJANGO_HELPDESK_WEBHOOK_SECRET"
PASSWORD_VARIABLE = "DJANGO_HELPDESK_API_PASSWORD"
API_TIMEOUT_S = 10


class Config(AdapterConfig):
    """`helpdesks.django_helpdesk` in the manifest (secrets from the environment)."""

    writable: ClassVar[frozenset[str]] = frozenset({"note"})
    unwritable: ClassVar[str] = ("django-helpdesk has no tags and no customer fields: only "
                                 "notes can be written back (set tags: false and fields: false)")

    # the password of the webhook URL's user-info (https://django-helpdesk:SECRET@…)
    webhook_secret: SecretStr | None = None
    # where django-helpdesk is served, e.g. https://support.example.com/helpdesk: its REST API
    # (write-back) is under it, and its origin may frame our sidebar
    url: str | None = None
    # write-back: a staff account of django-helpdesk (its API is for staff only)
    api_user: str | None = None
    api_password: SecretStr | None = None
    # a ticket custom field holding the customer's phone (sent as `custom_<name>`)
    phone_field: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{1,50}$")

    @field_validator("url")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", value):
            raise ValueError("must be the http(s) address django-helpdesk is served at, "
                             "e.g. https://support.example.com/helpdesk")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _notes_need_the_api(self) -> Config:
        if self.write_back.enabled and self.write_back.note and not (self.url and self.api_user):
            # an error on `write_back` (a model-level one would have no path in the manifest)
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("value_error", "notes need url (where django-helpdesk "
                                         "is served) and api_user (a staff account)"),
                loc=("write_back",), input=self.write_back.model_dump())])
        return self


class DjangoHelpdesk:
    """The django-helpdesk adapter."""

    kind = KIND
    # django-helpdesk has no documented rate limit; its follow-ups are cheap and per ticket
    write_limits = Limits(calls=60, per_s=60.0, target_interval_s=1.0)

    def __init__(self, config: Config, deps: HelpdeskDeps) -> None:
        self.config = config
        self.deps = deps
        origin = _origin(config.url)
        self.frame_ancestors = tuple(config.frame_ancestors or ([origin] if origin
                                                                 else ["'self'"]))

    def sidebar_context(self, request: HttpRequest) -> SidebarContext | Reply:
        """django-helpdesk cannot frame an app with a signed context: a page saying how the
        record is shown instead (a sealed link made by a django-helpdesk template)."""
        locale = "fr" if request.value("lang") == "fr" else "en"
        return Reply(status=501, body=NO_SIDEBAR[locale])

    def verify(self, headers: Headers, body: bytes) -> None:
        """Check the webhook URL's password (sent as HTTP Basic) against the secret."""
        expected = require_secret(secret(self.config.webhook_secret), SECRET_VARIABLE)
        check_hmac(expected, _basic_password(headers.get("Authorization")), "webhook secret")

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        """A new ticket (a new request) or a public follow-up; None for private notes and
        tickets with neither an email nor a phone."""
        payload = json_object(body)
        ticket = payload.get("ticket")
        if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
            raise BadEvent("this is not a django-helpdesk webhook: no ticket id")
        listed = ticket.get("followup_set")
        followups = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
        followup_id = payload.get("followup_id")
        if followup_id is None:
            first = min(followups, key=_followup_order, default={})
            return self._event(ticket, first, f"ticket:{ticket['id']}:created", True)
        if not isinstance(followup_id, int):
            raise BadEvent("this is not a django-helpdesk webhook: its followup_id is no id")
        followup = next((f for f in followups if f.get("id") == followup_id), None)
        if followup is None:
            raise BadEvent(f"follow-up {followup_id} is not in its ticket")
        if not followup.get("public"):
            return None  # a staff note (ours included): no contact, nothing to learn
        return self._event(ticket, followup, f"ticket:{ticket['id']}:followup:{followup_id}",
                           False)

    def write_back(self, change: WriteBack) -> None:
        """A private follow-up (an internal note) on the ticket; tags and fields have no place
        in django-helpdesk (the manifest refuses them), so a change without a note is done."""
        if not change.note:
            return
        if not change.ticket_id:
            raise WriteBackFailed("a django-helpdesk note needs a ticket", permanent=True)
        password = secret(self.config.api_password)
        if not (self.config.url and self.config.api_user and password):
            raise WriteBackFailed("set helpdesks.django_helpdesk.url, api_user and "
                                  f"{PASSWORD_VARIABLE} to write notes", permanent=True)
        # no "title": django-helpdesk renames the ticket to a follow-up's title
        note = {"ticket": int(change.ticket_id), "comment": _plain_comment(change.note),
                "public": False}
        try:
            answer = requests.post(f"{self.config.url}/api/followups/", json=note,
                                   auth=(self.config.api_user, password),
                                   timeout=API_TIMEOUT_S)
        except requests.RequestException as exc:
            raise WriteBackFailed(f"django-helpdesk did not answer ({type(exc).__name__})"
                                  ) from exc
        _check_answer(answer, change.ticket_id)

    def _event(self, ticket: dict[str, Any], followup: dict[str, Any], key: str,
               new: bool) -> TicketEvent | None:
        phone = ticket.get(f"custom_{self.config.phone_field}") if self.config.phone_field \
            else None
        ids = lenient_identifiers(self.deps.region, emails=[_text(ticket.get("submitter_email"))],
                                  phones=[_text(phone)])
        if not ids:
            return None
        return TicketEvent(
            helpdesk=KIND, key=key, kind="ticket.created" if new else "message.created",
            identifiers=ids, ticket_id=str(ticket["id"]),
            channel="email" if followup.get("message_id") else "web",
            subject=_text(ticket.get("title")), occurred_at=iso_moment(followup.get("date")),
            new_request=new)


def build(config: Config, deps: HelpdeskDeps) -> DjangoHelpdesk:
    """The adapter for this manifest entry."""
    return DjangoHelpdesk(config, deps)


def _followup_order(followup: dict[str, Any]) -> int:
    """Where a follow-up comes in its ticket: its id (the first is the ticket's message)."""
    number = followup.get("id")
    return number if isinstance(number, int) else 0


def _basic_password(header: str | None) -> str | None:
    """The password of an `Authorization: Basic` header (None when there is none)."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("the webhook credentials are unreadable") from exc
    return decoded.partition(":")[2] or None


def _check_answer(answer: requests.Response, ticket_id: str) -> None:
    """Classify django-helpdesk's answer to a note (admin-facing texts, no secret)."""
    status = answer.status_code
    if status in (200, 201):
        return
    if status == 429:
        raise RateLimited(retry_after(answer.headers.get("Retry-After")), "api/followups")
    if status in (401, 403):
        raise WriteBackFailed("django-helpdesk refused the API user: it must be a staff "
                              f"account, with its password in {PASSWORD_VARIABLE}",
                              permanent=True)
    if status == 404:
        raise WriteBackFailed("django-helpdesk has no API at this url "
                              "(check helpdesks.django_helpdesk.url and HELPDESK_API_ENABLED)",
                              permanent=True)
    if status < 500:
        raise WriteBackFailed(f"django-helpdesk refused the note on ticket {ticket_id} "
                              f"(HTTP {status}: unknown ticket, or a queue the API user "
                              "cannot see)", permanent=True)
    raise WriteBackFailed(f"django-helpdesk failed (HTTP {status})")


def _plain_comment(note: str) -> str:
    """The note as django-helpdesk shows it: it renders a comment as a Django template (so
    `{{` would be evaluated) and then as Markdown (so single line breaks would vanish)."""
    safe = note.replace("{{", "{ {").replace("{#", "{ #")
    return "  \n".join(safe.splitlines())


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _page(lang: str, title: str, body: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><title>{title}</title>'
            f'<body style="font:14px system-ui,sans-serif;margin:1rem"><h1 style="font-size:'
            f'1rem">{title}</h1><p>{body}</p></body></html>')


NO_SIDEBAR = {
    "en": _page("en", "No sidebar app in django-helpdesk",
                "django-helpdesk has no sidebar API, so this address shows nothing. Show the "
                "customer record with a sealed link made by your django-helpdesk ticket "
                "template (<code>/helpdesk/embed/sidebar?t=…</code>): see "
                "<code>docs/helpdesks/django-helpdesk.md</code>."),
    "fr": _page("fr", "Pas d'application latérale dans django-helpdesk",
                "django-helpdesk n'offre pas d'API de barre latérale : cette adresse "
                "n'affiche rien. Affichez la fiche client par un lien scellé créé par le "
                "gabarit de ticket de django-helpdesk (<code>/helpdesk/embed/sidebar?t=…"
                "</code>) : voir <code>docs/helpdesks/django-helpdesk.md</code>."),
}
