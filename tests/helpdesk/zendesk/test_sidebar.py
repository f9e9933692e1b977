"""Zendesk's sidebar: the signed-URL JWT (vectors made with a test RSA key), our short session,
and the whole flow through the web layer to Pauline Denève's record, with its CSP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask.testing import FlaskClient

from connector.app import build_services
from connector.helpdesk.base import Headers, HttpRequest, Reply, Unauthorized
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.zendesk.adapter import Config
from connector.helpdesk.zendesk.session import Session, _fernet
from connector.helpdesk.zendesk.sidebar import open_session, seal_session, sidebar_context
from connector.manifest import ManifestError, load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import Backoffice, service_env
from tests.helpdesk.zendesk.conftest import Clock
from tests.helpdesk.zendesk.zaf.harness import (
    APP_GUID,
    AUDIENCE,
    public_pem,
    signed_url_token,
    zendesk_manifest,
)

SDK = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
ZENDESK = {"origin": "https://acme.zendesk.com", "app_guid": APP_GUID}
PAULINE = "pauline.deneve@easiware.fr"
SECRET = b"test-secret-key"


def deps(clock: Clock) -> HelpdeskDeps:
    return HelpdeskDeps(links=EmbedLinks(SECRET, 600, "FR", clock=clock),
                        public_url="http://testserver", region="FR", secret_key=SECRET,
                        render_fragment=lambda context: "", clock=clock)


def config(**changes: Any) -> Config:
    return Config.model_validate({"subdomain": "acme", "app_public_key": public_pem(), **changes})


def signed_post(token: str | None) -> HttpRequest:
    """Zendesk's first request: a form POST to the location URL with origin and app_guid."""
    return HttpRequest(method="POST", path="/helpdesk/zendesk/sidebar", args=ZENDESK,
                       form={} if token is None else {"token": token},
                       headers=Headers({"Content-Type": "application/x-www-form-urlencoded"}))


def page_of(reply: Reply | Any) -> dict[str, Any]:
    """The data our page gives its script (session, action, location)."""
    found = re.search(r"var page = (\{.*?\});\n", reply.body)
    assert found, reply.body
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def session_post(session: str | None, **body: Any) -> HttpRequest:
    """Our page's POST: what it read from Zendesk, with our session."""
    payload = json.dumps({"session": session, **body}).encode()
    return HttpRequest(method="POST", path="/helpdesk/zendesk/sidebar", args=ZENDESK,
                       headers=Headers({"Content-Type": "application/json"}), body=payload)


# --- the signed-URL JWT ---------------------------------------------------------------------

def test_a_valid_token_opens_our_page_with_a_session(clock: Clock) -> None:
    reply = sidebar_context(config(), deps(clock), signed_post(signed_url_token()))
    assert isinstance(reply, Reply) and reply.status == 200
    assert reply.nonce and f'<script nonce="{reply.nonce}">' in reply.body
    assert reply.script_src == (SDK,) and f'<script src="{SDK}"></script>' in reply.body
    assert reply.frame_src == ("'self'",)
    page = page_of(reply)
    assert page["location"] == "ticket_sidebar"
    assert page["action"] == f"/helpdesk/zendesk/sidebar?origin=https%3A%2F%2Facme.zendesk.com" \
                             f"&app_guid={APP_GUID}"
    assert open_session(config(), deps(clock), page["session"]).subdomain == "acme"
    assert page["session_ttl_s"] == 600 and "function RecordFrame(" in reply.body
    assert "Set-Cookie" not in dict(reply.headers)


