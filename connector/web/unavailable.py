"""The answer when the database cannot be used (refused, hung, too slow, out of connections): a
503 with `Retry-After`, as JSON, never a bare 500 page. The sidebar's own pages answer with
its message page instead (`sidebar.py`)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connector.store.guard import unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # the database is given this long to come back before a client tries again
DATABASE_ERRORS = (DBAPIError, PoolTimeout)
DOWN = "the database is unavailable: try again in a moment"


def retry_later(response: Response) -> Response:
    """The response as a 503 that tells the client when to try again."""
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable_json(message: str = DOWN, error: str = "database_unavailable") -> Response:
    """A JSON 503 with Retry-After: `{"error": …, "detail": …}`."""
    return retry_later(jsonify(error=error, detail=message))


def database_error(error: Exception) -> Response | tuple[Response, int]:
    """Any route that met a database error: a clean 503 when the database cannot be used now;
    a 500 for a statement it refused (bad data reaching it is our bug, and a retry would not
    help: it must not hide as "try again"). The log names the route and the error's kind,
    never the statement or its values."""
    rule = request.url_rule.rule if request.url_rule else "unmatched"
    if not unavailable(error):
        log.error("database refused a statement on %s %s: %s", request.method, rule,
                  type(error).__name__)
        return jsonify(error="internal_error", detail="the request could not be stored"), 500
    log.warning("database unavailable on %s %s: %s", request.method, rule,
                type(error).__name__)
    return unavailable_json()


def install(app: Flask) -> None:
    """Answer database errors with a 503 on every route."""
    for kind in DATABASE_ERRORS:
        app.register_error_handler(kind, database_error)
