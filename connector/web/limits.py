"""What one client may send: a body cap per route (413 before the body is read) and rate limits
per client address (Flask-Limiter over the `limits` library; counters in memory, or in Redis
when several processes serve, so the budget is the cluster's).

Two limits, both per address:
- `CONNECTOR_RATE_LIMIT` (1,200 a minute) on every page and API call. Not on webhooks: they
  are signed, and a helpdesk that meets a 429 may not send the event again (a bulk edit of
  a thousand tickets is a thousand events in a minute from one address). Not on `/healthz`,
  `/readyz` and `/metrics`, which probes call.
- `CONNECTOR_AUTH_FAILURE_LIMIT` (30 a minute) on refusals: every 401 or 403 counts, and once
  the budget is spent the address gets 429 on every route, webhooks included, until the
  window ends. Guessing a token, a signature or a link costs an attacker that much.

Behind a reverse proxy, set CONNECTOR_TRUSTED_PROXY to its address: otherwise every client
has the proxy's address and shares one budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits import parse
from limits.strategies import MovingWindowRateLimiter

from connector.settings import Settings
from connector.store.counters import shared_storage, storage_options
from connector.web.errors import error_answer

log = logging.getLogger(__name__)

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
SMALL_BODY_BYTES = 256 * 1024  # a sidebar's context, a note, an API call: a few KB


def body_cap(path: str, largest: int) -> int:
    """The largest body a route takes: webhooks up to the server's cap (a helpdesk may send a
    long conversation), everything else far less."""
    if path.startswith("/helpdesk/") and path.endswith("/webhook"):
        return largest
    return min(SMALL_BODY_BYTES, largest)


def install(app: Flask, settings: Settings) -> Limiter | None:
    """Cap bodies per route and put the rate limits on the app; the limiter (None when both
    limits are switched off with `off`)."""
    largest = settings.max_body_bytes
    # Flask defines the key (as None): set it, or nothing caps a body
    app.config["MAX_CONTENT_LENGTH"] = largest

    @app.before_request
    def _cap_body() -> None:
        request.max_content_length = body_cap(request.path, largest)

    limits: list[str | Callable[[], str] | ApplicationLimit] = [
        limit for limit in (_general(settings.rate_limit), _refusals(settings.auth_failure_limit))
        if limit is not None]
    if not limits:
        return None
    limiter = Limiter(get_remote_address, app=app, application_limits=limits,
                      storage_uri=settings.rate_limit_storage,
                      storage_options=storage_options(settings.rate_limit_storage),
                      key_prefix=settings.rate_limit_prefix, strategy="fixed-window",
                      headers_enabled=True, swallow_errors=True, in_memory_fallback_enabled=True)
    app.register_error_handler(429, _too_many)
    return limiter


class ChangeBudget:
    """How many changes (corrections, actions) one agent may ask for: `CONNECTOR_CHANGE_LIMIT`
    (60 an hour) per agent, counted where the rate limits are (in Redis when several
    processes serve: the budget is the cluster's); `off` lifts it."""

    def __init__(self, settings: Settings) -> None:
        self.limit = None if _off(settings.change_limit) else parse(settings.change_limit)
        self.prefix = settings.rate_limit_prefix
        self.window = MovingWindowRateLimiter(shared_storage(settings.rate_limit_storage))

    def take(self, agent: str) -> bool:
        """Count one change for this agent; False when their budget is spent."""
        if self.limit is None:
            return True
        try:
            return self.window.hit(self.limit, self.prefix, "change", agent)
        except Exception as exc:  # the counters' store is down: changes still go through
            log.warning("change budget not counted (%s)", type(exc).__name__)
            return True


def change_budget() -> ChangeBudget:
    """The app's change budget (made on first use)."""
    budget = current_app.extensions.get("change_budget")
    if budget is None:
        budget = ChangeBudget(current_app.extensions["connector"].settings)
        current_app.extensions["change_budget"] = budget
    return budget  # type: ignore[no-any-return]


def _general(limit: str) -> ApplicationLimit | None:
    if _off(limit):
        return None
    return ApplicationLimit(limit, scope="requests", exempt_when=_exempt_from_general)


def _refusals(limit: str) -> ApplicationLimit | None:
    if _off(limit):
        return None
    return ApplicationLimit(limit, scope="refusals", exempt_when=_probe,
                            deduct_when=lambda response: response.status_code in (401, 403))


def _off(limit: str) -> bool:
    return limit.strip().lower() in ("", "off", "none", "0")


def _probe() -> bool:
    return request.path in PROBES


def _exempt_from_general() -> bool:
    return _probe() or (request.path.startswith("/helpdesk/") and request.path.endswith("/webhook"))


def _too_many(error: Exception) -> Response:
    """429 with Retry-After (Flask-Limiter adds the header): JSON for machines, the message
    page for a sidebar page, a helpdesk server's own refusal (errors.py)."""
    limit = getattr(error, "limit", None)
    what = f" ({limit.limit})" if isinstance(limit, RequestLimit) else ""
    log.info("rate limit reached by a client on %s%s", request.path, what)
    return error_answer(429)
