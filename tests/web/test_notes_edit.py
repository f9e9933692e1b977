"""Editing a landmark from the sidebar itself: a form per note that works without JavaScript,
posted through `connector serve` as an agent's browser would, in French and in English."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests

from connector.helpdesk.embed import EmbedLinks
from tests.conftest import Service

LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
PAULINE = "pauline.deneve@easiware.fr"
TEXTS = {
    "fr": ("Modifier", "Enregistrer", "Texte de la note"),
    "en": ("Edit", "Save", "Note text"),
}


@dataclass
class Form:
    """A form of the page: where it posts and the values it would send as it stands."""

    action: str
    fields: dict[str, str] = field(default_factory=dict)
    textarea: dict[str, str] = field(default_factory=dict)  # name -> maxlength
    submit: str = ""


class Forms(HTMLParser):
    """Reads the page's forms the way a browser submits them (inputs, textareas, buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.summaries: list[str] = []
        self._area: str | None = None
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", "")))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "textarea" and self.forms:
            self._area = values["name"]
            self.forms[-1].fields[self._area] = ""
            self.forms[-1].textarea[self._area] = values.get("maxlength", "")
        elif tag in ("button", "summary"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._area = None
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._area is not None:
            self.forms[-1].fields[self._area] += data
        elif self._in == "button" and self.forms:
            self.forms[-1].submit += data.strip()
        elif self._in == "summary":
            self.summaries.append(data.strip())


def page_forms(html: str) -> Forms:
    parser = Forms()
    parser.feed(html)
    return parser


def open_record(service: Service, lang: str) -> requests.Response:
    """Pauline's record through a sealed link, as the helpdesk frames it."""
    return requests.get(LINKS.url(service.url, LINKS.token(email=PAULINE), lang), timeout=10)


def post(service: Service, form: Form, **changes: str) -> requests.Response:
    """Submit a form of the page as a browser would, then follow the redirect."""
    data = {**form.fields, **changes}
    return requests.post(urljoin(service.url, form.action), data=data, timeout=10)


def edit_form(html: str, text: str) -> Form:
    """The edit form of the note whose text is `text`."""
    return next(f for f in page_forms(html).forms
                if f.fields.get("action") == "edit" and f.fields.get("text") == text)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_agent_edits_a_note_from_the_sidebar(service: Service, lang: str) -> None:
    edit, save, label = TEXTS[lang]
    original = f"Préfère être appelée le matin ({lang})"
    opened = open_record(service, lang)
    add = next(f for f in page_forms(opened.text).forms if "action" not in f.fields
               and "text" in f.fields)
    added = post(service, add, text=original, author="Léa")
    assert added.status_code == 200 and original in added.text

    form = edit_form(added.text, original)
    assert form.action == "/helpdesk/embed/notes" and form.fields["lang"] == lang
    assert form.fields["author"] == "Léa" and form.textarea == {"text": "280"}
    assert form.submit == save and edit in page_forms(added.text).summaries
    assert f'>{label}</label>' in added.text

    changed = f"Préfère être appelée l'après-midi ({lang})"
    answer = post(service, form, text=f"  {changed}  ", author="Margaux")
    assert answer.status_code == 200 and answer.url.startswith(f"{service.url}/helpdesk/embed/")
    assert f"lang={lang}" in answer.url
    assert changed.replace("'", "&#39;") in answer.text and original not in answer.text
    assert "Margaux" in answer.text
    edit_form(answer.text, changed)  # the note can be edited again


def test_an_edit_over_280_characters_is_refused_and_the_note_kept(service: Service) -> None:
    note = "Allergique aux noisettes"
    opened = open_record(service, "fr")
    add = next(f for f in page_forms(opened.text).forms if "action" not in f.fields
               and "text" in f.fields)
    added = post(service, add, text=note)
    refused = post(service, edit_form(added.text, note), text="x" * 281)
    assert refused.status_code == 400
    assert "Note non enregistrée" in refused.text and "at most 280 characters" in refused.text
    again = open_record(service, "fr")
    assert edit_form(again.text, note).fields["text"] == note


def test_an_edit_needs_the_sealed_link(service: Service) -> None:
    note = "Cliente depuis 2014"
    opened = open_record(service, "fr")
    add = next(f for f in page_forms(opened.text).forms if "action" not in f.fields
               and "text" in f.fields)
    form = edit_form(post(service, add, text=note).text, note)
    forged = post(service, form, t="forged", text="changed")
    assert forged.status_code == 401
    again = open_record(service, "fr")
    assert edit_form(again.text, note).fields["text"] == note


@pytest.mark.parametrize("note", ["abc", "-1", "99999999999999999999", "1e3", ""])
def test_a_hand_made_note_id_is_a_400_never_a_500(service: Service, note: str) -> None:
    note_text = "Préfère être appelée le matin"
    opened = open_record(service, "fr")
    add = next(f for f in page_forms(opened.text).forms if "action" not in f.fields
               and "text" in f.fields)
    form = edit_form(post(service, add, text=note_text).text, note_text)
    for action in ("edit", "delete"):
        answer = post(service, form, note=note, action=action, text="changed")
        assert answer.status_code == 400, (note, action, answer.status_code)
