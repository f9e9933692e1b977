"""Every sidebar route under hostile input: `/helpdesk/<kind>/sidebar` of each helpdesk (Zendesk's
signed-URL POST and its page's JSON POST, Help Scout's dynamic app, FreeScout's Sidebar Webhook,
Chatwoot's dashboard app page and its POST, Freshdesk's FDK app, django-helpdesk's "no sidebar"
page, and our own sealed `embed` link), the sealed record's notes (`/helpdesk/<kind>/notes`)
and details (`/helpdesk/<kind>/details/<source>/<detail>`).

Each is sent random and structured bodies (the helpdesk's real payloads mutated), wrong
content types, random query strings and headers: without credentials, then with valid ones
(a signed body, the app key, a session, a sealed link), so what reads the request meets it.

Properties: never a 5xx (django-helpdesk's sidebar is a 501 by design: it has no sidebar API),
never a traceback; without credentials a 401 (Chatwoot's POST carries its key in its body: one
that is not JSON is a 400); with them, never a 401 while the credential is intact.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from connector.app import Services
from connector.helpdesk.base import SidebarContext
from connector.helpdesk.zendesk.sidebar import MAX_BODY as ZENDESK_MAX_BODY
from connector.identifiers import Identifiers
from tests.hostile.conftest import SECRETS, hostile
from tests.hostile.helpdesks import (
    SIDEBAR_KINDS,
    chatwoot_key,
    helpscout_signature,
    zendesk_jwt,
    zendesk_session,
)
from tests.hostile.strategies import (
    CONTENT_TYPES,
    HEADERS,
    NUMBERS,
    PLAIN_TEXT,
    bodies,
    encoded,
    mutated,
    seeds,
)
from tests.hostile.wire import merged, sane, send, too_large

NO_SIDEBAR = (501,)  # django-helpdesk's page saying it has no sidebar API
METHODS = st.sampled_from(["GET", "POST"])
# query values as a URL can carry them (any text but lone surrogates, which no URL encodes)
QUERY_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "fr", "en", "de", "\x00", "a" * 3000, "https://evil.example", "x" * 65,
     "https://maison-exemple.zendesk.com", "pauline.deneve@easiware.fr", "%ff", "𝔭"]))
QUERY_NAMES = st.one_of(st.sampled_from(["t", "k", "lang", "q", "origin", "app_guid", "token",
                                         "key", "renew", "session"]), st.text(max_size=10))
QUERY = st.dictionaries(QUERY_NAMES, QUERY_TEXT, max_size=5)

SHAPES: dict[str, list[Any]] = {
    "zendesk": [{"session": "", "emails": ["pauline.deneve@easiware.fr"],
                 "phones": ["+33653888890"], "handles": ["twitter:pauline"],
                 "external_id": "C100997", "ticket_id": "35436", "user_id": 20978392,
                 "renew": "", "lang": "fr"}],
    "chatwoot": [{"k": "", "email": "pauline.deneve@easiware.fr", "phone_number": "+33653888890",
                  "identifier": "29000123456", "conversation": 12, "renew": "", "lang": "fr",
                  "additional_attributes": {"social_profiles": {"instagram": "pauline"},
                                            "screen_name": "pauline"}}],
    "helpscout": seeds("helpscout", "dynamic_app.json", "dynamic_app_draft.json",
                       "dynamic_app_no_customer.json", "dynamic_app_social.json"),
    "freescout": seeds("freescout", "sidebar.json"),
    "freshdesk": [*seeds("freshdesk", "fdk_contact.json", "fdk_ticket.json"),
                  {"emails": ["pauline.deneve@easiware.fr"], "phones": ["06 53 88 88 90"],
                   "twitter_id": "pauline", "facebook_id": "1234", "unique_external_id": "C1",
                   "ticket_id": 4219, "lang": "fr"}],
    "embed": [{"t": "", "q": "Denève", "lang": "fr"}],
    "django_helpdesk": seeds("django_helpdesk", "new_ticket_email.json"),
}
BODIES = {kind: bodies(shapes) for kind, shapes in SHAPES.items()}


def _path(kind: str) -> str:
    return f"/helpdesk/{kind}/sidebar"


# --- without credentials ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", SIDEBAR_KINDS)
@hostile()
@given(data=st.data())
def test_a_sidebar_request_without_credentials_is_refused(client: FlaskClient, kind: str,
                                                          data: st.DataObject) -> None:
    method = data.draw(METHODS, label="method")
    body = data.draw(BODIES[kind], label="body") if method == "POST" else b""
    answer = send(client, method, _path(kind), body, data.draw(HEADERS, label="headers"),
                  data.draw(CONTENT_TYPES, label="content type"),
                  data.draw(QUERY, label="query"))
    sane(answer, NO_SIDEBAR if kind == "django_helpdesk" else ())
    if too_large(answer, body):
        return
    if kind == "django_helpdesk":
        assert answer.status_code == 501
    elif kind == "chatwoot" and method == "POST":
        assert answer.status_code in (400, 401), answer.status_code
    else:
        assert answer.status_code == 401, (answer.status_code, answer.get_data()[:300])


@pytest.mark.parametrize("kind", SIDEBAR_KINDS)
@hostile(0.5)
@given(data=st.data())
def test_a_note_without_credentials_is_refused(client: FlaskClient, kind: str,
                                               data: st.DataObject) -> None:
    body = data.draw(BODIES[kind], label="body")
    answer = send(client, "POST", f"/helpdesk/{kind}/notes", body,
                  data.draw(HEADERS, label="headers"),
                  data.draw(CONTENT_TYPES, label="content type"), data.draw(QUERY, label="query"))
    sane(answer, NO_SIDEBAR if kind == "django_helpdesk" else ())
    if too_large(answer, body):
        return
    if kind == "django_helpdesk":
        assert answer.status_code == 501
    elif kind == "chatwoot":
        assert answer.status_code in (400, 401), answer.status_code
    else:
        assert answer.status_code == 401, (answer.status_code, answer.get_data()[:300])


SEGMENT = PLAIN_TEXT.filter(lambda s: bool(s) and "/" not in s and s not in (".", ".."))


@hostile(0.5)
@given(kind=st.sampled_from([*SIDEBAR_KINDS, "nosuchdesk"]), source=SEGMENT,
       detail=st.sampled_from(["tracking", "balance", "nope"]), query=QUERY, headers=HEADERS)
def test_a_detail_without_a_sealed_link_is_refused(client: FlaskClient, kind: str, source: str,
                                                   detail: str, query: dict[str, str],
                                                   headers: dict[str, str]) -> None:
    answer = send(client, "GET", f"/helpdesk/{kind}/details/{quote(source, safe='')}/{detail}",
                  headers=headers, query=query)
    sane(answer)
    expected = (401,) if kind == "embed" and query.get("key") else (404,)
    assert answer.status_code in expected, (answer.status_code, answer.get_data()[:300])


# --- with credentials ------------------------------------------------------------------------
IDENTIFIED = st.sampled_from([
    {"email": "pauline.deneve@easiware.fr"}, {"phone": "06 53 88 88 90"},
    {"card": "29000123456"}, {"email": "nobody@example.org"}, {"phone": "+33 1 23 45 67 89"},
    {"handle": "instagram:pauline"}, {"externals": (("erp", "C100997"),)},
    {"externals": (("erp", "C0"),)}, {"search": True}, {"customer_id": "cus_00000000000000000000"},
])


@st.composite
def sealed_links(draw: st.DrawFn, services: Services) -> str:
    """A genuine sealed link (its `t`), for someone known, unknown, or no one (the search)."""
    who = dict(draw(IDENTIFIED))
    ticket = draw(st.one_of(st.none(), st.sampled_from(["1", "35436", "x" * 80])))
    helpdesk = draw(st.sampled_from([None, "zendesk", "chatwoot", "freshdesk", "nosuchdesk"]))
    return services.embed.token(**who, ticket=ticket, helpdesk=helpdesk)


def _with(body: Any, **fields: Any) -> Any:
    """A mutated body given back its credentials (when it is still an object)."""
    return {**body, **fields} if isinstance(body, dict) else body


def _carries(body: bytes, **fields: str) -> bool:
    """Whether a body still reads as a JSON object holding these credentials (mutations,
    encodings and cuts may have spoilt them: a 401 is then the right answer)."""
    try:
        read = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(read, dict) and all(read.get(k) == v for k, v in fields.items())


CLAIM_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, PLAIN_TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(PLAIN_TEXT, inner, max_size=3),
    max_leaves=6)
CLAIMS = st.dictionaries(st.sampled_from(["aud", "iat", "exp", "context", "sub", "nbf"])
                         | PLAIN_TEXT, CLAIM_VALUES, max_size=3).flatmap(
    lambda claims: st.one_of(st.just(claims), PLAIN_TEXT.map(lambda iss: {**claims, "iss": iss})))


@pytest.mark.parametrize("kind", SIDEBAR_KINDS)
@hostile(1.5)
@given(data=st.data())
def test_an_authenticated_sidebar_request_is_never_a_500(
        client: FlaskClient, hostile_services: Services, zendesk_key: rsa.RSAPrivateKey,
        kind: str, data: st.DataObject) -> None:
    headers = data.draw(HEADERS, label="headers")
    query = data.draw(QUERY, label="query")
    content_type = data.draw(CONTENT_TYPES, label="content type")
    method, body, intact = "POST", b"", True
    if kind == "embed":
        method = data.draw(METHODS, label="method")
        query["t"] = data.draw(sealed_links(hostile_services), label="link")
        body = data.draw(BODIES[kind], label="body") if method == "POST" else b""
        # a form body is read before the query: its `t` would stand for the link
        intact = method == "GET" or b"t=" not in body
    elif kind == "zendesk" and data.draw(st.booleans(), label="signed-URL POST"):
        claims = data.draw(CLAIMS, label="claims")  # PyJWT refuses to sign a non-text iss
        fields = {**data.draw(QUERY, label="form"), "token": zendesk_jwt(zendesk_key, claims)}
        body = _form(fields)
        content_type = "application/x-www-form-urlencoded"
        intact = False  # a genuine token whose claims may be refused
    elif kind == "zendesk":
        session = zendesk_session(hostile_services)
        value = data.draw(st.sampled_from(SHAPES[kind]).flatmap(mutated), label="value")
        body = data.draw(encoded(st.just(_with(value, session=session))), label="body")
        content_type = data.draw(st.sampled_from(["application/json",
                                                  "application/json; charset=utf-8"]))
        intact = len(body) <= ZENDESK_MAX_BODY and _carries(body, session=session)
    elif kind == "chatwoot" and data.draw(st.booleans(), label="page"):
        method, query["k"] = "GET", chatwoot_key(hostile_services)
    elif kind == "chatwoot":
        key = chatwoot_key(hostile_services)
        value = data.draw(st.sampled_from(SHAPES[kind]).flatmap(mutated), label="value")
        body = data.draw(encoded(st.just(_with(value, k=key))), label="body")
        intact = _carries(body, k=key)
    elif kind == "helpscout":
        body = data.draw(BODIES[kind], label="body")
        headers = merged(headers, {"X-HelpScout-Signature": helpscout_signature(body)})
    elif kind == "freescout":
        secret = SECRETS["FREESCOUT_SECRET"]
        value = data.draw(st.sampled_from(SHAPES[kind]).flatmap(mutated), label="value")
        body = data.draw(encoded(st.just(_with(value, secret=secret))), label="body")
        content_type = "application/json"
        intact = _carries(body, secret=secret)
    elif kind == "freshdesk":
        method = data.draw(METHODS, label="method")
        body = data.draw(BODIES[kind], label="body") if method == "POST" else b""
        headers = merged(headers, {"Authorization": f"Bearer {SECRETS['FRESHDESK_APP_TOKEN']}"})
    else:  # django_helpdesk: nothing to authenticate
        body = data.draw(BODIES[kind], label="body")
    answer = send(client, method, _path(kind), body, headers, content_type, query)
    sane(answer, NO_SIDEBAR if kind == "django_helpdesk" else ())
    if intact and not too_large(answer, body):
        assert answer.status_code != 401, answer.get_data()[:300]


def _form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


# note ids as a hand-made form may give them: digits of other scripts (١, ³) are digits to
# str.isdigit but not to int()
NOTE_IDS = st.sampled_from(["1", "0", "-1", "99999999999", "2" * 13, "١", "³", "²3", "٣",
                            " 1 ", "", "1.5", "0x1", "1e3", "+1", "１"])


@hostile()
@given(data=st.data())
def test_notes_through_a_sealed_link_are_kept_refused_or_not_found_never_a_500(
        client: FlaskClient, hostile_services: Services, data: st.DataObject) -> None:
    fields = {"t": data.draw(sealed_links(hostile_services), label="link"),
              "action": data.draw(st.sampled_from(["add", "edit", "delete", "", "nope"])),
              "note": data.draw(st.one_of(NOTE_IDS, NOTE_IDS, QUERY_TEXT)),
              "text": data.draw(QUERY_TEXT), "author": data.draw(QUERY_TEXT),
              "lang": data.draw(QUERY_TEXT)}
    fields = {k: v for k, v in fields.items() if k in ("t", "action", "note")
              or data.draw(st.booleans())}
    answer = send(client, "POST", "/helpdesk/embed/notes", _form(fields),
                  data.draw(HEADERS, label="headers"), "application/x-www-form-urlencoded")
    sane(answer)
    assert answer.status_code in (303, 400, 404), (answer.status_code, answer.get_data()[:300])


@hostile(0.5)
@given(data=st.data())
def test_details_through_a_sealed_link_are_shown_or_not_found_never_a_500(
        client: FlaskClient, hostile_services: Services, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(["erp", "loyalty", "pos", "nosuch", "é", "%2e"]))
    detail = data.draw(st.sampled_from(["tracking", "balance", "nope", "x" * 300]))
    query = {"t": data.draw(sealed_links(hostile_services), label="link"),
             "key": data.draw(st.one_of(st.sampled_from(
                 ["29000123456", "M-997890", "997890", "../../x"]), QUERY_TEXT), label="key")}
    answer = send(client, "GET", f"/helpdesk/embed/details/{source}/{detail}",
                  headers=data.draw(HEADERS, label="headers"), query=query)
    sane(answer)
    assert answer.status_code in (200, 404), (answer.status_code, answer.get_data()[:300])


def test_a_sealed_link_for_a_known_customer_shows_the_record(
        client: FlaskClient, hostile_services: Services) -> None:
    """The fuzzed links do reach the record (else the properties above prove little)."""
    token = hostile_services.embed.seal(SidebarContext(
        "embed", Identifiers(emails=("pauline.deneve@easiware.fr",))))
    answer = client.get("/helpdesk/embed/sidebar", query_string={"t": token})
    assert answer.status_code == 200  # the record (not found would be a 404, a bad link a 401)
    assert 'class="search' not in answer.get_data(as_text=True)
