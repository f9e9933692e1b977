"""Flask blueprints: glue between HTTP and the service, nothing more."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request

from connector.app import Services

MAX_BODY_BYTES = 2 * 1024 * 1024  # helpdesk payloads are a few KB; refuse floods (413)


def services() -> Services:
    """This application's services."""
    return current_app.extensions["connector"]  # type: ignore[no-any-return]


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the request metrics."""
    from connector.web import admin, api, demo, health, sidebar, webhooks

    for module in (health, api, sidebar, webhooks, demo, admin):
        app.register_blueprint(module.bp)

    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_BODY_BYTES)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()
        if request.method == "POST" and request.path.startswith("/helpdesk/"):
            # keep the raw bytes before anything parses the form: signatures are over them
            request.get_data(cache=True)

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        services().metrics.requests.labels(endpoint, str(response.status_code)).observe(elapsed)
        return response
