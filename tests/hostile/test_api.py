"""The JSON API against its own OpenAPI document (connector/web/openapi.yaml): schemathesis
generates calls of every operation from the document (valid ones, and invalid ones: wrong types,
missing or extra fields, odd encodings) and sends them to the application in process, with the
API token and without one.

Checks: never a 5xx, every status and content type the document declares for the operation,
every JSON answer valid against its schema; without a token every operation but the document
itself is a 401."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.exceptions import HTTPException

from connector.web.openapi import document
from tests.hostile.conftest import API_TOKEN, hostile
from tests.hostile.strategies import CONTENT_TYPES, HEADERS, bodies
from tests.hostile.wire import merged, sane, send, traceback_free

SCHEMA = schemathesis.openapi.from_dict(document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@SCHEMA.parametrize()
@hostile()
def test_with_the_token_every_answer_is_documented(case: Any, hostile_app: Flask) -> None:
    response = case.call_and_validate(app=hostile_app, headers=AUTH, checks=CHECKS)
    assert traceback_free(response.content)


@SCHEMA.parametrize()
@hostile(0.25)
def test_without_a_token_every_operation_is_a_401(case: Any, hostile_app: Flask) -> None:
    response = case.call_and_validate(app=hostile_app, checks=CHECKS)
    sent = urlsplit(response.request.url)
    try:  # routing comes first: an address no route serves is a 404, a method it refuses a 405
        hostile_app.url_map.bind("localhost").match(unquote(sent.path), case.method.upper())
    except HTTPException as refused:
        expected = refused.code
    else:
        expected = 200 if case.operation.path == "/api/v1/openapi.json" else 401
    assert response.status_code == expected, (case.method, sent.path, response.status_code)
    assert traceback_free(response.content)


# schemathesis writes valid JSON of the documented shapes and their near misses; these are the
# bodies it never writes: nesting past Python's limits, lone surrogates, numbers past any float,
# bytes that are not JSON at all, under every content type
BODY_SHAPES = [{"email": "pauline.deneve@easiware.fr", "phone": ["06 53 88 88 90"],
                "card": "29000123456", "source": "erp"},
               {"text": "son fils adore la mousse au chocolat", "author": "agent"}]
BODY_ROUTES = [("POST", "/api/v1/cache/invalidate"), ("POST", "/api/v1/customers/forget"),
               ("POST", "/api/v1/customers/cus_hostile/notes"),
               ("PUT", "/api/v1/customers/cus_hostile/notes/1"),
               ("DELETE", "/api/v1/customers/cus_hostile/notes/2")]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@hostile(0.5)
@given(body=bodies(BODY_SHAPES), content_type=CONTENT_TYPES, headers=HEADERS)
def test_hostile_bodies_are_refused_or_taken_in_json_never_a_500(
        client: FlaskClient, method: str, path: str, body: bytes, content_type: str | None,
        headers: dict[str, str]) -> None:
    answer = send(client, method, path, body, merged(headers, AUTH), content_type)
    sane(answer)
    assert answer.status_code in (200, 201, 400, 404, 413), answer.status_code
    assert answer.is_json and isinstance(answer.json.get("error", ""), str)
