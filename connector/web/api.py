"""The JSON API: the canonical customer for other tools, behind a bearer token."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.customer.actions import Offer, input_views
from connector.customer.actions import check as check_action
from connector.customer.actions import offers as action_offers
from connector.customer.actions import text_of as action_text
from connector.customer.compensation import GridRow, row_of
from connector.customer.corrections import check as check_correction
from connector.customer.corrections import writes_of
from connector.customer.details import UnknownDetail
from connector.customer.export import anything_kept, footprint, known
from connector.customer.identity import external_identifier
from connector.customer.notes import InvalidNote, note_text
from connector.customer.refusals import ChangeRefused, InvalidChange, recent_enough
from connector.customer.search import SearchError
from connector.customer.timeline import KINDS, InvalidCursor, page_of, timeline_of
from connector.events.outbox import DuplicateChange
from connector.helpdesk.base import loads
from connector.i18n import label_text, normalize_locale
from connector.identifiers import Identifiers, InvalidIdentifier, identifiers_from
from connector.models import CustomerProfile
from connector.sources.base import SourceError
from connector.sources.guard import Circuit
from connector.store.engine import audit_entry
from connector.web.context import services
from connector.web.limits import change_budget
from connector.web.unavailable import retry_later, unavailable_json
from connector.widgets.details import read_at, shown_fields

bp = Blueprint("api", __name__, url_prefix="/api/v1")


ADMIN_ONLY = frozenset({"api.export"})  # the admin token's, never the API token's


@bp.before_request
def _authorise() -> Response | None:
    if request.endpoint in ADMIN_ONLY:
        return _admin_only()
    expected = services().settings.api_token
    if expected is None:
        return _error(401, "the API is disabled: set CONNECTOR_API_TOKEN to enable it")
    given = request.headers.get("Authorization", "")
    token = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return _error(401, "missing or wrong bearer token")
    return None


@bp.get("/customers/lookup")
def lookup() -> Response | tuple[Response, int]:
    """The customer behind an email, a phone, a card number, a social handle or a source's own
    id (`external=erp:C100997`). When the link store is down, the record the sources alone
    give (`identity_checked: false`), or 503 when they may be several people."""
    manifest = services().manifest
    args = {k: request.args.get(k) for k in ("email", "phone", "card", "handle")}
    try:
        ids = identifiers_from(manifest.brand.default_region, **args)
        if request.args.get("external"):
            own = external_identifier(request.args["external"], manifest.sources)
            ids = ids.merged(Identifiers(externals=(own,)))
    except (InvalidIdentifier, ValueError) as exc:
        return _error(400, str(exc))
    if not ids:
        return _error(400, "give email, phone, card, handle or external (source:id)")
    found = services().assembler.lookup(ids, locale=request.args.get("lang"))
    if found.suppressed:  # erased at the person's request: nobody shown, nothing asked
        return jsonify(error="suppressed", sources={}), 404
    if found.undecided:  # several people may match, and the store that tells them apart is down
        return unavailable_json("identity cannot be checked: the link store is unavailable "
                                "and the sources' answers may be several people",
                                "identity_not_checked")
    if found.candidates:
        people = [c.model_dump(mode="json") for c in found.candidates]
        return jsonify(error="ambiguous", candidates=people), 300
    sources = {n: s.model_dump(mode="json") for n, s in found.sources.items()}
    if found.profile is None and found.unanswered:  # unknown where asked: maybe known there
        return retry_later(jsonify(error="sources_unavailable", sources=sources,
                                   detail="no customer found among the sources that answered; "
                                          "did not answer: " + ", ".join(found.unanswered)))
    if found.profile is None:
        return jsonify(error="not_found", sources=sources), 404
    return jsonify(found.profile.model_dump(mode="json"))


def _body_identifiers(body: dict[str, Any]) -> Identifiers:
    """The email, phone and card of a JSON body, each a string or a list of strings (raises
    InvalidIdentifier)."""
    given = {kind: body.get(kind) for kind in ("email", "phone", "card")}
    for kind, value in given.items():
        values = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, str) for v in values):
            raise InvalidIdentifier(f"{kind}: give a string or a list of strings")
    return identifiers_from(services().manifest.brand.default_region, **given)


def _json_object() -> dict[str, Any]:
    """The request's JSON body when it is an object; {} for anything else (a list, a string,
    no JSON, JSON nested deeper than Python reads), which each route then refuses with its own
    400. Lone surrogates are mended (`loads`): no store could keep them."""
    if not request.is_json:
        return {}
    try:
        body = loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def _text(body: dict[str, Any], name: str) -> str | None:
    """A text field of a JSON body, None when absent (InvalidNote when it is not text)."""
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidNote(f"{name}: give a string")


def _error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="connector"'
    return response


@bp.errorhandler(HTTPException)
def _refused(exc: HTTPException) -> Response:
    """What werkzeug refuses in an API call (a body over the cap: 413) as JSON, as every
    other answer of the API."""
    return _error(exc.code or 400, exc.description or exc.name)


@bp.get("/details/<source>/<detail>")
def detail(source: str, detail: str) -> Response | tuple[Response, int]:
    """An on-demand detail (tracking, a verbatim, a live balance) for one key."""
    key = request.args.get("key", "")
    if not key:
        return _error(400, "give the item's key")
    lang = request.args.get("lang")  # with it, the fields as the sidebar shows them
    return detail_response(source, detail, key, normalize_locale(lang) if lang else None)


def detail_response(source: str, detail: str, key: str,
                    shown_in: str | None = None) -> Response | tuple[Response, int]:
    """The detail as JSON, or a JSON error an agent can read; `shown_in` a language, its
    fields as the sidebar shows them (labels in that language, values written), else as read."""
    brand = services().manifest.brand
    try:
        answer = services().details.get(source, detail, key)
    except UnknownDetail:
        return _error(404, f"no detail '{detail}' on source '{source}'")
    except SourceError as exc:
        return jsonify(error=exc.public, status=exc.state.value), 503
    if shown_in is None:
        return jsonify(source=answer.source, detail=answer.detail, key=answer.key,
                       label=label_text(answer.label, brand.locale), fields=answer.fields,
                       fetched_at=answer.fetched_at.isoformat())
    return jsonify(source=answer.source, detail=answer.detail, key=answer.key,
                   label=label_text(answer.label, shown_in),
                   fields=shown_fields(answer, shown_in, brand.currency, brand.timezone),
                   fetched_at=answer.fetched_at.isoformat(),
                   read_at=read_at(answer, brand.timezone))


@bp.post("/cache/invalidate")
def invalidate() -> Response | tuple[Response, int]:
    """Forget cached answers about a customer (e.g. a webhook says an order changed)."""
    body = _json_object()
    try:
        ids = _body_identifiers(body)
    except InvalidIdentifier as exc:
        return _error(400, str(exc))
    source = body.get("source")
    declared = isinstance(source, str) and source in services().manifest.sources
    if not ids or (source is not None and not declared):
        return _error(400, "give email, phone or card, and optionally a declared source")
    return jsonify(dropped=services().assembler.invalidate(ids, source))


@bp.post("/customers/forget")
def forget() -> Response | tuple[Response, int]:
    """Erase what we keep on a customer (links, name, notes, contacts… and every cached answer
    about them), queue the removal of our tags and fields in each helpdesk that holds them,
    optionally suppress their identifiers (`"suppress": true`); say what was erased and which
    sources still know them."""
    from connector.events.erasure import forget as erase
    from connector.events.erasure import written_to

    body = _json_object()
    try:
        ids = _body_identifiers(body)
    except InvalidIdentifier as exc:
        return _error(400, str(exc))
    if not ids or body.get("suppress", False) not in (True, False):
        return _error(400, "give email, phone or card (and optionally suppress: true)")
    svc = services()
    done = erase(ids, svc.assembler, svc.writebacks, written_to(svc.manifest.helpdesks.adapters),
                 svc.manifest.sources, actor="api", suppress=body.get("suppress") is True)
    svc.rendered.clear()  # no block of theirs stays in this process's memory
    svc.pages.clear()
    return jsonify(customers=done.customers, links=done.links, cache_entries=done.cache_entries,
                   erased=done.erased, helpdesk_removals_queued=done.helpdesk_removals,
                   suppressed=done.suppressed, remaining_at_sources=done.sources)


@bp.post("/customers/unsuppress")
def unsuppress() -> Response | tuple[Response, int]:
    """Lift identifiers off the suppression list (audited): they may be learnt again."""
    try:
        ids = _body_identifiers(_json_object())
    except InvalidIdentifier as exc:
        return _error(400, str(exc))
    if not ids:
        return _error(400, "give email, phone or card")
    lifted = services().assembler.resolver.store.unsuppress(ids.pairs(), actor="api")
    if not lifted:
        return _error(404, "not suppressed")
    return jsonify(lifted=lifted)


@bp.get("/customers/search")
def search() -> Response | tuple[Response, int]:
    """People matching free text: a name (accents ignored), email, phone, card or postcode."""
    try:
        people = services().search.search(request.args.get("q", ""))
    except SearchError as exc:
        return _error(400, str(exc))
    return jsonify(results=[p.model_dump(mode="json") for p in people])


CUSTOMER_ID_MAX = 40  # ours are `cus_` and 20 hex digits; the store keeps 40 characters


def _no_such_customer(customer_id: str) -> Response | None:
    """A 404 for an id that cannot be one of ours (too long for the store, or holding a
    control character: no database keeps a NUL), before any database sees it."""
    if len(customer_id) <= CUSTOMER_ID_MAX and customer_id.isprintable():
        return None
    return _error(404, "no such customer")


def _unknown_customer(customer_id: str) -> Response | None:
    """A 404 for an id the link store does not know (no link, no facts): a write keyed by it
    would keep data no lookup shows and `forget` cannot reach."""
    if known(services().assembler.resolver.store.engine, customer_id):
        return None
    return _error(404, "no such customer")


@bp.get("/customers/<customer_id>/notes")
def notes_of(customer_id: str) -> Response:
    """The landmarks agents wrote about a customer, newest first."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    kept = services().assembler.notes.of(customer_id)
    return jsonify(notes=[n.as_note().model_dump(mode="json") for n in kept])


