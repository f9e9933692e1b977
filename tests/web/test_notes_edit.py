"""Editing a landmark from the sidebar itself: each note's "edit" button opens its own edit
page (its form loaded on demand, not in the record's first paint; the buttons share one GET
form carrying the sealed link's token once), which works without JavaScript, posted through
`connector serve` as an agent's browser would, in French and in English."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin

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


@dataclass
class Button:
    """A submit button of the page: its form (index), its name and value, label and text."""

    form: int
    name: str
    value: str
    label: str
    text: str = ""


class Forms(HTMLParser):
    """Reads the page's forms the way a browser submits them (inputs, textareas, buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.summaries: list[str] = []
        self.links: list[tuple[str, str, str]] = []  # href, aria-label, text
        self.buttons: list[Button] = []
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
            if tag == "button" and self.forms:
                self.buttons.append(Button(len(self.forms) - 1, values.get("name", ""),
                                           values.get("value", ""), values.get("aria-label", "")))
        elif tag == "a" and values.get("href"):
            self.links.append((values["href"], values.get("aria-label", ""), ""))
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
            self.buttons[-1].text += data.strip()
        elif self._in == "summary":
            self.summaries.append(data.strip())
        elif self._in == "a":
            href, label, text = self.links[-1]
            self.links[-1] = (href, label, text + data.strip())


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


def edit_link(html: str, text: str) -> tuple[str, str]:
    """Where the record's "edit" button of the note whose text is `text` leads, as a browser
    submits its GET form (the form's fields, then the button's name and value), and the
    button's text."""
    forms = page_forms(html)
    button = next(b for b in forms.buttons if b.name == "note" and text[:40] in b.label)
    form = forms.forms[button.form]
    return f"{form.action}?{urlencode({**form.fields, button.name: button.value})}", button.text


def with_token(href: str, token: str) -> str:
    """The same edit page asked for with another sealed link's token."""
    path, _, query = href.partition("?")
    return f"{path}?{urlencode({**dict(parse_qsl(query)), 't': token})}"


def edit_page(service: Service, record: str, text: str) -> requests.Response:
    """Follow the record's "edit" link of a note, as the agent's browser would."""
    href, _ = edit_link(record, text)
    return requests.get(urljoin(service.url, href), timeout=10)


def edit_form(page: str) -> Form:
    """The edit form of a note's edit page."""
    return next(f for f in page_forms(page).forms if f.fields.get("action") == "edit")


def delete_form(page: str) -> Form:
    """The removal form of a note's edit page."""
    return next(f for f in page_forms(page).forms if f.fields.get("action") == "delete")


def add_a_note(service: Service, text: str, lang: str = "fr", **fields: str) -> str:
    """Keep a note through the record's own form; the record that comes back."""
    opened = open_record(service, lang)
    add = next(f for f in page_forms(opened.text).forms if "action" not in f.fields
               and "text" in f.fields)
    added = post(service, add, text=text, **fields)
    assert added.status_code == 200 and text.replace("'", "&#39;") in added.text
    return added.text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_agent_edits_a_note_from_its_own_page(service: Service, lang: str) -> None:
    edit, save, label = TEXTS[lang]
    original = f"Préfère être appelée le matin ({lang})"
    record = add_a_note(service, original, lang, author="Léa")
    assert 'name="action" value="edit"' not in record  # no edit form in the first paint
    href, shown = edit_link(record, original)
    assert shown == edit and f"lang={lang}" in href
    assert href.startswith("/helpdesk/embed/notes/edit?") and "note=" in href

    page = edit_page(service, record, original)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]
    form = edit_form(page.text)
    assert form.action == "/helpdesk/embed/notes" and form.fields["lang"] == lang
    assert form.fields["text"] == original and form.fields["author"] == "Léa"
    assert form.textarea == {"text": "280"} and form.submit == save
    assert f'>{label}</label>' in page.text

    changed = f"Préfère être appelée l'après-midi ({lang})"
    answer = post(service, form, text=f"  {changed}  ", author="Margaux")
    assert answer.status_code == 200 and answer.url.startswith(f"{service.url}/helpdesk/embed/")
    assert "/helpdesk/embed/sidebar?" in answer.url and f"lang={lang}" in answer.url
    assert changed.replace("'", "&#39;") in answer.text and original not in answer.text
    assert "Margaux" in answer.text
    assert edit_form(edit_page(service, answer.text, changed).text).fields["text"] == changed


