"""Write-back to Freshdesk through its API v2: our tags on the ticket (or the contact), contact
custom fields, private notes, and a new ticket for a contact (Create a ticket, `POST
/api/v2/tickets`: `requester_id`, `subject`, `description` as HTML, `status` 2 open, `priority`
2 medium, `tags`; 201 with the ticket; no idempotency key).

Freshdesk replaces a ticket's whole `tags` list on update, so we read the ticket first and
merge: tags of other people and rules stay, ours (`tag_prefix…`) become the set we want. An
unchanged set is not written again, so a retried change costs one read. Basic auth with the
API key as user and `X` as password; 429 answers carry Retry-After (seconds).
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import requests

from connector.helpdesk.base import (
    RateLimited,
    WriteBack,
    WriteBackFailed,
    retry_after,
)
from connector.helpdesk.config import secret
from connector.helpdesk.freshdesk.config import Config

log = logging.getLogger(__name__)


class FreshdeskApi:
    """The calls write-back needs, against one account."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float = 10.0,
                 tags_on: str = "ticket", contact_fields: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = (api_key, "X")
        self.timeout_s = timeout_s
        self.tags_on = tags_on
        self.contact_fields = contact_fields or {}

    @classmethod
    def of(cls, config: Config) -> FreshdeskApi:
        """The API client a manifest entry describes (WriteBackFailed when it is incomplete)."""
        key = secret(config.api_key)
        if not key:
            raise WriteBackFailed("Freshdesk write-back needs FRESHDESK_API_KEY", permanent=True)
        if config.api_url:
            base = config.api_url
        elif config.domain:
            host = config.domain if "." in config.domain else f"{config.domain}.freshdesk.com"
            base = f"https://{host}"
        else:
            raise WriteBackFailed("Freshdesk write-back needs helpdesks.freshdesk.domain",
                                  permanent=True)
        return cls(base, key, config.timeout_s, config.tags_on, config.contact_fields)

    def apply(self, change: WriteBack) -> None:
        """Send one merged change (RateLimited, WriteBackFailed)."""
        if change.new_ticket_subject is not None:
            self._open_ticket(change)
            return
        requester = change.requester_id
        if change.ticket_id:
            ticket = self.call("GET", f"/api/v2/tickets/{change.ticket_id}")
            requester = requester or _id(ticket.get("requester_id"))
            if self.tags_on == "ticket" and not change.keeps_tags:
                tags = merged(ticket.get("tags"), change.tags, change.tag_prefix)
                if tags is not None:
                    self.call("PUT", f"/api/v2/tickets/{change.ticket_id}", {"tags": tags})
            if change.note:
                self.call("POST", f"/api/v2/tickets/{change.ticket_id}/notes",
                          {"body": note_html(change.note), "private": True})
        if requester:
            self._update_contact(requester, change, with_tags=self.tags_on == "contact")

    def _open_ticket(self, change: WriteBack) -> None:
        """The contact's fields (and tags, on `tags_on: contact`), then a new open ticket
        whose description is the note: last, since a failure after it would open a second
        ticket on retry."""
        requester = change.requester_id
        if not requester or not requester.isdigit():
            raise WriteBackFailed("a new Freshdesk ticket needs its contact's id",
                                  permanent=True)
        self._update_contact(requester, change, with_tags=self.tags_on == "contact")
        ticket: dict[str, Any] = {
            "requester_id": int(requester), "subject": change.new_ticket_subject,
            "description": note_html(change.note or change.new_ticket_subject or ""),
            "status": 2, "priority": 2}
        tags = list(dict.fromkeys(change.tags))
        if tags:
            ticket["tags"] = tags
        self.call("POST", "/api/v2/tickets", ticket)

    def _update_contact(self, contact_id: str, change: WriteBack, with_tags: bool) -> None:
        """Our tags (when they live on the contact) and the mapped custom fields."""
        update: dict[str, Any] = {}
        fields = {self.contact_fields[k]: (v or None) if change.erases else v
                  for k, v in change.fields.items() if k in self.contact_fields}
        if fields:
            update["custom_fields"] = fields
        if with_tags and not change.keeps_tags:
            contact = self.call("GET", f"/api/v2/contacts/{contact_id}")
            tags = merged(contact.get("tags"), change.tags, change.tag_prefix)
            if tags is not None:
                update["tags"] = tags
        if update:
            self.call("PUT", f"/api/v2/contacts/{contact_id}", update)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        """One API call; its JSON answer. Failures are classified here, once."""
        try:
            answer = requests.request(method, self.base_url + path, json=body, auth=self.auth,
                                      timeout=self.timeout_s,
                                      headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise WriteBackFailed(f"Freshdesk unreachable ({type(exc).__name__})") from exc
        endpoint = f"{method} {re.sub(r'/[0-9]+', '/{id}', path)}"
        if answer.status_code == 429:
            raise RateLimited(retry_after(answer.headers.get("Retry-After")), endpoint)
        if answer.status_code in (401, 403):
            raise WriteBackFailed(f"Freshdesk refused the API key ({answer.status_code}): "
                                  "check FRESHDESK_API_KEY and the agent's role", permanent=True)
        if answer.status_code == 404:
            raise WriteBackFailed(f"Freshdesk has no such record ({endpoint})", permanent=True)
        if answer.status_code >= 500:
            raise WriteBackFailed(f"Freshdesk failed ({answer.status_code}) on {endpoint}")
        if answer.status_code >= 400:
            raise WriteBackFailed(f"Freshdesk refused {endpoint} ({answer.status_code}): "
                                  f"{_problem(answer)}", permanent=True)
        try:
            data = answer.json() if answer.content else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}


def merged(current: Any, ours: tuple[str, ...], prefix: str) -> list[str] | None:
    """The tag list to write: others' tags kept, ours replaced; None when nothing changes."""
    present = [t for t in current if isinstance(t, str)] if isinstance(current, list) else []
    kept = [t for t in present if not (prefix and t.startswith(prefix))]
    wanted = kept + [t for t in dict.fromkeys(ours) if t not in kept]
    return None if sorted(wanted) == sorted(present) else wanted


def note_html(text: str) -> str:
    """A private note's HTML body: our plain text escaped, one line per line."""
    return "<div>" + "<br>".join(html.escape(line) for line in text.splitlines()) + "</div>"


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, int | str) and str(value).strip() else None


def _problem(answer: requests.Response) -> str:
    """Freshdesk's validation errors as `field: code` (never the values sent)."""
    try:
        data = answer.json()
    except ValueError:
        return "no details"
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        return ", ".join(f"{e.get('field', '?')}: {e.get('code', '?')}" for e in errors
                         if isinstance(e, dict))[:150] or "no details"
    return str(data.get("description", "no details"))[:150] if isinstance(data, dict) \
        else "no details"