@bp.get("/customers/<customer_id>/timeline")
def timeline(customer_id: str) -> Response | tuple[Response, int]:
    """The customer's story, newest first: `kind` (repeatable or comma-separated) filters,
    `before` (the previous page's `next`, or a day) and `limit` page it."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    kinds = [k for given in request.args.getlist("kind") for k in given.split(",") if k]
    if unknown := sorted(set(kinds) - set(KINDS)):
        return _error(400, f"unknown kind {unknown[0]!r} (one of: {', '.join(KINDS)})")
    limit = request.args.get("limit", "20")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 100:
        return _error(400, "limit: a whole number from 1 to 100")
    profile = _record(customer_id)
    if not isinstance(profile, CustomerProfile):
        return profile
    try:
        page = page_of(timeline_of(profile, services().manifest.brand.timezone), kinds,
                       request.args.get("before"), int(limit))
    except InvalidCursor as exc:
        return _error(400, str(exc))
    return jsonify(entries=[e.model_dump(mode="json") for e in page.entries], next=page.next,
                   total=page.total)


def _record(customer_id: str) -> CustomerProfile | Response:
    """The customer's record by our id, or the answer saying why there is none (404; 503
    when the link store or the sources that could know them do not answer)."""
    found = services().assembler.lookup(Identifiers(), customer_id=customer_id)
    if found.undecided:
        return unavailable_json("the link store is unavailable", "identity_not_checked")
    if found.profile is None and found.unanswered:  # unknown where asked: maybe known there
        return unavailable_json("the customer's sources did not answer: "
                                + ", ".join(found.unanswered), "sources_unavailable")
    if found.profile is None:
        return _error(404, "no such customer")
    return found.profile


@bp.post("/customers/<customer_id>/corrections")
def correct(customer_id: str) -> Response | tuple[Response, int]:
    """Correct a field at the source that takes it: {"field": "identity.emails", "value": …
    (a string; for identity.address an object {line1, postcode, city, country}), "replaces":
    … (optional: the record's first value), "source": … (optional), "agent": …,
    "helpdesk": …, "ticket": …}. Kept in the outbox before the 202; its state at the
    `Location` it names (docs/corrections.md)."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    body = _json_object()
    svc = services()
    try:
        field, source, who = _text(body, "field"), _text(body, "source"), _who(body)
    except InvalidNote as exc:
        return _error(400, str(exc))
    if not field:
        return _error(400, "field: give the canonical field to correct (identity.emails…)")
    if (unknown := _unknown_customer(customer_id)) is not None:
        return unknown
    profile = _record(customer_id)
    if not isinstance(profile, CustomerProfile):
        return profile
    writes = writes_of(svc.manifest.sources)
    try:
        correction = check_correction(profile, field, body.get("value"), body.get("replaces"),
                                      source, writes, svc.manifest.brand.default_region,
                                      role=who[3])
    except (InvalidChange, ChangeRefused) as exc:
        return _refusal(exc)
    return _keep(profile, correction.source, correction.field, correction.values(), who)


@bp.get("/customers/<customer_id>/actions")
def actions_of(customer_id: str) -> Response | tuple[Response, int]:
    """The back-office actions this record offers now, each on its item (`key`) or on the
    customer, with its inputs and confirmation in `lang` (docs/actions.md)."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    profile = _record(customer_id)
    if not isinstance(profile, CustomerProfile):
        return profile
    svc = services()
    locale = normalize_locale(request.args.get("lang") or svc.manifest.brand.locale)
    today = dt.datetime.now(ZoneInfo(svc.manifest.brand.timezone)).date()
    grid = svc.manifest.compensation
    row = row_of(grid, profile, today, locale) if grid is not None else None
    return jsonify(actions=[offer_json(o, locale, row)
                            for o in action_offers(profile, svc.manifest.sources, today)])


def offer_json(offer: Offer, locale: str, row: GridRow | None = None) -> dict[str, Any]:
    """An offered action for the API, its texts in one language (beside one that
    compensates, the grid's `row` for this customer)."""
    spec = offer.spec
    grid = row if spec.compensation is not None else None
    inputs = [{k: dict(v) if k == "choices" else v for k, v in view.items() if k != "value"}
              for view in input_views(spec, locale)]
    return {"source": offer.source, "name": offer.name, "applies_to": spec.applies_to,
            "roles": spec.roles,
            "key": offer.key, "label": label_text(spec.label, locale), "inputs": inputs,
            "number": offer.number,
            "confirm": action_text(spec.confirm, locale, offer.key, {}, spec, offer.number),
            "compensation": grid.as_json() if grid is not None else None}


@bp.post("/customers/<customer_id>/actions/<name>")
def act(customer_id: str, name: str) -> Response | tuple[Response, int]:
    """Run an offered action: {"key": … (the item; none on the customer), "inputs": {…},
    "source": … (optional), "agent": …, "helpdesk": …, "ticket": …}. Kept in the outbox
    before the 202; its state at the `Location` it names."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    body = _json_object()
    svc = services()
    try:
        key, source, who = _text(body, "key"), _text(body, "source"), _who(body)
    except InvalidNote as exc:
        return _error(400, str(exc))
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        return _error(400, "inputs: give an object of the action's inputs")
    declaring = [n for n, c in svc.manifest.sources.items()
                 if name in (getattr(c, "actions", {}) or {})]
    source = source or (declaring[0] if declaring else "")
    if (unknown := _unknown_customer(customer_id)) is not None:
        return unknown
    profile = _record(customer_id)
    if not isinstance(profile, CustomerProfile):
        return profile
    today = dt.datetime.now(ZoneInfo(svc.manifest.brand.timezone)).date()
    try:
        done = check_action(profile, svc.manifest.sources, source, name, key, inputs, today,
                            role=who[3], grid=svc.manifest.compensation)
    except (InvalidChange, ChangeRefused) as exc:
        return _refusal(exc)
    spec = svc.manifest.sources[done.source].actions[name]  # type: ignore[attr-defined]
    return _keep(profile, done.source, name, done.kept(spec, svc.manifest.brand.locale),
                 who, kind="action", item=done.shown)


Who = tuple[str, str | None, str | None, str | None]


def _who(body: dict[str, Any]) -> Who:
    """Who asks for a change and from where: the agent (default `api`), the helpdesk, the
    ticket and the agent's role, as the tool holding the API token vouches for them
    (InvalidNote when one is not text)."""
    actor = (_text(body, "agent") or "api").strip()[:80] or "api"
    return actor, _text(body, "helpdesk"), _text(body, "ticket"), _text(body, "role")


def _refusal(exc: InvalidChange | ChangeRefused) -> Response:
    return _error(exc.status if isinstance(exc, ChangeRefused) else 400, str(exc))


def _keep(profile: CustomerProfile, source: str, name: str, values: dict[str, Any],
          who: Who, kind: str = "correction",
          item: str | None = None) -> Response | tuple[Response, int]:
    """A checked change kept in the outbox (503 while its source's circuit is open, 409
    while the record shows an old copy of it): 202 with its state, and where to follow it.
    An `Idempotency-Key` makes the call safe to repeat: the same key, the same change."""
    svc = services()
    customer_id = profile.customer_id
    if svc.assembler.guards[source].state == Circuit.OPEN:
        return retry_later(_error(503, f"{source} is unavailable for now: try again in a "
                                       "moment"))
    try:
        recent_enough(profile, source, svc.settings.change_max_age_s)
    except ChangeRefused as exc:
        return _refusal(exc)
    actor, helpdesk, ticket, _ = who
    change_id = _idempotent_id(customer_id, kind)
    if isinstance(change_id, Response):
        return change_id
    if (change_id is None or svc.outbox.get(change_id) is None) and \
            not change_budget().take(actor):
        return retry_later(_error(429, f"{actor} asked for too many changes: try again later"))
    try:
        kept = svc.outbox.submit(customer_id, source, name, values, actor, helpdesk, ticket,
                                 kind=kind, item=item, change_id=change_id)
    except DuplicateChange:
        return _error(422, "this Idempotency-Key was used for another change")
    svc.worker.wake()
    answer = jsonify(kept.as_json())
    answer.headers["Location"] = f"/api/v1/changes/{kept.id}"
    return answer, 202


def _idempotent_id(customer_id: str, kind: str) -> str | Response | None:
    """The change id an `Idempotency-Key` header names (None without one; a 400 answer for
    one that is not 1 to 200 visible ASCII characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 0 < len(key) <= 200 or not key.isascii() or not key.isprintable():
        return _error(400, "Idempotency-Key: 1 to 200 visible ASCII characters")
    return hashlib.sha256(f"{kind}:{customer_id}:{key}".encode()).hexdigest()[:32]


@bp.get("/customers/<customer_id>/changes")
def changes_of(customer_id: str) -> Response:
    """The corrections asked for this customer, newest first, with their state."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    return jsonify(changes=[c.as_json() for c in services().outbox.of(customer_id)])


@bp.get("/changes/<change_id>")
def change(change_id: str) -> Response:
    """One correction's state: pending, sending, sent, confirmed, unconfirmed or failed."""
    kept = services().outbox.get(change_id) if len(change_id) <= 32 else None
    return jsonify(kept.as_json()) if kept is not None else _error(404, "no such change")


@bp.post("/customers/<customer_id>/notes")
def add_note(customer_id: str) -> Response | tuple[Response, int]:
    """Keep a landmark: {"text": …, "author": …}."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    body = _json_object()
    try:
        text, author = note_text(_text(body, "text")), _text(body, "author") or "api"
    except InvalidNote as exc:
        return _error(400, str(exc))
    if (unknown := _unknown_customer(customer_id)) is not None:
        return unknown
    return jsonify(id=services().assembler.notes.add(customer_id, text, author)), 201


@bp.route("/customers/<customer_id>/notes/<int:note_id>", methods=["PUT", "DELETE"])
def change_note(customer_id: str, note_id: int) -> Response | tuple[Response, int]:
    """Edit (PUT {"text", "author"}) or remove (DELETE) a landmark."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    body = _json_object()
    try:
        author = _text(body, "author") or request.args.get("author") or "api"
        text = None if request.method == "DELETE" else note_text(_text(body, "text"))
    except InvalidNote as exc:
        return _error(400, str(exc))
    if (unknown := _unknown_customer(customer_id)) is not None:
        return unknown
    kept = services().assembler.notes
    done = (kept.delete(customer_id, note_id, author) if text is None
            else kept.edit(customer_id, note_id, text, author))
    if not done:
        return _error(404, "no such note for this customer")
    return jsonify(id=note_id)


def _admin_only() -> Response | None:
    """None when the request bears the admin token (`Authorization: Bearer
    $CONNECTOR_ADMIN_TOKEN`); else the 401, also while it is unset."""
    expected = services().settings.admin_token
    if expected is None:
        return _error(401, "disabled: set CONNECTOR_ADMIN_TOKEN to enable it")
    given = request.headers.get("Authorization", "")
    token = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return _error(401, "this call needs the admin token (CONNECTOR_ADMIN_TOKEN) as bearer")
    return None


@bp.get("/customers/<customer_id>/export")
def export(customer_id: str) -> Response:
    """An access request: everything connector itself keeps on a customer, as JSON (admin
    token only; audited, never logged): identifiers with the source vouching for each, facts,
    notes, contacts, events, changes, write-backs, classes, audit entries (docs/privacy.md)."""
    if (refused := _no_such_customer(customer_id)) is not None:
        return refused
    svc = services()
    engine = svc.assembler.resolver.store.engine
    found = footprint(engine, customer_id, svc.settings.signing_key())
    if not anything_kept(found):
        return _error(404, "no such customer")
    with engine.begin() as connection:
        audit_entry(connection, "admin", "export", customer_id, "access request answered")
    answer = jsonify(found)
    answer.headers["Cache-Control"] = "no-store"
    return answer
