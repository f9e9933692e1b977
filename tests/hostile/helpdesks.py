"""What the hostile suite knows of each helpdesk: how it signs a webhook (HELPDESKS.md's
schemes, keyed with the suite's secrets), what a real delivery looks like (tests/fixtures), and
the credentials each sidebar surface takes."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.app import Services
from connector.helpdesk.chatwoot.adapter import app_key
from connector.helpdesk.zendesk.session import seal_session
from tests.hostile.conftest import SECRETS, SUBDOMAIN
from tests.hostile.strategies import seeds

WEBHOOK_KINDS = ("chatwoot", "django_helpdesk", "freescout", "freshdesk", "helpscout", "zendesk")
SIDEBAR_KINDS = ("chatwoot", "django_helpdesk", "embed", "freescout", "freshdesk", "helpscout",
                 "zendesk")


def _b64_hmac(secret: str, message: bytes, digest: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, digest).digest()).decode()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def signed_webhook(kind: str, body: bytes, way: int = 0) -> dict[str, str]:
    """The headers that make `body` a genuine delivery of this helpdesk, signed now (`way`
    picks among the forms a helpdesk may use: Freshdesk's header or basic auth)."""
    if kind == "zendesk":
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"X-Zendesk-Webhook-Signature": _b64_hmac(
                    SECRETS["ZENDESK_WEBHOOK_SECRET"], stamp.encode() + body, "sha256"),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    if kind == "helpscout":
        return {"X-HelpScout-Signature": _b64_hmac(SECRETS["HELPSCOUT_WEBHOOK_SECRET"], body,
                                                   "sha1")}
    if kind == "freescout":
        return {"X-FreeScout-Signature": _b64_hmac(SECRETS["FREESCOUT_WEBHOOK_SECRET"], body,
                                                   "sha1")}
    if kind == "chatwoot":
        stamp = str(int(time.time()))
        digest = hmac.new(SECRETS["CHATWOOT_WEBHOOK_SECRET"].encode(),
                          stamp.encode() + b"." + body, "sha256").hexdigest()
        return {"X-Chatwoot-Signature": f"sha256={digest}", "X-Chatwoot-Timestamp": stamp}
    if kind == "freshdesk":
        secret = SECRETS["FRESHDESK_WEBHOOK_SECRET"]
        return [{"X-Connector-Secret": secret}, {"Authorization": _basic("rule", secret)},
                {"Authorization": _basic(secret, "X")}][way % 3]
    if kind == "django_helpdesk":
        return {"Authorization": _basic("django-helpdesk",
                                        SECRETS["DJANGO_HELPDESK_WEBHOOK_SECRET"])}
    raise KeyError(kind)


# every header that carries a helpdesk's credentials, whichever way it is signed: a signed
# request of the fuzzer carries none but its own (a wrong secret beside the right one is refused)
AUTH_HEADERS = {"freshdesk": ("X-Connector-Secret", "Authorization")}


def without_credentials(kind: str, headers: dict[str, str]) -> dict[str, str]:
    """Random headers, less those that carry this helpdesk's credentials."""
    names = {n.lower() for n in AUTH_HEADERS.get(kind, ())}
    return {k: v for k, v in headers.items() if k.lower() not in names}


# headers a delivery carries besides its signature (not signed: the fuzzer varies them too)
EVENT_HEADERS = {"helpscout": "X-HelpScout-Event", "freescout": "X-FreeScout-Event"}
EVENT_NAMES = ["convo.created", "convo.customer.reply.created", "convo.agent.reply.created",
               "customer.created", "customer.updated", "convo.deleted", "", "nope"]


def webhook_seeds(kind: str) -> list[Any]:
    """Real deliveries of this helpdesk, the suite's starting shapes."""
    if kind == "zendesk":
        return seeds("zendesk", *[p for p in _names("zendesk")
                                  if p.startswith(("event_", "trigger_"))])
    if kind in ("helpscout", "freescout"):
        return seeds(kind, *[p for p in _names(kind) if p.startswith(("convo_", "customer_"))])
    if kind == "freshdesk":
        return seeds("freshdesk", *[p for p in _names("freshdesk") if p.startswith("webhook_")])
    if kind == "django_helpdesk":
        return seeds("django_helpdesk", *[p for p in _names("django_helpdesk")
                                          if p.startswith(("new_ticket", "followup_"))])
    return seeds(kind)


def _names(kind: str) -> list[str]:
    from tests.hostile.strategies import FIXTURES

    return sorted(p.name for p in (FIXTURES / kind).glob("*.json"))


# --- sidebar credentials ---------------------------------------------------------------------
def chatwoot_key(services: Services) -> str:
    """The dashboard app's key (the `k` of the URL pasted into Chatwoot)."""
    adapter: Any = services.helpdesks["chatwoot"]
    return app_key(adapter.deps.secret_key, adapter.config)


def zendesk_session(services: Services) -> str:
    """A Zendesk sidebar session, as our page holds it once Zendesk's JWT was checked."""
    adapter: Any = services.helpdesks["zendesk"]
    return seal_session(adapter.config, adapter.deps, "ticket_sidebar")


def zendesk_jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    """A signed-URL token as Zendesk signs it (RS256), with these claims over sane ones."""
    now = int(time.time())
    sane = {"iss": f"{SUBDOMAIN}.zendesk.com",
            "aud": f"https://{SUBDOMAIN}.zendesk.com/api/v2/apps/installations/42.json",
            "iat": now, "exp": now + 300,
            "context": {"product": "support", "location": "ticket_sidebar"}}
    return jwt.encode({**sane, **claims}, key, algorithm="RS256")


def helpscout_signature(body: bytes) -> str:
    """The dynamic app's X-HelpScout-Signature."""
    return _b64_hmac(SECRETS["HELPSCOUT_APP_SECRET"], body, "sha1")