@pytest.mark.parametrize(("token", "reason"), [
    (None, "the request carries no signed-URL token: open the app from Zendesk"),
    ("", "the request carries no signed-URL token"),
    ("not-a-jwt", "the signed-URL token is not a JWT"),
    ("tampered", "the signed-URL token's signature does not match the key in "
                 "ZENDESK_APP_PUBLIC_KEY"),
    ("wrong-key", "the signed-URL token's signature does not match the key in "
                  "ZENDESK_APP_PUBLIC_KEY"),
    ("hs256", "the signed-URL token is not signed with RS256"),
    ("expired", "the signed-URL token has expired"),
    ("future", "the signed-URL token is not valid yet"),
    ("no-exp", "the signed-URL token has no 'exp' claim"),
    ("no-iat", "the signed-URL token has no 'iat' claim"),
    ("no-aud", "the signed-URL token has no 'aud' claim"),
    ("wrong-aud", "the signed-URL token is for another app installation than "
                  "https://acme.zendesk.com/api/v2/apps/installations/<id>.json"),
    ("wrong-iss", "the signed-URL token was not issued by acme.zendesk.com"),
    ("chat", "the signed-URL token is for chat/ticket_sidebar, not a Support ticket_sidebar"),
    ("nav-bar", "the signed-URL token is for support/nav_bar, not a Support ticket_sidebar"),
    ("no-context", "the signed-URL token is for None/None"),
])
def test_a_token_that_cannot_be_trusted_is_refused_saying_why(clock: Clock, token: str | None,
                                                               reason: str) -> None:
    valid = signed_url_token()
    head, body, signature = valid.split(".")
    forged = "AAAAAA" if signature[-6:] != "AAAAAA" else "BBBBBB"
    now = time.time()
    tokens: dict[str, str | None] = {
        "tampered": f"{head}.{body}.{signature[:-6]}{forged}",
        "wrong-key": signed_url_token("another"),
        # the classic confusion: HMAC "signed" with a shared secret instead of Zendesk's RSA key
        "hs256": jwt.encode({"iss": "acme.zendesk.com", "aud": AUDIENCE, "iat": int(now),
                             "exp": int(now) + 300}, "a-shared-secret-of-at-least-32-bytes",
                            algorithm="HS256"),
        "expired": signed_url_token(now=now - 900),
        "future": signed_url_token(now=now + 900),
        "no-exp": signed_url_token(drop=("exp",)),
        "no-iat": signed_url_token(drop=("iat",)),
        "no-aud": signed_url_token(drop=("aud",)),
        "wrong-aud": signed_url_token(
            aud="https://evil.zendesk.com/api/v2/apps/installations/360001.json"),
        "wrong-iss": signed_url_token(iss="evil.zendesk.com"),
        "chat": signed_url_token(context={"product": "chat", "location": "ticket_sidebar"}),
        "nav-bar": signed_url_token(context={"product": "support", "location": "nav_bar"}),
        "no-context": signed_url_token(drop=("context",)),
    }
    with pytest.raises(Unauthorized) as refused:
        sidebar_context(config(), deps(clock), signed_post(tokens.get(str(token), token)))
    assert refused.value.public.startswith(reason)


def test_a_configured_audience_is_the_only_one_accepted(clock: Clock) -> None:
    mine = config(app_audience=AUDIENCE)
    assert sidebar_context(mine, deps(clock), signed_post(signed_url_token())).status == 200
    other = signed_url_token(aud="https://acme.zendesk.com/api/v2/apps/installations/9.json")
    with pytest.raises(Unauthorized, match=f"another app installation than {AUDIENCE}"):
        sidebar_context(mine, deps(clock), signed_post(other))


def test_the_user_sidebar_is_a_location_too(clock: Clock) -> None:
    token = signed_url_token(context={"product": "support", "location": "user_sidebar"})
    assert page_of(sidebar_context(config(), deps(clock), signed_post(token)))["location"] == \
        "user_sidebar"


def test_an_unset_key_refuses_every_request(clock: Clock) -> None:
    unset = config(app_public_key="")  # an unset ${ZENDESK_APP_PUBLIC_KEY:-}
    for request in (signed_post(signed_url_token()), session_post("anything"), HttpRequest()):
        with pytest.raises(Unauthorized, match="set ZENDESK_APP_PUBLIC_KEY"):
            sidebar_context(unset, deps(clock), request)


def test_a_key_that_is_not_a_pem_says_so(clock: Clock) -> None:
    with pytest.raises(Unauthorized, match="ZENDESK_APP_PUBLIC_KEY is not a PEM public key"):
        sidebar_context(config(app_public_key="ssh-rsa AAAA"), deps(clock),
                        signed_post(signed_url_token()))


