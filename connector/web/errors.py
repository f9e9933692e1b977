"""Every HTTP error a client can reach, in the product's style, never Werkzeug's page: JSON for
the API, the webhooks, the probes and what the page's script fetches; for a helpdesk's server
(FreeScout's module, Help Scout's dynamic app) its own refusal, a short plain reason first; the
sidebar's message page for everything else. Never a stack trace, never customer data: each
answer is one of the fixed texts below, and the log gets the route and the error's kind.

The request's body is never read here: a 413 or a 400 came from reading it, and reading it
again would raise the same error inside its own handler."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from connector.helpdesk.base import Reply
from connector.i18n import LOCALES, text
from connector.web.context import services
from connector.widgets.page import render_message_page
from connector.widgets.record import render_context

log = logging.getLogger(__name__)

# status -> (what a machine reads, the catalog key of the message page); others: "other"
REASONS: dict[int, tuple[str, str]] = {
    400: ("the request could not be read", "error.bad_request"),
    404: ("no such address", "error.not_found"),
    405: ("this address does not take this method", "error.method"),
    413: ("the request body is too large", "error.too_large"),
    429: ("too many requests from this address: wait and try again", "error.too_many"),
    500: ("internal error: it is logged, try again in a moment", "error.internal"),
}
PROBES = frozenset({"/healthz", "/readyz", "/metrics", "/admin/health.json"})
SERVERS_POST_TO = "sidebar"  # /helpdesk/<kind>/sidebar: where a helpdesk's server posts


def error_answer(status: int, allow: tuple[str, ...] = ()) -> Response:
    """The answer to an error of this status for the current request, in its audience's form
    (`allow`: the methods a 405's address takes)."""
    reason, key = REASONS.get(status, (f"the request failed ({status})", "error.other"))
    try:
        if _wants_json():
            answer = jsonify(error=reason)
            answer.status_code = status
        else:
            answer = _server_refusal(status, reason) or _message_page(status, key)
    except Exception:  # the service itself is broken: still no trace, still a reason
        log.exception("the answer to a %s could not be drawn", status)
        answer = Response(f"connector: {reason}\n", status=status, mimetype="text/plain")
    if allow:
        answer.headers["Allow"] = ", ".join(allow)
    answer.headers["Cache-Control"] = "no-store"
    return answer


def install(app: Flask) -> None:
    """Answer every HTTP error and every unhandled exception in the product's style (after
    the blueprints: the API's own 404 and 405 for unrouted addresses are taken over, with the
    same JSON for its addresses)."""
    app.register_error_handler(HTTPException, _http_error)
    for code in (404, 405):  # app-wide handlers by code come before those by class
        app.register_error_handler(code, _http_error)
    app.register_error_handler(InternalServerError, _internal_error)


def _http_error(error: HTTPException) -> Response | HTTPException:
    if error.code is None or error.code < 400:  # not an error (a redirect): as it is
        return error
    allow = tuple(error.valid_methods or ()) if isinstance(error, MethodNotAllowed) else ()
    return error_answer(error.code, allow)


def _internal_error(error: InternalServerError) -> Response:
    """An unhandled exception: Flask has logged it with its trace; the client gets the fixed
    text only."""
    cause = error.original_exception or error
    rule = request.url_rule.rule if request.url_rule else "unmatched"
    log.error("internal error on %s %s: %s", request.method, rule, type(cause).__name__)
    return error_answer(500)


def _wants_json() -> bool:
    """Machines: the API, webhooks, probes, and the details the page's script fetches."""
    path = request.path
    parts = path.strip("/").split("/")
    return (path.startswith("/api/") or path in PROBES
            or (parts[0] == "helpdesk" and len(parts) >= 3
                and parts[2] in ("webhook", "details")))


def _server_refusal(status: int, reason: str) -> Response | None:
    """A helpdesk's server posting for the sidebar, which shows its admin the start of the
    body: that helpdesk's own refusal (FreeScout: plain text, `connector: …` first); None
    for the others."""
    parts = request.path.strip("/").split("/")
    if request.method != "POST" or len(parts) != 3 or parts[0] != "helpdesk" \
            or parts[2] != SERVERS_POST_TO:
        return None
    refusal = getattr(services().helpdesks.get(parts[1]), "refusal", None)
    if refusal is None:
        return None
    reply: Reply = refusal(status, reason)
    answer = Response(reply.body, status=reply.status, content_type=reply.content_type)
    for name, value in reply.headers:
        answer.headers[name] = value
    return answer


def _message_page(status: int, key: str) -> Response:
    """The sidebar's message page, framable where the sidebar is."""
    svc = services()
    asked = request.args.get("lang")
    locale = asked if asked in LOCALES else svc.manifest.brand.locale
    other = "en" if locale == "fr" else "fr"
    switch = (f"{request.path}?{urlencode({**request.args.to_dict(), 'lang': other})}"
              if request.method == "GET" else None)
    ctx = render_context(svc.manifest, svc.details.offers, locale, other_locale_url=switch)
    html = render_message_page(text(f"{key}.title", locale),
                               text(key, locale, status=str(status)), ctx)
    answer = Response(html, status=status, mimetype="text/html")
    answer.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        f"form-action 'self'; frame-ancestors {' '.join(_framers())}")
    answer.headers["Referrer-Policy"] = "no-referrer"
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


def _framers() -> tuple[str, ...]:
    """Who may frame the page: the embed policy, plus the helpdesk of the request's sealed
    link (from the query only: the body is not read here)."""
    svc = services()
    own = tuple(svc.manifest.helpdesks.embed.frame_ancestors)
    context = g.get("sidebar_context")
    via = context.helpdesk if context is not None else svc.embed.framed_by(request.args.get("t"))
    helpdesk = svc.helpdesks.get(via) if via and via != "embed" else None
    extra = tuple(helpdesk.frame_ancestors) if helpdesk is not None else ()
    return tuple(dict.fromkeys(own + extra)) or ("'self'",)
