"""The sidebar surface each helpdesk frames: an authenticated request in, the record out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    copy_current_request_context,
    g,
    jsonify,
    redirect,
    request,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connector.customer.actions import ActionRefused, InvalidAction, input_views, number_of
from connector.customer.actions import check as check_action
from connector.customer.actions import offers as action_offers
from connector.customer.actions import text_of as action_text
from connector.customer.compensation import CompensationGrid, row_of
from connector.customer.corrections import (
    PARTS,
    REQUIRED,
    CorrectionRefused,
    InvalidCorrection,
    Writes,
    takers,
    writes_of,
)
from connector.customer.corrections import check as check_correction
from connector.customer.corrections import held as held_values
from connector.customer.details import UnknownDetail
from connector.customer.export import known
from connector.customer.notes import InvalidNote, note_text
from connector.customer.refusals import ChangeRefused, may, recent_enough
from connector.customer.resolver import unanchored_ids
from connector.customer.search import SearchError
from connector.events.outbox import AGENT_KINDS, DuplicateChange
from connector.helpdesk.base import (
    Headers,
    HttpRequest,
    Reply,
    SidebarContext,
    Unauthorized,
    server_refusal,
)
from connector.helpdesk.embed import LinkExpired
from connector.i18n import LOCALES, format_date, format_money, label_text, text
from connector.identifiers import Identifiers
from connector.models import CORRECTABLE, Candidate, CustomerProfile
from connector.sources.guard import Circuit
from connector.store.versions import not_kept, recording
from connector.web.api import detail_response
from connector.web.context import services
from connector.web.limits import change_budget
from connector.web.unavailable import DATABASE_ERRORS, retry_later, unavailable_json
from connector.widgets.base import ActionLink, ChangeLine, RenderContext
from connector.widgets.kept import request_key
from connector.widgets.page import (
    render_action_page,
    render_candidates_page,
    render_correction_page,
    render_message_page,
    render_note_edit_page,
    render_search_page,
    render_sidebar_page,
    render_timeline_page,
)
from connector.widgets.record import layout_of, render_context
from connector.widgets.timeline import render_entries

bp = Blueprint("sidebar", __name__)
EMBED = "embed"
log = logging.getLogger(__name__)


@bp.route("/helpdesk/<kind>/sidebar", methods=["GET", "POST"])
def sidebar(kind: str) -> Response:
    """The customer record for the helpdesk's current ticket (its Python work within the
    process's CPU slots, `CONNECTOR_CPU_SLOTS`)."""
    with services().assembler.gate.held():
        return _sidebar(kind)


def _sidebar(kind: str) -> Response:
    svc = services()
    locale = _locale(request.values.get("lang"))
    context = _authenticated(kind, locale)
    if isinstance(context, Response):
        return context
    if kind != EMBED:  # a helpdesk's own context: on to the sealed page (our short session)
        return _sealed_redirect(context, locale)
    if (not context.identifiers and not context.customer_id) or request.values.get("q"):
        return _search(context, locale)  # nothing to look up, or the agent searches
    if request.values.get("find"):  # "not this person": the agent looks for the right one
        return _search(context, locale, notice=text("search.not_this_person", locale))
    context = _remembered(context)
    pages = svc.pages
    pages.prune()
    key = _kept_key(kind, locale, context) if pages.enabled else None
    if key is None:
        return _record(context, kind, locale)[0]
    found = pages.get(key)
    token = request.values.get("t", "")
    if found is not None:  # nothing it was made of changed
        kept, timely = found
        nonce = secrets.token_urlsafe(16)
        html = pages.served(kept, token, nonce)  # counted served before it is made again
        if not timely:  # only the time moved: made again meanwhile
            _made_behind(key, context, kind, locale, token)
        return _page(html, 200, nonce)
    return _made_kept(key, context, kind, locale, token)


def _made_kept(key: str, context: SidebarContext, kind: str, locale: str, token: str,
               again: bool = True) -> Response:
    """The record's page made now, and kept when it may be (`KeptPages.keep`); made again
    in the background when it was not for what this making wrote (a person learnt: the
    next making only reads)."""
    pages = services().pages
    with recording() as made:
        response, page = _record(context, kind, locale)
    if page is None:
        pages.drop(key)
    elif (not pages.keep(key, page.html, token, page.ctx.nonce, made, page.profile, page.ctx)
          and made.wrote and again):
        _made_behind(key, context, kind, locale, token)
    return response


def _made_behind(key: str, context: SidebarContext, kind: str, locale: str,
                 token: str) -> None:
    """The page made again on the kept pages' own thread, with this request's context; once
    (a making there that writes is not made again)."""
    services().pages.refresh(key, copy_current_request_context(
        lambda: _made_kept(key, context, kind, locale, token, again=False)))


