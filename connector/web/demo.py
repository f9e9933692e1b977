"""The demo helpdesk: sample tickets, each opening the customer sidebar beside it."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request

from connector.app import Services
from connector.i18n import LOCALES, format_datetime, texts_for
from connector.identifiers import InvalidIdentifier
from connector.web.context import services

bp = Blueprint("demo", __name__, template_folder="templates")
DEMO_AGENT = "margaux.demo"  # the demo's agent, as a helpdesk would vouch for them
log = logging.getLogger(__name__)


@bp.get("/")
def index() -> Response:
    """The demo is the front page of a fresh install."""
    return redirect("/demo")  # type: ignore[return-value]


@bp.get("/demo")
def demo() -> str:
    """The ticket queue, the selected ticket and its customer sidebar."""
    svc = services()
    lang = request.args.get("lang")
    lang = lang if lang in LOCALES else svc.manifest.brand.locale
    role = "supervisor" if request.args.get("role") == "supervisor" else "agent"
    tickets = _tickets(svc)
    wanted = request.args.get("ticket")
    first = tickets[0] if tickets else None
    selected = next((t for t in tickets if str(t.get("id")) == wanted), first)
    if selected is not None:
        selected = {**selected, "sidebar_url": _sidebar_url(svc, selected, lang, role),
                    "received": _received(svc, selected.get("created_at"), lang)}
    return render_template("demo.html", tickets=tickets, selected=selected, lang=lang,
                           role=role, texts=texts_for("demo", lang))


def _received(svc: Services, created_at: object, lang: str) -> str | None:
    """When the ticket came in, in the agents' language and the brand's time zone."""
    try:
        moment = dt.datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_datetime(moment, lang, tz=ZoneInfo(svc.manifest.brand.timezone))


def _tickets(svc: Services) -> list[dict[str, Any]]:
    path = svc.demo_dir / "tickets.json"
    try:
        tickets = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("demo tickets unavailable (%s): run `make run` to generate them", exc)
        return []
    return tickets if isinstance(tickets, list) else []


def _sidebar_url(svc: Services, ticket: dict[str, Any], lang: str, role: str) -> str | None:
    """A sealed sidebar link from the ticket's email and phone (for the demo's agent, in the
    role chosen: what they may change from the record); without either, a link that opens
    the search."""
    requester = ticket.get("requester") or {}
    ticket_id = str(ticket.get("id"))
    email, phone = requester.get("email"), requester.get("phone")
    for given in ((email, phone), (email, None), (None, phone)):
        if any(given):
            try:
                token = svc.embed.token(email=given[0], phone=given[1], ticket=ticket_id,
                                        agent=DEMO_AGENT, role=role)
            except InvalidIdentifier:
                continue
            return svc.embed.url("", token, lang)
    return svc.embed.url("", svc.embed.token(ticket=ticket_id, search=True, agent=DEMO_AGENT,
                                             role=role), lang)
