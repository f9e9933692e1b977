"""`POST /helpdesk/<kind>/webhook`: verify, record, acknowledge; the work is done after. An
event the database cannot take is not acknowledged: 503 with Retry-After, the helpdesk sends it
again."""

from __future__ import annotations

import logging
import traceback

from flask import Blueprint, Response, jsonify

from connector.helpdesk.base import BadEvent, Unauthorized
from connector.web.context import services
from connector.web.sidebar import http_request
from connector.web.unavailable import DATABASE_ERRORS, unavailable_json

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/helpdesk/<kind>/webhook")
def webhook(kind: str) -> tuple[Response, int]:
    """A helpdesk event: 401 unless signed, 202 once written to the event log (a duplicate
    delivery is acknowledged again and worked once), 200 for events we do not use, 503 with
    Retry-After when the event log cannot be written."""
    svc = services()
    adapter = svc.adapters.get(kind)
    if adapter is None:
        return jsonify(error=f"no helpdesk '{kind}' is configured for webhooks"), 404
    request = http_request()
    try:
        adapter.verify(request.headers, request.body)
        event = adapter.parse_event(request.headers, request.body)
    except Unauthorized as exc:
        svc.metrics.webhooks.labels(kind, "unauthorized").inc()
        return jsonify(error=exc.public), 401
    except BadEvent as exc:
        svc.metrics.webhooks.labels(kind, "bad").inc()
        return jsonify(error=str(exc)), 400
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # a signed body in a shape its adapter did not foresee: refused as unreadable (a 500
        # would have the helpdesk send it again and again), logged where, never its values
        svc.metrics.webhooks.labels(kind, "bad").inc()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        log.error("webhook from %s: its adapter could not read a signed body (%s at %s:%s)",
                  kind, type(exc).__name__, where.filename.rsplit("/", 1)[-1], where.lineno)
        return jsonify(error="the event's body could not be read"), 400
    if event is None:
        svc.metrics.webhooks.labels(kind, "ignored").inc()
        return jsonify(status="ignored"), 200
    try:
        event_id, duplicate = svc.events.record(event)
    except DATABASE_ERRORS as exc:  # not written, so not acknowledged: the helpdesk sends again
        svc.metrics.webhooks.labels(kind, "unavailable").inc()
        log.warning("webhook from %s not recorded, database unavailable: %s", kind,
                    type(exc).__name__)
        return unavailable_json("the event could not be recorded (database unavailable): "
                                "send it again later"), 503
    svc.metrics.webhooks.labels(kind, "duplicate" if duplicate else "accepted").inc()
    if not duplicate:
        svc.worker.wake()
    return jsonify(status="duplicate" if duplicate else "accepted", id=event_id), 202