def test_a_pem_pasted_on_one_line_with_literal_newlines_works(clock: Clock) -> None:
    flat = config(app_public_key=public_pem().strip().replace("\n", "\\n"))
    assert sidebar_context(flat, deps(clock), signed_post(signed_url_token())).status == 200


# --- our session ----------------------------------------------------------------------------

def session(clock: Clock, **changes: Any) -> str:
    reply = sidebar_context(config(**changes), deps(clock), signed_post(signed_url_token()))
    return str(page_of(reply)["session"])


def test_the_session_gives_the_sealed_link_of_the_requester(clock: Clock) -> None:
    answer = sidebar_context(config(), deps(clock), session_post(
        session(clock), emails=[PAULINE, "Pauline.Deneve@Easiware.fr", 42],
        phones=["06 53 88 88 90"], user_id=9001, ticket_id="35436", lang="fr"))
    assert answer.status == 200 and answer.content_type.startswith("application/json")
    url = urlsplit(json.loads(answer.body)["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/helpdesk/embed/sidebar" and not url.netloc
    assert query["origin"] == "https://acme.zendesk.com" and query["app_guid"] == APP_GUID
    assert query["lang"] == "fr" and PAULINE not in answer.body  # sealed, never in the URL
    context = deps(clock).links.read(query)
    assert context.identifiers.emails == (PAULINE,)
    assert context.identifiers.phones == ("+33653888890",)
    assert context.ticket_id == "35436" and context.helpdesk == "zendesk"


def test_a_requester_without_email_or_phone_opens_the_search(clock: Clock) -> None:
    answer = sidebar_context(config(), deps(clock), session_post(
        session(clock), emails=[], phones=["not a phone", ["nested"]], user_id={"x": 1},
        ticket_id="1", lang=["en"]))
    query = {k: v[0] for k, v in parse_qs(urlsplit(json.loads(answer.body)["url"]).query).items()}
    context = deps(clock).links.read(query)
    assert not context.identifiers and context.customer_id is None


@pytest.mark.parametrize("case", ["expired", "tampered", "missing", "another-account",
                                  "not-json"])
def test_a_session_that_cannot_be_trusted_is_refused(clock: Clock, case: str) -> None:
    made = session(clock)
    request = {
        "expired": session_post(made, emails=[PAULINE]),
        "tampered": session_post(made[:-4] + ("AAAA" if made[-4:] != "AAAA" else "BBBB"),
                                 emails=[PAULINE]),
        "missing": session_post(None, emails=[PAULINE]),
        "another-account": session_post(seal_session(config(subdomain="other"), deps(clock),
                                                 "ticket_sidebar"), emails=[PAULINE]),
        "not-json": HttpRequest(method="POST", args=ZENDESK, body=b"session=" + made.encode(),
                                headers=Headers({"Content-Type": "application/json"})),
    }[case]
    if case == "expired":
        clock.offset = 601  # session_ttl_s is 600
    with pytest.raises(Unauthorized, match="session"):
        sidebar_context(config(), deps(clock), request)


def test_a_session_lasts_its_ttl(clock: Clock) -> None:
    made = session(clock)
    clock.offset = 590
    assert sidebar_context(config(), deps(clock), session_post(made, emails=[PAULINE])).status \
        == 200


# --- the rolling session: renewed with each link, never past session_max_s -----------------

def record_link(clock: Clock, session: str, cfg: Config | None = None,
                **body: Any) -> dict[str, Any]:
    """Our page's POST for Pauline's record (with `renew`: the token its frame shows)."""
    answer = sidebar_context(cfg or config(), deps(clock), session_post(
        session, emails=[PAULINE], ticket_id="35436", lang="fr", **body))
    assert answer.status == 200
    return json.loads(answer.body)  # type: ignore[no-any-return]


def test_each_link_comes_with_a_renewed_session(clock: Clock) -> None:
    issued = int(clock()) - 30  # Zendesk's JWT, loaded half a minute ago
    page = page_of(sidebar_context(config(), deps(clock),
                                   signed_post(signed_url_token(now=issued))))
    first = page["session"]
    assert open_session(config(), deps(clock), first) == Session("acme", "ticket_sidebar", issued)
    clock.offset = 500
    answer = record_link(clock, first)
    assert answer["ttl_s"] == 600 and answer["renewed"] is False
    renewed = answer["session"]
    assert open_session(config(), deps(clock), renewed) == Session("acme", "ticket_sidebar",
                                                                   issued)
    clock.offset = 1000  # the first session is over; the renewed one lives on
    with pytest.raises(Unauthorized, match="invalid or has expired"):
        record_link(clock, first)
    assert record_link(clock, renewed)["session"] != renewed


def test_renewals_stop_session_max_s_after_zendesk_s_token(clock: Clock) -> None:
    capped = config(session_max_s=1800)
    issued = int(clock()) - 100  # the cap counts from the JWT, not from our page
    made = sidebar_context(capped, deps(clock), signed_post(signed_url_token(now=issued)))
    session = str(page_of(made)["session"])
    for offset in (500, 1000, 1500):
        clock.offset = offset
        session = record_link(clock, session, capped)["session"]
    clock.offset = 1699  # 1799 s after the JWT: still within
    session = record_link(clock, session, capped)["session"]
    clock.offset = 1700  # 1800 s: the agent reloads the apps (a new JWT, a new session)
    with pytest.raises(Unauthorized, match=r"session_max_s \(1800 s\).*reload the apps"):
        record_link(clock, session, capped)


@pytest.mark.parametrize("case", ["tampered", "another-account", "another-key"])
def test_a_renewed_session_is_checked_like_the_first(clock: Clock, case: str) -> None:
    renewed = record_link(clock, session(clock))["session"]
    with pytest.raises(Unauthorized) as refused:
        if case == "tampered":
            record_link(clock, renewed[:-4] + ("AAAA" if renewed[-4:] != "AAAA" else "BBBB"))
        elif case == "another-account":
            record_link(clock, renewed, config(subdomain="other"))
        else:
            other = HelpdeskDeps(links=deps(clock).links, public_url="http://testserver",
                                 region="FR", secret_key=b"another-secret",
                                 render_fragment=lambda context: "", clock=clock)
            sidebar_context(config(), other, session_post(renewed, emails=[PAULINE]))
    assert "session" in refused.value.public


def test_a_session_sealed_before_they_rolled_counts_from_its_own_time(clock: Clock) -> None:
    legacy = _fernet(SECRET).encrypt(b'{"s":"acme","l":"ticket_sidebar"}').decode()
    assert open_session(config(), deps(clock), legacy).started == pytest.approx(time.time(), 2)


def test_renew_seals_the_record_the_frame_shows_while_it_is_valid(clock: Clock) -> None:
    links = deps(clock).links
    chosen = links.token(email=PAULINE, customer_id="C100997", helpdesk="zendesk")
    clock.offset = 500
    answer = record_link(clock, session(clock), renew=chosen)
    assert answer["renewed"] is True
    token = parse_qs(urlsplit(answer["url"]).query)["t"][0]
    assert token != chosen and links.read({"t": token}).customer_id == "C100997"
    clock.offset = 1050  # 450 s after the renewal, 1050 s after the chosen link: only one lives
    assert links.read({"t": token}).customer_id == "C100997"
    with pytest.raises(Unauthorized):
        links.read({"t": chosen})
    for gone in (chosen, "forged", 42, None):  # out of date or not ours: the requester's link
        fallback = record_link(clock, session(clock), renew=gone)
        query = {k: v[0] for k, v in parse_qs(urlsplit(fallback["url"]).query).items()}
        assert fallback["renewed"] is False and links.read(query).customer_id is None
        assert links.read(query).identifiers.emails == (PAULINE,)


def test_session_max_s_is_validated_with_its_path(tmp_path: Path) -> None:
    assert config().session_max_s == 43_200  # 12 h: a working day, then a reload
    with pytest.raises(ManifestError) as refused:
        load_manifest(zendesk_manifest(tmp_path, session_ttl_s=900, session_max_s=600), env={})
    assert refused.value.errors == [
        "helpdesks.zendesk.session_max_s: must be at least session_ttl_s (900)"]
    with pytest.raises(ManifestError) as refused:
        load_manifest(zendesk_manifest(tmp_path, session_ttl_s=2, session_max_s=90_000), env={})
    assert refused.value.errors == [
        "helpdesks.zendesk.session_ttl_s: input should be greater than or equal to 3",
        "helpdesks.zendesk.session_max_s: input should be less than or equal to 86400"]


def test_zendesk_parameters_that_are_not_what_zendesk_sends_are_not_kept(clock: Clock) -> None:
    request = HttpRequest(method="POST", path="/helpdesk/zendesk/sidebar",
                          args={"origin": "javascript:alert(1)", "app_guid": "x\"><script>"},
                          form={"token": signed_url_token()})
    assert page_of(sidebar_context(config(), deps(clock), request))["action"] == \
        "/helpdesk/zendesk/sidebar"


# --- through the web layer, to the record ---------------------------------------------------

@pytest.fixture
def web(demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> Iterator[FlaskClient]:
    env = {**service_env(demo_data, backoffice.url, tmp_path),
           "ZENDESK_APP_PUBLIC_KEY": public_pem()}
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data,
                        secret_key="test-secret-key")  # type: ignore[arg-type]
    services = build_services(settings, load_manifest(zendesk_manifest(tmp_path), env=env))
    yield create_app(services=services).test_client()
    services.close()


def csp(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in
                                                               policy.split(";")) if " " in d}


def test_from_zendesk_s_signed_post_to_pauline_s_record(web: FlaskClient) -> None:
    query = "origin=https%3A%2F%2Facme.zendesk.com&app_guid=" + APP_GUID
    first = web.post(f"/helpdesk/zendesk/sidebar?{query}", data={"token": signed_url_token()})
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    policy = csp(first)
    nonce = re.search(r'<script nonce="([^"]+)">', first.text)
    assert nonce is not None
    assert policy["script-src"] == f"'nonce-{nonce.group(1)}' {SDK}"
    assert policy["frame-ancestors"] == "https://acme.zendesk.com"
    assert policy["frame-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    page = json.loads(re.search(r"var page = (\{.*?\});\n", first.text).group(1))  # type: ignore[union-attr]
    assert page["action"] == f"/helpdesk/zendesk/sidebar?{query}"

    pointed = web.post(page["action"], json={"session": page["session"], "emails": [PAULINE],
                                             "user_id": "9001", "ticket_id": "35436",
                                             "lang": "fr"})
    assert pointed.status_code == 200 and pointed.headers["Cache-Control"] == "no-store"
    url = pointed.json["url"]  # type: ignore[index]
    assert f"app_guid={APP_GUID}" in url and "origin=https%3A%2F%2Facme.zendesk.com" in url

    record = web.get(url)
    assert record.status_code == 200 and "Set-Cookie" not in record.headers
    assert "Pauline Denève" in record.text and "997890" in record.text
    framers = csp(record)["frame-ancestors"].split()
    assert "https://acme.zendesk.com" in framers and "'self'" in framers  # our page frames it


def test_a_refused_token_is_a_401_page_saying_why(web: FlaskClient) -> None:
    answer = web.post("/helpdesk/zendesk/sidebar", data={"token": signed_url_token("another")})
    assert answer.status_code == 401
    assert "does not match the key in ZENDESK_APP_PUBLIC_KEY" in answer.text
    assert web.get("/helpdesk/zendesk/sidebar").status_code == 401
    expired = web.post("/helpdesk/zendesk/sidebar", json={"session": "forged",
                                                          "emails": [PAULINE]})
    assert expired.status_code == 401 and PAULINE not in expired.text


def test_an_unset_key_is_a_401_naming_the_variable(demo_data: Path, backoffice: Backoffice,
                                                   tmp_path: Path) -> None:
    env = {**service_env(demo_data, backoffice.url, tmp_path), "ZENDESK_APP_PUBLIC_KEY": ""}
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data,
                        secret_key="test-secret-key")  # type: ignore[arg-type]
    services = build_services(settings, load_manifest(zendesk_manifest(tmp_path), env=env))
    try:
        answer = create_app(services=services).test_client().post(
            "/helpdesk/zendesk/sidebar", data={"token": signed_url_token()})
    finally:
        services.close()
    assert answer.status_code == 401 and "ZENDESK_APP_PUBLIC_KEY" in answer.text
