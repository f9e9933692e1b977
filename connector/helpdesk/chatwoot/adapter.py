"""Chatwoot: the dashboard app (a tab beside the conversation showing the customer's record),
signed webhooks, and write-back of labels, contact attributes and private notes.

The dashboard app is a URL the admin pastes into Chatwoot (Settings → Integrations →
Dashboard apps). Chatwoot frames it and posts the conversation's context to it, unsigned: so
the URL itself carries our own app key (`k`): its expiry date (`app_key_days`, a year by
default) and an HMAC of this account, key version and date made with the service's secret key
(revoked by bumping `app_key_version`, or by rotating CONNECTOR_SECRET_KEY). With a
valid key `/helpdesk/chatwoot/sidebar` answers a small page that waits for Chatwoot's
`appContext` message (asking again with `chatwoot-dashboard-app:fetch-info`), POSTs the
contact's identifiers (its social accounts too, from `additional_attributes`) and the key back
here, and shows the sealed record page this returns in a frame of its own, replaced when
Chatwoot posts another conversation. Before that link expires the page asks again with
`renew`, the token its frame shows (record_frame.js): while it is valid the same record is
sealed anew, and the record takes it in place.

Who is looking: nobody we can vouch for. Chatwoot's `currentAgent` arrives in the same unsigned
message, and the page's POST is composed by the agent's browser: anyone holding the URL could
claim any agent. It is never read; the record is for no agent (only what is kept for no role
is offered), and the entry refuses `roles`/`agent_roles`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import logging
import secrets
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

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
    check_fresh,
    check_hmac,
    hmac_hex,
    json_reply,
    loads,
    require_secret,
)
from connector.helpdesk.chatwoot.api import ChatwootApi
from connector.helpdesk.chatwoot.webhooks import (
    KIND,
    EventReading,
    IdentifierUse,
    contact_identifiers,
    read_event,
)
from connector.helpdesk.config import AdapterConfig, secret
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.pages import render_page
from connector.i18n import LOCALES, texts_for

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://app.chatwoot.com"
NEVER = "never"  # the expiry of a key when `app_key_days` is 0
EXPIRY_WARNING = dt.timedelta(days=30)  # a key in use this close to its end is logged daily
SIDEBAR_PATH = f"/helpdesk/{KIND}/sidebar"
SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Chatwoot-Signature", "X-Chatwoot-Timestamp"


class Config(AdapterConfig):
    """`helpdesks.chatwoot` in the manifest (secrets from the environment)."""

    external_id_field: ClassVar[str | None] = "identifier"
    agentless: ClassVar[str] = ("the context Chatwoot gives a dashboard app (currentAgent) is "
                                "unsigned, so no agent is vouched for and no role can be "
                                "mapped")

    # where agents use Chatwoot: it frames our page, posts its context, serves the API
    base_url: str | None = None
    account_id: int | None = Field(default=None, ge=1)
    # webhooks: the secret Chatwoot shows for the webhook (Settings → Integrations → Webhooks)
    webhook_secret: SecretStr | None = None
    replay_window_s: int = Field(default=300, ge=30, le=3600)
    # write-back: an agent's access token (Profile settings → Access token)
    api_token: SecretStr | None = None
    # the dashboard app's key: bump to revoke every URL given out before
    app_key_version: int = Field(default=1, ge=1, le=1_000_000)
    # how long a dashboard app URL printed today stays valid (0: for ever, not advised)
    app_key_days: int = Field(default=365, ge=0, le=3650)
    # what a contact's `identifier` is: an email or phone when it reads as one, a loyalty card;
    # with `external_id_source` set (and `auto`), that source's own id
    identifier: IdentifierUse = "auto"
    channels: dict[str, str] = Field(default_factory=dict)  # channel type → channel, over ours

    @field_validator("base_url")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be Chatwoot's address, e.g. https://app.chatwoot.com")
        return value.strip().rstrip("/")

    @field_validator("identifier")
    @classmethod
    def _one_reading(cls, value: IdentifierUse, info: ValidationInfo) -> IdentifierUse:
        if value != "auto" and info.data.get("external_id_source"):
            raise ValueError("must be auto when external_id_source is set (the contact's "
                             "identifier is then that source's own id)")
        return value

    @property
    def address(self) -> str:
        """Chatwoot's base URL (Chatwoot's cloud unless set)."""
        return self.base_url or DEFAULT_BASE_URL

    @property
    def origin(self) -> str:
        """Chatwoot's web origin: who may frame us, whose messages we read."""
        parts = urlsplit(self.address)
        return f"{parts.scheme}://{parts.netloc}"


