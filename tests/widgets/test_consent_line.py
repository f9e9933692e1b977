"""The consents, shown quietly under the identity: one small line, a pictogram per consent,
its day and source in a tooltip (and for screen readers), in French and in English; no line
when no source says any."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from connector.models import Consent, ConsentEntry, ConsentValue, CustomerProfile, Identity
from connector.widgets.base import BlockSpec
from connector.widgets.page import BLOCKS, render_block
from tests.widgets.test_snapshots import context


def person(consent: Consent) -> CustomerProfile:
    return CustomerProfile(customer_id="c", identity=Identity(full_name="Pauline Denève"),
                           consent=consent)


def consent_line(profile: CustomerProfile, locale: str) -> str | None:
    html = render_block(BLOCKS["identity"], profile, BlockSpec("identity"), context(locale))
    assert html is not None
    found = re.search(r'<p class="consent">.*?</p>', html, re.S)
    return found.group(0) if found else None


def shown(line: str) -> str:
    """The line as a sighted agent reads it: tags and screen-reader texts left out."""
    visible = re.sub(r'<span class="sr-only">.*?</span>', "", line)
    return re.sub(r"<[^>]+>", "", visible)


def tooltips(line: str) -> list[str]:
    return re.findall(r'title="([^"]*)"', line)


SAID = Consent(
    email_marketing=ConsentEntry(value=ConsentValue.GIVEN, date=dt.date(2025, 3, 2),
                                 source="erp"),
    sms=ConsentEntry(value=ConsentValue.REFUSED, source="crm"))


@pytest.mark.parametrize(("locale", "text", "titles"), [
    ("fr", "Consentements : e-mail ✓ · SMS ✗ · avis publiés ?",
     ["donné le 02/03/2025 · ERP", "refusé · CRM", "inconnu : aucune source ne le dit"]),
    ("en", "Consents: email ✓ · SMS ✗ · published reviews ?",
     ["given on 2 Mar 2025 · ERP", "refused · CRM", "unknown: no source says"]),
])
def test_the_consents_line_in_each_language(locale: str, text: str, titles: list[str]) -> None:
    line = consent_line(person(SAID), locale)
    assert line is not None
    assert shown(line) == text
    assert tooltips(line) == titles
    # a screen reader hears the words, not the pictograms
    assert re.findall(r'<span class="sr-only">([^<]*)</span>', line) == titles
    assert re.findall(r'<span aria-hidden="true">([^<]*)</span>', line) == ["✓", "✗", "?"]


def test_no_line_when_no_source_says_any_consent() -> None:
    assert consent_line(person(Consent()), "fr") is None
    unknown = Consent(sms=ConsentEntry(value=ConsentValue.UNKNOWN, source="erp"))
    assert consent_line(person(unknown), "en") is None


def test_a_source_value_is_escaped_in_the_tooltip() -> None:
    consent = Consent(sms=ConsentEntry(value=ConsentValue.GIVEN, source='x"><b>'))
    line = consent_line(person(consent), "fr")
    assert line is not None and "<b>" not in line and "&#34;&gt;&lt;b&gt;" in line
