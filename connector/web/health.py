"""Liveness and metrics."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from connector.web.context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


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
