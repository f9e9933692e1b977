"""Freshdesk: the FDK sidebar app (platform 3.0, `ticket_sidebar`), automation-rule webhooks
authenticated by a shared secret, and write-back of tags, contact fields and private notes
through the API v2.

- The app (built by `connector freshdesk-app`, see `app.py`) reads the ticket's
  contact through the FDK data method and POSTs its identifiers (emails, phones, `twitter_id`,
  `facebook_id`, `unique_external_id`) to `/helpdesk/freshdesk/sidebar` through a request
  template that adds our app token (a secure installation parameter the browser never sees).
  We answer JSON: the record as an HTML fragment (shown in a sandboxed frame of the app) and a
  sealed link to the full page.
- Webhooks ("Trigger webhook" in an automation rule) carry no signature: the rule sends our
  secret in a header (or as basic-auth credentials); the body is composed by the admin
  (`webhooks.py` reads it).
- Write-back: `api.py`.

Who is looking: nobody we can vouch for. The app's body is built by its page in the agent's
browser (the FDK's `loggedInUser` included), and any agent can invoke the request template with
a body of their own: it proves the request comes through this account's app, not who sent it.
The record is for no agent (only what is kept for no role is offered), and the entry refuses
`roles`/`agent_roles`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import replace
from typing import Any

from connector.helpdesk.base import (
    Headers,
    HttpRequest,
    Limits,
    Reply,
    SidebarContext,
    TicketEvent,
    Unauthorized,
    WriteBack,
    check_hmac,
    json_reply,
    lenient_identifiers,
    loads,
    require_secret,
)
from connector.helpdesk.config import secret
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.freshdesk import webhooks
from connector.helpdesk.freshdesk.api import FreshdeskApi
from connector.helpdesk.freshdesk.config import Config

KIND = "freshdesk"
APP_TOKEN_VAR = "FRESHDESK_APP_TOKEN"
WEBHOOK_SECRET_VAR = "FRESHDESK_WEBHOOK_SECRET"
API_KEY_VAR = "FRESHDESK_API_KEY"
# who may frame our pages: Freshdesk's own origins (the record itself is shown as a fragment
# inside the app's frame, so the app's hosting origin does not need to be listed)
DEFAULT_FRAME_ANCESTORS = ("https://*.freshdesk.com",)
# API calls one write-back may take: GET ticket, PUT ticket, POST note, PUT contact
CALLS_PER_WRITE_BACK = 4
__all__ = ["KIND", "Config", "Freshdesk", "build"]


class Freshdesk:
    """The Freshdesk adapter."""

    kind = KIND
    opens_tickets = True  # a WriteBack with new_ticket_subject opens one (api.py)

    def __init__(self, config: Config, deps: HelpdeskDeps) -> None:
        self.config = config
        self.deps = deps
        self.frame_ancestors = tuple(config.frame_ancestors or DEFAULT_FRAME_ANCESTORS)
        self.write_limits = Limits(
            calls=max(1, config.api_calls_per_minute // CALLS_PER_WRITE_BACK), per_s=60.0,
            target_interval_s=12.0)

    def sidebar_context(self, request: HttpRequest) -> SidebarContext | Reply:
        """The app's POST (its token checked): the record as JSON `{"html", "url"}`."""
        token = require_secret(secret(self.config.app_token), APP_TOKEN_VAR)
        check_hmac(token, _bearer(request.headers), "app token")
        if request.method != "POST":
            return json_reply(405, {"error": "POST the ticket's contact as JSON"})
        try:
            asked = loads(request.body or b"{}")
        except (ValueError, RecursionError):
            asked = None
        if not isinstance(asked, dict):
            return json_reply(400, {"error": "the body is not a JSON object"})
        context = self.context_of(asked)
        url = self.deps.links.url(self.deps.public_url, self.deps.links.seal(context),
                                  context.locale)
        return json_reply(200, {"html": self.deps.render_fragment(context), "url": url})

    def context_of(self, asked: dict[str, Any]) -> SidebarContext:
        """Who the app asks about: the contact's emails, phones, X handle (`twitter_id`),
        Facebook id (`facebook_id`) and external id (`unique_external_id`), unusable ones
        dropped."""
        emails: list[str | None] = [*_strings(asked.get("emails")),
                                    *_strings(asked.get("email"))]
        phones: list[str | None] = [*_strings(asked.get("phones")), *_strings(asked.get("phone")),
                                    *_strings(asked.get("mobile"))]
        handles = [(network, value) for network, keys in webhooks.SOCIAL_FIELDS.items()
                   for value in _strings(asked.get(keys[0]))]
        externals = [(self.config.external_id_source, value)
                     for value in _strings(asked.get("unique_external_id"))]
        ids = lenient_identifiers(self.deps.region, emails=emails, phones=phones,
                                  handles=handles, externals=externals)
        ticket = _strings(asked.get("ticket_id"))
        lang = (_strings(asked.get("lang")) or [""])[0][:2].lower()
        return SidebarContext(helpdesk=KIND, identifiers=ids,
                              ticket_id=ticket[0] if ticket else None,
                              locale=lang if lang in ("fr", "en") else None)

    def verify(self, headers: Headers, body: bytes) -> None:
        """The rule's secret, in our header or as basic-auth credentials (constant time)."""
        expected = require_secret(secret(self.config.webhook_secret), WEBHOOK_SECRET_VAR)
        given = headers.get(self.config.webhook_header)
        if given is not None:
            check_hmac(expected, given, f"{self.config.webhook_header} secret")
            return
        credentials = _basic(headers)
        if credentials is None:
            raise Unauthorized(f"the request carries no {self.config.webhook_header} header "
                               "nor basic-auth credentials")
        user_ok = hmac.compare_digest(credentials[0].encode(), expected)
        password_ok = hmac.compare_digest(credentials[1].encode(), expected)
        if not (user_ok or password_ok):
            raise Unauthorized("the basic-auth credentials do not match")

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        event = webhooks.parse_event(headers, body, self.deps.region,
                                     self.config.external_id_source)
        if event is not None and self.config.tags_on == "ticket":  # the worker writes on it
            return replace(event, requester_id=None)
        return event

    def write_back(self, change: WriteBack) -> None:
        FreshdeskApi.of(self.config).apply(change)


def build(config: Config, deps: HelpdeskDeps) -> Freshdesk:
    """The adapter for this manifest entry."""
    return Freshdesk(config, deps)




def _bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _basic(headers: Headers) -> tuple[str, str] | None:
    """(user, password) of a basic Authorization header, or None."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def _strings(value: Any) -> list[str]:
    """A value or a list of values as non-empty strings (numbers too: Freshdesk ids)."""
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values
            if isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip()]
