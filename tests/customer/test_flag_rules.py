"""Flag rules in the manifest (docs/flags.md): the shipped preset is rules in the same language
as an admin's own; each rule is checked when the manifest loads, every error with its path;
windows keep flags about now; a rule failing on one record never takes the record down; and
the language runs nothing but expressions (simpleeval, names checked against the models)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from connector.customer.flags import evaluate_flags, written
from connector.customer.rules import FlagRules, preset_rules
from connector.manifest import ManifestError, load_manifest
from connector.models import (
    ContactEvent,
    CustomerProfile,
    Loyalty,
    Order,
    Review,
    Status,
    SurveyAnswer,
)

TODAY = dt.date(2026, 11, 1)
HEAD = """\
version: 1
sources:
  erp: {type: files, path: a.csv, match: {email: e},
        sections: {identity: {items: null, fields: {last_name: n}}}}
"""


def load(tmp_path: Path, flags: str) -> FlagRules:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD + flags, encoding="utf-8")
    return load_manifest(path, env={}).flags


def errors(tmp_path: Path, flags: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, flags)
    return caught.value.errors


def keys(profile: CustomerProfile, rules: FlagRules, contacts: list[ContactEvent] | None = None,
         surveys: list[SurveyAnswer] | None = None) -> list[str]:
    return [f.key for f in evaluate_flags(profile, contacts or [], rules, TODAY, "fr",
                                          surveys=surveys or [])]


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def test_the_shipped_defaults_are_rules_in_the_manifest_s_own_language() -> None:
    preset = preset_rules()
    assert list(preset) == ["negative_review", "detractor", "negative_survey", "past_complaint",
                            "vip", "win_back", "ambassador", "tier_changed"]
    assert all("when" in rule and "label" in rule for rule in preset.values())
    rules = FlagRules()
    assert [k for k, _ in rules.active()] == [  # in order of priority
        "negative_review", "detractor", "negative_survey", "past_complaint", "vip", "win_back",
        "tier_changed", "ambassador"]
    assert rules.rules["negative_review"].window_days == 90  # settings.negative_review_days
    assert FlagRules(negative_review_days=30).rules["negative_review"].window_days == 30


def test_every_error_is_refused_with_its_path(tmp_path: Path) -> None:
    found = errors(tmp_path, """\
flags:
  rules:
    typo: {label: Typo, when: "sentiment.npss.score <= 6"}
    syntax: {label: Syntax, when: "score <="}
    escape: {label: Escape, when: "().__class__.__bases__"}
    call: {label: Call, when: "open('/etc/passwd')"}
    name: {label: Name, over: reviews, when: "stars < 2"}
    window: {label: Window, when: "True", within_days: settings.max_shown_days}
    brace: {label: Brace, when: "True", reason: "{count"}
    Bad-Key: {label: Key, when: "True"}
    nolabel: {when: "True"}
""")
    text = "\n".join(found)
    assert "flags.rules.typo.when: " in text and "'sentiment' has no field 'npss'" in text
    assert "flags.rules.syntax.when: " in text and "not a valid expression" in text
    assert "flags.rules.escape.when: " in text
    assert "flags.rules.call.when: " in text and "'open' is not a function here" in text
    assert "flags.rules.name.when: " in text and "unknown name 'stars'" in text
    assert "flags.rules.window.within_days: " in text
    assert "flags.rules.brace.reason: " in text
    assert "flags.rules.Bad-Key: " in text
    assert "flags.rules.nolabel.label: " in text
    assert len(found) >= 9  # every one, not the first


def test_a_manifest_changes_a_preset_rule_disables_one_and_adds_its_own(tmp_path: Path) -> None:
    rules = load(tmp_path, """\
flags:
  rules:
    past_complaint: {within_days: 30, label: {en: Complained}}
    vip: {enabled: false}
    big_basket:
      label: {fr: Gros panier, en: Big basket}
      tone: info
      over: orders
      when: total >= 500
      within_days: 60
      reason: "{total} € · {number}"
      write_back: false
