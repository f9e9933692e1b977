"""The sidebar surface each helpdesk frames: an authenticated request in, the record out."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, redirect, request

from connector.details import UnknownDetail
from connector.helpdesk.base import SidebarContext, Unauthorized
from connector.i18n import LOCALES, text
from connector.models import Candidate
from connector.notes import InvalidNote
from connector.search import SearchError
from connector.web import services
from connector.web.api import detail_response
from connector.widgets import (
    BlockSpec,
    RenderContext,
    render_candidates_page,
    render_message_page,
    render_search_page,
    render_sidebar_page,
)

bp = Blueprint("sidebar", __name__)


@bp.route("/helpdesk/<kind>/sidebar", methods=["GET", "POST"])
def sidebar(kind: str) -> Response:
    """The customer record for the helpdesk's current ticket."""
    svc = services()
    locale = _locale(request.values.get("lang"))
    context = _authenticated(kind, locale)
    if isinstance(context, Response):
        return context
    if not context.identifiers and not context.customer_id:
        return _search(context, locale)
    found = svc.assembler.lookup(context.identifiers, locale=locale,
                                 customer_id=context.customer_id)
    if found.candidates:
        return _choose(found.candidates, context, locale)
    if found.profile is None:
        down = [n for n, s in found.sources.items() if s.status.value not in ("ok", "not_found")]
        detail = text("message.sources_down", locale, names=", ".join(down)) if down else None
        return _message(404, locale, "message.not_found", detail=detail)
    layout = [BlockSpec(b.block, frozenset(b.sources) if b.sources else None)
              for b in svc.manifest.sidebar.blocks]
    nonce = secrets.token_urlsafe(16)
    ctx = _render_context(locale, kind=kind, nonce=nonce)
    return _page(render_sidebar_page(found.profile, layout, ctx), 200, nonce)


@bp.get("/helpdesk/<kind>/details/<source>/<detail>")
def detail(kind: str, source: str, detail: str) -> Response | tuple[Response, int]:
    """An on-demand detail of an item in the record the sealed link opens."""
    svc = services()
    helpdesk = svc.helpdesks.get(kind)
    key = request.args.get("key", "")
    if helpdesk is None or not key:
        return jsonify(error="unknown helpdesk or missing key"), 404
    try:
        context = helpdesk.sidebar_context(request.values)
        profile = svc.assembler.lookup(context.identifiers).profile
        allowed = profile is not None and svc.details.belongs(profile, source, detail, key)
    except Unauthorized as exc:
        return jsonify(error=exc.public), 401
    except UnknownDetail:
        allowed = False
    if not allowed:
        return jsonify(error="no such detail for this customer"), 404
    return detail_response(source, detail, key)


@bp.post("/helpdesk/<kind>/notes")
def note(kind: str) -> Response:
    """Add, edit or remove a landmark from the sidebar, then show the record again."""
    svc = services()
    locale = _locale(request.form.get("lang"))
    context = _authenticated(kind, locale)
    if isinstance(context, Response):
        return context
    customer = context.customer_id or svc.assembler.resolver.resolve(
        context.identifiers).customer_id
    if customer is None:
        return _message(404, locale, "message.not_found")
    try:
        _change_note(customer, request.form)
    except InvalidNote as exc:
        return _message(400, locale, "message.note_refused", detail=str(exc))
    back = {"t": request.form.get("t", ""), "lang": locale}
    return redirect(f"/helpdesk/{kind}/sidebar?{urlencode(back)}", 303)  # type: ignore[return-value]


def _authenticated(kind: str, locale: str) -> SidebarContext | Response:
    """The context of a request from this helpdesk, or the page saying why there is none."""
    helpdesk = services().helpdesks.get(kind)
    if helpdesk is None:
        return _message(404, locale, "message.unknown_helpdesk", kind=kind)
    try:
        return helpdesk.sidebar_context(request.values)
    except Unauthorized as exc:
        return _message(401, locale, "message.unauthorized", detail=exc.public)


