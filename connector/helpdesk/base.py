"""What a helpdesk adapter gives the rest of the service, and what it is given.

Adapters never import Flask: they take an `HttpRequest` (headers, bytes, mappings) and return
models (`SidebarContext`, `TicketEvent`) or a ready `Reply`, so they are testable alone and
reusable from jobs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from connector.helpdesk.social import RawHandle, social_handle
from connector.identifiers import Identifiers, normalise
from connector.retry import retry_after_s

EXTERNAL_ID_MAX = 64  # the longest external id taken: a customer number, not a document
RawExternal = tuple[str | None, object]  # (the manifest source it names, the raw value)


class Unauthorized(Exception):
    """A request we cannot trust: bad or stale signature, expired link. Answered with a 401."""

    def __init__(self, public: str) -> None:
        super().__init__(public)
        self.public = public


class BadEvent(ValueError):
    """A signed event we cannot read (not JSON, no ticket): answered with a 400, not retried."""


class RateLimited(Exception):
    """The helpdesk asked us to slow down (HTTP 429): try again after `retry_after_s`."""

    def __init__(self, retry_after_s: float, endpoint: str = "") -> None:
        super().__init__(f"rate limited on {endpoint or 'the API'}: retry in {retry_after_s}s")
        self.retry_after_s = retry_after_s
        self.endpoint = endpoint


class WriteBackFailed(Exception):
    """A write-back the helpdesk refused or could not take; `permanent` ones are not retried."""

    def __init__(self, public: str, permanent: bool = False) -> None:
        super().__init__(public)
        self.public = public
        self.permanent = permanent


class Headers(Mapping[str, str]):
    """Request headers, looked up without regard to case (as HTTP says)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): v for k, v in (items or {}).items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items


@dataclass(frozen=True)
class HttpRequest:
    """A request as an adapter sees it: no framework, the raw body kept for signatures."""

    method: str = "GET"
    path: str = "/"
    args: Mapping[str, str] = field(default_factory=dict)  # the query string
    form: Mapping[str, str] = field(default_factory=dict)  # a form-encoded body
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    cookies: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        """A parameter from the form, else from the query string."""
        return self.form.get(name) or self.args.get(name)


@dataclass(frozen=True)
class Reply:
    """A ready answer an adapter gives instead of a context (a JSON fragment, a shell page).
    HTML replies get the adapter's framing policy and the usual security headers."""

    status: int
    body: str
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    nonce: str | None = None  # the CSP nonce of the reply's inline script, if it has one
    # what else the page may load, added to its CSP: scripts beside the nonce'd one (Zendesk's
    # SDK), frames it opens (our own record page: "'self'")
    script_src: tuple[str, ...] = ()
    frame_src: tuple[str, ...] = ()


@dataclass(frozen=True)
class SidebarContext:
    """Who the helpdesk asks about, once the request is authenticated."""

    helpdesk: str
    identifiers: Identifiers
    ticket_id: str | None = None
    locale: str | None = None
    customer_id: str | None = None
    # query parameters the helpdesk's page needs kept through our redirect (Zendesk: origin,
    # app_guid, without which its SDK will not start)
    keep: tuple[tuple[str, str], ...] = ()
    # the helpdesk inserts the fragment into its own page and keeps a <style> and a <title>
    # in it (FreeScout): the fragment brings its scoped style and the panel's title
    styled: bool = False
    title: str | None = None  # that panel title (the brand's name when None)
    # who is looking, as the helpdesk vouches for them (its signed context, or the sealed link
    # it made): what they may change from the record (`roles:` of writes and actions), and
    # whom the audit names
    agent: str | None = None
    role: str | None = None
    # the helpdesk the ticket belongs to, when not the one that framed the page (an `embed`
    # link made for a Zendesk ticket): where an action's note on the ticket goes
    ticket_helpdesk: str | None = None

    @property
    def ticket_of(self) -> str:
        """The helpdesk whose ticket `ticket_id` is."""
        return self.ticket_helpdesk or self.helpdesk


EventKind = Literal["ticket.created", "ticket.updated", "message.created", "customer.updated",
                    "other"]


@dataclass(frozen=True)
class TicketEvent:
    """One helpdesk event, as every adapter reports it.

    `key` is the idempotency key: the delivery or event id the helpdesk reuses on retries,
    else a digest of the raw body. `new_request` events are recorded in the customer's history
    as a contact (one per ticket); every event warms the cache and refreshes the flags.
    """

    helpdesk: str
    key: str
    kind: EventKind
    identifiers: Identifiers
    ticket_id: str | None = None
    requester_id: str | None = None  # the helpdesk's own id of the customer (for write-back)
    channel: str | None = None  # email, chat, phone, web, social…
    subject: str | None = None
    occurred_at: dt.datetime | None = None
    new_request: bool = False


