"""Our Zendesk session: what the sidebar page works on once Zendesk's signed-URL JWT is checked.

A Fernet token, sealed with a key derived from the service's secret key, holding the account's
subdomain, the app's location, the JWT's issue time and the agent the JWT named (agents.py).
It is refused `session_ttl_s` after it was sealed; every record link the page obtains comes
with a renewed one (the same subdomain, location, start and agent, sealed now), so a ticket
kept open keeps working. Never past the start plus `session_max_s`, though: only Zendesk, when
the app loads again, can vouch for the agent anew.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from connector.helpdesk.base import Unauthorized
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.zendesk.config import Config


@dataclass(frozen=True)
class Session:
    """A session the page sent back, checked."""

    subdomain: str
    location: str  # ticket_sidebar or user_sidebar
    started: int  # the issue time of Zendesk's JWT that opened it (epoch seconds)
    agent_id: str | None = None  # the Zendesk user the JWT named: who is looking


def seal_session(config: Config, deps: HelpdeskDeps, location: str,
                 started: int | None = None, agent_id: str | None = None) -> str:
    """A session for this account, sealed now (`started`: the JWT's issue time, else now),
    for the agent the JWT named."""
    now = int(deps.clock())
    payload = {"s": config.subdomain, "l": location, "a": now if started is None else started,
               **({"g": agent_id} if agent_id else {})}
    data = json.dumps(payload, separators=(",", ":")).encode()
    return _fernet(deps.secret_key).encrypt_at_time(data, now).decode()


def open_session(config: Config, deps: HelpdeskDeps, token: object) -> Session:
    """The session a page sends back; Unauthorized when missing, forged, expired, foreign, or
    started more than `session_max_s` ago."""
    if not isinstance(token, str) or not token:
        raise Unauthorized("the request carries no Zendesk session: reload the apps")
    fernet = _fernet(deps.secret_key)
    now = int(deps.clock())
    try:
        data = fernet.decrypt_at_time(token.encode(), config.session_ttl_s, now)
    except InvalidToken as exc:
        raise Unauthorized("the Zendesk session is invalid or has expired: reload the apps"
                           ) from exc
    payload = json.loads(data)
    if payload.get("s") != config.subdomain:
        raise Unauthorized("this session was made for another Zendesk account")
    started = payload.get("a")
    if not isinstance(started, int):  # sealed before sessions were renewed: its own time
        started = fernet.extract_timestamp(token.encode())
    if now >= started + config.session_max_s:
        raise Unauthorized(f"the Zendesk session started more than session_max_s "
                           f"({config.session_max_s} s) ago: reload the apps")
    agent = payload.get("g")
    return Session(config.subdomain or "", str(payload.get("l") or ""), started,
                   agent if isinstance(agent, str) and agent.isdigit() else None)


def renew_session(config: Config, deps: HelpdeskDeps, session: Session) -> str:
    """The same session sealed now: another `session_ttl_s`, within `session_max_s`."""
    return seal_session(config, deps, session.location, session.started, session.agent_id)


@lru_cache(maxsize=4)
def _fernet(secret_key: bytes) -> Fernet:
    derived = hashlib.sha256(b"connector.zendesk.session.v1:" + secret_key).digest()
    return Fernet(base64.urlsafe_b64encode(derived))
