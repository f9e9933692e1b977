"""The OpenAPI document of /api/v1 (connector/web/openapi.yaml): served without a token, and
the API's own map: every route of the application under /api/v1 is in it and every operation
in it is a route; its schemas of the canonical customer name the fields the models have."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel

from connector import models
from connector.customer.timeline import TimelineEntry
from connector.web.openapi import document

PREFIX = "/api/v1/"
AUTOMATIC = {"HEAD", "OPTIONS"}  # Flask answers them for every route
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def served_operations(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, paths written as OpenAPI writes them."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([A-Za-z_]+)>", r"{\1}", rule.rule)
        found |= {(method.lower(), path) for method in rule.methods or ()
                  if method not in AUTOMATIC}
    return found


def documented_operations() -> set[tuple[str, str]]:
    return {(method, path) for path, item in document()["paths"].items()
            for method in item if method in HTTP_METHODS}


def test_every_api_route_is_documented_and_every_documented_operation_is_served(
        hostile_app: Flask) -> None:
    served, documented = served_operations(hostile_app), documented_operations()
    assert served - documented == set(), "served but not in connector/web/openapi.yaml"
    assert documented - served == set(), "in connector/web/openapi.yaml but not served"
    assert len(served) >= 10


def test_path_parameters_are_the_routes_own(hostile_app: Flask) -> None:
    for path, item in document()["paths"].items():
        named = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            given = {p["name"] for p in _parameters(item, operation) if p["in"] == "path"}
            assert given == named, (method, path)


def _parameters(item: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    components = document()["components"]["parameters"]
    return [components[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
            for p in [*item.get("parameters", []), *operation.get("parameters", [])]]


def test_the_document_is_served_without_a_token_and_describes_the_bearer_auth(
        client: FlaskClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    served = answer.json
    assert served == document()
    assert served["openapi"].startswith("3.")
    assert served["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "The value of CONNECTOR_API_TOKEN."}
    assert served["security"] == [{"bearer": []}]
    assert served["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_every_operation_documents_the_refusals_every_call_may_meet() -> None:
    for (method, path) in documented_operations():
        answers = document()["paths"][path][method]["responses"]
        if path != "/api/v1/openapi.json":
            assert "401" in answers, (method, path)
        assert "429" in answers, (method, path)
        if method in ("post", "put", "delete"):
            assert "413" in answers, (method, path)


# every model of the canonical customer and the schema that describes it
SCHEMAS = {
    "Customer": models.CustomerProfile, "Identity": models.Identity, "Address": models.Address,
    "Status": models.Status, "Kpis": models.Kpis, "Flag": models.Flag,
    "NpsAnswer": models.NpsAnswer, "TrendPoint": models.TrendPoint,
    "Sentiment": models.Sentiment, "ContactEvent": models.ContactEvent,
    "LastContact": models.LastContact, "Contacts": models.Contacts, "Order": models.Order,
    "Loyalty": models.Loyalty, "Review": models.Review, "Campaign": models.Campaign,
    "Consent": models.Consent, "ConsentEntry": models.ConsentEntry,
    "Note": models.Note, "SourceStatus": models.SourceStatus, "Match": models.Match,
    "Candidate": models.Candidate, "Appointment": models.Appointment,
    "Document": models.Document, "SurveyAnswer": models.SurveyAnswer,
    "TimelineEntry": TimelineEntry,
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_customer_schemas_name_the_models_fields(name: str) -> None:
    model: type[BaseModel] = SCHEMAS[name]
    schema = document()["components"]["schemas"][name]
    assert set(schema["properties"]) == set(model.model_fields), name
    required = {field for field, info in model.model_fields.items() if info.is_required()}
    assert required <= set(schema.get("required", [])), name


def test_the_source_states_are_the_models() -> None:
    states = document()["components"]["schemas"]["SourceState"]["enum"]
    assert states == [state.value for state in models.SourceState]


def test_the_document_is_valid_openapi_3_1() -> None:
    """Against the OpenAPI 3.1 meta-schema schemathesis carries (its own validation)."""
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    assert document()["openapi"].startswith("3.1")
    assert [str(error) for error in OPENAPI_31_VALIDATOR.iter_errors(document())] == []