@dataclasses.dataclass(frozen=True)
class _Made:
    """A record's page as just made (what the kept pages keep)."""

    html: str
    profile: CustomerProfile
    ctx: RenderContext


def _kept_key(kind: str, locale: str, context: SidebarContext) -> str | None:
    """What a kept page is kept under: a digest of the request less its token, the same in
    every process (None: a request whose page is not kept)."""
    if request.method != "GET":
        return None
    query = sorted((name, value) for name, value in request.args.items(multi=True)
                   if name != "t")
    return request_key(kind, locale, context, query)


def _record(context: SidebarContext, kind: str, locale: str) -> tuple[Response, _Made | None]:
    """The page of the person the context names (or the candidates, the search, the message
    saying why there is none), and the record's page as made, when it is one."""
    svc = services()
    ticket = (context.helpdesk, context.ticket_id) if context.ticket_id else None
    found = svc.assembler.lookup(context.identifiers, locale=locale,  # ticket: not its own past
                                 customer_id=context.customer_id, ticket=ticket)
    if found.suppressed:  # erased at the person's request (`forget --suppress`)
        return _message(404, locale, "message.suppressed"), None
    if found.undecided:  # several people, and the store that tells them apart is down
        return retry_later(_message(503, locale, "message.identity_unchecked")), None
    if found.candidates:
        return _choose(found.candidates, context, locale), None
    if found.profile is None and _only_handles(context):
        return _search(context, locale), None  # an unknown Instagram handle: find them by name
    if found.profile is None and found.unanswered:  # unknown where asked: maybe known there
        names = ", ".join(svc.manifest.sources[n].label_in(locale) or n
                          for n in found.unanswered)
        return retry_later(_message(503, locale, "message.sources_down", names=names)), None
    if found.profile is None:  # a known customer on a new phone is the common case: search
        return _search(context, locale, prefill=_first_identifier(context.identifiers),
                       notice=text("message.not_found_search", locale), status=404), None
    layout = layout_of(svc.manifest, context.helpdesk)
    nonce = secrets.token_urlsafe(16)
    ctx = replace(_render_context(locale, kind=kind, nonce=nonce),
                  changes=_recent_changes(found.profile.customer_id, locale),
                  actions=_offered(found.profile, locale, context.role),
                  correctable=_correctable(context.role), agent=context.agent)
    html = render_sidebar_page(found.profile, layout, ctx)
    return _page(html, 200, nonce), _Made(html, found.profile, ctx)


@bp.get("/helpdesk/<kind>/details/<source>/<detail>")
def detail(kind: str, source: str, detail: str) -> Response | tuple[Response, int]:
    """An on-demand detail of an item in the record the sealed link opens."""
    svc = services()
    key = request.args.get("key", "")
    if kind != EMBED or not key:
        return jsonify(error="unknown helpdesk or missing key"), 404
    try:
        context = svc.embed.read(request.values)
        profile = svc.assembler.lookup(context.identifiers,
                                       customer_id=context.customer_id).profile
        allowed = profile is not None and svc.details.belongs(profile, source, detail, key)
    except Unauthorized as exc:
        return jsonify(error=exc.public), 401
    except UnknownDetail:
        allowed = False
    if not allowed:
        return jsonify(error="no such detail for this customer"), 404
    return detail_response(source, detail, key, shown_in=_locale(request.args.get("lang")))


@bp.get("/helpdesk/<kind>/timeline")
def timeline(kind: str) -> Response:
    """A page of the timeline of the record the sealed link opens (`kind`, `before`); with
    `part=entries`, only its entries and "older" link, which the record's script appends."""
    locale = _locale(request.values.get("lang"))
    context = _embedded(kind, locale)
    if isinstance(context, Response):
        return context
    found = services().assembler.lookup(context.identifiers, locale=locale,
                                        customer_id=context.customer_id)
    if found.profile is None:
        return _message(404, locale, "message.not_found")
    asked = request.args.get("kind"), request.args.get("before")
    ctx = _render_context(locale, kind=kind)
    if request.args.get("part") == "entries":
        return _page(render_entries(found.profile, ctx, *asked), 200)
    back = services().embed.url("", request.args.get("t", ""), locale)
    return _page(render_timeline_page(found.profile, ctx, back, *asked), 200)