def test_a_note_is_removed_from_its_page_after_a_confirmation(service: Service) -> None:
    note = "Ne plus appeler après 18 h"
    page = edit_page(service, add_a_note(service, note), note)
    removal = delete_form(page.text)
    assert "Supprimer" in page_forms(page.text).summaries  # behind a summary: a second step
    assert removal.submit == "Oui, supprimer" and removal.action == "/helpdesk/embed/notes"
    answer = post(service, removal)
    assert answer.status_code == 200 and "/helpdesk/embed/sidebar?" in answer.url
    assert note not in answer.text
    gone = requests.get(page.url, timeout=10)  # an edit page left open elsewhere
    assert gone.status_code == 404 and "Note introuvable" in gone.text


def test_an_edit_over_280_characters_is_refused_and_the_note_kept(service: Service) -> None:
    note = "Allergique aux noisettes"
    record = add_a_note(service, note)
    refused = post(service, edit_form(edit_page(service, record, note).text), text="x" * 281)
    assert refused.status_code == 400
    assert "Note non enregistrée" in refused.text and "at most 280 characters" in refused.text
    again = open_record(service, "fr")
    assert edit_form(edit_page(service, again.text, note).text).fields["text"] == note


def test_an_edit_needs_the_sealed_link(service: Service) -> None:
    note = "Cliente depuis 2014"
    record = add_a_note(service, note)
    href, _ = edit_link(record, note)
    form = edit_form(edit_page(service, record, note).text)
    forged = post(service, form, t="forged", text="changed")
    assert forged.status_code == 401
    page = requests.get(urljoin(service.url, with_token(href, "forged")), timeout=10)
    assert page.status_code == 401 and note not in page.text
    again = open_record(service, "fr")
    assert edit_form(edit_page(service, again.text, note).text).fields["text"] == note


def test_another_customers_note_is_not_found_through_this_link(service: Service) -> None:
    note = "Note de Pauline seulement"
    href, _ = edit_link(add_a_note(service, note), note)
    other = LINKS.token(email="nobody.known@example.org")
    page = requests.get(urljoin(service.url, with_token(href, other)), timeout=10)
    assert page.status_code == 404 and note not in page.text


@pytest.mark.parametrize("note", ["abc", "-1", "99999999999999999999", "1e3", ""])
def test_a_hand_made_note_id_is_a_400_never_a_500(service: Service, note: str) -> None:
    note_text = "Préfère être appelée le matin"
    record = add_a_note(service, note_text)
    form = edit_form(edit_page(service, record, note_text).text)
    for action in ("edit", "delete"):
        answer = post(service, form, note=note, action=action, text="changed")
        assert answer.status_code == 400, (note, action, answer.status_code)


def test_the_notes_edit_buttons_carry_the_sealed_link_once(service: Service) -> None:
    add_a_note(service, "Vient toujours le samedi")
    record = add_a_note(service, "Préfère le retrait en magasin")
    notes = record[record.index('class="block block--notes"'):]
    notes = notes[:notes.index("</section>")]
    token = page_forms(notes).forms[0].fields["t"]
    assert len(token) > 100
    assert notes.count(token) == 2  # the edit buttons' form, the add form: not once per note
    assert '<form method="get" action="/helpdesk/embed/notes/edit">' in notes
    assert notes.count('<button type="submit" name="note" value="') >= 2
    assert "/helpdesk/embed/notes/" not in notes.replace("/notes/edit", "")


def test_a_note_edit_page_is_still_served_at_its_former_address(service: Service) -> None:
    note = "Cliente fidèle, ancienne adresse"
    href, _ = edit_link(add_a_note(service, note), note)
    query = dict(parse_qsl(href.partition("?")[2]))
    former = requests.get(f"{service.url}/helpdesk/embed/notes/{query.pop('note')}",
                          params=query, timeout=10)
    assert former.status_code == 200
    assert edit_form(former.text).fields["text"] == note


@pytest.mark.parametrize("note", ["abc", "-1", "99999999999999999999", "1e3", "", "³", None])
def test_a_hand_made_note_id_on_the_edit_page_is_a_404_never_a_500(service: Service,
                                                                  note: str | None) -> None:
    note_text = "Préfère les SMS aux appels"
    href, _ = edit_link(add_a_note(service, note_text), note_text)
    query = dict(parse_qsl(href.partition("?")[2]))
    query.pop("note")
    asked = {**query, **({"note": note} if note is not None else {})}
    page = requests.get(f"{service.url}/helpdesk/embed/notes/edit", params=asked, timeout=10)
    assert page.status_code == 404 and "Note introuvable" in page.text, (note, page.status_code)
