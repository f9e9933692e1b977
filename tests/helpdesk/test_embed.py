"""Sealed links out of date: renewed while valid, told apart from forged ones, and said plainly
to the agent (the record page, a note, a detail) in their language."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.app import build_services
from connector.helpdesk.base import Unauthorized
from connector.helpdesk.embed import EmbedLinks, LinkExpired
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import MANIFEST, Backoffice, service_env

KEY = b"test-secret-key"
PAULINE = "pauline.deneve@easiware.fr"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_valid_link_is_renewed_with_the_same_record_and_a_new_time() -> None:
    clock = Clock()
    links = EmbedLinks(KEY, 600, "FR", clock=clock)
    token = links.token(email=PAULINE, customer_id="C100997", ticket="42", helpdesk="zendesk")
    clock.now += 599
    renewed = links.renew(token)
    assert renewed is not None and renewed != token
    clock.now += 599  # 1198 s after the first seal, 599 s after the second
    context = links.read({"t": renewed})
    assert (context.customer_id, context.ticket_id, context.helpdesk) == ("C100997", "42",
                                                                          "zendesk")
    assert context.identifiers.emails == (PAULINE,)
    with pytest.raises(LinkExpired, match="this sidebar link has expired"):
        links.read({"t": token})
    assert links.renew(token) is None  # out of date: never renewed, only replaced



def test_renewals_keep_a_link_alive_only_for_the_session_s_maximum() -> None:
    """A stolen link renewed by a script every few minutes dies with its session (issue 12 #14:
    it lived for ever)."""
    clock = Clock()
    links = EmbedLinks(KEY, 600, "FR", clock=clock, session_max_s=3600)
    token: str | None = links.token(email=PAULINE)
    renewals = 0
    while token is not None and renewals < 100:
        clock.now += 500
        token = links.renew(token)
        renewals += 1
    assert renewals == 8  # 8 × 500 s > 3,600 s since the first seal: the 8th is refused
    fresh = links.token(email=PAULINE)  # a new seal (the helpdesk asked again) starts anew
    assert links.renew(fresh) is not None


def test_a_short_lived_link_expires_at_its_own_lifetime_and_is_never_renewed() -> None:
    clock = Clock()
    links = EmbedLinks(KEY, 600, "FR", clock=clock)
    token = links.token(email=PAULINE, lifetime_s=120)
    assert links.renew(token) is None
    clock.now += 119
    assert links.read({"t": token}).identifiers.emails == (PAULINE,)
    clock.now += 2
    with pytest.raises(LinkExpired):
        links.read({"t": token})

def test_a_sealed_context_keeps_every_kind_of_identifier() -> None:
    from connector.helpdesk.base import SidebarContext
    from connector.identifiers import Identifiers

    links = EmbedLinks(KEY, 600, "FR")
    ids = Identifiers(emails=(PAULINE,), phones=("+33653888890",), cards=("29000123456",),
                      handles=("instagram:claire_deco67",), externals=(("erp", "C100997"),))
    context = SidebarContext(helpdesk="zendesk", identifiers=ids, ticket_id="42")
    assert links.read({"t": links.seal(context)}).identifiers == ids


def test_a_link_made_for_another_helpdesk_s_ticket_sends_its_notes_there() -> None:
    from connector.helpdesk.base import SidebarContext
    from connector.identifiers import Identifiers

    links = EmbedLinks(KEY, 600, "FR")
    made = links.read({"t": links.token(email=PAULINE, ticket="7", ticket_helpdesk="zendesk",
                                        agent="margaux", role="agent")})
    assert (made.helpdesk, made.ticket_of, made.agent, made.role) == \
        ("embed", "zendesk", "margaux", "agent")
    resealed = links.read({"t": links.seal(made, customer_id="cus_1")})
    assert (resealed.ticket_id, resealed.ticket_of, resealed.customer_id) == \
        ("7", "zendesk", "cus_1")
    own = SidebarContext(helpdesk="chatwoot", identifiers=Identifiers(emails=(PAULINE,)))
    assert links.read({"t": links.seal(own)}).ticket_of == "chatwoot"


@pytest.mark.parametrize("token", ["forged", "", None, 42])
def test_only_genuine_links_are_renewed(token: object) -> None:
    assert EmbedLinks(KEY, 600, "FR").renew(token) is None


def test_out_of_date_and_forged_links_are_told_apart() -> None:
    clock = Clock()
    links = EmbedLinks(KEY, 600, "FR", clock=clock)
    token = links.token(email=PAULINE)
    stranger = EmbedLinks(b"another-key", 600, "FR", clock=clock).token(email=PAULINE)
    clock.now += 601
    with pytest.raises(LinkExpired):
        links.read({"t": token})
    for refused in (stranger, token[:-6] + "AAAAAA", "not-a-token"):
        with pytest.raises(Unauthorized) as caught:
            links.read({"t": refused})
        assert not isinstance(caught.value, LinkExpired)
        assert caught.value.public == "this sidebar link is invalid"


# --- what the agent sees ---------------------------------------------------------------------

@pytest.fixture
def web(demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> Iterator[FlaskClient]:
    env = service_env(demo_data, backoffice.url, tmp_path)
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data,
                        secret_key=KEY.decode())  # type: ignore[arg-type]
    services = build_services(settings, load_manifest(MANIFEST, env=env))
    yield create_app(services=services).test_client()
    services.close()


def old_token() -> str:
    """Pauline's link, sealed 601 s ago (links live 600 s)."""
    return EmbedLinks(KEY, 600, "FR", clock=lambda: time.time() - 601).token(email=PAULINE)


