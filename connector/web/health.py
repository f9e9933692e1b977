"""Liveness and metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from connector.web.context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics."""
    return Response(services().metrics.render(), mimetype="text/plain; version=0.0.4")
