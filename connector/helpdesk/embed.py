"""The `embed` adapter: sealed sidebar links that any helpdesk, or an admin, can open.

A link carries an encrypted, authenticated token (Fernet: AES-128-CBC + HMAC-SHA256) holding
the customer's identifiers and the time it was made: no email or phone ever shows in a URL, a
browser history or an access log, and a link older than its lifetime is refused. A page that
frames the record (Zendesk's, Chatwoot's) renews it before then, on the helpdesk's own
authority: `renew` seals the same payload again, only while the link is still valid, and only
within `session_max_s` of the first seal (a stolen link is not kept alive for ever). A link
given out where anyone may read it (the HTML fragment a FreeScout module inserts) has a
shorter lifetime of its own and is never renewed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken

from connector.helpdesk.base import HttpRequest, SidebarContext, Unauthorized
from connector.identifiers import Identifiers, InvalidIdentifier, Raw, identifiers_from

SIDEBAR_PATH = "/helpdesk/embed/sidebar"
RECORD_FRAME_SCRIPT = "record_frame.js"  # the framing pages' script keeping the link fresh


class LinkExpired(Unauthorized):
    """A link we made, older than its lifetime: the record is out of date, not forged."""


class EmbedLinks:
    """Makes and reads sealed sidebar links."""

    kind = "embed"

    def __init__(self, key: bytes, ttl_s: int, region: str,
                 clock: Callable[[], float] = time.time,
                 frame_ancestors: tuple[str, ...] = ("'self'",),
                 session_max_s: int = 12 * 3600) -> None:
        derived = hashlib.sha256(b"connector.embed.v1:" + key).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        # forms' tokens under a key of their own: one never reads as the other
        forms = hashlib.sha256(b"connector.forms.v1:" + key).digest()
        self._forms = Fernet(base64.urlsafe_b64encode(forms))
        self.ttl_s = ttl_s
        self.session_max_s = session_max_s
        self.region = region
        self._clock = clock
        self.frame_ancestors = frame_ancestors

    def token(self, *, email: Raw = None, phone: Raw = None, card: Raw = None,
              handle: Raw = None, externals: tuple[tuple[str, str], ...] = (),
              ticket: str | None = None, customer_id: str | None = None,
              search: bool = False, helpdesk: str | None = None,
              lifetime_s: int | None = None, agent: str | None = None,
              role: str | None = None, ticket_helpdesk: str | None = None) -> str:
        """A sealed token for these identifiers, for one person an agent chose among several,
        or (`search`) for a ticket with no identifier, opening the search (raises
        InvalidIdentifier for unusable identifiers). `helpdesk` names the helpdesk that framed
        the request (its framing policy applies to the page); `lifetime_s`, shorter than the
        links' own, makes a link that expires sooner and cannot be renewed. `agent` and
        `role`: who the link is for, as the helpdesk that asked for it vouches (what they may
        change from the record); `ticket_helpdesk`: the helpdesk `ticket` belongs to, when not
        `helpdesk` (where an action's note on the ticket goes)."""
        ids = identifiers_from(self.region, email=email, phone=phone, card=card,
                               handle=handle).merged(Identifiers(externals=externals))
        if not ids and not customer_id and not search:
            raise InvalidIdentifier("a link needs an email, a phone or a card number")
        now = int(self._clock())
        payload = {"e": ids.emails, "p": ids.phones, "c": ids.cards, "t": ticket,
                   "u": customer_id, "o": now, **({"h": helpdesk} if helpdesk else {}),
                   **({"l": lifetime_s} if lifetime_s and lifetime_s < self.ttl_s else {}),
                   **({"s": ids.handles} if ids.handles else {}),
                   **({"x": [list(pair) for pair in ids.externals]} if ids.externals else {}),
                   **({"a": agent[:80]} if agent else {}), **({"r": role[:40]} if role else {}),
                   **({"k": ticket_helpdesk} if ticket_helpdesk else {})}
        data = json.dumps(payload, separators=(",", ":")).encode()
        return self._fernet.encrypt_at_time(data, now).decode()

    def seal(self, context: SidebarContext, customer_id: str | None = None,
             lifetime_s: int | None = None) -> str:
        """A sealed token for an authenticated context (for `customer_id`, one person an agent
        chose); with nothing to look up, the token opens the search."""
        ids = context.identifiers
        person = customer_id or context.customer_id
        return self.token(email=list(ids.emails), phone=list(ids.phones), card=list(ids.cards),
                          handle=list(ids.handles), externals=ids.externals,
                          ticket=context.ticket_id, customer_id=person,
                          search=not ids and not person, helpdesk=context.helpdesk,
                          lifetime_s=lifetime_s, agent=context.agent, role=context.role,
                          ticket_helpdesk=context.ticket_helpdesk)

    def url(self, base_url: str, token: str, locale: str | None = None,
            keep: Mapping[str, str] | None = None) -> str:
        """The sidebar URL for a token (`keep`: query parameters the framing helpdesk needs
        to find again, e.g. Zendesk's `origin` and `app_guid`)."""
        query = {"t": token, **({"lang": locale} if locale else {}), **(keep or {})}
        return f"{base_url.rstrip('/')}{SIDEBAR_PATH}?{urlencode(query)}"

    def renew(self, token: object) -> str | None:
        """The same link sealed now, while `token` is still valid and its first seal is less
        than `session_max_s` old; None once it is not, and for a short-lived link."""
        if not isinstance(token, str) or not token:
            return None
        now = int(self._clock())
        try:
            payload = self._payload(token)
            first = int(payload.get("o") or self._fernet.extract_timestamp(token.encode()))
        except (InvalidToken, LinkExpired, ValueError, TypeError):
            return None
        if "l" in payload or now - first > self.session_max_s:
            return None
        payload["o"] = first
        data = json.dumps(payload, separators=(",", ":")).encode()
        return self._fernet.encrypt_at_time(data, now).decode()

    def form_token(self, what: str) -> str:
        """A sealed, single-use token for one form that changes something (`what`: the
        change it may make, e.g. "action:erp:open_return:997890:cus_1"): it holds a fresh
        change id, which the outbox keeps once, so the same form sent twice makes one change
        and a form forged or made for another change makes none."""
        nonce = secrets.token_hex(16)
        data = json.dumps({"n": nonce, "w": what}, separators=(",", ":")).encode()
        return self._forms.encrypt_at_time(data, int(self._clock())).decode()

    def change_id(self, token: object, what: str) -> str | None:
        """The change id a form token made for `what` holds; None when it is missing,
        forged, made for another change or older than the links' lifetime."""
        if not isinstance(token, str) or not token or len(token) > 400:
            return None
        try:
            data = self._forms.decrypt_at_time(token.encode(), self.ttl_s,
                                               int(self._clock()))
            payload = json.loads(data)
        except (InvalidToken, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("w") != what:
            return None
        nonce = payload.get("n")
        return nonce if isinstance(nonce, str) and len(nonce) == 32 else None

    def _payload(self, token: str) -> dict[str, Any]:
        """What a valid token holds; InvalidToken when forged or past the links' lifetime,
        LinkExpired past its own shorter one."""
        now = int(self._clock())
        data = self._fernet.decrypt_at_time(token.encode(), self.ttl_s, now)
        payload: dict[str, Any] = json.loads(data)
        lifetime = payload.get("l")
        if isinstance(lifetime, int) and \
                now - self._fernet.extract_timestamp(token.encode()) > lifetime:
            raise LinkExpired("this sidebar link has expired")
        return payload

    def sidebar_context(self, request: HttpRequest) -> SidebarContext:
        """The customer a link names; Unauthorized when it is missing, forged or expired."""
        return self.read({**request.args, **request.form})

    def read(self, args: Mapping[str, str]) -> SidebarContext:
        """The context a sealed token (`t`) names, with the page's language (`lang`);
        LinkExpired for a genuine link past its lifetime."""
        token = args.get("t")
        if not token:
            raise Unauthorized("this sidebar link is incomplete")
        try:
            payload = self._payload(token)
        except InvalidToken as exc:
            raise self._refusal(token) from exc
        ids = Identifiers(tuple(payload["e"]), tuple(payload["p"]), tuple(payload["c"]),
                          tuple(payload.get("s", ())),
                          tuple((str(s), str(v)) for s, v in payload.get("x", ())))
        locale = args.get("lang")
        return SidebarContext(helpdesk=payload.get("h") or self.kind, identifiers=ids,
                              ticket_id=payload.get("t"),
                              locale=locale if locale in ("fr", "en") else None,
                              customer_id=payload.get("u"), agent=payload.get("a"),
                              role=payload.get("r"), ticket_helpdesk=payload.get("k"))

    def framed_by(self, token: str | None) -> str | None:
        """The helpdesk a genuine link was made for, even out of date (its page must still be
        framable there to say so); None for no link or a forged one."""
        if not token:
            return None
        try:
            data = self._fernet.decrypt(token.encode())
        except InvalidToken:
            return None
        helpdesk = json.loads(data).get("h")
        return helpdesk if isinstance(helpdesk, str) else None

    def _refusal(self, token: str) -> Unauthorized:
        """Why a token is refused: out of date when its seal is ours, else invalid."""
        try:
            self._fernet.extract_timestamp(token.encode())
        except InvalidToken:
            return Unauthorized("this sidebar link is invalid")
        return LinkExpired("this sidebar link has expired")


@cache
def record_frame_script() -> str:
    """The script a framing page inlines to keep the record's link fresh (record_frame.js)."""
    return (files("connector.helpdesk") / "templates" / RECORD_FRAME_SCRIPT).read_text("utf-8")
