"""The customer's consents (`consent.email_marketing`, `consent.sms`, `consent.publish_reviews`):
mapped like any section, part by part, in the source's own words; checked at the door, each
wrong path named; merged across sources, the newest said winning; read by flag rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from connector.customer.flags import evaluate_flags
from connector.customer.merge import merge_consent, merged_sections
from connector.customer.rules import FlagRules
from connector.manifest import ManifestError, load_manifest
from connector.models import Consent, ConsentEntry, ConsentValue, CustomerProfile
from connector.sources.base import SourceConfig, SourceResult
from connector.sources.mapping import map_sections

YES_NO = {"opt_in": "given", "opt_out": "refused"}
MAPPING = {"path": "consents", "fields": {
    "email_marketing.value": {"path": "newsletter", "map": YES_NO},
    "email_marketing.date": "newsletter_at",
    "sms.value": "sms",
    "publish_reviews.value": "reviews"}}
HEAD = """\
version: 1
sources:
  erp:
    type: files
    path: a.csv
    match: {email: e}
    sections:
      consent:
        path: consents
        fields:
"""


def config(mapping: dict[str, Any] | None = None) -> SourceConfig:
    return SourceConfig.model_validate({"type": "rest",
                                        "sections": {"consent": mapping or MAPPING}})


def said(value: str, day: str | None = None, source: str | None = None) -> ConsentEntry:
    return ConsentEntry(value=ConsentValue(value), source=source,
                        date=dt.date.fromisoformat(day) if day else None)


def test_a_source_maps_each_consent_in_its_own_words() -> None:
    document = {"consents": {"newsletter": "opt_out", "newsletter_at": "2025-03-02T10:00:00Z",
                             "sms": True, "reviews": None}}
    mapped = map_sections(document, config(), "erp")
    assert mapped.problems == []
    assert mapped.sections["consent"] == Consent(
        email_marketing=said("refused", "2025-03-02"), sms=said("given"))


@pytest.mark.parametrize(("raw", "value"), [
    (True, "given"), (False, "refused"), ("yes", "given"), ("No", "refused"),
    ("given", "given"), ("refused", "refused"), ("unknown", "unknown"), (None, "unknown"),
])
def test_yes_and_no_are_read_without_a_map(raw: Any, value: str) -> None:
    mapped = map_sections({"consents": {"sms": raw}}, config(), "erp")
    assert mapped.sections["consent"].sms.value == value


def test_a_value_that_is_no_consent_is_dropped_and_named_the_rest_stands() -> None:
    document = {"consents": {"sms": "peut-être", "newsletter": "opt_in"}}
    mapped = map_sections(document, config(), "erp")
    assert mapped.problems == ["consent.sms.value: invalid"]
    consent = mapped.sections["consent"]
    assert (consent.sms.value, consent.email_marketing.value) == ("unknown", "given")


def test_the_manifest_takes_the_consent_paths(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD + "          email_marketing.value: optin\n"
                    "          email_marketing.date: optin_at\n"
                    "          sms.value: {path: sms, map: {Y: given, N: refused}}\n"
                    "          publish_reviews.date: reviews_at\n", encoding="utf-8")
    manifest = load_manifest(path, env={})
    assert set(manifest.sources["erp"].sections["consent"].fields) == {
        "email_marketing.value", "email_marketing.date", "sms.value", "publish_reviews.date"}


def test_the_manifest_refuses_wrong_consent_paths_each_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD + "          email_marketing: optin\n"
                    "          sms.source: origin\n"
                    "          newsletter.value: optin\n"
                    "          sms.valeur: sms\n", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    known = ("email_marketing.value, email_marketing.date, sms.value, sms.date, "
             "publish_reviews.value, publish_reviews.date")
    where = "sources.erp.sections.consent.fields"
    assert caught.value.errors == [
        f"{where}.email_marketing: a consent is mapped part by part: email_marketing.value, "
        "email_marketing.date",
        f"{where}.sms.source: unknown field of consent (one of: {known})",
        f"{where}.newsletter.value: unknown field of consent (one of: {known})",
        f"{where}.sms.valeur: unknown field of consent (one of: {known})",
    ]


def test_a_consent_map_gives_consent_values(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD + "          sms.value: {path: sms, map: {Y: given, N: non, X: 'no'}}\n"
                    "          sms.date: {path: at, map: {'0': '1970-01-01'}}\n",
                    encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    assert caught.value.errors == [
        "sources.erp.sections.consent.fields.sms.value.map.N: 'non' is not a consent value "
        "(one of: given, refused, unknown)"]


def test_consent_is_one_section_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD.replace("path: consents", "items: consents")
                    + "          sms.value: sms\n", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    assert caught.value.errors == [
        "sources.erp.sections.consent.items: consent is not a list: use path"]


def found(**sources: Consent | None) -> dict[str, SourceResult]:
    return {name: SourceResult(found=True, sections={} if consent is None
                               else {"consent": consent})
            for name, consent in sources.items()}


def test_two_sources_merge_the_newest_said_wins_each_kind_its_own() -> None:
    erp = Consent(email_marketing=said("given", "2023-01-10"), sms=said("refused", "2025-06-01"))
    crm = Consent(email_marketing=said("refused", "2025-02-03"), sms=said("given", "2024-01-01"),
                  publish_reviews=said("given"))
    merged = merge_consent(found(erp=erp, crm=crm))
    assert merged == Consent(email_marketing=said("refused", "2025-02-03", "crm"),
                             sms=said("refused", "2025-06-01", "erp"),
                             publish_reviews=said("given", None, "crm"))
    assert merge_consent(found(crm=crm, erp=erp)) == merged  # manifest order aside


def test_a_dated_consent_beats_an_undated_one_and_unknown_says_nothing() -> None:
    erp = Consent(email_marketing=said("refused"), sms=said("given", "2024-05-05"))
    crm = Consent(email_marketing=said("given", "2020-01-01"),
                  sms=said("unknown", "2026-01-01"))
    merged = merge_consent(found(erp=erp, crm=crm, pos=None))
    assert merged.email_marketing == said("given", "2020-01-01", "crm")
    assert merged.sms == said("given", "2024-05-05", "erp")  # a newer "unknown" is no news
    assert merge_consent(found(pos=None)) == Consent()


def test_on_the_same_day_a_refusal_wins_then_the_manifest_order() -> None:
    one = Consent(sms=said("given", "2025-01-01"), email_marketing=said("given"))
    other = Consent(sms=said("refused", "2025-01-01"), email_marketing=said("given"))
    assert merge_consent(found(erp=one, crm=other)).sms == said("refused", "2025-01-01", "crm")
    assert merge_consent(found(crm=other, erp=one)).sms == said("refused", "2025-01-01", "crm")
    assert merge_consent(found(erp=one, crm=other)).email_marketing.source == "erp"


def test_the_record_carries_the_merged_consent() -> None:
    sections = merged_sections(found(erp=Consent(sms=said("given", "2025-01-01"))), "FR")
    assert sections["consent"].sms == said("given", "2025-01-01", "erp")
    profile = CustomerProfile(customer_id="x", consent=sections["consent"])
    assert profile.model_dump(mode="json")["consent"]["sms"] == {
        "value": "given", "date": "2025-01-01", "source": "erp"}


RULES = {"rules": {"no_email": {
    "label": {"fr": "Pas d'e-mailing", "en": "No emailing"}, "tone": "info",
    "when": "consent.email_marketing.value == 'refused'",
    "since": "consent.email_marketing.date",
    "reason": "{consent.email_marketing.source}"}}, "preset": "none"}


def test_flag_rules_read_the_consent() -> None:
    rules = FlagRules.model_validate(RULES)
    refused = CustomerProfile(customer_id="x", consent=Consent(
        email_marketing=said("refused", "2026-10-01", "erp")))
    [flag] = evaluate_flags(refused, [], rules, dt.date(2026, 12, 6), "en")
    assert (flag.key, flag.label, flag.reason, flag.since) == (
        "no_email", "No emailing", "erp", dt.date(2026, 10, 1))
    given = CustomerProfile(customer_id="x", consent=Consent(
        email_marketing=said("given", "2026-10-01", "erp")))
    assert evaluate_flags(given, [], rules, dt.date(2026, 12, 6), "en") == []
    assert evaluate_flags(CustomerProfile(customer_id="x"), [], rules,
                          dt.date(2026, 12, 6), "en") == []


def test_a_rule_naming_a_consent_the_record_has_not_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD + "          sms.value: sms\n" + """\
flags:
  rules:
    no_sms: {label: x, when: "consent.texts.value == 'refused'"}
""", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    [error] = caught.value.errors
    assert error.startswith("flags.rules.no_sms.when: ")
    assert error.endswith("'consent' has no field 'texts'; its fields: email_marketing, "
                          "publish_reviews, sms")


def test_a_shared_cache_keeps_the_consent_whole() -> None:
    """Several processes share a source's answer through Redis: its consent comes back as it
    was mapped (values, days), not as plain dictionaries."""
    from connector.sources.cache import Entry
    from connector.sources.redis_cache import decode, encode

    consent = Consent(email_marketing=said("refused", "2025-02-03"), sms=said("given"))
    result = SourceResult(found=True, sections={"consent": consent})
    back = decode(encode(Entry(result, 1.0, 2.0, 3.0))).value
    assert back.sections["consent"] == consent
