"""The sidebar in a real browser: a 320 px iframe never scrolls sideways."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.models import Flag, Order
from connector.widgets import render_message_page, render_sidebar_page

from .test_sidebar import CTX_EN, CTX_FR, LAYOUT, pauline

pytestmark = pytest.mark.browser

FRAME = '<!DOCTYPE html><iframe id="f" src="{src}" width="320" height="1200"></iframe>'

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


def frame_scroll(driver: Any, tmp_path: Path, name: str, html: str) -> tuple[int, int]:
    """Load `html` in a 320 px iframe; return its document's scroll width and client width."""
    (tmp_path / name).write_text(html, encoding="utf-8")
    host = tmp_path / f"host-{name}"
    host.write_text(FRAME.format(src=name), encoding="utf-8")
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