@bp.get("/helpdesk/<kind>/notes/edit")
def note_edit(kind: str) -> Response:
    """A landmark's edit page as the record's notes form asks for it (`?note=7`: the sealed
    link's token once for all the notes' buttons); an id made by hand finds no note (404)."""
    raw_id = request.args.get("note", "").strip()
    # isdigit alone takes ³ or ١, which int() refuses; 12 digits, as a posted id
    note_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 12 else None
    return note_page(kind, note_id)


@bp.get("/helpdesk/<kind>/notes/<int:note_id>")
def note_page(kind: str, note_id: int | None) -> Response:
    """A landmark's edit page (its forms post to `note`), also at this older address."""
    locale = _locale(request.args.get("lang"))
    context = _embedded(kind, locale)
    if isinstance(context, Response):
        return context
    customer = _customer_of(context)
    kept = services().assembler.notes.of(customer) if customer is not None else []
    found = next((n.as_note() for n in kept if n.id == note_id), None)
    if found is None:
        return _message(404, locale, "notes.gone")
    back = services().embed.url("", request.args.get("t", ""), locale)
    ctx = replace(_render_context(locale, kind=kind), agent=context.agent)
    return _page(render_note_edit_page(found, ctx, back), 200)


@bp.post("/helpdesk/<kind>/notes")
def note(kind: str) -> Response:
    """Add, edit or remove a landmark from the sidebar, then show the record again."""
    locale = _locale(request.form.get("lang"))
    context = _authenticated(kind, locale)
    if isinstance(context, Response):
        return context
    named = _named(context)
    customer = named or _unanchored_of(context)  # one lookup at most
    if customer is None:
        return _message(404, locale, "message.not_found")
    try:
        kept = _change_note(customer, request.form, context.agent, looked_up=named is None)
    except InvalidNote as exc:
        return _message(400, locale, "message.note_refused", detail=str(exc))
    if not kept:  # a link to a person the store does not know (erased since): no orphan note
        return _message(404, locale, "message.not_found")
    back = {"t": request.form.get("t", ""), "lang": locale}
    return redirect(f"/helpdesk/{kind}/sidebar?{urlencode(back)}", 303)  # type: ignore[return-value]


@bp.get("/helpdesk/<kind>/change")
def change(kind: str) -> Response:
    """The record's one form for changes: its button names the change (`do`:
    `correction:<field>`, `action:<source>:<name>:<key>`), answered by that change's page."""
    locale = _locale(request.values.get("lang"))
    context = _embedded(kind, locale)
    if isinstance(context, Response):
        return context
    what, _, rest = request.args.get("do", "").partition(":")
    asked: dict[str, str] = {"t": request.args.get("t", ""), "lang": locale}
    if what == "correction" and rest in CORRECTABLE:
        asked["field"] = rest
    elif what == "action" and rest.count(":") >= 2:
        source, name, key = rest.split(":", 2)
        asked.update(source=source, action=name, **({"key": key} if key else {}))
    else:
        return _message(404, locale, "action.unknown")
    page = "corrections" if what == "correction" else "actions"
    return redirect(f"/helpdesk/{kind}/{page}?{urlencode(asked)}", 303)  # type: ignore[return-value]


@bp.route("/helpdesk/<kind>/corrections", methods=["GET", "POST"])
def correction(kind: str) -> Response:
    """Correct a field of the record (an email, a phone, the address part by part) at the
    source that takes it: the form, then the change kept in the outbox (written before this
    answer) and the record shown again, where the change says how it stands
    (docs/corrections.md)."""
    locale = _locale(request.values.get("lang"))
    linked = _linked_record(kind, locale)
    if isinstance(linked, Response):
        return linked
    context, profile = linked
    svc = services()
    field = request.values.get("field", "")
    writes = _writes()
    if field not in CORRECTABLE or not takers(writes, field):
        return _message(404, locale, "correction.unknown")
    parts = PARTS.get(field)  # a structured field: one input per part, the record's one value
    form: dict[str, Any] = {
        "field": field, "replaces": "" if parts else request.form.get("replaces", ""),
        "value": {name: request.form.get(f"value.{name}", "") for name in parts} if parts
        else request.form.get("value", "")}
    if request.method == "GET":
        return _correction_form(kind, locale, profile, form)
    try:
        done = check_correction(profile, field, form["value"], form["replaces"] or None, None,
                                writes, svc.manifest.brand.default_region, role=context.role)
    except (InvalidCorrection, CorrectionRefused) as exc:
        status = exc.status if isinstance(exc, CorrectionRefused) else 400
        return _correction_form(kind, locale, profile, form, exc.reason, status)
    change_id = svc.embed.change_id(request.form.get("once"),
                                    _form_of("correction", profile, field))
    if change_id is None:  # no form of ours, or one open too long: shown again, fresh
        return _correction_form(kind, locale, profile, form, "form_expired", 400)
    kept = _keep_change(context, profile, locale, done.source, field, done.values(),
                        change_id=change_id)
    if isinstance(kept, tuple):
        return _correction_form(kind, locale, profile, form, *kept)
    return kept


