"""What the Zendesk tests share: a local fake of Zendesk's REST API (the real one is a cloud
service), signed webhook deliveries, and a manifest with a `zendesk` entry.

The fake answers the documented endpoints with the documented shapes (`tests/fixtures/zendesk`),
checks the `{email}/token:{token}` basic auth, applies writes to its records, and enforces the
documented Update User limit (5 a minute per user → 429 with Retry-After), so a client that
does not pace itself fails here as it would there. Every call is recorded.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import MANIFEST, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "zendesk"
PAULINE = "pauline.deneve@easiware.fr"
PAULINE_ZENDESK_ID = "20978392"
SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # the docs' test secret
AGENT = "agent@maison-exemple.example"
TOKEN = "test-zendesk-api-token"
USER = re.compile(r"^/api/v2/users/(\d+)\.json$")
USER_TAGS = re.compile(r"^/api/v2/users/(\d+)/tags\.json$")
TICKET = re.compile(r"^/api/v2/tickets/(\d+)\.json$")


def fixture(name: str) -> bytes:
    """A stored payload, byte for byte."""
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = SECRET, at: dt.datetime | None = None,
           **headers: str) -> dict[str, str]:
    """The headers Zendesk sends with a webhook: base64 HMAC-SHA256 of timestamp + body."""
    stamp = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body,
                                          hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json",
            "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
            "X-Zendesk-Webhook-Signature": signature,
            "X-Zendesk-Webhook-Signature-Timestamp": stamp, **headers}


def zendesk_entry(api_url: str, **extra: Any) -> dict[str, Any]:
    """A `helpdesks.zendesk` manifest entry, its secrets from the environment."""
    return {"subdomain": "maison-exemple", "webhook_secret": "${ZENDESK_WEBHOOK_SECRET:-}",
            "api_email": AGENT, "api_token": "${ZENDESK_API_TOKEN:-}", "api_url": api_url,
            "app_author_email": "support@maison-exemple.example", **extra}


def write_manifest(folder: Path, zendesk: Mapping[str, Any]) -> Path:
    """The default manifest with this zendesk entry, written in `folder`."""
    data = yaml.safe_load(MANIFEST.read_text())
    data.setdefault("helpdesks", {})["zendesk"] = dict(zendesk)
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeZendesk:
    """Zendesk's REST API for one account, in memory, served by pytest-httpserver."""

    server: HTTPServer
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    identities: list[dict[str, Any]] = field(default_factory=list)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[str, Response]] = field(default_factory=list)  # "METHOD /path"
    user_updates: dict[str, list[float]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic  # the Update User limit's clock
    refused: int = 0  # 429s given

    def __post_init__(self) -> None:
        shown = json.loads(fixture("api_show_many_identities.json"))
        self.users = {str(u["id"]): u for u in shown["users"]}
        self.identities = shown["identities"]
        ticket = json.loads(fixture("api_ticket.json"))["ticket"]
        self.tickets = {str(ticket["id"]): ticket}
        self.server.expect_request(re.compile(r"^/api/v2/.*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def fail_next(self, call: str, status: int, headers: Mapping[str, str] | None = None,
                  body: Any = None) -> None:
        """Answer the next `call` ("PUT /api/v2/users/1.json") with this status."""
        self.failures.append((call, Response(json.dumps(body or {"error": "Failed"}), status,
                                             headers=dict(headers or {}),
                                             content_type="application/json")))

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    def handle(self, request: Request) -> Response:
        expected = base64.b64encode(f"{AGENT}/token:{TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _json({"error": "Couldn't authenticate you"}, 401)
        body = request.get_json(silent=True) if request.data else None
        self.calls.append(Call(request.method, request.path, dict(request.args), body))
        for n, (call, response) in enumerate(self.failures):
            if call == f"{request.method} {request.path}":
                del self.failures[n]
                return response
        return self._route(request.method, request.path, dict(request.args), body or {})

    def _route(self, method: str, path: str, args: dict[str, str], body: Any) -> Response:
        if path == "/api/v2/users/show_many.json" and method == "GET":
            ids = set(args.get("ids", "").split(","))
            users = [u for i, u in self.users.items() if i in ids]
            found: dict[str, Any] = {"users": users}
            if args.get("include") == "identities":
                found["identities"] = [x for x in self.identities if str(x["user_id"]) in ids]
            return _json(found)
        if (match := USER.match(path)) is not None:
            return self._user(method, match.group(1), body)
        if (match := USER_TAGS.match(path)) is not None:
            return self._user_tags(method, match.group(1), body)
        if (match := TICKET.match(path)) is not None:
            return self._ticket(method, match.group(1), body)
        if path == "/api/v2/tickets.json" and method == "POST":
            return self._create_ticket(body)
        return _json({"error": "InvalidEndpoint"}, 404)

    def _create_ticket(self, body: Any) -> Response:
        """Create Ticket: a requester who exists, a first comment (its description); 201."""
        asked = (body or {}).get("ticket") or {}
        comment = asked.get("comment")
        if str(asked.get("requester_id")) not in self.users or not isinstance(comment, dict):
            return _json({"error": "RecordInvalid", "description": "Record validation errors"},
                         422)
        ticket_id = str(max(int(t) for t in self.tickets) + 1)
        ticket = {"id": int(ticket_id), "requester_id": asked["requester_id"],
                  "subject": asked.get("subject"), "description": comment.get("body"),
                  "status": "new", "tags": list(asked.get("tags") or []),
                  "comments": [copy.deepcopy(comment)]}
        self.tickets[ticket_id] = ticket
        return _json({"ticket": ticket, "audit": {"events": []}}, 201)

    def _user(self, method: str, user_id: str, body: Any) -> Response:
        user = self.users.get(user_id)
        if user is None:
            return _json({"error": "RecordNotFound", "description": "Not found"}, 404)
        if method == "GET":
            return _json({"user": user})
        if method != "PUT":
            return _json({"error": "InvalidEndpoint"}, 405)
        now = self.clock()
        done = self.user_updates.setdefault(user_id, [])  # every update, kept for the tests
        if sum(1 for t in done if t > now - 60) >= 5:  # the documented Update User limit
            self.refused += 1
            return _json({"error": "TooManyRequests"}, 429, {"Retry-After": "60"})
        done.append(now)
        changes = body.get("user") or {}
        user["user_fields"] = {**user.get("user_fields", {}), **changes.get("user_fields", {})}
        if "tags" in changes:
            user["tags"] = list(changes["tags"])
        return _json({"user": user})

    def _user_tags(self, method: str, user_id: str, body: Any) -> Response:
        user = self.users.get(user_id)
        if user is None:
            return _json({"error": "RecordNotFound", "description": "Not found"}, 404)
        tags = list(body.get("tags") or [])
        if method == "PUT":
            user["tags"] = list(dict.fromkeys([*user["tags"], *tags]))
        elif method == "DELETE":
            user["tags"] = [t for t in user["tags"] if t not in tags]
            return Response(status=204)
        elif method == "POST":
            user["tags"] = tags
        return _json({"tags": user["tags"]})

    def _ticket(self, method: str, ticket_id: str, body: Any) -> Response:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return _json({"error": "RecordNotFound", "description": "Not found"}, 404)
        if method == "GET":
            return _json({"ticket": ticket})
        changes = (body or {}).get("ticket") or {}
        if "comment" in changes:
            ticket.setdefault("comments", []).append(copy.deepcopy(changes["comment"]))
        added = changes.get("additional_tags") or []
        removed = set(changes.get("remove_tags") or [])
        ticket["tags"] = [t for t in dict.fromkeys([*ticket["tags"], *added]) if t not in removed]
        return _json({"ticket": ticket, "audit": {"events": []}})


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status, headers=dict(headers or {}),
                    content_type="application/json")
