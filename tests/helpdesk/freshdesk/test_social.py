"""A Freshdesk contact's X handle (`twitter_id`) and Facebook id (`facebook_id`) reach the
webhook's event and the app's sidebar context."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from connector.helpdesk.base import Headers
from connector.helpdesk.freshdesk import app as freshdesk_app
from connector.identifiers import Identifiers
from tests.helpdesk.freshdesk.test_adapter import (
    FIXTURES,
    PAULINE,
    TOKEN,
    adapter,
    fixture,
    signed,
)

# app.js run by node with the FDK client faked from the fixtures: prints what it POSTs
RUN_APP = """
const fs = require("fs");
const [script, ticket, contact, user] = process.argv.slice(2);
const data = {ticket: JSON.parse(fs.readFileSync(ticket)), contact: JSON.parse(
  fs.readFileSync(contact)), loggedInUser: JSON.parse(fs.readFileSync(user))};
const element = () => ({hidden: true, textContent: "", style: {}});
global.document = {getElementById: element, baseURI: "https://app.example/index.html"};
const client = {
  events: {on: (name, run) => { if (name === "app.activated") { run(); } }},
  data: {get: async (name) => data[name]},
  request: {invokeTemplate: async (name, options) => {
    console.log(options.body);
    return {response: JSON.stringify({html: "", url: ""})};
  }},
  instance: {resize() {}},
};
global.app = {initialized: () => Promise.resolve(client)};
eval(fs.readFileSync(script, "utf8"));
"""

PAULINE_SOCIAL = Identifiers(emails=(PAULINE,), phones=("+33653888890",),
                             handles=("twitter:pdeneve", "facebook:100004123456789"))


def test_the_contact_s_social_fields_reach_the_event() -> None:
    event = adapter().parse_event(signed(), fixture("webhook_ticket_created_social.json"))
    assert event is not None and event.identifiers == PAULINE_SOCIAL
    assert (event.ticket_id, event.channel, event.new_request) == ("4230", "other", True)


def test_flat_keys_and_unrendered_placeholders() -> None:
    headers = signed(**{"Content-Type": "application/x-www-form-urlencoded"})
    body = (b"ticket_id=4231&twitter_id=%40PDeneve&facebook_id=%7B%7Bticket.requester."
            b"facebook_id%7D%7D")
    event = adapter().parse_event(headers, body)
    assert event is not None and event.identifiers == Identifiers(handles=("twitter:pdeneve",))
    wrapped = {"freshdesk_webhook": {"ticket_id": 4232, "ticket_contact_twitter_id": "PDeneve"}}
    simple = adapter().parse_event(signed(), json.dumps(wrapped).encode())
    assert simple is not None and simple.identifiers.handles == ("twitter:pdeneve",)


def test_the_app_sends_the_data_method_s_social_fields() -> None:
    """What app.js sends from the contact: its emails and phones, `twitter_id` and
    `facebook_id` as lists (a number made text)."""
    contact = json.loads(fixture("fdk_contact_social.json"))["contact"]
    body = {"ticket_id": "4230", "emails": [contact["email"]],
            "phones": [contact["phone"], contact["mobile"]],
            "twitter_id": [contact["twitter_id"]], "facebook_id": [contact["facebook_id"]]}
    context = adapter(app_token=TOKEN).context_of(body)
    assert context.identifiers == PAULINE_SOCIAL
    numeric = adapter(app_token=TOKEN).context_of({"facebook_id": 100004123456789,
                                                   "twitter_id": ["", None, "not a handle"]})
    assert numeric.identifiers == Identifiers(handles=("facebook:100004123456789",))


def test_app_js_posts_the_contact_s_social_fields(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = freshdesk_app.TEMPLATES / "app" / "scripts" / "app.js"
    runner = tmp_path / "run_app.js"
    runner.write_text(RUN_APP)
    done = subprocess.run(
        [node, str(runner), str(script), str(FIXTURES / "fdk_ticket.json"),
         str(FIXTURES / "fdk_contact_social.json"), str(FIXTURES / "fdk_logged_in_user.json")],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    posted = json.loads(done.stdout.strip().splitlines()[-1])
    assert posted["twitter_id"] == ["PDeneve"] and posted["facebook_id"] == ["100004123456789"]
    assert adapter(app_token=TOKEN).context_of(posted).identifiers == PAULINE_SOCIAL


def test_a_webhook_without_social_fields_is_read_as_before() -> None:
    event = adapter().parse_event(Headers({"X-Connector-Secret": "fd-webhook-secret-for-tests"}),
                                  fixture("webhook_ticket_created.json"))
    assert event is not None and event.identifiers.handles == ()