""")
    complaint = rules.rules["past_complaint"]
    assert complaint.window_days == 30 and complaint.label == {"fr": "A déjà réclamé",
                                                                "en": "Complained"}
    profile = CustomerProfile(customer_id="x", status=Status(segment="VIP"),
                              orders=[Order(number="F-9", total=Decimal("612.5"),
                                            date=days_ago(10))])
    flags = evaluate_flags(profile, [], rules, TODAY, "fr")
    assert [(f.key, f.reason, f.tone) for f in flags] == [("big_basket", "612,5 € · F-9",
                                                           "info")]
    assert written(flags, rules) == []  # shown, not written back


def test_preset_none_keeps_only_the_manifest_s_rules(tmp_path: Path) -> None:
    rules = load(tmp_path, "flags:\n  preset: none\n  rules:\n"
                           "    vip: {label: VIP, when: \"status.segment == 'VIP'\"}\n")
    assert list(rules.rules) == ["vip"]


def test_windows_keep_flags_about_now() -> None:
    rules = FlagRules()
    old, recent = days_ago(400), days_ago(20)
    profile = CustomerProfile(customer_id="x", reviews=[Review(site="Google", rating=1,
                                                               date=days_ago(200))])
    assert keys(profile, rules, surveys=[SurveyAnswer(kind="nps", score=2, date=old)]) == []
    assert keys(profile, rules, surveys=[SurveyAnswer(kind="nps", score=2, date=recent)]) == [
        "detractor"]
    complaint = ContactEvent(date=dt.datetime(2026, 10, 1, tzinfo=dt.UTC), reason="Réclamation")
    stale = ContactEvent(date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), reason="Litige")
    assert keys(profile, rules, contacts=[stale]) == []
    [flag] = evaluate_flags(profile, [complaint, stale], rules, TODAY, "fr")
    assert (flag.key, flag.reason, flag.since) == ("past_complaint",
                                                   "1 × Réclamation · 01/10/2026",
                                                   dt.date(2026, 10, 1))


def test_only_the_last_answer_makes_a_detractor_and_a_low_csat_is_an_alert() -> None:
    rules, profile = FlagRules(), CustomerProfile(customer_id="x")
    changed_mind = [SurveyAnswer(kind="nps", score=3, date=days_ago(100)),
                    SurveyAnswer(kind="nps", score=10, date=days_ago(10))]
    assert keys(profile, rules, surveys=changed_mind) == []
    [flag] = evaluate_flags(profile, [], rules, TODAY, "en",
                            surveys=[SurveyAnswer(kind="csat", score=1, date=days_ago(3))])
    assert (flag.key, flag.label, flag.reason, flag.tone) == (
        "negative_survey", "Dissatisfied", "Satisfaction 1/10 · 29 Oct 2026", "bad")


def test_reasons_drop_what_is_missing_and_speak_the_agent_s_language() -> None:
    rules = FlagRules()
    profile = CustomerProfile(customer_id="x", reviews=[Review(rating=Decimal("1.5"),
                                                               date=days_ago(5))])
    [fr] = evaluate_flags(profile, [], rules, TODAY, "fr")
    [en] = evaluate_flags(profile, [], rules, TODAY, "en")
    assert fr.reason == "1,5/5 · 27/10/2026"  # no site: no empty piece
    assert (en.label, en.reason) == ("Recent negative review", "1.5/5 · 27 Oct 2026")


def test_a_rule_that_fails_on_one_record_is_false_and_logged_without_data(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rules = load(tmp_path, """\
flags:
  rules:
    fussy: {label: Fussy, when: "kpis.total_spend > 100", reason: "{identity.last_name}"}
""")
    profile = CustomerProfile(customer_id="x")
    profile.identity.last_name = "Secret-Name"
    with caplog.at_level(logging.WARNING):
        assert "fussy" not in keys(profile, rules)  # None > 100: a TypeError, read as false
    assert "flag rule fussy" in caplog.text and "Secret-Name" not in caplog.text
    profile.kpis.total_spend = Decimal(200)
    assert [f.reason for f in evaluate_flags(profile, [], rules, TODAY, "fr")] == [
        "Secret-Name"]


def test_write_back_carries_every_rule_that_writes_back_though_few_are_shown() -> None:
    rules = FlagRules(max_shown=1)
    profile = CustomerProfile(customer_id="x", status=Status(segment="VIP", ambassador=True))
    every = evaluate_flags(profile, [], rules, TODAY, "fr")
    assert [f.key for f in written(every, rules)] == ["vip", "ambassador"]


def test_a_loyalty_tier_change_is_a_flag_for_a_month() -> None:
    rules = FlagRules()
    profile = CustomerProfile(customer_id="x", loyalty=Loyalty(
        tier="Silver", previous_tier="Gold", tier_changed_at=days_ago(3)))
    [flag] = evaluate_flags(profile, [], rules, TODAY, "en")
    assert (flag.key, flag.reason, flag.since) == ("tier_changed",
                                                   "Gold → Silver · 29 Oct 2026", days_ago(3))
    profile.loyalty.tier_changed_at = days_ago(45)
    assert keys(profile, rules) == []


def test_the_review_job_alerts_only_about_flag_rules_that_exist(tmp_path: Path) -> None:
    found = errors(tmp_path, "jobs:\n  refresh_reviews:\n    alert_flags: [negative_review, "
                             "detracter]\n")
    assert found == ["jobs.refresh_reviews.alert_flags[1]: 'detracter' is not a flag rule "
                     "(known: negative_review, detractor, negative_survey, past_complaint, vip, "
                     "win_back, ambassador, tier_changed)"]