@bp.route("/helpdesk/<kind>/actions", methods=["GET", "POST"])
def action(kind: str) -> Response:
    """Run a back-office action the record offers (open a return on an order): its page
    (what it does, what to fill), then the action kept in the outbox before this answer and
    the record shown again, where it says how it stands (docs/actions.md)."""
    locale = _locale(request.values.get("lang"))
    linked = _linked_record(kind, locale)
    if isinstance(linked, Response):
        return linked
    context, profile = linked
    svc = services()
    source, name = request.values.get("source", ""), request.values.get("action", "")
    key = request.values.get("key") or None
    spec = (getattr(svc.manifest.sources.get(source), "actions", {}) or {}).get(name)
    if spec is None:
        return _message(404, locale, "action.unknown")
    given = {k.removeprefix("input."): v for k, v in request.form.items()
             if k.startswith("input.")}
    form = ActionForm(kind, locale, profile, spec, source, name, key, given)
    if request.method == "GET":
        return _action_form(form)
    try:
        done = check_action(profile, svc.manifest.sources, source, name, key, given, _today(),
                            role=context.role, grid=svc.manifest.compensation)
    except (InvalidAction, ActionRefused) as exc:
        return _action_form(form, exc.reason,
                            exc.status if isinstance(exc, ActionRefused) else 400)
    change_id = svc.embed.change_id(request.form.get("once"), form.what)
    if change_id is None:  # no form of ours, or one open too long: shown again, fresh
        return _action_form(form, "form_expired", 400)
    kept = _keep_change(context, profile, locale, source, name,
                        done.kept(spec, svc.manifest.brand.locale), "action", done.shown,
                        change_id)
    return _action_form(form, *kept) if isinstance(kept, tuple) else kept


def _keep_change(context: SidebarContext, profile: CustomerProfile, locale: str, source: str,
                 name: str, values: dict[str, Any], kind: str = "correction",
                 item: str | None = None,
                 change_id: str | None = None) -> Response | tuple[str, int]:
    """A checked change kept in the outbox under its form's change id (the same form sent
    again: the same change), then the record shown again; or why not now (its catalog reason
    and status: the source's circuit is open or its copy too old, the agent's budget spent)."""
    svc = services()
    if svc.assembler.guards[source].state == Circuit.OPEN:
        return "unavailable", 503
    try:
        recent_enough(profile, source, svc.settings.change_max_age_s)
    except ChangeRefused as exc:
        return exc.reason, exc.status
    if (change_id is None or svc.outbox.get(change_id) is None) and \
            not change_budget().take(_actor(context)):
        return "too_many", 429
    try:
        svc.outbox.submit(profile.customer_id, source, name, values, actor=_actor(context),
                          helpdesk=context.ticket_of, ticket_id=context.ticket_id, kind=kind,
                          item=item, change_id=change_id)
    except DuplicateChange:
        return "form_expired", 400
    svc.worker.wake()
    # back to this person whatever the ticket's identifiers now find (a corrected email no
    # longer finds them at the source): the link names them, as an agent's choice does
    sealed = svc.embed.seal(context, customer_id=profile.customer_id)
    return redirect(svc.embed.url("", sealed, locale), 303)  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class ActionForm:
    """An action's page: for which record, item and agent's language, with what was given."""

    kind: str
    locale: str
    profile: CustomerProfile
    spec: Any
    source: str
    name: str
    key: str | None
    given: Mapping[str, str]

    @property
    def what(self) -> str:
        """The change its single-use token is for."""
        return _form_of(f"action:{self.source}:{self.name}:{self.key or ''}", self.profile)


def _action_form(form: ActionForm, error: str | None = None, status: int = 200) -> Response:
    """An action's page (a fresh single-use token in it), with the reason it was refused
    when it was."""
    svc = services()
    token = request.values.get("t", "")
    spec, locale = form.spec, form.locale
    values = {"heading": label_text(spec.label, locale),
              "confirm": action_text(spec.confirm, locale, form.key, {}, spec,
                                     number_of(form.profile, spec, form.key)),
              "inputs": input_views(spec, locale, form.given),
              "source": form.source, "action_name": form.name, "key": form.key,
              "source_label": svc.manifest.sources[form.source].label_in(locale) or form.source,
              "action_url": f"/helpdesk/{form.kind}/actions", "token": token,
              "once": svc.embed.form_token(form.what),
              **_grid_of(form, svc.manifest.compensation),
              "back": svc.embed.url("", token, locale),
              "error": text(f"action.error.{error}", locale) if error else None}
    return _page(render_action_page(values, _render_context(locale)), status)