def _change_note(customer: str, form: Mapping[str, str]) -> None:
    """The form's action on a landmark: add (default), edit or delete (raises InvalidNote)."""
    notes = services().assembler.notes
    author = (form.get("author") or "").strip() or "agent"
    action = form.get("action", "add")
    note_id = int(form.get("note", "0") or 0)
    if action == "delete":
        notes.delete(customer, note_id, author)
    elif action == "edit":
        notes.edit(customer, note_id, form.get("text"), author)
    else:
        notes.add(customer, form.get("text"), author)


def _choices(candidates: list[Candidate], context: SidebarContext,
             locale: str) -> list[dict[str, str | None]]:
    """One sealed link per person, so the agent opens the right one."""
    embed = services().embed
    ids = context.identifiers
    people: list[dict[str, str | None]] = []
    for person in candidates:
        token = embed.token(email=list(ids.emails), phone=list(ids.phones),
                            card=list(ids.cards), ticket=context.ticket_id,
                            customer_id=person.customer_id)
        people.append({"name": person.name or text("message.candidate_unnamed", locale),
                       "hint": person.postcode, "url": embed.url("", token, locale)})
    return people


def _search(context: SidebarContext, locale: str) -> Response:
    """No identifier on the ticket: the agent searches by name, email, phone or postcode."""
    query = request.values.get("q", "").strip()
    people: list[dict[str, str | None]] = []
    message = None
    if query:
        try:
            people = _choices(services().search.search(query), context, locale)
        except SearchError as exc:
            message = str(exc)
        else:
            message = None if people else text("search.none", locale, query=query)
    form = {"action": request.path, "token": request.values.get("t", ""), "query": query,
            "heading": text("search.title", locale), "label": text("search.label", locale),
            "placeholder": text("search.placeholder", locale),
            "button": text("search.button", locale)}
    return _page(render_search_page(form, people, message, _render_context(locale)), 200)


def _choose(candidates: list[Candidate], context: SidebarContext, locale: str) -> Response:
    """Several people match: the agent picks the right one."""
    people = _choices(candidates, context, locale)
    html = render_candidates_page(text("message.ambiguous.title", locale),
                                  text("message.ambiguous", locale, count=str(len(people))),
                                  people, _render_context(locale))
    return _page(html, 200)


def _locale(asked: str | None) -> str:
    return asked if asked in LOCALES else services().manifest.brand.locale


def _render_context(locale: str, kind: str | None = None, nonce: str = "") -> RenderContext:
    """How to render for this request; with `kind` and a nonce, detail buttons can work."""
    manifest = services().manifest
    other = "en" if locale == "fr" else "fr"
    query = urlencode({**request.args.to_dict(), "lang": other})
    token = quote(request.values.get("t", ""), safe="")
    detail_url = (f"/helpdesk/{kind}/details/{{source}}/{{detail}}?t={token}&key="
                  if kind and nonce and token else None)
    return RenderContext(
        locale=locale,
        currency=manifest.brand.currency,
        now=dt.datetime.now(dt.UTC),
        brand=manifest.brand.name,
        other_locale_url=f"{request.path}?{query}" if request.method == "GET" else None,
        timezone=manifest.brand.timezone,
        source_labels={n: c.label for n, c in manifest.sources.items() if c.label},
        details=services().details.offers,
        detail_url=detail_url,
        nonce=nonce,
        repeat_window_days=manifest.kpis.repeat_window_days,
        flag_rules=manifest.flags,
        notes_url=f"/helpdesk/{kind}/notes" if kind and request.values.get("t") else None,
        token=request.values.get("t", ""),
    )


def _message(status: int, locale: str, key: str, detail: str | None = None,
             **params: str) -> Response:
    html = render_message_page(text(f"{key}.title", locale), text(key, locale, **params),
                               _render_context(locale), detail=detail)
    return _page(html, status)


def _page(html: str, status: int, nonce: str | None = None) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    ancestors = " ".join(services().manifest.helpdesks.embed.frame_ancestors)
    script = f"script-src 'nonce-{nonce}'; connect-src 'self'; " if nonce else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; {script}"
        f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
