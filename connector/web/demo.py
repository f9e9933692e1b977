"""The demo helpdesk: sample tickets, each opening the customer sidebar beside it, with the
ticket's internal notes under it when the service writes back to the helpdesk it speaks as."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request

from connector.app import Services
from connector.helpdesk.base import RateLimited, WriteBackFailed
from connector.helpdesk.zendesk.api import ZendeskApi
from connector.i18n import LOCALES, format_datetime, texts_for
from connector.identifiers import InvalidIdentifier
from connector.web.context import services

bp = Blueprint("demo", __name__, template_folder="templates")
DEMO_AGENT = "margaux.demo"  # the demo's agent, as a helpdesk would vouch for them
# what the demo helpdesk speaks as (demo/webhooks.py): its tickets are tickets of this helpdesk
# wherever the service writes back to it, so an action's note goes there
SPEAKS_AS = "zendesk"
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
    api = _noted_in(svc)
    if selected is not None:
        number = _number(selected) if api else None
        selected = {**selected, "sidebar_url": _sidebar_url(svc, selected, lang, role, number),
                    "received": _received(svc, selected.get("created_at"), lang),
                    "noted": bool(api and number),  # its notes listed (None: unavailable)
                    "notes": _notes(svc, api, number, lang) if api and number else None}
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


def _noted_in(svc: Services) -> ZendeskApi | None:
    """The API of the helpdesk the demo speaks as, when the service writes back to it (its
    write-back enabled and its API configured: `python -m demo` points it at the demo
    helpdesk's own); None otherwise: the demo's tickets then belong to no helpdesk."""
    config = svc.manifest.helpdesks.adapters.get(SPEAKS_AS)
    api = getattr(svc.adapters.get(SPEAKS_AS), "api", None)
    if config is None or not config.write_back.enabled or not isinstance(api, ZendeskApi):
        return None
    return api


def _number(ticket: dict[str, Any]) -> str | None:
    """The ticket's number in the helpdesk, as the demo's webhooks gave it (demo/webhooks.py
    `helpdesk_ticket_id`): the day it came in, then its number in the demo."""
    day, number = str(ticket.get("created_at"))[:10].replace("-", ""), str(ticket.get("id"))
    return day + number if day.isdigit() and number.isdigit() else None


def _notes(svc: Services, api: ZendeskApi, number: str,
           lang: str) -> list[dict[str, str | None]] | None:
    """The ticket's internal notes in the helpdesk, oldest first; None when it cannot say."""
    try:
        comments = api.comments(number)
    except (WriteBackFailed, RateLimited) as exc:
        log.warning("demo ticket %s: its notes are unavailable (%s)", number, exc)
        return None
    return [{"body": str(c.get("body") or ""), "created_at": str(c.get("created_at") or ""),
             "at": _received(svc, c.get("created_at"), lang)}
            for c in comments if c.get("public") is False]


def _tickets(svc: Services) -> list[dict[str, Any]]:
    path = svc.demo_dir / "tickets.json"
    try:
        tickets = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("demo tickets unavailable (%s): run `make run` to generate them", exc)
        return []
    return tickets if isinstance(tickets, list) else []


def _sidebar_url(svc: Services, ticket: dict[str, Any], lang: str, role: str,
                 number: str | None = None) -> str | None:
    """A sealed sidebar link from the ticket's email and phone (for the demo's agent, in the
    role chosen: what they may change from the record); without either, a link that opens
    the search. With its `number` in the helpdesk the demo speaks as, the link names that
    ticket there: an action's note goes to it."""
    requester = ticket.get("requester") or {}
    ticket_id = number or str(ticket.get("id"))
    kept_in = SPEAKS_AS if number else None
    email, phone = requester.get("email"), requester.get("phone")
    for given in ((email, phone), (email, None), (None, phone)):
        if any(given):
            try:
                token = svc.embed.token(email=given[0], phone=given[1], ticket=ticket_id,
                                        agent=DEMO_AGENT, role=role, ticket_helpdesk=kept_in)
            except InvalidIdentifier:
                continue
            return svc.embed.url("", token, lang)
    return svc.embed.url("", svc.embed.token(ticket=ticket_id, search=True, agent=DEMO_AGENT,
                                             role=role, ticket_helpdesk=kept_in), lang)
