"""Zendesk's sidebar: the signed-URL POST, then our own short session, then the requester that
Zendesk's SDK reads in the agent's browser.

1. Zendesk POSTs the app's location URL (query `origin`, `app_guid`) with a form field `token`,
   an RS256 JWT. We check it with the app's public key (signature, `exp`/`iat`, `aud`, `iss`,
   `context`) and answer with a small page of ours that keeps `origin`/`app_guid` in its URL,
   loads the ZAF SDK and carries a session token sealed here (zendesk_session.py: bound to the
   subdomain, refused after `session_ttl_s`, renewed with every answer below until
   `session_max_s` after the JWT was issued).
2. The page asks Zendesk (`client.get`) for the ticket's requester (`user` in the user
   sidebar) and POSTs its emails, phones, X and Facebook handles (`twitter:…`, `facebook:…`,
   from the user's `identities`), `externalId` (read as `external_id_source`'s own id) and
   Zendesk id with the session as JSON; we answer `{"url", "ttl_s", "session", "renewed"}`:
   the sealed link of the record, which the page opens in a frame of its own, and the renewed
   session. It stays connected to Zendesk, so a change of requester
   (`ticket.requester.email.changed`, `ticket.requester.id.changed`) opens the new record.
3. Before the link expires (record_frame.js) the page POSTs the same with `renew`, the token
   the frame shows: while it is valid we seal its record again (the person the agent chose
   stays), else the requester's; the record takes the new token in place.

Who is looking (agents.py): the agent the JWT names (its `sub`, *unconfirmed*) is kept in the
session, never taken from the page's POST; each record link is sealed for them, with the role
the REST API gives (kept `role_ttl_s`) through the entry's `roles`/`agent_roles`. A frame's
token is renewed only while it names the same agent and role; else the requester's record is
sealed anew for them.

Trust: the JWT proves Zendesk opened the page for this account; the identifiers of step 2 come
from the agent's browser and are believed because the session says an agent of this account
asked. Whoever holds a valid session can therefore forge a requester and see that customer:
an agent of the account, who can already search anyone in the sidebar. Never more: without a
session (missing, forged, expired, another subdomain) every request is a 401. No cookie is
set: the session lives in the page and travels in request bodies only.

Unconfirmed (HELPDESKS.md): the `identities` of the ZAF user object (read when present), the
user sidebar's change event (`user.email.changed`).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from connector.helpdesk.base import (
    HttpRequest,
    Reply,
    SidebarContext,
    Unauthorized,
    json_reply,
    lenient_identifiers,
    loads,
    require_secret,
)
from connector.helpdesk.config import secret
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.pages import render_page
from connector.helpdesk.zendesk.agents import AgentDirectory, agent_id_of
from connector.helpdesk.zendesk.config import Config
from connector.helpdesk.zendesk.session import open_session, renew_session, seal_session
from connector.i18n import LOCALES, text, texts_for

log = logging.getLogger(__name__)

HELPDESK = "zendesk"
KEY_VARIABLE = "ZENDESK_APP_PUBLIC_KEY"
LOCATIONS = ("ticket_sidebar", "user_sidebar")
LEEWAY_S = 60  # clock drift tolerated on the JWT's exp/iat
TIMEOUT_MS = 5000  # the page's wait for Zendesk and for us, as the SDK's own calls
MAX_BODY = 16_384
MAX_VALUES = 10  # emails, phones or handles of one requester
# query parameters Zendesk gives the page, without which its SDK will not start
KEPT = {"origin": re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?"),
        "app_guid": re.compile(r"[A-Za-z0-9-]{1,64}")}
# what PyJWT refused, said for the admin (subclasses before their parents)
REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the signed-URL token has expired (Zendesk makes a new one each "
                                "time the app loads: reload the apps)"),
    (jwt.ImmatureSignatureError, "the signed-URL token is not valid yet (is this server's "
                                 "clock right?)"),
    (jwt.InvalidAudienceError, "the signed-URL token is for another app installation than {aud}"),
    (jwt.InvalidIssuerError, "the signed-URL token was not issued by {iss}"),
    (jwt.InvalidAlgorithmError, "the signed-URL token is not signed with RS256"),
    (jwt.InvalidSignatureError, "the signed-URL token's signature does not match the key in "
                                f"{KEY_VARIABLE}"),
    (jwt.DecodeError, "the signed-URL token is not a JWT"),
)


def sidebar_context(config: Config, deps: HelpdeskDeps, request: HttpRequest,
                    agents: AgentDirectory | None = None) -> Reply:
    """Zendesk's signed POST → our page; that page's JSON POST → the record's sealed link,
    for the agent the session names (`agents`: their role; without, only `agent_roles`)."""
    public_key = require_secret(secret(config.app_public_key), KEY_VARIABLE)
    keep = kept_parameters(request.args)
    if request.method == "POST" and "json" in request.headers.get("Content-Type", ""):
        directory = agents or AgentDirectory(config, None, deps.clock)
        return _record_link(config, deps, request.body, keep, directory)
    claims = verify_token(config, public_key, request.form.get("token"))
    return _page(config, deps, request.path, keep, claims)


def verify_token(config: Config, public_key: bytes, token: str | None) -> dict[str, Any]:
    """The claims of Zendesk's signed-URL JWT; Unauthorized saying why it cannot be trusted."""
    if not token:
        raise Unauthorized("the request carries no signed-URL token: open the app from Zendesk "
                           "(its manifest must set signedUrls)")
    if not config.subdomain:
        raise Unauthorized("helpdesks.zendesk.subdomain is not set: the token's issuer cannot "
                           "be checked")
    issuer = f"{config.subdomain}.zendesk.com"
    audience = config.app_audience
    try:
        claims: dict[str, Any] = jwt.decode(
            token, _rsa_key(public_key), algorithms=["RS256"], issuer=issuer, audience=audience,
            leeway=LEEWAY_S,
            # `sub` is read (and checked) by agents.py in either reading: PyJWT's own check
            # would refuse the whole token for a numeric one
            options={"require": ["exp", "iat", "iss", "aud"], "verify_aud": audience is not None,
                     "verify_sub": False})
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"the signed-URL token has no '{exc.claim}' claim") from exc
    except jwt.PyJWTError as exc:
        reason = next((text for kind, text in REFUSALS if isinstance(exc, kind)),
                      "the signed-URL token was refused")
        raise Unauthorized(reason.format(aud=audience or _installation(config.subdomain, "<id>"),
                                         iss=issuer)) from exc
    if audience is None:
        _check_audience(claims["aud"], config.subdomain)
    _check_context(claims.get("context"))
    return claims