def _grid_of(form: ActionForm, grid: CompensationGrid | None) -> dict[str, Any]:
    """Beside an action that compensates: the grid's row for this customer, and whether the
    agent's role may go beyond it."""
    if form.spec.compensation is None or grid is None:
        return {"grid": None, "escalates": False}
    context = g.get("sidebar_context")
    row = row_of(grid, form.profile, _today(), form.locale)
    currency = services().manifest.brand.currency
    cells = [(label, gesture, format_money(up_to, currency, form.locale) if up_to else None)
             for _, label, gesture, up_to in (row.cells if row else ())]
    return {"grid": {"label": row.label, "cells": cells} if row else None,
            "escalates": may(grid.escalation_roles, getattr(context, "role", None))}


def _form_of(change: str, profile: CustomerProfile, field: str = "") -> str:
    """What a form's single-use token is for: this change, for this person."""
    return f"{change}:{field}:{profile.customer_id}"


def _actor(context: SidebarContext) -> str:
    """Who makes a change, for the audit: the agent the helpdesk vouches for, else the
    helpdesk's agents as a whole."""
    return (context.agent or f"agent@{context.helpdesk}")[:80]


def _linked_record(kind: str, locale: str
                   ) -> tuple[SidebarContext, CustomerProfile] | Response:
    """The sealed link's context and the record of the person it is about (a page that
    changes something: a correction, an action), or the answer saying why there is none."""
    context = _embedded(kind, locale)
    if isinstance(context, Response):
        return context
    assembler = services().assembler
    found = (assembler.lookup(Identifiers(), customer_id=context.customer_id)
             if context.customer_id else assembler.lookup(context.identifiers))
    if found.candidates:  # several people fit the ticket: nothing is changed on a guess
        return _message(409, locale, "message.ambiguous", count=str(len(found.candidates)))
    if found.profile is None:
        return _message(404, locale, "message.not_found")
    return context, found.profile


def _correction_form(kind: str, locale: str, profile: CustomerProfile, form: dict[str, Any],
                     error: str | None = None, status: int = 200) -> Response:
    """The correction page (a structured field's parts filled with the record's value until
    the agent sends theirs), with the reason a correction was refused when it was."""
    svc = services()
    field = form["field"]
    sources = [s for s in takers(_writes(), field) if profile.identity.external_ids.get(s)]
    source = sources[0] if sources else takers(_writes(), field)[0]
    labels = svc.manifest.sources[source]
    token = request.values.get("t", "")
    held = held_values(profile, field, svc.manifest.brand.default_region)
    sent = form["value"]
    given = sent if isinstance(sent, dict) and any(sent.values()) \
        else next((value for value in held if isinstance(value, dict)), {})
    parts = [{"name": name, "label": text(f"correction.part.{field}.{name}", locale),
              "value": given.get(name, ""), "max": longest, "required": name in REQUIRED[field]}
             for name, longest in PARTS.get(field, {}).items()]
    values = {**form, "value": "" if parts else form["value"], "parts": parts,
              "held": [_held_text(value) for value in held],
              "source": labels.label_in(locale) or source, "token": token,
              "once": svc.embed.form_token(_form_of("correction", profile, field)),
              "action": f"/helpdesk/{kind}/corrections",
              "back": svc.embed.url("", token, locale),
              "error": text(f"correction.error.{error}", locale) if error else None,
              "input_type": "email" if field == "identity.emails" else "tel"}
    return _page(render_correction_page(values, _render_context(locale)), status)


def _held_text(value: str | dict[str, str]) -> str:
    """A value the record holds, as the correction page shows it (an address on one line)."""
    if isinstance(value, str):
        return value
    return ", ".join(part for part in value.values() if part)


