"""Zendesk's REST API v2, as the adapter uses it: who a requester is (all their emails,
phones, X and Facebook identities) and the write-back of our tags, user fields and internal notes.

Authentication is an agent's email and an API token (`{email}/token:{token}`, HTTP basic).
Every failure is classified here, once: 429 → `RateLimited` (its `Retry-After`), other 4xx →
`WriteBackFailed(permanent=True)` with a message the admin can act on, 5xx and timeouts →
`WriteBackFailed` to retry. Messages never carry the token or customer data.

Endpoints (developer.zendesk.com, Support API): Show User `GET /api/v2/users/{id}.json`;
Show Many Users `GET /api/v2/users/show_many.json?ids=…&include=identities`; Tags API on
users `PUT /api/v2/users/{id}/tags.json` (adds) and `DELETE …/tags.json` (removes; it needs
"tagging of users and organizations" enabled under Admin Center → People → Configuration);
Update User `PUT /api/v2/users/{id}.json` (user_fields are merged by key); Show Ticket and
Update Ticket `PUT /api/v2/tickets/{id}.json` (`comment` with `public: false` is an internal
note; `additional_tags` / `remove_tags` change tags without replacing the others); List
Comments `GET /api/v2/tickets/{id}/comments.json` (oldest first, 100 a page); Create
Ticket `POST /api/v2/tickets.json` (`requester_id`, `subject`, a first `comment` with
`public: false`, `tags`; 201 with the ticket; no idempotency key).
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from connector.helpdesk.base import (
    RateLimited,
    WriteBackFailed,
    retry_after,
)
from connector.helpdesk.zendesk.webhooks import identities_of
from connector.identifiers import Identifiers

log = logging.getLogger(__name__)
TIMEOUT_S = (3.05, 10.0)  # connect, read


class ZendeskRefused(WriteBackFailed):
    """Zendesk answered with an error status (kept, to tell a missing record apart)."""

    def __init__(self, public: str, status: int, permanent: bool = True) -> None:
        super().__init__(public, permanent)
        self.status = status


class ZendeskApi:
    """A small client of one Zendesk account's REST API."""

    def __init__(self, base_url: str, email: str, token: str,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.auth = (f"{email}/token", token)
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "connector (customer sidebar)"})

    # --- reading -------------------------------------------------------------------------
    def user(self, user_id: str,
             timeout: tuple[float, float] | None = None) -> dict[str, Any]:
        """The user's record (tags, user_fields, primary email and phone, role); `timeout`
        shorter than the client's own when someone waits for the answer."""
        return dict(self._call("GET", f"/api/v2/users/{_id(user_id)}.json",
                               **({"timeout": timeout} if timeout else {})).get("user") or {})

    def identities(self, user_id: str, region: str,
                   external_source: str | None = None) -> Identifiers:
        """Every email, phone, X (Twitter) and Facebook identity Zendesk knows for a user (the
        primary email and phone too, and their `external_id` as `external_source`'s own id);
        empty when the user no longer exists."""
        try:
            found = self._call("GET", "/api/v2/users/show_many.json",
                               params={"ids": _id(user_id), "include": "identities"})
        except ZendeskRefused as exc:
            if exc.status == 404:
                return Identifiers()
            raise
        identities = [i for i in found.get("identities") or []
                      if isinstance(i, dict) and str(i.get("user_id")) == str(user_id)]
        users = [u for u in found.get("users") or []
                 if isinstance(u, dict) and str(u.get("id")) == str(user_id)]
        return identities_of(identities, region, emails=[u.get("email") for u in users],
                             phones=[u.get("phone") for u in users],
                             externals=[(external_source, u.get("external_id")) for u in users])

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        """The ticket (its tags)."""
        return dict(self._call("GET", f"/api/v2/tickets/{_id(ticket_id)}.json").get("ticket")
                    or {})

    def comments(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's comments, oldest first (`public: false`: internal notes); the first
        page (100), which is all a ticket's recent notes need."""
        found = self._call("GET", f"/api/v2/tickets/{_id(ticket_id)}/comments.json")
        return [c for c in found.get("comments") or [] if isinstance(c, dict)]

    # --- writing -------------------------------------------------------------------------
    def add_user_tags(self, user_id: str, tags: list[str]) -> None:
        """Add tags to a user, keeping the others."""
        self._call("PUT", f"/api/v2/users/{_id(user_id)}/tags.json", json={"tags": tags})

    def remove_user_tags(self, user_id: str, tags: list[str]) -> None:
        """Remove these tags from a user, keeping the others."""
        self._call("DELETE", f"/api/v2/users/{_id(user_id)}/tags.json", json={"tags": tags})

    def update_user_fields(self, user_id: str, fields: dict[str, str | None]) -> None:
        """Set some of a user's custom fields (by key; None empties one); the others are left
        as they are."""
        self._call("PUT", f"/api/v2/users/{_id(user_id)}.json",
                   json={"user": {"user_fields": fields}})

    def update_ticket(self, ticket_id: str, *, note: str | None = None,
                      add_tags: list[str] | None = None,
                      remove_tags: list[str] | None = None) -> None:
        """One ticket update: an internal note and tag changes."""
        ticket: dict[str, Any] = {}
        if note:
            ticket["comment"] = {"body": note, "public": False}
        if add_tags:
            ticket["additional_tags"] = add_tags
        if remove_tags:
            ticket["remove_tags"] = remove_tags
        if ticket:
            self._call("PUT", f"/api/v2/tickets/{_id(ticket_id)}.json", json={"ticket": ticket})

    def create_ticket(self, requester_id: str, subject: str, note: str,
                      tags: list[str]) -> str | None:
        """Open a ticket for this requester, its first comment an internal note; its id."""
        ticket: dict[str, Any] = {"requester_id": int(_id(requester_id)), "subject": subject,
                                  "comment": {"body": note, "public": False}}
        if tags:
            ticket["tags"] = tags
        made = self._call("POST", "/api/v2/tickets.json", json={"ticket": ticket})
        created = made.get("ticket")
        return str(created["id"]) if isinstance(created, dict) and "id" in created else None

    # --- the one place failures are classified --------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        endpoint = f"{method} {_shape(path)}"
        try:
            response = self.session.request(method, self.base_url + path,
                                            **{"timeout": TIMEOUT_S, **kwargs})
        except requests.Timeout as exc:
            raise WriteBackFailed(f"Zendesk did not answer in time ({endpoint})") from exc
        except requests.RequestException as exc:
            raise WriteBackFailed(f"Zendesk could not be reached ({endpoint}): "
                                  f"{type(exc).__name__}") from exc
        status = response.status_code
        if status == 429:
            raise RateLimited(retry_after(response.headers.get("Retry-After")), endpoint)
        if status >= 500:
            raise _failed(f"Zendesk failed ({status}) on {endpoint}", status, permanent=False)
        if status in (401, 403):
            raise _failed(f"Zendesk refused the API credentials ({status}) on {endpoint}: "
                          "check helpdesks.zendesk.api_email, ZENDESK_API_TOKEN and the "
                          "agent's role", status)
        if status == 404:
            raise _failed(f"Zendesk has no such record ({endpoint})", status)
        if status >= 400:
            raise _failed(f"Zendesk rejected {endpoint} ({status}): {_reason(response)}",
                          status)
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


def _failed(public: str, status: int, permanent: bool = True) -> ZendeskRefused:
    log.warning("zendesk api: %s", public)
    return ZendeskRefused(public, status, permanent)


def _reason(response: requests.Response) -> str:
    """Zendesk's error name and description (never the record's values)."""
    try:
        body = response.json()
    except ValueError:
        return "no details"
    if not isinstance(body, dict):
        return "no details"
    error = body.get("error")
    if isinstance(error, dict):  # {"error": {"title": …, "message": …}}
        return str(error.get("title") or error.get("message") or "error")[:120]
    parts = [str(p) for p in (error, body.get("description")) if p]
    return (": ".join(parts) or "no details")[:120]


def _id(value: str) -> str:
    """A Zendesk id as it goes in a path: digits only (never a path of our choosing)."""
    text = str(value).strip()
    if not text.isdigit():
        raise WriteBackFailed(f"not a Zendesk id: {text[:20]!r}", permanent=True)
    return text


def _shape(path: str) -> str:
    """The endpoint without its ids, for messages and logs."""
    return "/".join("{id}" if part.split(".")[0].isdigit() else part
                    for part in path.split("/"))
