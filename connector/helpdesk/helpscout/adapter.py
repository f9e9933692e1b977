"""Help Scout: the dynamic app (a signed POST answered with the record as `{"html": …}`),
signed webhooks, and write-back of our flags as conversation tags and internal notes.

Dynamic app (developer.helpscout.com/apps/legacy-custom-apps/dynamic): Help Scout POSTs
`{"ticket": {id, number, subject}, "customer": {id, fname, lname, email, emails},
"user": {…}, "mailbox": {id, email}}`, omitting empty fields, `"ticket": false` on a draft.
`X-HelpScout-Signature` is base64(HMAC-SHA1(secret, raw body)). The answer is JSON
`{"html": "…"}`: Help Scout strips inline CSS, JavaScript and HTML its style guide does not
document, and allows no interactive element but links (its style guide). *Unconfirmed*:
the exact tag allow-list, a size limit and the timeout (none is documented): the fragment is
kept small (no script, no form, no style) and its "open the full record" link is the way to
the rest. The payload documents no phone nor social profile; a `customer.phone` or
`customer.phones` (strings or `{value}` objects) and `customer.socialProfiles` (`{type,
value}`), as in Mailbox API customer objects, are read when present.

Who is looking: the signed body's `user` (`{id, fname, lname, role}`; `email` read when
present, *unconfirmed*: the documented example has none) is the agent the record is for: their
email, else "First Last (#id)", and their role (`owner`, `admin`, `user` in Help Scout's
words) through the entry's `roles`/`agent_roles`. The fragment's link to the full record seals
both, so every page of it knows who is looking.

Webhooks (developer.helpscout.com/webhooks): `X-HelpScout-Event` and the same signature,
with its own secret; the body is the v2 conversation or customer object; no delivery id.

Write-back (Mailbox API 2.0, an OAuth2 "My App"'s client credentials): Help Scout keeps tags
on conversations, so our tags go on the conversation an event was about; fields are not
written (custom fields are per mailbox, customer properties must be declared first).
"""

from __future__ import annotations

from html import escape
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from connector.helpdesk.base import (
    Headers,
    HttpRequest,
    Limits,
    Reply,
    SidebarContext,
    TicketEvent,
    Unauthorized,
    WriteBack,
    WriteBackFailed,
    agent_name,
    check_hmac,
    first_line,
    hmac_b64,
    json_object,
    json_reply,
    require_secret,
)
from connector.helpdesk.config import AdapterConfig, secret
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.helpscout.api import MailboxApi
from connector.helpdesk.helpscout.webhooks import person_identifiers, scout_event

KIND = "helpscout"
SIGNATURE = "X-HelpScout-Signature"
EVENT = "X-HelpScout-Event"
SECRET_MAX = 40  # Help Scout's limit for an app's or a webhook's secret key


class Config(AdapterConfig):
    """`helpdesks.helpscout` in the manifest (secrets from the environment)."""

    writable: ClassVar[frozenset[str]] = frozenset({"tags", "note"})
    vouches_for_agents: ClassVar[bool] = True  # the signed body's `user`
    unwritable: ClassVar[str] = ("Help Scout has no customer fields we can set without "
                                 "declaring them first; use tags and notes")

    # the dynamic app's secret key (Manage → Apps → Custom App): HELPSCOUT_APP_SECRET
    app_secret: SecretStr | None = None
    # the Webhooks app's secret key: HELPSCOUT_WEBHOOK_SECRET
    webhook_secret: SecretStr | None = None
    # write-back: an OAuth2 app (Your Profile → My Apps): HELPSCOUT_CLIENT_ID / _SECRET
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_url: str = Field(default="https://api.helpscout.net", pattern=r"^https?://")

    @field_validator("app_secret", "webhook_secret")
    @classmethod
    def _short_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) > SECRET_MAX:
            raise ValueError(f"Help Scout accepts secret keys of at most {SECRET_MAX} "
                             "characters")
        return value