def _recent_changes(customer_id: str, locale: str) -> tuple[ChangeLine, ...]:
    """The customer's corrections and actions of the last week still worth showing (at most
    five); none when the database does not answer (the record still shows the sources)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    try:
        kept = services().outbox.of(customer_id, since=since, limit=5, kinds=AGENT_KINDS)
    except DATABASE_ERRORS as exc:
        log.warning("corrections not read for the record: %s", type(exc).__name__)
        not_kept("corrections not read")
        return ()
    return tuple(ChangeLine(c.kind, _what(c.kind, c.source, c.name, c.item, locale), c.source,
                            c.state, c.outcome) for c in kept)


def _what(kind: str, source: str, name: str, item: str | None, locale: str) -> str:
    """A change in a few words: the field corrected, or the action and its item."""
    if kind == "correction":
        return text(f"correction.field.{name}", locale)
    spec = (getattr(services().manifest.sources.get(source), "actions", {}) or {}).get(name)
    label = label_text(spec.label, locale) if spec is not None else name
    return f"{label} ({item})" if item else label


def _offered(profile: CustomerProfile, locale: str,
             role: str | None) -> tuple[ActionLink, ...]:
    """The actions the record offers now to an agent of `role`, as the page links them."""
    return tuple(ActionLink(o.source, o.name, label_text(o.spec.label, locale),
                            o.spec.applies_to, o.key, o.number)
                 for o in action_offers(profile, services().manifest.sources, _today(),
                                        role, checked=True))


def _correctable(role: str | None) -> frozenset[str]:
    """The fields an agent of `role` may correct at some source."""
    writes = _writes()
    return frozenset(field for fields in writes.values() for field in fields
                     if takers(writes, field, role, checked=True))


def _today() -> dt.date:
    """Today in the brand's time zone (what an action's `when:` compares with)."""
    return dt.datetime.now(ZoneInfo(services().manifest.brand.timezone)).date()


def _writes() -> Writes:
    """Each source and the fields it takes corrections of (`writes:`), with their roles."""
    return writes_of(services().manifest.sources)


@bp.errorhandler(DBAPIError)
@bp.errorhandler(PoolTimeout)
def database_error(error: Exception) -> Response:
    """A sidebar page that met a database error: the message page, 503 with Retry-After."""
    rule = request.url_rule.rule if request.url_rule else "unmatched"
    log.warning("database unavailable on %s %s: %s", request.method, rule, type(error).__name__)
    if request.endpoint == "sidebar.detail":  # fetched by the page's script: JSON
        return unavailable_json()
    refused = _server_refusal((request.view_args or {}).get("kind"), 503,
                              "the database is unavailable: retry in a moment")
    if refused is not None:
        return retry_later(refused)
    locale = _locale(request.values.get("lang"))
    return retry_later(_message(503, locale, "message.database_down"))


def _embedded(kind: str, locale: str) -> SidebarContext | Response:
    """The context of a sealed link's own page (a timeline page, a landmark's edit page),
    or the answer saying why there is none: these pages exist for `embed` links only."""
    if kind != EMBED:
        return _message(404, locale, "message.unknown_helpdesk", kind=kind)
    return _authenticated(kind, locale)


def _customer_of(context: SidebarContext) -> str | None:
    """The person a sealed link is about: the one chosen, or the one its identifiers name
    (in the store, else as the sources name them: `_unanchored_of`)."""
    return _named(context) or _unanchored_of(context)


def _named(context: SidebarContext) -> str | None:
    """The person the link store gives a sealed link: the one chosen, or the one its
    identifiers name."""
    resolver = services().assembler.resolver
    return context.customer_id or resolver.resolve(context.identifiers).customer_id


def _unanchored_of(context: SidebarContext) -> str | None:
    """The customer only answers without an id of their own know (a contact history), whom
    the store cannot name: their id as the lookup gives it, when it is the one an identifier
    of the link gives them (`resolver.unanchored_ids`) — never an id the link does not lead
    to. `forget` by that identifier reaches what is kept under it."""
    if context.customer_id or not context.identifiers.pairs():
        return None
    whose = services().assembler.lookup(context.identifiers, record=False).customer_id
    return whose if whose in unanchored_ids(context.identifiers.pairs()) else None


def _server_refusal(kind: object, status: int, reason: str) -> Response | None:
    """The error answer of a helpdesk whose server calls us and shows its admin only the
    start of it (FreeScout, Help Scout: their `refusal`); None for the others."""
    helpdesk = services().helpdesks.get(kind) if isinstance(kind, str) else None
    refusal = getattr(helpdesk, "refusal", None)
    if helpdesk is None or refusal is None:
        return None
    return _reply(refusal(status, reason), helpdesk.frame_ancestors)


def _authenticated(kind: str, locale: str) -> SidebarContext | Response:
    """The context of a request from this helpdesk, its own answer, or the page saying why
    there is none."""
    helpdesk = services().helpdesks.get(kind)
    if helpdesk is None and request.method == "POST":  # a helpdesk's server: a plain reason
        return _reply(server_refusal(404, f"no helpdesk '{kind}' in the manifest (add "
                                          f"helpdesks.{kind})"), ())
    if helpdesk is None:
        return _message(404, locale, "message.unknown_helpdesk", kind=kind)
    try:
        found = helpdesk.sidebar_context(http_request())
    except LinkExpired:  # ours, only old: the agent reloads, nothing for the admin to fix
        return _message(401, locale, "message.link_expired")
    except Unauthorized as exc:
        refused = _server_refusal(kind, 401, f"refused: {exc.public}")
        return refused or _message(401, locale, "message.unauthorized", detail=exc.public)
    if isinstance(found, Reply):
        return _reply(found, helpdesk.frame_ancestors)
    g.sidebar_context = found  # its helpdesk decides who may frame the page
    return found


def http_request() -> HttpRequest:
    """The Flask request as adapters see it (no framework, raw body kept)."""
    body = request.get_data(cache=True)  # first: once the form is parsed, the body is gone
    return HttpRequest(method=request.method, path=request.path,
                       args=request.args.to_dict(), form=request.form.to_dict(),
                       headers=Headers(dict(request.headers.items())),
                       body=body, cookies=request.cookies.to_dict())


def _sealed_redirect(context: SidebarContext, locale: str) -> Response:
    """A helpdesk's authenticated context, sealed into our own short-lived link."""
    embed = services().embed
    url = embed.url("", embed.seal(context), context.locale or locale, keep=dict(context.keep))
    return redirect(url, 303)  # type: ignore[return-value]


