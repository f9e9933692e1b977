"""Who is looking in Zendesk's sidebar: the agent Zendesk's signed-URL JWT names, and their role
as the REST API tells it, kept `role_ttl_s`.

The agent's id is read from the verified JWT only (never from our page's JSON POST, which the
agent's browser composes) and kept in our signed session (session.py), so every record link the
page obtains names them. *Unconfirmed* (HELPDESKS.md lists `iss`, `aud`, `exp`, `iat` and
`context`): the claim naming the user. We read `sub` in both shapes seen described: a bare id
(`12345`, or its digits as text) or the user's API address
(`https://{subdomain}.zendesk.com/api/v2/users/{id}.json`, this account's subdomain only).
Any other shape names nobody: the record is then for no agent, who sees only what is kept for
no role.

With the REST API configured (api_email, ZENDESK_API_TOKEN), Show User gives the agent's
`email`, `name`, `role` (`end-user`, `agent`, `admin`) and `custom_role_id` (Enterprise custom
roles, whose `role` is `agent`): the agent is named by their email (else their name), and the
entry's `roles` maps the custom role's id, else the role. Without the API, or when it fails,
the agent is `zendesk user {id}` and only `agent_roles` (by id) gives them a role.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.helpdesk.base import RateLimited, WriteBackFailed, agent_name
from connector.helpdesk.zendesk.api import ZendeskApi
from connector.helpdesk.zendesk.config import Config

log = logging.getLogger(__name__)

USER_URL = re.compile(r"https://([a-z0-9][a-z0-9-]{0,62})\.zendesk\.com/api/v2/users/"
                      r"(\d{1,20})\.json")
FAILURE_TTL_S = 30.0  # a failed look-up is not tried again for this long (the link waits)
LOOKUP_TIMEOUT_S = (2.0, 3.0)  # connect, read: within the page's 5 s wait for our answer


def agent_id_of(claims: Mapping[str, Any], subdomain: str | None) -> str | None:
    """The Zendesk user id the verified JWT's `sub` names, in either reading; None when it
    names nobody we can tell."""
    sub = claims.get("sub")
    if isinstance(sub, int) and not isinstance(sub, bool) and 0 < sub < 10 ** 20:
        return str(sub)
    if not isinstance(sub, str):
        return None
    text = sub.strip()
    if text.isdigit() and len(text) <= 20:
        return text
    found = USER_URL.fullmatch(text)
    return found.group(2) if found and found.group(1) == subdomain else None


@dataclass(frozen=True)
class Seen:
    """What Zendesk said of one user, until when we keep it."""

    until: float
    email: str | None = None
    name: str | None = None
    role: str | None = None
    custom_role_id: str | None = None


class AgentDirectory:
    """The agents the sidebar's sessions name: their name and our role for them."""

    def __init__(self, config: Config, api: ZendeskApi | None,
                 clock: Callable[[], float]) -> None:
        self.config = config
        self.api = api
        self.clock = clock
        self._seen: dict[str, Seen] = {}
        self._lock = threading.Lock()

    def agent(self, user_id: str | None) -> tuple[str | None, str | None]:
        """(agent, our role) for the user a session names; (None, None) for none."""
        if user_id is None:
            return None, None
        seen = self._user(user_id)
        name = agent_name(seen.email, seen.name) or f"zendesk user {user_id}"
        role = self.config.role_of(seen.role, agent=(user_id, seen.email),
                                   finer=(seen.custom_role_id,))
        return name, role

    def _user(self, user_id: str) -> Seen:
        """What Zendesk says of this user, read at most once per `role_ttl_s`."""
        now = self.clock()
        with self._lock:
            seen = self._seen.get(user_id)
        if seen is not None and now < seen.until:
            return seen
        seen = self._read(user_id, now)
        with self._lock:
            if len(self._seen) > 10_000:  # agents of one account: far fewer; never unbounded
                self._seen.clear()
            self._seen[user_id] = seen
        return seen

    def _read(self, user_id: str, now: float) -> Seen:
        if self.api is None:
            return Seen(until=now + self.config.role_ttl_s)
        try:
            user = self.api.user(user_id, timeout=LOOKUP_TIMEOUT_S)
        except (WriteBackFailed, RateLimited) as exc:
            log.warning("zendesk sidebar: the role of agent %s could not be read: %s", user_id,
                        exc)
            return Seen(until=now + min(FAILURE_TTL_S, self.config.role_ttl_s))
        custom = user.get("custom_role_id")
        email = _text(user.get("email"))
        return Seen(until=now + self.config.role_ttl_s, email=email.lower() if email else None,
                    name=_text(user.get("name")), role=_text(user.get("role")),
                    custom_role_id=str(custom) if isinstance(custom, int | str) and
                    not isinstance(custom, bool) and str(custom) else None)


def _text(value: object) -> str | None:
    """A string field of Zendesk's answer, stripped; None when absent or empty."""
    text = value.strip() if isinstance(value, str) else ""
    return text or None
