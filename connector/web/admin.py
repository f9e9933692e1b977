"""The admin page: each source's health, the helpdesks' event log and write-back queue, the
scheduled jobs' last and next runs, the brand's NPS of the last 12 months (HTTP basic auth,
password CONNECTOR_ADMIN_TOKEN)."""

from __future__ import annotations

import datetime as dt
import hmac
import time
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template, request

from connector.customer.brand_nps import MonthlyNps, recent_nps
from connector.web.context import services

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
PAGE_LOCALE = "en"  # the admin page is in English, its sources' labels too


def _at(zone: ZoneInfo, moment: dt.datetime | float | None) -> str:
    """A moment (aware, or epoch seconds) in the brand's time zone: 2026-12-06 04:12:05."""
    if moment is None:
        return "–"
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    if moment.tzinfo is None:  # stored in UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


@bp.before_request
def _authorise() -> Response | None:
    expected = services().settings.admin_token
    given = request.authorization.password if request.authorization else None
    if expected is not None and given and hmac.compare_digest(
            given.encode(), expected.get_secret_value().encode()):
        return None
    text = ("the admin page is disabled: set CONNECTOR_ADMIN_TOKEN" if expected is None
            else "sign in with any user name and the admin token as password")
    return Response(text, 401, {"WWW-Authenticate": 'Basic realm="connector admin"'})


@bp.get("/")
def page() -> str:
    """Each source's health, refreshed every 15 s."""
    zone = services().manifest.brand.timezone
    return render_template("admin.html", sources=_health(), queues=_queues(), now=time.time(),
                           jobs=services().jobs.statuses(), nps=_brand_nps(), zone=zone,
                           at=partial(_at, ZoneInfo(zone)))


@bp.get("/health.json")
def health_json() -> Response:
    """The same figures as JSON, for monitoring."""
    return jsonify(sources=_health(), **_queues(),
                   jobs=[job.as_json() for job in services().jobs.statuses()],
                   brand_nps=[{"month": m.month, "answers": m.answers, "nps": round(m.nps, 1),
                               "promoters": m.promoters, "passives": m.passives,
                               "detractors": m.detractors} for m in _brand_nps()])


def _brand_nps() -> list[MonthlyNps]:
    """The months of the last 12 with NPS answers, as the `segments` job counted them."""
    return recent_nps(services().assembler.resolver.store.engine)


def _health() -> list[dict[str, Any]]:
    svc = services()
    rows = []
    for name, config in svc.manifest.sources.items():
        report = svc.health[name].report()
        rows.append({
            "name": name,
            "label": config.label_in(PAGE_LOCALE) or name,
            "kind": config.preset or config.type,
            "circuit": svc.assembler.guards[name].state.value,
            "lookups": report.lookups,
            "error_rate": report.error_rate,
            "p50_ms": report.p50_ms,
            "p95_ms": report.p95_ms,
            "cache_hit_rate": report.cache_hit_rate,
            "last_success": report.last_success,
            "last_error": report.last_error,
            "last_error_at": report.last_error_at,
        })
    return rows


def _queues() -> dict[str, Any]:
    """The helpdesks configured, their events, write-backs and agents' corrections by state
    (pending, failed…)."""
    svc = services()
    return {"helpdesks": sorted(svc.adapters), "events": svc.events.counts(),
            "writebacks": svc.writebacks.counts(), "changes": svc.outbox.counts(),
            "unset_secrets": svc.manifest.unset_secrets()}
