"""Chatwoot's application API, as the write-back uses it: labels on conversations and
contacts, contact custom attributes, private notes.

Authentication is a user's access token in the `api_access_token` header (Profile settings →
Access token). Endpoints (chatwoot/chatwoot `swagger/paths/application/…`):
`GET|POST /api/v1/accounts/{account}/conversations/{id}/labels` and `…/contacts/{id}/labels`
(`{"labels": […]}`; a POST *replaces* the whole list, and Chatwoot keeps only labels defined
under Settings → Labels; both answer `{"payload": […]}`), `PUT …/contacts/{id}` (its
`custom_attributes` are merged into the contact's), `POST …/conversations/{id}/messages`
(`private: true` is a note only agents see).

Every failure is classified here, once: 429 → `RateLimited` (its `Retry-After`, else a
minute), 401/403/404 and other 4xx → `WriteBackFailed(permanent=True)` with a message the
admin can act on, 5xx and network errors → `WriteBackFailed` to retry. Messages never carry
the token or customer data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests

from connector.helpdesk.base import (
    RateLimited,
    WriteBack,
    WriteBackFailed,
    retry_after,
)

log = logging.getLogger(__name__)
TIMEOUT_S = (3.05, 10.0)  # connect, read


class ChatwootApi:
    """A small client of one Chatwoot account's application API."""

    def __init__(self, base_url: str, account_id: int, token: str,
                 session: requests.Session | None = None) -> None:
        self.root = f"{base_url.rstrip('/')}/api/v1/accounts/{int(account_id)}"
        self.session = session or requests.Session()
        self.session.headers.update({"api_access_token": token, "Accept": "application/json",
                                     "User-Agent": "connector (customer sidebar)"})

    def write(self, change: WriteBack) -> None:
        """Apply a change: labels and attributes first (they can be sent again safely), the
        note last (so a retry after a refused label never posts it twice)."""
        if change.ticket_id:
            self.set_labels(f"conversations/{_id(change.ticket_id)}", change)
        if change.requester_id:
            self.set_labels(f"contacts/{_id(change.requester_id)}", change)
            if change.fields and change.erases:  # forgotten: our attributes go
                self._call("POST", f"contacts/{_id(change.requester_id)}/"
                           "destroy_custom_attributes",
                           {"custom_attributes": [f"{change.tag_prefix}{k}"
                                                  for k in change.fields]})
            elif change.fields:
                attributes = {f"{change.tag_prefix}{k}": v for k, v in change.fields.items()}
                self._call("PUT", f"contacts/{_id(change.requester_id)}",
                           {"custom_attributes": attributes})
        if change.note and change.ticket_id:
            self._call("POST", f"conversations/{_id(change.ticket_id)}/messages",
                       {"content": change.note, "message_type": "outgoing", "private": True})

    def set_labels(self, owner: str, change: WriteBack) -> None:
        """Make our labels (those starting with the prefix) exactly `change.tags`, keeping the
        others: read the list, then post it whole (Chatwoot replaces it); none of it for a
        change that keeps the tags (a note only)."""
        if change.keeps_tags:
            return
        current = _labels(self._call("GET", f"{owner}/labels"))
        wanted = [x for x in current if not x.startswith(change.tag_prefix)]
        wanted += sorted(set(change.tags) - set(wanted))
        if set(wanted) == set(current):
            return
        kept = _labels(self._call("POST", f"{owner}/labels", {"labels": wanted}))
        missing = sorted(set(change.tags) - set(kept))
        if missing:  # label names are ours (flag keys), never customer data
            log.warning("Chatwoot dropped labels it does not know: create %s under Settings → "
                        "Labels", ", ".join(missing))

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None
              ) -> dict[str, Any]:
        endpoint = f"{method} {path.split('/')[0]}"
        try:
            response = self.session.request(method, f"{self.root}/{path}", json=body,
                                            timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            log.warning("Chatwoot %s: %s", endpoint, type(exc).__name__)
            raise WriteBackFailed("Chatwoot could not be reached; will retry") from exc
        status = response.status_code
        if status == 429:
            raise RateLimited(retry_after(response.headers.get("Retry-After")), endpoint)
        if status >= 400:
            log.warning("Chatwoot %s answered %s", endpoint, status)
            raise WriteBackFailed(refusal(status), permanent=status < 500)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}


def refusal(status: int) -> str:
    """What the admin is told about an error status."""
    if status in (401, 403):
        return ("Chatwoot refused the API token: set CHATWOOT_API_TOKEN to the access token of "
                "an agent of this account (Profile settings → Access token)")
    if status == 404:
        return "Chatwoot does not know this conversation or contact (deleted?), or account_id"
    if status >= 500:
        return f"Chatwoot failed ({status}); will retry"
    return f"Chatwoot refused the change ({status})"


def _labels(answer: dict[str, Any]) -> list[str]:
    payload = answer.get("payload")
    return [str(x) for x in payload] if isinstance(payload, list) else []


def _id(value: str) -> str:
    """A path segment from an id we were given (digits only: nothing else reaches the URL)."""
    if not value.isdigit():
        raise WriteBackFailed("not a Chatwoot id", permanent=True)
    return value