def _remembered(context: SidebarContext) -> SidebarContext:
    """The agent's choice for this ticket: kept when just made (with the handle the ticket
    knew the person by), applied when the ticket is opened again."""
    if not context.ticket_id or context.helpdesk == EMBED:
        return context
    store = services().assembler.resolver.store
    try:
        if context.customer_id:
            handles = [("handle", h) for h in context.identifiers.handles]
            store.choose(context.helpdesk, context.ticket_id, context.customer_id, handles,
                         actor=f"agent@{context.helpdesk}")
            return context
        chosen = store.chosen(context.helpdesk, context.ticket_id)
    except DATABASE_ERRORS as exc:  # the store is down: the lookup says what it can
        log.warning("agent's choice for a ticket not read or kept: %s", type(exc).__name__)
        return context
    return dataclasses.replace(context, customer_id=chosen) if chosen else context


def _only_handles(context: SidebarContext) -> bool:
    ids = context.identifiers
    return bool(ids.handles) and not (ids.emails or ids.phones or ids.cards or ids.externals)


def _reply(reply: Reply, ancestors: tuple[str, ...]) -> Response:
    """An adapter's own answer; HTML gets the framing policy and security headers."""
    if reply.content_type.startswith("text/html"):
        response = _page(reply.body, reply.status, reply.nonce, ancestors,
                         script_src=reply.script_src, frame_src=reply.frame_src,
                         form_action="'none'")  # adapters' pages post nothing by form
    else:
        response = Response(reply.body, status=reply.status, content_type=reply.content_type)
        response.headers["Cache-Control"] = "no-store"
    for name, value in reply.headers:
        response.headers[name] = value
    return response


def _change_note(customer: str, form: Mapping[str, str], agent: str | None = None,
                 looked_up: bool = False) -> bool:
    """The form's action on a note: add (default), edit or delete (raises InvalidNote),
    signed by the agent the helpdesk vouches for, else by the name typed; False, nothing
    done, when the link store does not know the person — unless they are `looked_up`: the
    customer only id-less answers know, to whom the sealed link led just now."""
    notes = services().assembler.notes
    author = agent or (form.get("author") or "").strip() or "agent"
    action = form.get("action", "add")
    raw_id = (form.get("note") or "").strip()
    # a form made by hand: no such note (isdigit alone takes ³ or ١, which int() refuses)
    if action in ("delete", "edit") and (
            not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 12):
        raise InvalidNote("no such note")
    text = "" if action == "delete" else note_text(form.get("text"))
    if not looked_up and not known(notes.engine, customer):
        return False
    if action == "delete":
        notes.delete(customer, int(raw_id), author)
    elif action == "edit":
        notes.edit(customer, int(raw_id), text, author)
    else:
        notes.add(customer, text, author)
    return True


def _choices(candidates: list[Candidate], context: SidebarContext,
             locale: str) -> list[dict[str, str | None]]:
    """One sealed link per person, so the agent opens the right one."""
    embed = services().embed
    people: list[dict[str, str | None]] = []
    for person in candidates:
        token = embed.seal(context, customer_id=person.customer_id)
        people.append({"name": person.name or text("message.candidate_unnamed", locale),
                       "hint": _telling(person, locale), "url": embed.url("", token, locale)})
    return people


