"""The hostile suite's writes again on PostgreSQL, the scale-out store: it refuses what SQLite
lets pass (a NUL in a text, a value longer than its column), and its refusal would reach the
client as a 503 "database unavailable" (or a 500) for a database that is perfectly well. Fewer
examples than on SQLite: here the point is what reaches the database.

Properties: never a 5xx, 503 included; the API keeps its document."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from connector.web.openapi import document
from tests.hostile.conftest import API_TOKEN, hostile
from tests.hostile.helpdesks import WEBHOOK_KINDS, signed_webhook, webhook_seeds
from tests.hostile.strategies import PLAIN_TEXT, TEXT, bodies
from tests.hostile.test_api import CHECKS, SCHEMA
from tests.hostile.wire import sane, send, too_large

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
# what PostgreSQL refuses and SQLite keeps
STORE_TEXT = st.one_of(TEXT, st.sampled_from(["\x00", "a\x00b", "x" * 41, "x" * 81, "x" * 161,
                                              "x" * 321, "\x00" * 50, "é" * 300]))
# the same, as a URL can carry it (no lone surrogate)
URL_TEXT = STORE_TEXT.map(lambda s: "".join(c for c in s if not 0xD800 <= ord(c) <= 0xDFFF))


@SCHEMA.parametrize()
@hostile(0.3)
def test_the_api_keeps_its_document_on_postgresql(case: Any, pg_app: Flask) -> None:
    case.call_and_validate(app=pg_app, headers=AUTH, checks=CHECKS)


@hostile(0.5)
@given(customer=URL_TEXT.filter(lambda s: s and "/" not in s and s not in (".", "..")),
       text=STORE_TEXT, author=STORE_TEXT, method=st.sampled_from(["GET", "POST", "PUT",
                                                                     "DELETE"]))
def test_notes_of_any_customer_with_any_text_are_never_a_5xx(
        pg_client: FlaskClient, customer: str, text: str, author: str, method: str) -> None:
    path = f"/api/v1/customers/{quote(customer, safe='')}/notes"
    body = encode_json({"text": text, "author": author})
    answer = send(pg_client, method, path + ("/1" if method in ("PUT", "DELETE") else ""),
                  body, AUTH, "application/json",
                  {"author": _url_text(author)} if method == "DELETE" else None)
    sane(answer)
    assert answer.status_code in (200, 201, 400, 404), answer.status_code


def _url_text(text: str) -> str:
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


def encode_json(value: Any) -> bytes:
    return json.dumps(value).encode()  # ASCII: lone surrogates and NULs as escapes


@hostile(0.5)
@given(values=st.dictionaries(st.sampled_from(["email", "phone", "card", "handle", "external",
                                               "q", "lang"]), URL_TEXT, max_size=3),
       route=st.sampled_from(["lookup", "search", "forget", "invalidate"]))
def test_identifiers_that_no_store_keeps_are_refused_never_a_5xx(
        pg_client: FlaskClient, values: dict[str, str], route: str) -> None:
    if route in ("lookup", "search"):
        answer = send(pg_client, "GET", f"/api/v1/customers/{route}", headers=AUTH,
                      query=values)
    else:
        path = "/api/v1/cache/invalidate" if route == "invalidate" else "/api/v1/customers/forget"
        answer = send(pg_client, "POST", path, encode_json(values), AUTH, "application/json")
    sane(answer)
    assert answer.status_code in (200, 300, 400, 404), answer.status_code


@pytest.mark.parametrize("kind", WEBHOOK_KINDS)
@hostile(0.3)
@given(data=st.data())
def test_signed_hostile_deliveries_are_stored_or_refused_never_a_5xx(
        pg_client: FlaskClient, kind: str, data: st.DataObject) -> None:
    body = data.draw(bodies(webhook_seeds(kind)), label="body")
    answer = send(pg_client, "POST", f"/helpdesk/{kind}/webhook", body,
                  signed_webhook(kind, body), "application/json")
    sane(answer)
    assert answer.status_code in (200, 202, 400) or too_large(answer, body), answer.status_code


@hostile(0.5)
@given(data=st.data())
def test_the_sealed_records_notes_are_never_a_5xx(pg_app: Flask, pg_client: FlaskClient,
                                                  data: st.DataObject) -> None:
    services = pg_app.extensions["connector"]
    customer = data.draw(st.sampled_from(["cus_pg_notes", "cus_" + "0" * 36]), label="customer")
    fields = {"t": services.embed.token(customer_id=customer),
              "action": data.draw(st.sampled_from(["add", "edit", "delete"]), label="action"),
              "note": data.draw(st.sampled_from(["1", "2", "³", "99999999999"]), label="note"),
              "text": data.draw(PLAIN_TEXT | STORE_TEXT.filter(str.isascii), label="text"),
              "author": data.draw(PLAIN_TEXT | STORE_TEXT.filter(str.isascii), label="author")}
    answer = send(pg_client, "POST", "/helpdesk/embed/notes", urlencode(fields).encode(), {},
                  "application/x-www-form-urlencoded")
    sane(answer)
    assert answer.status_code in (303, 400, 404), answer.status_code


def test_the_document_is_the_same_on_postgresql(pg_client: FlaskClient) -> None:
    assert pg_client.get("/api/v1/openapi.json").json == document()


@pytest.mark.parametrize(("field", "value"), [("ticket_id", "\x00"), ("ticket_id", "\ud800"),
                                              ("ticket_subject", "Retour\x00 du colis \udfff")])
def test_a_nul_or_a_lone_surrogate_in_a_signed_delivery_is_stored(
        pg_client: FlaskClient, field: str, value: str) -> None:
    """What the soak's generated inputs found (a 503 "database unavailable" for PostgreSQL's
    refusal of a NUL, a 500 for a surrogate no encoding holds): stored, the text made
    storable (`store.schema.storable`)."""
    [seed] = [s for s in webhook_seeds("freshdesk") if "ticket_subject" in
              json.dumps(s)][:1]
    delivery = json.loads(json.dumps(seed))
    delivery["freshdesk_webhook"][field] = value
    body = encode_json(delivery)
    answer = send(pg_client, "POST", "/helpdesk/freshdesk/webhook", body,
                  signed_webhook("freshdesk", body), "application/json")
    sane(answer)
    assert answer.status_code == 202, answer.get_data()[:300]
