"""The `marketing` sink: corrections the source confirmed, told to the brand's marketing tool
(corrected emails and phones go back to where campaigns are sent from).

What lives here is pure: the manifest's `marketing:` section (`MarketingSink`), the delivery
row the outbox keeps when a correction is confirmed (`handover`), held back instead when the
customer's consent for the field's channel is not given (`MarketingSink.held_back`: refused,
or unknown — never assumed), and one signed delivery with its outcome classified (`deliver`:
done, try again later, or refused). The outbox keeps, leases, retries and settles the rows
(`events.outbox`); nothing here touches the database. The payload names the canonical field
and passes its old and new values as they are, so a field added to the correctable ones later
flows through without a change here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

import requests
from pydantic import AfterValidator, Field, SecretStr, field_validator

from connector.config import Strict
from connector.models import CONSENT_KINDS, CORRECTABLE, Consent, ConsentEntry
from connector.retry import retry_after_s

MARKETING = "marketing"  # the rows' kind, and their `source` column (where they go)
HELD = "held"  # a delivery's state when the customer's consent keeps it from marketing
# the consent a corrected field is told under: an email feeds email campaigns, a mobile SMS
# ones; the record keeps no postal consent, so the address goes with the email marketing one
CONSENT_FOR = {"identity.emails": "email_marketing", "identity.phones": "sms",
               "identity.address": "email_marketing"}
EVENT = "correction.confirmed"
# https, or plain http to this machine only (tests, a local relay), as `helpdesks.zendesk.
# api_url` allows: the payload carries a customer's email or phone
SINK_URL = r"^(https://[^\s/]+|http://(127\.0\.0\.1|localhost)(:\d+)?)(/\S*)?$"
_URL_PATTERN = re.compile(SINK_URL)


def _correctable(field: str) -> str:
    if field not in CORRECTABLE:
        raise ValueError(f"'{field}' is not a field corrected from the record "
                         f"(one of: {', '.join(CORRECTABLE)})")
    return field


class MarketingSink(Strict):
    """`marketing:` in the manifest: where confirmed corrections are sent, signed with
    `secret`, and which fields."""

    url: str
    secret: SecretStr  # from the environment: secret: "${MARKETING_WEBHOOK_SECRET}"
    fields: list[Annotated[str, AfterValidator(_correctable)]] = Field(
        default_factory=lambda: list(CORRECTABLE))
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    enabled: bool = True
    # field -> the consent it is told under (CONSENT_FOR by default; given here, it changes
    # those fields only)
    consent: dict[str, str] = Field(default_factory=lambda: dict(CONSENT_FOR),
                                    validate_default=True)

    @field_validator("url")
    @classmethod
    def _sink_url(cls, value: str) -> str:
        if not _URL_PATTERN.match(value):
            raise ValueError("must be an https:// URL (plain http:// only to 127.0.0.1 or "
                             "localhost)")
        return value

    @field_validator("secret")
    @classmethod
    def _a_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty: deliveries are signed with it (set it "
                             "from the environment: secret: \"${MARKETING_WEBHOOK_SECRET}\")")
        return value

    @field_validator("consent")
    @classmethod
    def _consent_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for field, kind in value.items():
            _correctable(field)
            if kind not in CONSENT_KINDS:
                raise ValueError(f"{field}: '{kind}' is not a consent of the record "
                                 f"(one of: {', '.join(CONSENT_KINDS)})")
        return {**CONSENT_FOR, **value}

    def takes(self, kind: str, field: str) -> bool:
        """Whether a settled change of this kind and field is sent to marketing."""
        return self.enabled and kind == "correction" and field in self.fields

    def held_back(self, field: str, consent: Consent | None) -> str | None:
        """Why a confirmed correction is not told to marketing (None: it is told): the
        customer refused the consent its field is told under, or no source says it (unknown:
        never taken for a yes). Words for the admin: the consent, its source and day."""
        kind = self.consent.get(field, "email_marketing")
        entry: ConsentEntry = getattr(consent or Consent(), kind)
        if entry.value == "given":
            return None
        if entry.value == "refused":
            day = entry.date.isoformat() if entry.date is not None else None
            said = ", ".join(part for part in (entry.source, day) if part)
            return f"held back: consent.{kind} is refused" + (f" ({said})" if said else "")
        return f"held back: consent.{kind} is unknown (no source says it; never assumed)"


def delivery_id(change_id: str) -> str:
    """The delivery row's id, one per correction (a correction confirmed twice by two
    processes whose leases crossed is still told once)."""
    return hashlib.sha256(f"{MARKETING}:{change_id}".encode()).hexdigest()[:32]


def handover(change: Any, values: dict[str, Any], now: dt.datetime,
             held: str | None = None) -> dict[str, Any]:
    """The `changes` row that carries a confirmed correction to marketing: its values are
    what the payload says (see `body`), erased like every change's once settled. `held`
    (why the customer's consent keeps it back) makes it a settled row that carries nothing
    and is never sent."""
    payload = {"change": change.id, "customer_id": change.customer_id, "field": change.name,
               "old": values.get("old") or None, "new": values.get("new"),
               "source": change.source, "at": now.isoformat()}
    return {"id": delivery_id(change.id), "customer_id": change.customer_id,
            "source": MARKETING, "kind": MARKETING, "name": change.name, "item": change.id,
            "payload": None if held else json.dumps(payload),
            "state": HELD if held else "pending", "outcome": held[:200] if held else None,
            "attempts": 0, "not_before": now, "actor": "connector", "helpdesk": None,
            "ticket_id": None, "created_at": now, "updated_at": now}


def body(payload: dict[str, Any]) -> bytes:
    """The JSON body posted: the event's name first, then the correction as kept."""
    return json.dumps({"event": EVENT, **payload}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: str, raw: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "{timestamp}.{raw body}" under the secret."""
    signed = timestamp.encode() + b"." + raw
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """What one delivery came to: `done`, or `retry` later (after `wait_s` when the sink said
    so), or refused for `reason` (words for the admin, never a value)."""

    done: bool
    retry: bool
    reason: str
    wait_s: float | None = None


def deliver(sink: MarketingSink, payload: dict[str, Any],
            session: requests.Session | None = None) -> Delivery:
    """POST the correction to the sink, signed, with the correction's id as its
    `Idempotency-Key`; the outcome classified (2xx done; 429, 5xx, no answer: later; any
    other answer: refused)."""
    raw = body(payload)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "connector/0.1",
               "Idempotency-Key": str(payload["change"]),
               "X-Connector-Timestamp": timestamp,
               "X-Connector-Signature": signature(sink.secret.get_secret_value(), timestamp,
                                                  raw)}
    try:
        # stream: the answer's body is never read (it may echo the values back)
        with (session or requests).post(sink.url, data=raw, headers=headers, stream=True,
                                        timeout=sink.timeout_s, allow_redirects=False) as answer:
            return classify(answer.status_code, answer.headers.get("Retry-After"))
    except requests.Timeout:
        return Delivery(False, True, f"no answer within {sink.timeout_s:g} s")
    except requests.RequestException as exc:  # refused connection, TLS, DNS: for now
        return Delivery(False, True, f"unreachable ({type(exc).__name__})")


def classify(status: int, retry_after: str | None) -> Delivery:
    """An HTTP status as a delivery's outcome, its reason in words."""
    try:
        said = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        said = str(status)
    if 200 <= status < 300:
        return Delivery(True, False, f"answered {said}")
    if status == 429 or status >= 500:
        return Delivery(False, True, f"answered {said}", retry_after_s(retry_after))
    if 300 <= status < 400:
        return Delivery(False, False, f"redirected ({said}): set marketing.url to the final "
                                      "address")
    return Delivery(False, False, f"refused it ({said})")
