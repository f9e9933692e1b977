"""The FreeScout fragment in headless Chromium, in a page shaped like FreeScout's conversation
view: Bootstrap 3's base rules for what the fragment holds (30 px `h2`, bold `dt`, grey
`.badge` pills; a local subset, not FreeScout's own files), the Sidebar Webhook module's
partial (`#swh-title`, `#swh-content`) and its module.js success path, run with Debian's jQuery
(libjs-jquery) as the module runs it: `$('#swh-content').html(html)` then the panel title from
`find('title').first().text()`. Without that jQuery the page inserts with `innerHTML` and takes
the first `title` element by `querySelector`, which is what jQuery 3's `.html()` does with a
string holding a `<style>` (through a detached `div`'s `innerHTML`).

Asserted as layout metrics: the panel's title is ours although the record draws a sparkline
with an SVG `<title>`; block titles are our 11 px capitals, not the host's 30 px headings;
the address, "Reconnu par" and the channel pills are apart; the orders table takes its narrow
layout in a 290 px sidebar of a wide window; no element is wider than the panel (a long parcel
number included); the host's own
headings and a host element sharing one of our class names keep the host's style. And as a
screenshot comparison: the whole record inside FreeScout against the same fragment alone on a
blank page, as wide and at the same subpixel offset, made in the same run (a stored picture
would go stale with every change of a block): the host's CSS must change no pixel that
matters. The pages are saved under tests/artifacts/freescout-fragment*.png for review.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from connector.helpdesk.base import Headers, HttpRequest, Reply
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.helpdesk.freescout.adapter import Config, FreeScout
from tests.conftest import ARTIFACTS, screenshot
from tests.helpdesk.hosted import (
    JQUERY,
    MEASURE,
    OVERFLOW,
    PICTURE_DIFFERENCE,
    apart,
    below,
    busy_record,
    fragments,
)
from tests.helpdesk.scouts import fixture

pytestmark = pytest.mark.browser
SECRET = "freescout-shared-secret"  # the one in tests/fixtures/freescout/sidebar.json

HOST = """<!doctype html>
<html><head><meta charset="utf-8"><title>#42 Retour - FreeScout</title>
<style>
  /* Bootstrap 3's base rules for the elements a fragment holds, as FreeScout loads them */
  body { margin: 0; font-family: "Helvetica Neue", Helvetica, Arial, sans-serif;
         font-size: 14px; line-height: 1.42857143; color: #333; background: #fff; }
  h1, h2, h3, h4, h5, h6 { font-family: inherit; font-weight: 500; line-height: 1.1;
                           color: inherit; }
  h1, h2, h3 { margin-top: 20px; margin-bottom: 10px; }
  h4, h5, h6 { margin-top: 10px; margin-bottom: 10px; }
  h1 { font-size: 36px; } h2 { font-size: 30px; } h3 { font-size: 24px; }
  h4 { font-size: 18px; }
  p { margin: 0 0 10px; }
  ul, ol { margin-top: 0; margin-bottom: 10px; }
  dl { margin-top: 0; margin-bottom: 20px; }
  dt, dd { line-height: 1.42857143; }
  dt { font-weight: bold; }
  dd { margin-left: 0; }
  table { border-collapse: collapse; background-color: transparent; }
  .badge { display: inline-block; min-width: 10px; padding: 3px 7px; font-size: 12px;
           font-weight: bold; line-height: 1; color: #fff; text-align: center;
           white-space: nowrap; vertical-align: middle; background-color: #777;
           border-radius: 10px; }
  .hide { display: none !important; }
  .panel { margin-bottom: 20px; background-color: #fff; border: 1px solid transparent;
           border-radius: 4px; }
  /* the conversation view: the thread, and the customer's sidebar beside it */
  #conv-layout { display: flex; }
  #conv-layout-main { flex: 1; padding: 0 20px; }
  #conv-layout-customer { flex: none; width: 290px; padding: 0 10px;
                          border-left: 1px solid #ddd; }
</style></head>
<body>
<div id="conv-layout">
  <div id="conv-layout-main">
    <h2 id="host-heading">Retour de la commande 997890</h2>
    <p><span class="tone" id="host-tone">a host element with one of our class names</span></p>
  </div>
  <div id="conv-layout-customer">
    <div class="conv-sidebar-block">
      <div class="panel-group accordion accordion-empty">
        <div class="panel-heading hide">
          <h4 class="panel-title" id="swh-title"></h4>
        </div>
        <div class="panel-body">
          <div class="panel panel-default hide" id="swh-content"></div>
          <div class="panel panel-default" id="swh-loader">…</div>
          <div class="margin-top-10 small"><a href="#" class="swh-refresh">Refresh</a></div>
        </div>
      </div>
    </div>
  </div>
</div>
%(jquery)s
<script>
  // module.js's success path (Modules/SidebarWebhook/Public/js/module.js)
  window.swhShow = function (response) {
    if (window.jQuery) {
      $('#swh-content').html(response.html);
      var title = $('#swh-content').find('title').first().text();
      if (title) {
        $('#swh-title').html(title);
        $('#swh-title').parent().removeClass('hide');
      }
      $('#swh-loader').addClass('hide');
      $('#swh-content').removeClass('hide');
      return 'jquery';
    }
    var content = document.getElementById('swh-content');
    content.innerHTML = response.html;
    var found = content.querySelector('title');
    if (found && found.textContent) {
      document.getElementById('swh-title').innerHTML = found.textContent;
      document.getElementById('swh-title').parentNode.classList.remove('hide');
    }
    document.getElementById('swh-loader').classList.add('hide');
    content.classList.remove('hide');
    return 'innerHTML';
  };
</script>
</body></html>
"""

HOST_STYLE = """
return [getComputedStyle(document.getElementById('host-heading')).fontSize,
        getComputedStyle(document.getElementById('host-tone')).paddingLeft,
        getComputedStyle(document.body).fontFamily,
        getComputedStyle(document.querySelector('#swh-content .orders tr')).display];
"""


def answer(title: str | None = None) -> str:
    """The adapter's answer to the module's POST, rendered by the real `Fragments`."""
    renderer = fragments(busy_record())
    deps = HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="http://connector.test",
                        region="FR", secret_key=b"k", render_fragment=renderer,
                        clock=lambda: 0.0)
    request = HttpRequest(method="POST", path="/helpdesk/freescout/sidebar",
                          headers=Headers({"Content-Type": "application/json"}),
                          body=fixture("freescout", "sidebar.json"))
    reply = FreeScout(Config(secret=SECRET, title=title), deps).sidebar_context(request)
    assert isinstance(reply, Reply) and reply.status == 200
    return reply.body


def shown(driver: Any, tmp_path: Path, html: str) -> tuple[str, dict[str, Any]]:
    """Load the host page, insert `html` as the module does; how it was inserted and what
    the fragment measures."""
    jquery = ""
    if JQUERY.is_file():
        (tmp_path / "jquery.min.js").write_bytes(JQUERY.read_bytes())
        jquery = '<script src="jquery.min.js"></script>'
    page = tmp_path / "freescout.html"
    page.write_text(HOST % {"jquery": jquery}, encoding="utf-8")
    driver.get(page.as_uri())
    how = driver.execute_script("return swhShow(arguments[0])",
                                {"status": "success", "html": html})
    return how, driver.execute_script(MEASURE, "#swh-content .connector-sidebar")


@pytest.mark.parametrize("title", [None, "Maison Exemple — fiche"], ids=["brand", "configured"])
def test_the_panel_title_is_ours_even_under_a_sparkline(browser: Any, tmp_path: Path,
                                                         title: str | None) -> None:
    html = answer(title)  # with the sparkline's SVG <title> (and a decoy, should it go)
    shown(browser, tmp_path, html + '<svg role="img"><title>decoy</title></svg>')
    panel = browser.execute_script("return document.getElementById('swh-title').textContent")
    assert panel == (title or "Maison Exemple")  # the manifest's brand when none is set


def test_the_fragment_is_styled_inside_freescout_and_leaks_nothing(browser: Any,
                                                                    tmp_path: Path) -> None:
    how, page = shown(browser, tmp_path, answer())
    screenshot(browser, "freescout-fragment.png")
    print(f"inserted with {how}")  # jquery with Debian's libjs-jquery, else innerHTML
    assert page["titleSize"] == "11px" and page["titleTransform"] == "uppercase"
    assert len(page["address"]) >= 2 and below(page["address"])
    assert "SPINOZA\n77184" in page["text"]
    assert len(page["matched"]) == 2 and below(page["matched"])
    assert len(page["channels"]) >= 2 and apart(page["channels"])
    assert len(page["last"]) >= 2 and below(page["last"])
    assert page["scroll"] <= page["client"]  # nothing wider than FreeScout's sidebar
    heading, tone_padding, font, order_row = browser.execute_script(HOST_STYLE)
    assert heading == "30px" and tone_padding == "0px" and "Helvetica Neue" in font
    assert order_row == "grid"  # the narrow layout, though the window is 1280 px wide


def test_nothing_is_wider_than_freescouts_panel(browser: Any, tmp_path: Path) -> None:
    """Each element of the fragment, the orders table with a carrier's long parcel number
    included, stays within the customer panel (its scroll width is its client width)."""
    html = answer()
    assert "1Z999AA1<wbr>" in html  # the long parcel number the row carries
    shown(browser, tmp_path, html)
    panel = browser.execute_script(OVERFLOW, "#conv-layout-customer")
    assert panel["wide"] == [] and panel["scroll"] <= panel["client"], panel


def test_the_fragments_style_is_scoped_to_its_root() -> None:
    html = answer()
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    preludes = [p.strip() for p in re.findall(r"([^{}]+)\{", style)]
    selectors = [s.strip() for p in preludes if not p.startswith("@") for s in p.split(",")]
    assert len(selectors) > 100
    assert [s for s in selectors if not s.startswith(".connector-sidebar")] == []
    assert "<script" not in html and "</style" not in style


def test_inside_freescout_the_record_looks_as_it_does_alone(browser: Any,
                                                             tmp_path: Path) -> None:
    html = answer()
    browser.set_window_size(1280, 5000)  # an element's screenshot stops at the window's edge
    try:
        shown(browser, tmp_path, html)
        root = browser.find_element("css selector", "#swh-content .connector-sidebar")
        width, left, top = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.width, r.left, r.top]",
            root)
        inside = root.screenshot_as_base64
        (tmp_path / "alone.html").write_text(
            f'<!doctype html><meta charset="utf-8"><body style="margin: 0">'
            f'<div id="alone" style="width: {width}px; margin: {top % 1}px 0 0 {left % 1}px">'
            f"</div>", encoding="utf-8")
        browser.get((tmp_path / "alone.html").as_uri())
        browser.execute_script("document.getElementById('alone').innerHTML = arguments[0]", html)
        alone = browser.find_element("css selector", "#alone .connector-sidebar")
        reference = alone.screenshot_as_base64
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        alone.screenshot(str(ARTIFACTS / "freescout-fragment-alone.png"))
        share = browser.execute_async_script(PICTURE_DIFFERENCE, inside, reference)
    finally:
        browser.set_window_size(1280, 900)
    assert share != -1, "the record is not the same size inside FreeScout"
    assert share < 0.002, f"{share:.1%} of the record's pixels change inside FreeScout"
