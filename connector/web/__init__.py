"""The Flask application: `create_app()` and its blueprints (health, api, sidebar, webhooks,
demo, admin), glue between HTTP and the service wired in `connector.app`, nothing more. The top
layer with `cli`: it may import anything below; nothing below imports it."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from connector.app import Services, build_services
from connector.settings import Settings
from connector.web import (
    admin,
    api,
    demo,
    errors,
    health,
    limits,
    openapi,
    sidebar,
    unavailable,
    webhooks,
)
from connector.web.context import services


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """The Flask application, on the given services (wired from the settings if none)."""
    services = services or build_services(settings or Settings())
    app = Flask("connector.web")
    app.extensions["connector"] = services
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint, the body caps and rate limits, and the request metrics."""
    for module in (health, api, openapi, sidebar, webhooks, admin):
        app.register_blueprint(module.bp)
    if app.extensions["connector"].settings.demo:  # the demo helpdesk only where asked for
        app.register_blueprint(demo.bp)

    limits.install(app, app.extensions["connector"].settings)  # body caps and rate limits
    unavailable.install(app)  # a database error is a 503 with Retry-After, never a 500
    errors.install(app)  # every other error in the product's style, never Werkzeug's page

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
