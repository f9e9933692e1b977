"""The demo helpdesk's REST API, shaped as Zendesk's Support API v2: the calls the service's
Zendesk adapter makes to write back (connector/helpdesk/zendesk/api.py), and the ticket's
comments the demo page lists, so that an action run from the record leaves its internal note on
the demo ticket it was run from.

Served by the demo back office under `/zendesk` (the service's `ZENDESK_API_URL` points there),
in memory: the demo starts fresh each time. Its tickets are the demo helpdesk's, by the number
its webhooks gave them (demo/webhooks.py `helpdesk_ticket_id`), each opened by its first, public
comment. Authentication is Zendesk's API token: HTTP basic `{email}/token:{token}`; anything
else is refused (401) as Zendesk refuses it.

Endpoints (developer.zendesk.com, Support API; each also answers without `.json`): Show Ticket
`GET /api/v2/tickets/{id}.json`; Update Ticket `PUT /api/v2/tickets/{id}.json` (`comment`,
`public: false` an internal note; `additional_tags`, `remove_tags`); List Comments
`GET /api/v2/tickets/{id}/comments.json`; Create Ticket `POST /api/v2/tickets.json` (its
requester must exist); Show User, Update User, and the Tags API on users. The demo's webhooks
name no requester by id, so it holds no users: those answer 404 as Zendesk does for an unknown
one.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from flask import Blueprint, Response, jsonify, request

from demo.webhooks import helpdesk_ticket_id

Record = dict[str, Any]
PREFIX = "/zendesk"
API_EMAIL = "margaux.demo@demo-helpdesk.example"  # the agent whose API token the service uses
API_TOKEN = "demo-zendesk-token"  # the back office's default (DEMO_HELPDESK_TOKEN overrides)
API_AGENT_ID = 900001  # that agent's user id: the author of the notes the service leaves


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DemoTickets:
    """The demo helpdesk's tickets and their comments, by the ticket's number."""

    tickets: dict[str, Record] = field(default_factory=dict)
    comments: dict[str, list[Record]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def of(cls, tickets: list[Record]) -> DemoTickets:
        """The demo's tickets (tickets.json), each opened by its message as a public comment."""
        held = cls()
        for ticket in tickets:
            number = helpdesk_ticket_id(ticket)
            held.tickets[number] = {
                "id": int(number), "subject": ticket.get("subject"),
                "description": ticket.get("body"), "status": "open", "tags": [],
                "requester_id": None, "via": {"channel": ticket.get("channel")},
                "created_at": ticket.get("created_at"), "updated_at": ticket.get("created_at")}
            held.comments[number] = [held._comment(str(ticket.get("body") or ""), True, None,
                                                   ticket.get("created_at"))]
        return held

    def update(self, number: str, changes: Record) -> Record | None:
        """Update Ticket: a comment added, tags added and removed; the ticket, None if unknown."""
        with self.lock:
            ticket = self.tickets.get(number)
            if ticket is None:
                return None
            comment = changes.get("comment")
            if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
                self.comments[number].append(self._comment(
                    str(comment.get("body") or comment.get("html_body")),
                    comment.get("public", True) is not False, API_AGENT_ID))
            removed = set(changes.get("remove_tags") or [])
            added = list(changes.get("additional_tags") or [])
            ticket["tags"] = [t for t in dict.fromkeys([*ticket["tags"], *added])
                              if t not in removed]
            ticket["updated_at"] = _now()
            return dict(ticket)

    def listed(self, number: str) -> list[Record] | None:
        """The ticket's comments, oldest first; None for an unknown ticket."""
        with self.lock:
            found = self.comments.get(number)
            return None if found is None else [dict(c) for c in found]

    def _comment(self, body: str, public: bool, author: int | None,
                 at: str | None = None) -> Record:
        """A comment as List Comments gives it."""
        number = next(self.ids)
        return {"id": number, "type": "Comment", "author_id": author, "body": body,
                "html_body": f"<div class=\"zd-comment\"><p>{escape(body)}</p></div>",
                "plain_body": body, "public": public, "attachments": [], "audit_id": number,
                "via": {"channel": "api" if author else "web",
                        "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": at or _now(), "metadata": {"system": {}, "custom": {}}}


def _error(status: int, error: str, description: str | None = None) -> Response:
    """Zendesk's error body: `{"error": …, "description": …}`."""
    body: Record = {"error": error}
    if description:
        body["description"] = description
    response = jsonify(body)
    response.status_code = status
    return response


def _not_found() -> Response:
    return _error(404, "RecordNotFound", "Not found")


def helpdesk_blueprint(tickets: DemoTickets, email: str = API_EMAIL,
                       token: str = API_TOKEN) -> Blueprint:
    """The Zendesk-shaped API under /zendesk, for the agent `email` and their API `token`."""
    api = Blueprint("helpdesk", __name__, url_prefix=f"{PREFIX}/api/v2")
    expected = "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()

    @api.before_request
    def authenticated() -> Response | None:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "Couldn't authenticate you")
        return None

    @api.route("/tickets/<int:number>.json", methods=["GET", "PUT"])
    @api.route("/tickets/<int:number>", methods=["GET", "PUT"])
    def ticket(number: int) -> Response:
        if request.method == "GET":
            with tickets.lock:
                found = tickets.tickets.get(str(number))
                found = dict(found) if found is not None else None
            return jsonify({"ticket": found}) if found is not None else _not_found()
        body = request.get_json(silent=True)
        changes = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(changes, dict):
            return _error(400, "InvalidValue", "a ticket object is expected")
        updated = tickets.update(str(number), changes)
        if updated is None:
            return _not_found()
        return jsonify({"ticket": updated, "audit": {"ticket_id": number, "events": []}})

    @api.get("/tickets/<int:number>/comments.json")
    @api.get("/tickets/<int:number>/comments")
    def comments(number: int) -> Response:
        listed = tickets.listed(str(number))
        if listed is None:
            return _not_found()
        return jsonify({"comments": listed, "next_page": None, "previous_page": None,
                        "count": len(listed)})

    @api.post("/tickets.json")
    def create_ticket() -> Response:  # no demo user exists: Zendesk's answer for a stranger
        return _error(422, "RecordInvalid", "Record validation errors")

    @api.route("/users/<int:user_id>.json", methods=["GET", "PUT"])
    @api.route("/users/<int:user_id>/tags.json", methods=["GET", "PUT", "POST", "DELETE"])
    @api.get("/users/show_many.json")
    def users(user_id: int | None = None) -> Response:
        if user_id is None:
            return jsonify({"users": [], "identities": []})
        return _not_found()

    return api
