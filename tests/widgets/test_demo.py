"""The demo helpdesk page renders with plain Jinja, the way Flask's render_template will."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connector import i18n

WEB_TEMPLATES = Path(__file__).parents[2] / "connector" / "web" / "templates"
SIDEBAR_URL = "/embed/sidebar?token=abc.def&lang=fr"


def tickets() -> list[dict[str, Any]]:
    """Three sample tickets: email, phone, and a social message carrying no identifier."""
    return [
        {
            "id": "101",
            "channel": "email",
            "subject": "Commande 997890 retournée",
            "body": "Bonjour,\nj'ai renvoyé ma commande il y a deux semaines…",
            "created_at": "2019-02-23T17:54:00+01:00",
            "requester": {"name": "Pauline Denève", "email": "pauline.deneve@easiware.fr"},
            "sidebar_url": SIDEBAR_URL,
        },
        {
            "id": "102",
            "channel": "phone",
            "subject": "Rappel demandé",
            "body": "<img src=x onerror=alert(1)>",
            "created_at": "2019-02-24T09:12:00+01:00",
            "requester": {"name": "Jean <b>Dupont</b>", "phone": "+33612345678"},
            "sidebar_url": "/embed/sidebar?token=ghi",
        },
        {
            "id": "103",
            "channel": "twitter",
            "subject": "Colis abîmé",
            "body": "Mon colis est arrivé abîmé.",
            "created_at": "2019-02-25T11:00:00Z",
            "requester": {"name": "@lucie", "handle": "@lucie"},
            "sidebar_url": None,
        },
    ]


def render_demo(selected_index: int, lang: str = "fr") -> str:
    """Render demo.html as Flask would (autoescaping .html templates)."""
    env = Environment(
        loader=FileSystemLoader(WEB_TEMPLATES), autoescape=select_autoescape(["html"])
    )
    sample = tickets()
    return env.get_template("demo.html").render(
        tickets=sample,
        selected=sample[selected_index],
        lang=lang,
        texts=i18n.texts_for("demo", lang),
    )


def test_selected_ticket_sits_beside_the_sidebar_iframe() -> None:
    html = render_demo(0)
    assert '<html lang="fr">' in html
    assert '<iframe src="/embed/sidebar?token=abc.def&amp;lang=fr" title="Fiche client">' in html
    assert "Commande 997890 retournée" in html and "pauline.deneve@easiware.fr" in html
    assert 'href="?ticket=102&amp;lang=fr"' in html
    assert 'href="?ticket=101&amp;lang=fr" aria-current="page"' in html
    assert 'href="?ticket=101&amp;lang=en"' in html  # the language switch keeps the ticket


def test_ticket_without_identifier_says_so_instead_of_an_iframe() -> None:
    html = render_demo(2, "en")
    assert "<iframe" not in html
    assert "This ticket carries no email or phone" in html and "@lucie" in html


def test_ticket_text_is_escaped() -> None:
    html = render_demo(1)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>Dupont</b>" not in html and "+33612345678" in html


@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_demo_page_loads_nothing_from_outside(lang: str) -> None:
    html = render_demo(0, lang)
    assert "http" not in html and "<script" not in html and "<link" not in html
