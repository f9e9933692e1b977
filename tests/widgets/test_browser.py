"""The sidebar in a real browser: a narrow iframe never scrolls sideways; details open on demand."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connector.models import Flag, Order, Review
from connector.widgets.page import render_message_page, render_sidebar_page

from ..conftest import ARTIFACTS
from .test_blocks_more import ALL_BLOCKS, CTX_DETAILS, pauline_full
from .test_sidebar import CTX_EN, CTX_FR, LAYOUT, XSS, pauline

pytestmark = pytest.mark.browser

FRAME = '<!DOCTYPE html><iframe id="f" src="{src}" width="{width}" height="{height}"></iframe>'

def busy_profile() -> Any:
    """Pauline with long values and many rows, the worst case for a narrow column."""
    profile = pauline()
    profile.identity.emails = ["pauline.deneve.with.a.very.long.address@easiware-example.fr"]
    profile.status.tags = ["Abonné", "Professionnel", "Grand compte"]
    profile.flags = [
        Flag(key="negative_review", label="Avis négatif récent", icon="⚠", reason="1/5"),
        Flag(key="past_complaint", label="A déjà réclamé", icon="✉", reason="2 × retard"),
    ]
    profile.orders += [
        Order(
            channel="web",
            number=f"WEB-2024-00000{i}",
            status="shipped",
            date=date(2024, 1, i + 1),
            tracking="1Z999AA10123456784XYZ",
            total=Decimal("123456.78"),
        )
        for i in range(12)
    ]
    return profile


def frame_scroll(
    driver: Any, tmp_path: Path, name: str, html: str, width: int = 320
) -> tuple[int, int]:
    """Load `html` in an iframe `width` px wide; return its scroll width and client width."""
    (tmp_path / name).write_text(html, encoding="utf-8")
    host = tmp_path / f"host-{name}"
    host.write_text(FRAME.format(src=name, width=width, height=1200), encoding="utf-8")
    driver.get(host.as_uri())
    driver.switch_to.frame(driver.find_element("id", "f"))
    try:
        script = "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        scroll, client = driver.execute_script(script)
    finally:
        driver.switch_to.default_content()
    return int(scroll), int(client)


@pytest.mark.parametrize("ctx", [CTX_FR, CTX_EN], ids=["fr", "en"])
def test_sidebar_fits_a_320px_iframe(browser: Any, tmp_path: Path, ctx: Any) -> None:
    html = render_sidebar_page(busy_profile(), LAYOUT, ctx)
    scroll, client = frame_scroll(browser, tmp_path, "sidebar.html", html)
    assert client <= 320 and scroll <= client


def test_message_page_fits_a_320px_iframe(browser: Any, tmp_path: Path) -> None:
    detail = "pauline.deneve.with.a.very.long.address@easiware-example.fr / 06 53 88 88 90"
    html = render_message_page("Aucun client trouvé", "Pas de fiche.", CTX_FR, detail=detail)
    scroll, client = frame_scroll(browser, tmp_path, "message.html", html)
    assert scroll <= client


def every_block_profile() -> Any:
    """Pauline with every block filled and long texts: the busiest record."""
    profile = pauline_full()
    busy = busy_profile()
    profile.identity, profile.status, profile.flags = busy.identity, busy.status, busy.flags
    profile.orders = [from_erp(order) for order in busy.orders]
    profile.reviews[0].excerpt = "Trois semaines pour être remboursée. " * 8
    profile.reviews.append(Review(site="Avis-Vérifiés-Un-Nom-De-Site-Très-Long", rating=Decimal(1),
                                  date=date(2024, 2, 28), title="x" * 90))
    profile.contacts.by_channel = {"email": 12, "phone": 8, "facebook": 3, "instagram": 1,
                                   "chat": 2, "store": 4}
    profile.loyalty.card = "2900012345678901234567890"
    return profile


def from_erp(order: Order) -> Order:
    """The order as the ERP gives it (the ERP offers its tracking detail)."""
    return order.model_copy(update={"source": "erp"})


def open_everything(driver: Any) -> None:
    """Open every verbatim and detail panel, as an agent might, before measuring."""
    driver.execute_script(
        "document.querySelectorAll('details').forEach(d => { d.open = true; });"
        "document.querySelectorAll('[hidden]').forEach(e => { e.hidden = false; });"
    )


@pytest.mark.parametrize("width", [320, 480])
def test_the_full_record_fits_narrow_columns(browser: Any, tmp_path: Path, width: int) -> None:
    html = render_sidebar_page(every_block_profile(), ALL_BLOCKS, CTX_DETAILS)
    name = f"full-{width}.html"
    (tmp_path / name).write_text(html, encoding="utf-8")
    host = tmp_path / f"host-{name}"
    host.write_text(FRAME.format(src=name, width=width, height=3200), encoding="utf-8")
    browser.get(host.as_uri())
    frame = browser.find_element("id", "f")
    browser.set_window_size(max(width + 40, 600), 3300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    frame.screenshot(str(ARTIFACTS / f"sidebar-all-blocks-{width}.png"))
    browser.set_window_size(1280, 900)
    browser.switch_to.frame(frame)
    try:
        sizes = "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        closed = browser.execute_script(sizes)
        open_everything(browser)
        opened = browser.execute_script(sizes)
        blocks = browser.execute_script(
            "return [...document.querySelectorAll('section.block')].map(s => s.className);")
    finally:
        browser.switch_to.default_content()
    assert closed[0] <= closed[1] <= width and opened[0] <= opened[1], (closed, opened)
    assert len(blocks) == 13  # every block but notes and complaints (this record has none)


@dataclass
class DetailSite:
    """A local HTTP server serving the sidebar page and the details it asks for."""

    url: str
    pages: dict[str, str]
    asked: list[str]


DETAIL_ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "/helpdesk/embed/details/erp/tracking?997890": (200, {
        "label": "Suivi du colis",
        "fields": {"Transporteur": "Colissimo", "Statut": "Retour reçu", "Note": XSS},
        "fetched_at": "2024-03-01T12:00:00+00:00",
    }),
    "/helpdesk/embed/details/loyalty/balance?29000123456": (503, {
        "error": "Base fidélité indisponible",
    }),
    "/helpdesk/embed/details/erp/tracking?118502": (200, {  # a parcel not yet shipped
        "label": "Suivi du colis", "fields": {"Transporteur": None, "N° de suivi": ""},
        "fetched_at": "2024-03-01T12:00:00+00:00",
    }),
    "/helpdesk/embed/details/erp/tracking?120145": (401, {
        "error": "this sidebar link has expired",
    }),
}
# a page of ours framing the record, as Zendesk's and Chatwoot's pages do: it hears the record
HOST = """<!DOCTYPE html><iframe id="f" src="{src}" width="320" height="2400"></iframe>
<script>window.heard = [];
addEventListener("message", (e) => window.heard.push(e.data));</script>"""
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
       "script-src 'nonce-n0nce-123'")


@pytest.fixture
def detail_site() -> Iterator[DetailSite]:
    """Serve the pages (the sidebar under its CSP) and JSON details on 127.0.0.1, in a thread."""
    pages: dict[str, str] = {}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path in pages:
                csp = parts.path == "/sidebar"  # the host page frames it
                self.answer(200, "text/html", pages[parts.path].encode(), csp=csp)
                return
            if parts.path.startswith("/helpdesk/"):
                asked.append(self.path)
            key = parse_qs(parts.query).get("key", [""])[0]
            status, payload = DETAIL_ANSWERS.get(f"{parts.path}?{key}", (404, {"error": "?"}))
            self.answer(status, "application/json", json.dumps(payload).encode())

        def answer(self, status: int, kind: str, data: bytes, csp: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            if csp:
                self.send_header("Content-Security-Policy", CSP)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield DetailSite(f"http://127.0.0.1:{server.server_address[1]}", pages, asked)
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_detail_buttons_fetch_show_and_hide(browser: Any, detail_site: DetailSite) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    profile = pauline_full()
    detail_site.pages["/sidebar"] = render_sidebar_page(profile, ALL_BLOCKS, CTX_DETAILS)
    detail_site.pages["/host"] = FRAME.format(src="/sidebar", width=320, height=2400)
    browser.get(f"{detail_site.url}/host")
    browser.switch_to.frame(browser.find_element("id", "f"))
    try:
        wait = WebDriverWait(browser, 10)
        button = browser.find_element("css selector", "button[data-detail-key='997890']")
        panel = browser.find_element("id", button.get_attribute("aria-controls"))
        assert not panel.is_displayed()
        button.click()
        wait.until(lambda _: "Colissimo" in panel.text)
        assert button.get_attribute("aria-expanded") == "true" and panel.is_displayed()
        assert "Transporteur" in panel.text and "Retour reçu" in panel.text
        assert XSS in panel.text and not panel.find_elements("tag name", "img")
        assert panel.find_elements("css selector", "dl.detail__fields dt")
        browser.switch_to.default_content()
        browser.set_window_size(600, 2500)
        browser.find_element("id", "f").screenshot(str(ARTIFACTS / "sidebar-detail-open.png"))
        browser.set_window_size(1280, 900)
        browser.switch_to.frame(browser.find_element("id", "f"))
        button.click()
        wait.until(lambda _: not panel.is_displayed())
        assert button.get_attribute("aria-expanded") == "false"

        card = browser.find_element("css selector", "button[data-detail-key='29000123456']")
        card.click()
        balance = browser.find_element("id", card.get_attribute("aria-controls"))
        wait.until(lambda _: "Base fidélité indisponible" in balance.text)
        assert "detail__error" in balance.get_attribute("innerHTML")
    finally:
        browser.switch_to.default_content()
    assert detail_site.asked == [
        "/helpdesk/embed/details/erp/tracking?t=tok&key=997890",
        "/helpdesk/embed/details/loyalty/balance?t=tok&key=29000123456",
    ]


def test_a_detail_with_nothing_to_show_says_so_in_words(browser: Any,
                                                       detail_site: DetailSite) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    profile = pauline_full()
    profile.orders[1] = profile.orders[1].model_copy(update={"number": "118502"})
    detail_site.pages["/sidebar"] = render_sidebar_page(profile, ALL_BLOCKS, CTX_DETAILS)
    detail_site.pages["/host"] = FRAME.format(src="/sidebar", width=320, height=2400)
    browser.get(f"{detail_site.url}/host")
    browser.switch_to.frame(browser.find_element("id", "f"))
    try:
        button = browser.find_element("css selector", "button[data-detail-key='118502']")
        button.click()
        panel = browser.find_element("id", button.get_attribute("aria-controls"))
        WebDriverWait(browser, 10).until(lambda _: "Rien à afficher" in panel.text)
        assert not panel.find_elements("css selector", "dl")  # no empty list, no "—" lines
        assert "la source n'en dit rien" in panel.text and "lu à" in panel.text
    finally:
        browser.switch_to.default_content()


def test_an_out_of_date_record_says_so_and_takes_a_renewed_link_in_place(
        browser: Any, detail_site: DetailSite) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    detail_site.pages["/sidebar"] = render_sidebar_page(pauline_full(), ALL_BLOCKS, CTX_DETAILS)
    detail_site.pages["/host"] = HOST.format(src="/sidebar?t=tok&lang=fr")
    browser.get(f"{detail_site.url}/host")
    wait = WebDriverWait(browser, 10)
    browser.switch_to.frame(browser.find_element("id", "f"))
    try:
        browser.execute_script("window.mark = 'still here'")
        old = browser.find_element("css selector", "button[data-detail-key='120145']")
        old.click()
        panel = browser.find_element("id", old.get_attribute("aria-controls"))
        wait.until(lambda _: "rechargez" in panel.text)
        assert panel.text == "Cette fiche n'est plus à jour : rechargez-la."
        browser.switch_to.default_content()
        wait.until(lambda d: d.execute_script("return window.heard.length"))
        assert browser.execute_script("return window.heard") == [{"type": "connector:stale"}]
        browser.execute_script(
            "document.getElementById('f').contentWindow.postMessage("
            "{type: 'connector:link', from: 'tok', to: 'tok2'}, location.origin)")
        browser.switch_to.frame(browser.find_element("id", "f"))
        wait.until(lambda d: "t=tok2" in d.execute_script("return location.search"))
        assert browser.execute_script("return window.mark") == "still here"  # not reloaded
        button = browser.find_element("css selector", "button[data-detail-key='997890']")
        assert button.get_attribute("data-detail-url").endswith("?t=tok2&key=")
        button.click()
        panel = browser.find_element("id", button.get_attribute("aria-controls"))
        wait.until(lambda _: "Colissimo" in panel.text)
    finally:
        browser.switch_to.default_content()
    assert detail_site.asked == [
        "/helpdesk/embed/details/erp/tracking?t=tok&key=120145",
        "/helpdesk/embed/details/erp/tracking?t=tok2&key=997890",
    ]
