"""Every webhook route under hostile input: `POST /helpdesk/<kind>/webhook` for each configured
helpdesk, with real deliveries mutated deep inside, any JSON value, bytes that are not JSON,
wrong content types and random headers; unsigned, then validly signed (the generated body
signed with the test secret, so the parser itself meets it).

Properties: never a 5xx, never a traceback in the answer; unsigned is a 401 (JSON saying why);
signed is a 400 (a body we cannot read), a 200 `ignored`, or a 202 recorded (`accepted`, or
`duplicate` for a body seen before)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import hostile
from tests.hostile.helpdesks import (
    EVENT_HEADERS,
    EVENT_NAMES,
    WEBHOOK_KINDS,
    signed_webhook,
    webhook_seeds,
    without_credentials,
)
from tests.hostile.strategies import CONTENT_TYPES, HEADERS, bodies
from tests.hostile.wire import merged, sane, send, too_large

BODIES = {kind: bodies(webhook_seeds(kind)) for kind in WEBHOOK_KINDS}


def post(client: FlaskClient, kind: str, body: bytes, headers: dict[str, str],
         content_type: str | None) -> Any:
    return send(client, "POST", f"/helpdesk/{kind}/webhook", body, headers, content_type)


@pytest.mark.parametrize("kind", WEBHOOK_KINDS)
@hostile()
@given(data=st.data())
def test_an_unsigned_delivery_is_a_401_whatever_it_holds(client: FlaskClient, kind: str,
                                                         data: st.DataObject) -> None:
    body = data.draw(BODIES[kind], label="body")
    headers = data.draw(HEADERS, label="headers")
    answer = post(client, kind, body, headers, data.draw(CONTENT_TYPES, label="content type"))
    sane(answer)
    if too_large(answer, body):  # refused before any signature is checked
        return
    assert answer.status_code == 401, (answer.status_code, answer.get_data()[:300])
    assert isinstance(answer.json, dict) and isinstance(answer.json.get("error"), str)


@pytest.mark.parametrize("kind", WEBHOOK_KINDS)
@hostile(2)
@given(data=st.data())
def test_a_signed_hostile_delivery_is_read_or_refused_never_a_500(
        client: FlaskClient, kind: str, data: st.DataObject) -> None:
    body = data.draw(BODIES[kind], label="body")
    headers = data.draw(HEADERS, label="headers")
    if kind in EVENT_HEADERS and data.draw(st.booleans(), label="event header"):
        headers[EVENT_HEADERS[kind]] = data.draw(st.sampled_from(EVENT_NAMES), label="event")
    way = data.draw(st.integers(0, 2), label="signing way")
    signed = merged(without_credentials(kind, headers), signed_webhook(kind, body, way))
    answer = post(client, kind, body, signed,
                  data.draw(CONTENT_TYPES, label="content type"))
    sane(answer)
    if too_large(answer, body):
        return
    assert answer.status_code in (200, 202, 400), (answer.status_code, answer.get_data()[:300])
    reply = answer.json
    assert isinstance(reply, dict), answer.get_data()[:300]
    if answer.status_code == 200:
        assert reply == {"status": "ignored"}
    elif answer.status_code == 202:
        assert reply["status"] in ("accepted", "duplicate") and reply["id"]
    else:
        assert isinstance(reply.get("error"), str)


@hostile(0.5)
@given(kind=st.one_of(st.sampled_from(["embed", "nosuchdesk", "ZENDESK", "zendesk ", ""]),
                      st.from_regex(r"[A-Za-z0-9_.~-]{1,30}", fullmatch=True)),
       body=bodies([]), headers=HEADERS)
def test_a_helpdesk_that_is_not_configured_is_a_404(client: FlaskClient, kind: str, body: bytes,
                                                     headers: dict[str, str]) -> None:
    answer = send(client, "POST", f"/helpdesk/{kind}/webhook", body, headers)
    sane(answer)
    if too_large(answer, body):
        return
    if kind in WEBHOOK_KINDS:
        assert answer.status_code == 401
    else:
        assert answer.status_code in (404, 308), answer.status_code  # 308: `//` merged


def test_a_help_scout_source_type_of_any_shape_is_read(client: FlaskClient) -> None:
    """What the soak's generated inputs found: `source.type` a list (the channel is looked up
    in a set of names) was a 500."""
    import json

    for shape in ([[1]], {"a": 1}, 7, None):
        [seed] = [s for s in webhook_seeds("helpscout") if isinstance(s, dict) and
                  isinstance(s.get("source"), dict)][:1]
        delivery = json.loads(json.dumps(seed))
        delivery["source"]["type"] = shape
        body = json.dumps(delivery).encode()
        answer = post(client, "helpscout", body, {**signed_webhook("helpscout", body),
                                                  "X-HelpScout-Event": "convo.created"},
                      "application/json")
        sane(answer)
        assert answer.status_code in (200, 202), (shape, answer.get_data()[:300])


def test_a_body_its_adapter_cannot_read_is_a_400_logged_without_its_values(
        hostile_app: Any, client: FlaskClient, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A shape no adapter foresaw (here: the parser raising as a lookup in a set of a list
    would) is refused as unreadable, never a 500 the helpdesk would send again and again."""
    adapter = hostile_app.extensions["connector"].adapters["helpscout"]

    def unforeseen(_headers: Any, _body: bytes) -> None:
        raise TypeError("unhashable type: 'list' (pauline.deneve@easiware.fr)")

    monkeypatch.setattr(adapter, "parse_event", unforeseen)
    body = b'{"id": 1}'
    answer = post(client, "helpscout", body, signed_webhook("helpscout", body),
                  "application/json")
    assert answer.status_code == 400 and answer.json == {
        "error": "the event's body could not be read"}
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "TypeError at test_webhooks.py:" in said and "pauline" not in said