def _telling(person: Candidate, locale: str) -> str | None:
    """What tells this person apart from the others sharing the ticket's identifier."""
    labels = services().manifest.sources
    parts = [" ".join(p for p in (person.postcode, person.city) if p)]
    if person.birth_year:
        parts.append(text("message.candidate_born", locale, year=str(person.birth_year)))
    if person.last_order:
        parts.append(text("message.candidate_last_order", locale,
                          date=format_date(person.last_order, locale)))
    parts += [f"{labels[s].label_in(locale) or s if s in labels else s} {value}"
              for s, value in sorted(person.source_ids.items())]
    return " · ".join(p for p in parts if p) or None


def _search(context: SidebarContext, locale: str, prefill: str = "", notice: str | None = None,
            status: int = 200) -> Response:
    """The agent searches by name, email, phone or postcode: no identifier on the ticket, or
    nobody found by it (`prefill`: the ticket's identifier, `notice`: why they are here)."""
    query = request.values.get("q", "").strip()
    people: list[dict[str, str | None]] = []
    message = notice
    if query:
        try:
            people = _choices(services().search.search(query), context, locale)
        except SearchError as exc:
            message = str(exc)
        else:
            message = None if people else text("search.none", locale, query=query)
    form = {"action": request.path, "token": request.values.get("t", ""),
            "query": query or prefill,
            "heading": text("search.title", locale), "label": text("search.label", locale),
            "placeholder": text("search.placeholder", locale),
            "button": text("search.button", locale)}
    return _page(render_search_page(form, people, message, _render_context(locale)), status)


def _first_identifier(ids: Identifiers) -> str:
    """What the ticket named the customer by, to search with (a phone first: callers change
    numbers more than emails), for the agent to edit into a name or a postcode."""
    if ids.phones:
        return ids.phones[0]
    return ids.emails[0] if ids.emails else ""


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
    other = "en" if locale == "fr" else "fr"
    query = urlencode({**request.args.to_dict(), "lang": other})
    token = quote(request.values.get("t", ""), safe="")
    detail_url = (f"/helpdesk/{kind}/details/{{source}}/{{detail}}?t={token}&lang={locale}&key="
                  if kind and nonce and token else None)
    return render_context(
        services().manifest, services().details.offers, locale,
        other_locale_url=f"{request.path}?{query}" if request.method == "GET" else None,
        detail_url=detail_url,
        nonce=nonce,
        notes_url=f"/helpdesk/{kind}/notes" if kind and request.values.get("t") else None,
        timeline_url=_timeline_url(kind, locale),
        token=request.values.get("t", ""),
        search_url=(f"/helpdesk/{kind}/sidebar?t={token}&lang={locale}&find=1"
                    if kind and token else None),
        changes_url=f"/helpdesk/{kind}/change" if kind == EMBED and token else None,
        rendered=services().rendered,
    )


def _timeline_url(kind: str | None, locale: str) -> str | None:
    """Where the timeline's filters and "older" link lead (with the sealed link's token)."""
    token = request.values.get("t")
    if not kind or not token:
        return None
    return f"/helpdesk/{kind}/timeline?{urlencode({'t': token, 'lang': locale})}"


def _framers() -> tuple[str, ...]:
    """Who may frame this page: the embed policy, plus the helpdesk the sealed link was made
    for (Zendesk's account, Chatwoot's host…), even when the link is out of date."""
    svc = services()
    own = tuple(svc.manifest.helpdesks.embed.frame_ancestors)
    context = g.get("sidebar_context")
    via = context.helpdesk if context is not None else svc.embed.framed_by(
        request.values.get("t"))
    helpdesk = svc.helpdesks.get(via) if via and via != EMBED else None
    extra = tuple(helpdesk.frame_ancestors) if helpdesk is not None else ()
    return tuple(dict.fromkeys(own + extra))


def _message(status: int, locale: str, key: str, detail: str | None = None,
             **params: str) -> Response:
    html = render_message_page(text(f"{key}.title", locale), text(key, locale, **params),
                               _render_context(locale), detail=detail)
    return _page(html, status)


def _page(html: str, status: int, nonce: str | None = None,
          framers: tuple[str, ...] | None = None, script_src: tuple[str, ...] = (),
          frame_src: tuple[str, ...] = (), form_action: str = "'self'") -> Response:
    response = Response(html, status=status, mimetype="text/html")
    ancestors = " ".join(framers if framers is not None else _framers())
    scripts = " ".join((f"'nonce-{nonce}'", *script_src))
    script = f"script-src {scripts}; connect-src 'self'; " if nonce else ""
    frames = f"frame-src {' '.join(frame_src)}; " if frame_src else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; {script}{frames}"
        f"base-uri 'none'; form-action {form_action}; frame-ancestors {ancestors}"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
