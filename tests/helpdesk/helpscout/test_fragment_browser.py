"""The Help Scout fragment in headless Chromium, in a page shaped like Help Scout's app panel.

Help Scout's legacy style guide (developer.helpscout.com/custom-apps/style-guide): "Inline
CSS, HTML not documented here, and JavaScript will be stripped out"; interactive elements other
than links are not supported. So the fragment carries no `<style>`, no `style=""`, no script,
and must read right with none of our CSS: the panel here inserts what is left after stripping
style elements, style attributes and scripts (Help Scout's exact tag allow-list is not
published: the tags themselves are kept) into a 300 px column with a plain base style, and
the tests assert, as layout metrics rather than screenshot diffs, that a field's values
(the address, "Reconnu par", the channels, the last contact) are apart, not run together
(`SPINOZA77184`), and that nothing, the orders table with a carrier's long parcel number
included, is wider than the panel. The page is saved under
tests/artifacts/helpscout-fragment.png.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.helpscout.adapter import Config, HelpScout
from tests.conftest import screenshot
from tests.helpdesk.hosted import MEASURE, OVERFLOW, apart, below, busy_record, fragments
from tests.helpdesk.scouts import fixture, sha1_b64

pytestmark = pytest.mark.browser
APP_SECRET = "hs-app-secret-for-tests"

PANEL = """<!doctype html>
<html><head><meta charset="utf-8"><title>Help Scout</title>
<style>
  body { margin: 0; font: 13px/1.5 "Helvetica Neue", Helvetica, Arial, sans-serif;
         color: #314351; background: #f9fafa; }
  .c-sidebar { width: 300px; margin-left: auto; background: #fff;
               border-left: 1px solid #d6dde3; }
  .c-app { padding: 12px 16px; }
  .c-app__title { margin: 0 0 8px; font-size: 13px; font-weight: 500; }
</style></head>
<body>
<div class="c-sidebar">
  <section class="c-app">
    <h3 class="c-app__title">Customer record</h3>
    <div class="c-app__content" id="app"></div>
  </section>
</div>
</body></html>
"""


def answer() -> str:
    """The dynamic app's HTML for a signed POST, rendered by the real `Fragments`."""
    renderer = fragments(busy_record())
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="http://connector.test",
                        region="FR", secret_key=b"k", render_fragment=renderer,
                        clock=lambda: 0.0)
    body = fixture("helpscout", "dynamic_app.json")
    request = HttpRequest(method="POST", path="/helpdesk/helpscout/sidebar", body=body,
                          headers=Headers({"X-HelpScout-Signature":
                                           sha1_b64(APP_SECRET, body)}))
    reply = HelpScout(Config(app_secret=APP_SECRET), deps).sidebar_context(request)
    assert isinstance(reply, Reply) and reply.status == 200
    html = json.loads(reply.body)["html"]
    assert isinstance(html, str)
    return html


def stripped(html: str) -> str:
    """What Help Scout keeps, as far as its docs say: no style, no inline CSS, no script."""
    html = re.sub(r"<(style|script)\b.*?</\1\s*>", "", html, flags=re.S | re.I)
    return re.sub(r"""\s(style|on\w+)=("[^"]*"|'[^']*')""", "", html, flags=re.I)


def test_the_fragment_relies_on_nothing_help_scout_strips() -> None:
    html = answer()
    assert not re.search(r"<style|\sstyle=|<script|\son\w+=", html, re.I)
    assert stripped(html) == html and html.startswith('<div class="connector-sidebar"')


def test_the_fragment_reads_right_without_any_of_our_style(browser: Any,
                                                          tmp_path: Path) -> None:
    page = tmp_path / "helpscout.html"
    page.write_text(PANEL, encoding="utf-8")
    browser.get(page.as_uri())
    browser.execute_script("document.getElementById('app').innerHTML = arguments[0]",
                           stripped(answer()))
    found = browser.execute_script(MEASURE, "#app .connector-sidebar")
    screenshot(browser, "helpscout-fragment.png")
    assert len(found["address"]) >= 2 and below(found["address"])
    assert "SPINOZA\n77184" in found["text"] and "SPINOZA77184" not in found["text"]
    assert len(found["matched"]) == 2 and below(found["matched"])
    assert len(found["channels"]) >= 2 and apart(found["channels"])
    assert len(found["last"]) >= 2 and below(found["last"])
    assert found["titleSize"] != ""  # the browser's default: Help Scout's own CSS decides


def test_nothing_is_wider_than_help_scouts_panel(browser: Any, tmp_path: Path) -> None:
    """The orders table was ~370 px in the 300 px panel (six columns of unbreakable values):
    with no style at all, each element now stays within the panel."""
    page = tmp_path / "helpscout.html"
    page.write_text(PANEL, encoding="utf-8")
    browser.get(page.as_uri())
    html = stripped(answer())
    assert "1Z999AA1<wbr>" in html  # the long parcel number the row carries
    browser.execute_script("document.getElementById('app').innerHTML = arguments[0]", html)
    panel = browser.execute_script(OVERFLOW, ".c-sidebar")
    assert panel["wide"] == [] and panel["scroll"] <= panel["client"], panel
    app = browser.execute_script(OVERFLOW, ".c-app")  # within its padding, too
    assert app["wide"] == [], app
