"""The demo helpdesk's webhooks: when the demo starts, its tickets reach the service the way a
real helpdesk's do, so that each counts in its customer's contact history and timeline.

The demo helpdesk speaks as Zendesk does for a webhook connected to a trigger
(docs/helpdesks/zendesk.md): `POST /helpdesk/zendesk/webhook` with the recommended JSON body
(`event: ticket.created`, the ticket with its requester), signed with the webhook's signing
secret as Zendesk signs: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, timestamp +
raw body)), the timestamp in `X-Zendesk-Webhook-Signature-Timestamp`. The service checks the
signature, writes the event to its log, answers 202, and its worker finds the customer and
records the request, as for any helpdesk.

A body depends on its ticket only: posted again (the demo restarted), it is the same event to
the service (the adapter's key is ticket, event and creation time) and no second contact. Each
day's tickets are new ones (the demo data are regenerated every day): their number in the
helpdesk carries their day.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

# the variable manifest.yaml reads the Zendesk webhook's signing secret from
SECRET_VAR = "ZENDESK_WEBHOOK_SECRET"
WEBHOOK_PATH = "/helpdesk/zendesk/webhook"
SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION = "X-Zendesk-Webhook-Invocation-Id"


class PostFailed(Exception):
    """The service did not take a ticket's webhook; the message says why."""


@dataclass(frozen=True)
class Posted:
    """What the service answered to the tickets' webhooks."""

    new: int = 0  # written to its event log: the worker records the request
    known: int = 0  # the same event posted before (an earlier run): acknowledged again
    ignored: int = 0  # nothing in it the service uses

    @property
    def total(self) -> int:
        """Webhooks the service took."""
        return self.new + self.known + self.ignored


def ensure_secret(env: MutableMapping[str, str]) -> str:
    """The webhook's signing secret: the user's ZENDESK_WEBHOOK_SECRET when set, else a random
    one for this run, put into `env` for the service to check with."""
    if not env.get(SECRET_VAR):
        env[SECRET_VAR] = secrets.token_urlsafe(32)
    return env[SECRET_VAR]


def helpdesk_ticket_id(ticket: dict[str, Any]) -> str:
    """The ticket's number in the helpdesk: the day it came in, then its number in the demo
    (`202611011001`), so that a new day's tickets are new requests."""
    return str(ticket["created_at"])[:10].replace("-", "") + str(ticket["id"])


def webhook_body(ticket: dict[str, Any]) -> bytes:
    """The trigger's JSON for a new ticket (the template docs/helpdesks/zendesk.md gives)."""
    requester = ticket.get("requester") or {}
    payload = {
        "event": "ticket.created",
        "ticket": {
            "id": helpdesk_ticket_id(ticket),
            "subject": ticket.get("subject"),
            "via": ticket.get("channel"),
            "created_at": ticket["created_at"],
            "requester": {key: requester[key] for key in ("name", "email", "phone")
                          if requester.get(key)},
        },
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()


def signed_headers(secret: str, body: bytes, now: dt.datetime) -> dict[str, str]:
    """The headers Zendesk sends with a webhook signed at `now`."""
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {"Content-Type": "application/json; charset=utf-8", TIMESTAMP: stamp,
            SIGNATURE: base64.b64encode(digest).decode(),
            INVOCATION: "demo-" + hashlib.sha256(body).hexdigest()[:24]}


def load_tickets(data_dir: Path) -> list[dict[str, Any]]:
    """The demo helpdesk's tickets (tickets.json)."""
    tickets = json.loads((Path(data_dir) / "tickets.json").read_text(encoding="utf-8"))
    if not isinstance(tickets, list):
        raise ValueError("tickets.json holds no list of tickets")
    return tickets


def post_tickets(service_url: str, secret: str, tickets: list[dict[str, Any]],
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 timeout_s: float = 10) -> Posted:
    """Post one signed webhook per ticket; what the service answered. Raises PostFailed at the
    first webhook it does not take (unreachable, refused, or an error)."""
    url = service_url.rstrip("/") + WEBHOOK_PATH
    counts = {"accepted": 0, "duplicate": 0, "ignored": 0}
    with requests.Session() as session:
        for ticket in tickets:
            body = webhook_body(ticket)
            try:
                answer = session.post(url, data=body, timeout=timeout_s,
                                      headers=signed_headers(secret, body, clock()))
            except requests.RequestException as exc:
                raise PostFailed(f"{url} did not answer ({type(exc).__name__})") from exc
            status = _status(answer)
            if status not in counts:
                raise PostFailed(f"ticket {ticket.get('id')}: HTTP {answer.status_code} "
                                 f"{_error(answer)}".rstrip())
            counts[status] += 1
    return Posted(counts["accepted"], counts["duplicate"], counts["ignored"])


def announce(service_url: str, secret: str, data_dir: Path) -> str:
    """Post the tickets' webhooks; one line saying how many were posted, or why not (the demo
    runs either way)."""
    try:
        tickets = load_tickets(data_dir)
        posted = post_tickets(service_url, secret, tickets)
    except (OSError, ValueError, KeyError, PostFailed) as exc:
        return f"  Demo helpdesk: its tickets' webhooks were not posted: {exc}"
    return (f"  Demo helpdesk: {posted.total} of {len(tickets)} tickets posted as signed "
            f"webhooks ({WEBHOOK_PATH}): {posted.new} new, {posted.known} already recorded")


def _status(answer: requests.Response) -> str | None:
    """`accepted`, `duplicate` or `ignored` when the service took the webhook."""
    if answer.status_code not in (200, 202):
        return None
    try:
        status = answer.json().get("status")
    except (ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


def _error(answer: requests.Response) -> str:
    """The service's reason for refusing a webhook, as it wrote it."""
    try:
        error = answer.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else answer.text[:120].strip()