def kept_parameters(args: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Zendesk's `origin` and `app_guid`, when well-formed, to keep in every URL of ours."""
    return tuple((name, args[name]) for name, shape in KEPT.items()
                 if name in args and shape.fullmatch(args[name]))


def _record_link(config: Config, deps: HelpdeskDeps, body: bytes,
                 keep: tuple[tuple[str, str], ...], agents: AgentDirectory) -> Reply:
    """The sealed link of the record (the one the page shows, renewed while valid and made
    for the same agent and role, else the requester's the page read from Zendesk), for the
    session's agent, and the session renewed."""
    try:
        asked = loads(body) if len(body) <= MAX_BODY else None
    except (ValueError, RecursionError):
        asked = None
    if not isinstance(asked, dict):
        asked = {}
    session = open_session(config, deps, asked.get("session"))
    agent, role = agents.agent(session.agent_id)
    renewed = deps.links.renew(asked.get("renew"))
    if renewed is not None and _looking(deps, renewed) != (agent, role):
        renewed = None  # made for someone else, or before their role changed
    token = renewed or _requester_token(config, deps, asked, agent, role)
    lang = asked.get("lang") if isinstance(asked.get("lang"), str) else None
    url = deps.links.url("", token, lang if lang in LOCALES else None, keep=dict(keep))
    answer = {"url": url, "ttl_s": deps.links.ttl_s, "renewed": renewed is not None,
              "session": renew_session(config, deps, session)}
    return json_reply(200, answer)


def _looking(deps: HelpdeskDeps, token: str) -> tuple[str | None, str | None]:
    """(agent, role) a token of ours was sealed for."""
    context = deps.links.read({"t": token})
    return context.agent, context.role


def _requester_token(config: Config, deps: HelpdeskDeps, asked: Mapping[str, Any],
                     agent: str | None, role: str | None) -> str:
    """A new sealed token for the requester the page read from Zendesk (the search without
    one), for this agent in this role."""
    ids = lenient_identifiers(deps.region, emails=_strings(asked.get("emails")),
                              phones=_strings(asked.get("phones")),
                              handles=_strings(asked.get("handles")),
                              externals=[(config.external_id_source, asked.get("external_id"))])
    ticket = _zendesk_id(asked.get("ticket_id"))
    log.info("zendesk sidebar: requester %s on ticket %s",
             _zendesk_id(asked.get("user_id")) or "-", ticket or "-")
    return deps.links.seal(SidebarContext(HELPDESK, ids, ticket_id=ticket, agent=agent,
                                          role=role))


def _page(config: Config, deps: HelpdeskDeps, path: str, keep: tuple[tuple[str, str], ...],
          claims: Mapping[str, Any]) -> Reply:
    """Our page inside Zendesk's frame: the SDK, the session, and a frame for the record."""
    nonce = secrets.token_urlsafe(16)
    location = claims["context"]["location"]
    agent_id = agent_id_of(claims, config.subdomain)
    page = {"session": seal_session(config, deps, location, int(claims["iat"]), agent_id),
            "session_ttl_s": config.session_ttl_s, "location": location,
            "action": f"{path}?{urlencode(keep)}" if keep else path,
            "timeout_ms": TIMEOUT_MS,
            "texts": {locale: texts_for("zendesk_page", locale) for locale in LOCALES}}
    html = render_page("zendesk_sidebar.html", nonce=nonce, sdk_url=config.sdk_url, page=page,
                       title=text("zendesk_page.title", "en"))
    return Reply(200, html, nonce=nonce, script_src=(config.sdk_url,), frame_src=("'self'",))


def _check_audience(audience: object, subdomain: str) -> None:
    """Without a configured audience: one of this account's app installations."""
    shape = re.compile(rf"https://{re.escape(subdomain)}\.zendesk\.com/api/v2/apps/"
                       r"installations/\d+\.json")
    given = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and shape.fullmatch(a) for a in given):
        raise Unauthorized("the signed-URL token is for another app installation than "
                           f"{_installation(subdomain, '<id>')}")