@dataclass(frozen=True)
class WriteBack:
    """What we tell a helpdesk about its customer: our tags (the full set we want, all
    starting with `tag_prefix`: the adapter removes ours that no longer hold), fields, and an
    optional internal note on a ticket. Pending changes to one target are merged. With
    `new_ticket_subject`, a new ticket is opened for the requester, the note its private
    first message (only adapters with `opens_tickets = True`; such a change is never merged)."""

    helpdesk: str
    requester_id: str | None = None
    ticket_id: str | None = None
    tags: tuple[str, ...] = ()
    tag_prefix: str = "connector_"
    fields: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    new_ticket_subject: str | None = None
    # a note only (an action's outcome): our tags on the target are left as they are, not
    # replaced by this change's (none)
    keeps_tags: bool = False
    # the person was forgotten: every tag we own on the target goes and our fields are
    # emptied, whatever write_back's `tags`/`fields` say now (an earlier setting wrote them)
    erases: bool = False


@dataclass(frozen=True)
class Limits:
    """How fast one helpdesk may be written to: `calls` per `per_s` seconds overall, and one
    change per target every `target_interval_s` seconds."""

    calls: int = 60
    per_s: float = 60.0
    target_interval_s: float = 12.0


class SidebarHelpdesk(Protocol):
    """A helpdesk that shows our sidebar: it turns an authenticated request into a context,
    or answers itself (Help Scout's `{"html": …}`, a page that asks the helpdesk who this is)."""

    kind: str
    frame_ancestors: tuple[str, ...]

    def sidebar_context(self, request: HttpRequest) -> SidebarContext | Reply:
        """The context of a sidebar request; raise Unauthorized when it cannot be trusted."""
        ...


class Helpdesk(SidebarHelpdesk, Protocol):
    """A helpdesk that also sends us signed events and takes our write-backs."""

    def verify(self, headers: Headers, body: bytes) -> None:
        """Raise Unauthorized unless the request is signed with the configured secret."""
        ...

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        """The event a verified request carries; None for events we do not use; BadEvent for
        a body we cannot read."""
        ...

    def write_back(self, change: WriteBack) -> None:
        """Apply a change through the helpdesk's API; RateLimited or WriteBackFailed."""
        ...


SUMMARY_BYTES = 120  # what Guzzle (FreeScout's HTTP client) keeps of an error answer's body


def first_line(reason: str) -> str:
    """`connector: <reason>` as the first line of an error answer a helpdesk's server may cut
    short: one line of ASCII (a cut inside a multibyte character makes Guzzle drop it all),
    shorter than SUMMARY_BYTES."""
    line = " ".join(f"connector: {reason}".split()).encode("ascii", "replace").decode()
    return line if len(line) < SUMMARY_BYTES else line[:SUMMARY_BYTES - 4] + "..."


def server_refusal(status: int, reason: str) -> Reply:
    """An error answer for a helpdesk's server that shows its admin only the body's first
    bytes (FreeScout's module): the short plain line first, then the reason in full."""
    return Reply(status, f"{first_line(reason)}\n\n{reason}\n",
                 content_type="text/plain; charset=utf-8")


def require_secret(secret: str | None, variable: str) -> bytes:
    """The configured secret as bytes; Unauthorized (never accept unsigned) when it is unset."""
    if not secret:
        raise Unauthorized(f"this adapter has no secret configured: set {variable}")
    return secret.encode()


def check_hmac(expected: bytes | str, given: str | None, what: str = "signature") -> None:
    """Compare a computed signature with the one sent, in constant time."""
    if not given:
        raise Unauthorized(f"the request carries no {what}")
    want = expected.decode() if isinstance(expected, bytes) else expected
    if not hmac.compare_digest(want.encode(), given.strip().encode()):
        raise Unauthorized(f"the {what} does not match")


def hmac_b64(secret: bytes, message: bytes, digest: str = "sha256") -> str:
    """base64 of HMAC(secret, message)."""
    return base64.b64encode(hmac.new(secret, message, digest).digest()).decode()


def hmac_hex(secret: bytes, message: bytes, digest: str = "sha256") -> str:
    """Hex HMAC(secret, message)."""
    return hmac.new(secret, message, digest).hexdigest()


def check_fresh(sent: dt.datetime, now: dt.datetime, window_s: int) -> None:
    """Refuse a signed timestamp outside the replay window (either way: clocks drift)."""
    if abs((now - sent).total_seconds()) > window_s:
        raise Unauthorized("the signature's timestamp is outside the replay window")


AGENT_MAX = 80  # an agent's name, as sealed links keep it


