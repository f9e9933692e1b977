"""The JSON API: the canonical customer for other tools, behind a bearer token."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from connector.identity import InvalidIdentifier, identifiers_from
from connector.web import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authorise() -> Response | None:
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
    """The customer behind an email, a phone or a card number."""
    region = services().manifest.brand.default_region
    args = {k: request.args.get(k) for k in ("email", "phone", "card")}
    try:
        ids = identifiers_from(region, **args)
    except InvalidIdentifier as exc:
        return _error(400, str(exc))
    if not ids:
        return _error(400, "give email, phone or card")
    found = services().assembler.lookup(ids, locale=request.args.get("lang"))
    if found.profile is None:
        sources = {n: s.model_dump(mode="json") for n, s in found.sources.items()}
        return jsonify(error="not_found", sources=sources), 404
    return jsonify(found.profile.model_dump(mode="json"))


def _error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="connector"'
    return response