def _check_context(context: object) -> None:
    """The token must open a Support ticket or user sidebar."""
    product = context.get("product") if isinstance(context, dict) else None
    location = context.get("location") if isinstance(context, dict) else None
    if product != "support" or location not in LOCATIONS:
        raise Unauthorized(f"the signed-URL token is for {product}/{location}, not a Support "
                           "ticket_sidebar or user_sidebar")


def _installation(subdomain: str, installation: str) -> str:
    return f"https://{subdomain}.zendesk.com/api/v2/apps/installations/{installation}.json"


@lru_cache(maxsize=4)
def _rsa_key(pem: bytes) -> RSAPublicKey:
    """The configured key; a PEM pasted in an env file may carry literal `\\n`."""
    try:
        key = load_pem_public_key(pem.replace(b"\\n", b"\n").strip())
    except ValueError as exc:
        raise Unauthorized(f"{KEY_VARIABLE} is not a PEM public key") from exc
    if not isinstance(key, RSAPublicKey):
        raise Unauthorized(f"{KEY_VARIABLE} is not an RSA public key (Zendesk signs RS256)")
    return key


def _strings(values: object) -> list[str | None]:
    """At most MAX_VALUES short strings from a JSON list (anything else is dropped)."""
    if not isinstance(values, list):
        return []
    kept: list[str | None] = [v for v in values if isinstance(v, str) and len(v) <= 254]
    return kept[:MAX_VALUES]


def _zendesk_id(value: object) -> str | None:
    text = str(value) if isinstance(value, int | str) else ""
    return text if text.isdigit() and len(text) <= 20 else None