def agent_name(*candidates: object) -> str | None:
    """The first usable name among what a helpdesk vouches for about the agent looking (an
    email, then a name): printable text on one line, at most AGENT_MAX characters."""
    for value in candidates:
        name = " ".join(value.split()) if isinstance(value, str) else ""
        if name and name.isprintable():
            return name if len(name) <= AGENT_MAX else name[:AGENT_MAX - 1] + "…"
    return None


def body_key(body: bytes) -> str:
    """An idempotency key for helpdesks that send no delivery id: the body's digest."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def lenient_identifiers(region: str, *, emails: list[str | None] | None = None,
                        phones: list[str | None] | None = None,
                        handles: Iterable[RawHandle] | None = None,
                        externals: Iterable[RawExternal] | None = None) -> Identifiers:
    """Identifiers from an event's raw values; unusable ones are dropped, not fatal. Handles
    come as (network, name) pairs, `network:name` or a profile's address (social.py);
    externals as (source, id) pairs, dropped without a source (`external_id_source` unset)."""
    found_emails = [e for raw in emails or [] if raw and (e := normalise("email", raw, region))]
    found_phones = [p for raw in phones or [] if raw and (p := normalise("phone", raw, region))]
    found_handles = [h for raw in handles or [] if (h := social_handle(raw, region))]
    found_externals = [x for raw in externals or [] if (x := external_id(*raw))]
    return Identifiers(emails=tuple(dict.fromkeys(found_emails)),
                       phones=tuple(dict.fromkeys(found_phones)),
                       handles=tuple(dict.fromkeys(found_handles)),
                       externals=tuple(dict.fromkeys(found_externals)))


def external_id(source: str | None, raw: object) -> tuple[str, str] | None:
    """(source, id) of a contact's external id; None without a source or a usable value."""
    if not source or isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    value = str(raw).strip()
    if not value or len(value) > EXTERNAL_ID_MAX or "{{" in value or not value.isprintable():
        # a longer value is no id of ours; `{{…}}` a placeholder left unrendered; a NUL or a
        # line break no id at all (and no database keeps a NUL)
        return None
    return source, value


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(body: bytes) -> Any:
    """JSON from a request body (ValueError or RecursionError as `json.loads`), its lone
    surrogates mended to U+FFFD. A `\\ud800` escape is valid JSON (a helpdesk cutting text in
    UTF-16 sends one) but makes a string no encoder can write: it would fail later, where the
    text is stored, signed or compared, as a 500. `json` reads bytes with `surrogatepass`, so
    an encoded surrogate (UTF-8 `ED A0 80`, a lone UTF-16 unit) gives one too."""
    data = json.loads(body)
    if b"\\" not in body and _utf8(body):
        return data  # no escape and strict UTF-8 (which holds no surrogate): nothing to mend
    if isinstance(data, str):
        return LONE_SURROGATE.sub("\ufffd", data)
    pending = [data] if isinstance(data, dict | list) else []
    while pending:  # a loop, not recursion: the value may be nested as deep as json allows
        item = pending.pop()
        if isinstance(item, dict):
            mended = {LONE_SURROGATE.sub("\ufffd", k): v for k, v in item.items()}
            item.clear()
            item.update(mended)
            pairs: Iterable[tuple[Any, Any]] = item.items()
        else:
            pairs = enumerate(item)
        for place, value in list(pairs):
            if isinstance(value, str) and LONE_SURROGATE.search(value):
                item[place] = LONE_SURROGATE.sub("\ufffd", value)
            elif isinstance(value, dict | list):
                pending.append(value)
    return data


def _utf8(body: bytes) -> bool:
    """Whether the body is strict UTF-8."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def json_object(body: bytes) -> dict[str, Any]:
    """A webhook body as a JSON object, or BadEvent saying why not."""
    try:
        data = loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadEvent("the webhook body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadEvent("the webhook body is not a JSON object")
    return data


def iso_moment(value: Any) -> dt.datetime | None:
    """An ISO 8601 time (`2024-04-17T17:18:10Z`, with an offset, or naive meaning UTC), aware;
    None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace(" UTC", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def json_reply(status: int, data: Mapping[str, Any]) -> Reply:
    """A JSON answer to a helpdesk's sidebar call."""
    return Reply(status, json.dumps(data, ensure_ascii=False),
                 content_type="application/json; charset=utf-8")


def retry_after(value: str | None, default_s: float = 60.0) -> float:
    """How long a helpdesk's 429 asks us to wait: its Retry-After (seconds or an HTTP date, at
    most an hour, at least a second), else `default_s`."""
    wait = retry_after_s(value.strip() if value else None)
    return max(wait, 1.0) if wait is not None else default_s