def shown(page: str) -> str:
    """The page's text, as the agent reads it."""
    text = re.sub(r"<style>.*?</style>|<script.*?</script>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(text))


@pytest.mark.parametrize(("lang", "title", "message"), [
    ("fr", "Fiche à recharger", "Cette fiche n'est plus à jour : rechargez-la"),
    ("en", "Record out of date", "This record is out of date: reload it"),
])
def test_an_out_of_date_record_or_note_says_so_in_the_agent_s_language(
        web: FlaskClient, lang: str, title: str, message: str) -> None:
    token = old_token()
    page = web.get(f"/helpdesk/embed/sidebar?t={token}&lang={lang}")
    note = web.post("/helpdesk/embed/notes",
                    data={"t": token, "lang": lang, "text": "Allergique"})
    for answer in (page, note):
        text = shown(answer.get_data(as_text=True))
        assert answer.status_code == 401 and title in text and message in text
        assert "has expired" not in text  # the log's words, not the agent's
    forged = web.get(f"/helpdesk/embed/sidebar?t=forged&lang={lang}")
    assert forged.status_code == 401 and title not in shown(forged.get_data(as_text=True))


def test_a_detail_of_an_out_of_date_record_is_a_401_the_page_explains(web: FlaskClient) -> None:
    answer = web.get("/helpdesk/embed/details/erp/tracking",
                     query_string={"t": old_token(), "key": "997890"})
    assert answer.status_code == 401
    assert answer.get_json() == {"error": "this sidebar link has expired"}
    fresh = EmbedLinks(KEY, 600, "FR").token(email=PAULINE)
    record = web.get(f"/helpdesk/embed/sidebar?t={fresh}&lang=fr").get_data(as_text=True)
    # what the page's script shows on a 401, in the record's language
    assert 'data-expired="Cette fiche n&#39;est plus à jour : rechargez-la."' in record


def test_the_helpdesk_that_framed_a_record_may_still_frame_its_out_of_date_page(
        web: FlaskClient) -> None:
    """Inside Zendesk, "reload this record" must show there, not be blocked by the browser."""
    made = EmbedLinks(KEY, 600, "FR", clock=lambda: time.time() - 601)
    old = made.token(email=PAULINE, helpdesk="zendesk")
    fresh = EmbedLinks(KEY, 600, "FR").token(email=PAULINE, helpdesk="zendesk")

    def framers(token: str) -> str:
        policy = web.get(f"/helpdesk/embed/sidebar?t={token}").headers["Content-Security-Policy"]
        return policy.split("frame-ancestors ")[1]

    assert framers(fresh) == "'self' https://*.zendesk.com"  # the default manifest's zendesk
    assert framers(old) == "'self' https://*.zendesk.com"
    assert framers("forged") == "'self'"
    assert EmbedLinks(KEY, 600, "FR").framed_by(old) == "zendesk"
    assert EmbedLinks(b"another-key", 600, "FR").framed_by(old) is None


def test_a_form_token_names_one_change_and_is_never_a_link() -> None:
    clock = Clock()
    links = EmbedLinks(KEY, 600, "FR", clock=clock)
    form = links.form_token("action:erp:open_return:997890:cus_1")
    change = links.change_id(form, "action:erp:open_return:997890:cus_1")
    assert change is not None and len(change) == 32
    assert links.change_id(form, "action:erp:open_return:997891:cus_1") is None  # another item
    assert links.form_token("x") != links.form_token("x")  # each form a change of its own
    link = links.token(email=PAULINE)
    assert links.change_id(link, "action:erp:open_return:997890:cus_1") is None
    with pytest.raises(Unauthorized):
        links.read({"t": form})
    clock.now += 601
    assert links.change_id(form, "action:erp:open_return:997890:cus_1") is None
