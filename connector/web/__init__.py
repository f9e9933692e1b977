"""Flask blueprints: glue between HTTP and the service, nothing more."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request

from connector.app import Services


def services() -> Services:
    """This application's services."""
    return current_app.extensions["connector"]  # type: ignore[no-any-return]


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the request metrics."""
    from connector.web import admin, api, demo, health, sidebar

    for module in (health, api, sidebar, demo, admin):
        app.register_blueprint(module.bp)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        services().metrics.requests.labels(endpoint, str(response.status_code)).observe(elapsed)
        return response
