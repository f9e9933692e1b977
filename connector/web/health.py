"""Liveness (`/healthz`: the process answers, nothing else looked at), readiness (`/readyz`:
the database answers, and a shared cache when one is configured) and metrics."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

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
    cache does not answer: served from memory), or 503 (with Retry-After) and the check that
    failed. The database check is a SELECT 1 bounded by CONNECTOR_DB_TIMEOUT_S
    (twice at worst: a ping, then a connection); the cache's, a ping, only when it is shared."""
    svc = services()
    timeout_s = svc.settings.db_timeout_s
    checks = {"database": _probe("database", lambda: check(svc.events.engine, timeout_s))}
    ping = getattr(svc.assembler.cache.cache, "ping", None)
    if callable(ping):  # a shared cache (Redis); the in-process one cannot fail apart
        checks["cache"] = _probe("cache", ping)
    # a shared cache away is no reason to stop serving: this process's memory stands in
    ready = checks["database"]["ok"]
    degraded = ready and not all(result["ok"] for result in checks.values())
    response = jsonify(status="degraded" if degraded else "ready" if ready else "unavailable",
                       checks=checks)
    return response if ready else retry_later(response)


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
