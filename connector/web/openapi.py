"""`GET /api/v1/openapi.json`: the OpenAPI document of the JSON API (openapi.yaml, beside this
module), served without a token: it describes the bearer auth, it holds no secret."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

DOCUMENT = "openapi.yaml"

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document, as a mapping (read once)."""
    loaded = yaml.safe_load((files("connector.web") / DOCUMENT).read_text("utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"connector/web/{DOCUMENT} is not a mapping")
    return loaded


@bp.get("/openapi.json")
def openapi() -> Response:
    """The document as JSON."""
    return jsonify(document())