class HelpScout:
    """The Help Scout adapter."""

    kind = KIND
    # writes count twice: 3 changes every 5 s (≤ 3 calls each) stays under Help Scout's
    # 200 requests a minute and 12 writes per 5 s
    write_limits = Limits(calls=3, per_s=5.0, target_interval_s=10.0)

    def __init__(self, config: Config, deps: HelpdeskDeps) -> None:
        self.config = config
        self.deps = deps
        self.frame_ancestors = tuple(config.frame_ancestors or ["https://secure.helpscout.net"])
        client_secret = secret(config.client_secret)
        self.api = (MailboxApi(config.api_url, config.client_id, client_secret, deps.clock)
                    if config.client_id and client_secret else None)

    def sidebar_context(self, request: HttpRequest) -> SidebarContext | Reply:
        """The record for the dynamic app's signed POST, as `{"html": …}` (401 as JSON
        too, so Help Scout's debug mode shows why)."""
        try:
            key = require_secret(secret(self.config.app_secret), "HELPSCOUT_APP_SECRET")
            check_hmac(hmac_b64(key, request.body, "sha1"), request.headers.get(SIGNATURE))
        except Unauthorized as exc:
            return self.refusal(401, f"refused: {exc.public}")
        try:
            data = json_object(request.body)
        except ValueError:
            return self.refusal(400, "the request is not JSON")
        ticket = data.get("ticket")  # false on a draft
        ticket_id = str(ticket["id"]) if isinstance(ticket, dict) and ticket.get("id") else None
        ids = person_identifiers([data.get("customer")], self.deps.region)
        agent, role = self.agent_of(data.get("user"))
        context = SidebarContext(helpdesk=KIND, identifiers=ids, ticket_id=ticket_id,
                                 agent=agent, role=role)
        return _json(200, self.deps.render_fragment(context))

    def agent_of(self, user: object) -> tuple[str | None, str | None]:
        """(agent, our role) of the signed body's `user`: their email, else "First Last
        (#id)"; none without a name or an id (no role either: the audit must name someone)."""
        if not isinstance(user, dict):
            return None, None
        user_id = _digits(user.get("id"))
        email = user.get("email")
        email = email.strip().lower() if isinstance(email, str) and "@" in email else None
        name = agent_name(" ".join(v for v in (user.get("fname"), user.get("lname"))
                                   if isinstance(v, str)))
        if user_id:
            name = f"{name[:60]} (#{user_id})" if name else f"#{user_id}"
        agent = agent_name(email, name)
        if agent is None:
            return None, None
        role = user.get("role")
        return agent, self.config.role_of(role if isinstance(role, str) else None,
                                          agent=(user_id, email))

    def refusal(self, status: int, reason: str) -> Reply:
        """An error answer as the dynamic app's JSON, its short plain reason first (the part
        of a body a log or a debug view shows)."""
        return _json(status, f"<p>{escape(reason)}</p>", error=first_line(reason))

    def verify(self, headers: Headers, body: bytes) -> None:
        """Refuse a webhook unless signed with HELPSCOUT_WEBHOOK_SECRET."""
        key = require_secret(secret(self.config.webhook_secret), "HELPSCOUT_WEBHOOK_SECRET")
        check_hmac(hmac_b64(key, body, "sha1"), headers.get(SIGNATURE))

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        """The event a verified webhook carries (see helpscout_events)."""
        return scout_event(KIND, headers.get(EVENT), body, self.deps.region)

    def write_back(self, change: WriteBack) -> None:
        """Our tags on the conversation (ours that no longer hold removed, others kept),
        and the note as an internal note."""
        if self.api is None:
            raise WriteBackFailed("write-back to Help Scout needs HELPSCOUT_CLIENT_ID and "
                                  "HELPSCOUT_CLIENT_SECRET", permanent=True)
        if not change.ticket_id and change.erases:
            return  # a forgotten person: Help Scout holds nothing of ours but on conversations
        if not change.ticket_id:
            raise WriteBackFailed("Help Scout keeps tags on conversations: this change names "
                                  "none", permanent=True)
        if (self.config.write_back.tags or change.erases) and not change.keeps_tags:
            current = self.api.conversation_tags(change.ticket_id)
            kept = [t for t in current if not t.startswith(change.tag_prefix)]
            wanted = kept + sorted(set(change.tags) - set(kept))
            if sorted(wanted) != sorted(current):
                self.api.replace_tags(change.ticket_id, wanted)
        if change.note:
            self.api.add_note(change.ticket_id, change.note)


def _digits(value: object) -> str | None:
    """A Help Scout id (a number, or its digits) as text; None for anything else."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if text.isdigit() and len(text) <= 20 else None


def _json(status: int, html: str, **extra: str) -> Reply:
    """The dynamic app's answer: JSON holding the HTML (after the error, when there is one)."""
    return json_reply(status, {**extra, "html": html})


def build(config: Config, deps: HelpdeskDeps) -> HelpScout:
    """The adapter for this manifest entry."""
    return HelpScout(config, deps)