def app_key(secret_key: bytes, config: Config, today: dt.date | None = None) -> str:
    """The dashboard app's key for this account and key version: `<expiry>.<mac>`, the expiry
    `app_key_days` from today (`never` when that is 0)."""
    if config.app_key_days == 0:
        expires = NEVER
    else:
        day = today or dt.datetime.now(dt.UTC).date()
        expires = (day + dt.timedelta(days=config.app_key_days)).strftime("%Y%m%d")
    return f"{expires}.{_key_mac(secret_key, config, expires)}"


def key_expiry(secret_key: bytes, config: Config, given: str) -> dt.date | None:
    """The day a key given to us expires (None: never); Unauthorized when it is not one of
    ours, or no longer valid."""
    expires, _, mac = given.partition(".")
    if not hmac.compare_digest(_key_mac(secret_key, config, expires).encode(), mac.encode()):
        raise Unauthorized("this dashboard app's key is not (or no longer) valid: paste "
                           "the URL printed by `connector chatwoot-url`")
    if expires == NEVER:
        if config.app_key_days:
            raise Unauthorized("this dashboard app URL has no expiry date, and "
                               "`app_key_days` now asks for one: paste the URL printed by "
                               "`connector chatwoot-url`")
        return None
    day = dt.datetime.strptime(expires, "%Y%m%d").date()
    if day < dt.datetime.now(dt.UTC).date():
        raise Unauthorized(f"this dashboard app URL expired on {day.isoformat()}: paste a new "
                           "one, printed by `connector chatwoot-url`")
    return day


