"""Liveness (`/healthz`: the process answers, nothing else looked at), readiness (`/readyz`:
the database answers, and a shared cache and shared counters when they are configured) and
metrics."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from connector.store.counters import shared_storage
from connector.store.guard import check
from connector.web.context import services
from connector.web.unavailable import retry_later

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (never touches the database: a database down is no reason to restart
    the process)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve: 200 `{"status": "ready", "checks": …}` (`"degraded"` while a shared
    cache or the shared counters do not answer: this process's memory stands in), or 503
    (with Retry-After) and the check that failed. The database check is a SELECT 1 bounded by
    CONNECTOR_DB_TIMEOUT_S (twice at worst: a ping, then a connection); the cache's and the
    counters' (`CONNECTOR_RATE_LIMIT_STORAGE`), a ping each, only when they are shared."""
    svc = services()
    timeout_s = svc.settings.db_timeout_s
    checks = {"database": _probe("database", lambda: check(svc.events.engine, timeout_s))}
    ping = getattr(svc.assembler.cache.cache, "ping", None)
    if callable(ping):  # a shared cache (Redis); the in-process one cannot fail apart
        checks["cache"] = _probe("cache", ping)
    if not svc.settings.rate_limit_storage.startswith("memory://"):
        checks["counters"] = _probe("counters", _ping_counters)
    # a shared cache away is no reason to stop serving: this process's memory stands in
    ready = checks["database"]["ok"]
    degraded = ready and not all(result["ok"] for result in checks.values())
    response = jsonify(status="degraded" if degraded else "ready" if ready else "unavailable",
                       checks=checks)
    return response if ready else retry_later(response)


def _ping_counters() -> float:
    """Milliseconds for a ping of the shared counters' storage; raises when it does not answer
    (within `connector.store.counters.TIMEOUT_S`)."""
    storage = current_app.extensions.get("counters_storage")
    if storage is None:
        storage = shared_storage(services().settings.rate_limit_storage)
        current_app.extensions["counters_storage"] = storage
    started = time.monotonic()
    if not storage.check():
        raise ConnectionError("shared counters unavailable")
    return round((time.monotonic() - started) * 1000, 2)


def _probe(name: str, run: Callable[[], Any]) -> dict[str, Any]:
    """One readiness check: ok and its time, or what failed (the error's kind only: no address,
    no statement)."""
    try:
        elapsed = run()
    except Exception as exc:
        log.warning("readiness: %s unavailable (%s)", name, type(exc).__name__)
        return {"ok": False, "error": f"{name} unavailable ({type(exc).__name__})"}
    return {"ok": True, "ms": elapsed} if isinstance(elapsed, float) else {"ok": True}


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics (behind CONNECTOR_METRICS_TOKEN when it is set)."""
    expected = services().settings.metrics_token
    if expected is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            refused = jsonify(error="missing or wrong bearer token (CONNECTOR_METRICS_TOKEN)")
            refused.status_code = 401
            refused.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return refused
    return Response(services().metrics.render(), mimetype="text/plain; version=0.0.4")
