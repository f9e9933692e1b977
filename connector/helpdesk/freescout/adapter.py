"""FreeScout (the open-source Help Scout clone): the record in the conversation sidebar
through the "Sidebar Webhook" module, and events through the "API & Webhooks" module.

Sidebar Webhook (github.com/fulldecent/freescout-sidebar-webhook): when an agent opens a
conversation, FreeScout's server POSTs to the mailbox's webhook URL
`{"customerEmail", "customerPhones": [{"value", "type"}], "conversationSubject",
"conversationType", "mailboxId", "secret"}` as JSON (`Accept: text/html`) and injects the
answer, an HTML fragment, into the sidebar with jQuery's `.html()` (so the fragment must hold
no script: ours holds none), with no stylesheet of ours: the fragment brings its own `<style>`,
every rule scoped under its root. The first `title` element in the inserted HTML becomes the
panel's title (`find('title').first()`: a sparkline's SVG `<title>` too), so ours comes first.
An error answer reaches the admin only as Guzzle's message, the body cut to 120 bytes: its
first line is a short plain reason (`server_refusal`). The
module's README still describes its first version, a form-encoded POST from the agent's
browser with no secret: a form-encoded body is read too, but only with the `secret` field,
compared in constant time with FREESCOUT_SECRET.

Who is looking: nobody we can tell. The module's POST (version 3.0.0,
`SidebarWebhookController::ajax`) carries the customer, the conversation's subject and type, the
mailbox and the secret, never the agent who opened the conversation: the record is for no
agent, who sees only what is kept for no role, and the entry refuses `roles`/`agent_roles`.

API & Webhooks (freescout.net/module/api-webhooks, a paid module): the events and objects of
Help Scout's webhooks (`convo.created`, `convo.customer.reply.created`, `customer.created`…),
with `X-FreeScout-Event`. The page says requests are signed; *unconfirmed* from the module's
own documentation (from code that reads it): `X-FreeScout-Signature` = base64(HMAC-SHA1(raw
body)) keyed with md5(APP_KEY + "webhook_key") as hex, the value FREESCOUT_WEBHOOK_SECRET holds.

Write-back to FreeScout is not supported yet.
"""

from __future__ import annotations

import hmac
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from pydantic import SecretStr

from connector.helpdesk.base import (
    Headers,
    HttpRequest,
    Reply,
    SidebarContext,
    TicketEvent,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
    check_hmac,
    hmac_b64,
    lenient_identifiers,
    loads,
    require_secret,
    server_refusal,
)
from connector.helpdesk.config import AdapterConfig, secret
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.helpscout.webhooks import scout_event, values

KIND = "freescout"
SIGNATURE = "X-FreeScout-Signature"
EVENT = "X-FreeScout-Event"


class Config(AdapterConfig):
    """`helpdesks.freescout` in the manifest (secrets from the environment)."""

    writable: ClassVar[frozenset[str]] = frozenset()
    unwritable: ClassVar[str] = "writing back to FreeScout is not supported yet"
    agentless: ClassVar[str] = ("the Sidebar Webhook module does not say which FreeScout "
                                "agent is looking, so no role can be mapped")

    # the Sidebar Webhook's secret (Mailbox → Sidebar Webhook → Secret): FREESCOUT_SECRET
    secret: SecretStr | None = None
    # the API & Webhooks module's signing key, md5(APP_KEY + "webhook_key"):
    # FREESCOUT_WEBHOOK_SECRET
    webhook_secret: SecretStr | None = None
    # the sidebar panel's title (the module shows the answer's first <title>); the brand's
    # name when unset
    title: str | None = None



class FreeScout:
    """The FreeScout adapter."""

    kind = KIND

    def __init__(self, config: Config, deps: HelpdeskDeps) -> None:
        self.config = config
        self.deps = deps
        # FreeScout fetches the fragment server-side; only our full page is ever framed
        self.frame_ancestors = tuple(config.frame_ancestors or ["'self'"])

    def sidebar_context(self, request: HttpRequest) -> SidebarContext | Reply:
        """The record for the Sidebar Webhook's POST, as an HTML fragment."""
        expected = require_secret(secret(self.config.secret), "FREESCOUT_SECRET")
        payload = sidebar_payload(request)
        given = payload.get("secret")
        if not isinstance(given, str) or not given:
            raise Unauthorized("the request carries no secret")
        if not hmac.compare_digest(expected, given.encode()):
            raise Unauthorized("the secret does not match FREESCOUT_SECRET (check the "
                               "mailbox's Sidebar Webhook Secret)")
        email = payload.get("customerEmail")
        ids = lenient_identifiers(self.deps.region,
                                  emails=[email if isinstance(email, str) else None],
                                  phones=list(values(payload.get("customerPhones"), "value")))
        context = SidebarContext(helpdesk=KIND, identifiers=ids, styled=True,
                                 title=self.config.title)
        return Reply(200, self.deps.render_fragment(context))

    def refusal(self, status: int, reason: str) -> Reply:
        """An error answer the module's admin can read: a short plain line first."""
        return server_refusal(status, reason)

    def verify(self, headers: Headers, body: bytes) -> None:
        """Refuse a webhook unless signed with FREESCOUT_WEBHOOK_SECRET."""
        key = require_secret(secret(self.config.webhook_secret), "FREESCOUT_WEBHOOK_SECRET")
        check_hmac(hmac_b64(key, body, "sha1"), headers.get(SIGNATURE))

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        """The event a verified webhook carries (Help Scout's shapes: helpscout_events)."""
        return scout_event(KIND, headers.get(EVENT), body, self.deps.region)

    def write_back(self, change: WriteBack) -> None:
        """Not supported yet (refused at the manifest too)."""
        raise WriteBackFailed("writing back to FreeScout is not supported yet", permanent=True)


def sidebar_payload(request: HttpRequest) -> dict[str, Any]:
    """The Sidebar Webhook's fields from a JSON body (the module's current version) or a
    form-encoded one (`customerPhones[0][value]=…` or `customerPhones[]=…`)."""
    content_type = request.headers.get("Content-Type", "")
    if "json" in content_type or request.body.lstrip()[:1] == b"{":
        try:
            data = loads(request.body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}
    if not request.body:  # the web layer parsed the form already: its fields, one per name
        return _form_fields(list(request.form.items()))
    try:
        pairs = parse_qsl(request.body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return _form_fields(pairs)


def _form_fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form pairs as the JSON payload would be: PHP-style `customerPhones[…]` keys become
    one list of phone values."""
    data: dict[str, Any] = {}
    phones: list[str] = []
    for name, value in pairs:
        if name.startswith("customerPhones["):
            if name.endswith("[value]") or name == "customerPhones[]":
                phones.append(value)
        else:
            data.setdefault(name, value)
    data["customerPhones"] = phones
    return data


def build(config: Config, deps: HelpdeskDeps) -> FreeScout:
    """The adapter for this manifest entry."""
    return FreeScout(config, deps)