def _key_mac(secret_key: bytes, config: Config, expires: str) -> str:
    message = f"connector.chatwoot.dashboard-app.v{config.app_key_version}:" \
              f"{config.account_id or '-'}:{expires}"
    digest = hmac.new(secret_key, message.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def dashboard_url(public_url: str, secret_key: bytes, config: Config,
                  lang: str | None = None) -> str:
    """The URL to paste into Chatwoot as a dashboard app."""
    query = {"k": app_key(secret_key, config), **({"lang": lang} if lang else {})}
    return f"{public_url.rstrip('/')}{SIDEBAR_PATH}?{urlencode(query)}"


class Chatwoot:
    """The Chatwoot adapter."""

    kind = KIND
    # Chatwoot's own API throttling is generous: stay well under it, one change a target
    write_limits = Limits(calls=60, per_s=60.0, target_interval_s=2.0)

    def __init__(self, config: Config, deps: HelpdeskDeps) -> None:
        self.config = config
        self.deps = deps
        # 'self': the record's page is framed by our own dashboard-app page
        self.frame_ancestors = tuple(dict.fromkeys(
            [*(config.frame_ancestors or [config.origin]), "'self'"]))
        self.reading = EventReading(deps.region, config.identifier, dict(config.channels),
                                    config.account_id, config.external_id_source)
        self._api: ChatwootApi | None = None
        self._warned_on: dt.date | None = None

    # --- the dashboard app -----------------------------------------------------------------
    def sidebar_context(self, request: HttpRequest) -> Reply:
        """GET: the page that listens for Chatwoot's context; POST (from that page): the sealed
        record URL for the context's contact. Both need the app key."""
        if request.method == "POST":
            return self._sealed_url(request)
        self._check_key(request.args.get("k"))
        return self._page(request)

    def _check_key(self, given: Any) -> None:
        if not isinstance(given, str) or not given:
            raise Unauthorized("this dashboard app URL has no key: paste the URL printed by "
                               "`connector chatwoot-url`")
        expires = key_expiry(self.deps.secret_key, self.config, given)
        today = dt.datetime.now(dt.UTC).date()
        if expires is not None and expires - today < EXPIRY_WARNING and \
                self._warned_on != today:
            self._warned_on = today
            log.warning("the Chatwoot dashboard app URL in use expires on %s: paste a new one "
                        "(connector chatwoot-url) before then", expires.isoformat())

    def _page(self, request: HttpRequest) -> Reply:
        locale = _locale(request)
        nonce = secrets.token_urlsafe(16)
        texts = texts_for("chatwoot_page", locale)
        lang = request.args.get("lang")
        settings = {"origin": self.config.origin, "key": request.args["k"],
                    "endpoint": SIDEBAR_PATH, "lang": lang if lang in LOCALES else None,
                    "texts": texts}
        html = render_page("chatwoot_sidebar.html", lang=locale, nonce=nonce,
                           title=texts["title"], waiting=texts["waiting"], settings=settings)
        return Reply(200, html, nonce=nonce, frame_src=("'self'",))  # our record page

    def _sealed_url(self, request: HttpRequest) -> Reply:
        try:
            asked = loads(request.body or b"null")
        except (ValueError, RecursionError):
            asked = None
        if not isinstance(asked, dict):
            return json_reply(400, {"error": "expected a JSON object"})
        self._check_key(asked.get("k"))
        links = self.deps.links
        renewed = links.renew(asked.get("renew"))
        token = renewed or self._contact_token(asked)
        lang = asked.get("lang")
        locale = lang if isinstance(lang, str) and lang in LOCALES else None
        return json_reply(200, {"url": links.url("", token, locale), "ttl_s": links.ttl_s,
                                "renewed": renewed is not None})

    def _contact_token(self, asked: dict[str, Any]) -> str:
        """A new sealed token for the context's contact (the search without an identifier)."""
        ids = contact_identifiers(self.reading, asked.get("email"), asked.get("phone_number"),
                                  asked.get("identifier"), asked.get("additional_attributes"))
        conversation = str(asked.get("conversation") or "")
        return self.deps.links.seal(SidebarContext(
            KIND, ids, ticket_id=conversation if conversation.isdigit() else None))

    # --- webhooks --------------------------------------------------------------------------
    def verify(self, headers: Headers, body: bytes) -> None:
        """`X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`, its
        `X-Chatwoot-Timestamp` (epoch seconds) inside the replay window."""
        key = require_secret(secret(self.config.webhook_secret), "CHATWOOT_WEBHOOK_SECRET")
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise Unauthorized(f"the request carries no {SIGNATURE_HEADER}: Chatwoot signs "
                               "webhooks from version 4.11 on (upgrade, then copy the webhook's "
                               "secret into CHATWOOT_WEBHOOK_SECRET)")
        stamp = headers.get(TIMESTAMP_HEADER, "").strip()
        if not stamp.isdigit() or len(stamp) > 12:  # epoch seconds: no year past 9999
            raise Unauthorized(f"the request carries no valid {TIMESTAMP_HEADER}")
        check_hmac("sha256=" + hmac_hex(key, stamp.encode() + b"." + body), given)
        sent = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
        check_fresh(sent, dt.datetime.fromtimestamp(self.deps.clock(), dt.UTC),
                    self.config.replay_window_s)

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        """The event a verified delivery carries (`X-Chatwoot-Delivery` is its key)."""
        return read_event(self.reading, headers, body)

    # --- write-back ------------------------------------------------------------------------
    def write_back(self, change: WriteBack) -> None:
        """Labels on the conversation (or the contact), attributes on the contact, and a
        private note, through the application API."""
        self.api().write(change)

    def api(self) -> ChatwootApi:
        """The API client (WriteBackFailed, permanent, until the token and account are set)."""
        token = secret(self.config.api_token)
        if not token:
            raise WriteBackFailed("set CHATWOOT_API_TOKEN to write back to Chatwoot",
                                  permanent=True)
        if self.config.account_id is None:
            raise WriteBackFailed("set helpdesks.chatwoot.account_id to write back to Chatwoot",
                                  permanent=True)
        if self._api is None:
            self._api = ChatwootApi(self.config.address, self.config.account_id, token)
        return self._api


def build(config: Config, deps: HelpdeskDeps) -> Chatwoot:
    """The adapter for this manifest entry."""
    return Chatwoot(config, deps)


def _locale(request: HttpRequest) -> str:
    """The page's language: `lang`, else the agent's browser, else English."""
    asked = request.args.get("lang")
    if asked in LOCALES:
        return asked
    accepted = request.headers.get("Accept-Language", "").strip().lower()
    return "fr" if accepted.startswith("fr") else "en"
