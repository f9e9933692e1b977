"""The manifest's `segments:` (docs/segments.md): documented defaults, and every error with its
path, as `connector check` prints them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connector.customer.segments import SegmentRules
from connector.manifest import ManifestError, load_manifest
from tests.conftest import MANIFEST

HEAD = """\
version: 1
sources:
  erp: {type: files, path: a.csv, match: {email: e},
        sections: {identity: {items: null, fields: {last_name: n}}}}
"""


def load(tmp_path: Path, segments: str) -> SegmentRules:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEAD + segments, encoding="utf-8")
    return load_manifest(path, env={}).segments


def errors(tmp_path: Path, segments: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, segments)
    return caught.value.errors


def test_defaults_without_a_segments_section(tmp_path: Path) -> None:
    rules = load(tmp_path, "")
    assert (rules.lifecycle.new_days, rules.lifecycle.active_days,
            rules.lifecycle.lost_days, rules.lifecycle.prefer) == (90, 365, 730, "computed")
    assert (rules.lifetime_value.margin, rules.lifetime_value.acquisition_cost,
            rules.lifetime_value.cost_per_order, rules.lifetime_value.cost_per_contact) == (
        Decimal("0.3"), 0, 0, 0)
    assert (rules.ambassador.within_days, rules.ambassador.min_positive,
            rules.ambassador.min_contacts, rules.ambassador.min_constructive) == (730, 2, 3, 1)
    assert (rules.win_back.stages, rules.win_back.min_total_spend,
            rules.win_back.abc_classes) == (["dormant", "lost"], Decimal(1000), ["A"])


def test_the_default_manifest_states_the_defaults() -> None:
    assert load_manifest(MANIFEST, env={}).segments == SegmentRules()


def test_values_are_read(tmp_path: Path) -> None:
    rules = load(tmp_path, """\
segments:
  lifecycle: {new_days: 30, active_days: 180, lost_days: 540, prefer: source}
  lifetime_value: {margin: 0.45, acquisition_cost: 25, cost_per_order: 3.5,
                   cost_per_contact: 6}
  ambassador: {within_days: 365, min_positive: 3}
  win_back: {stages: [dormant], min_total_spend: null, min_lifetime_value: 400}
""")
    assert (rules.lifecycle.lost_days, rules.lifecycle.prefer) == (540, "source")
    assert rules.lifetime_value.cost_per_order == Decimal("3.5")
    assert (rules.ambassador.within_days, rules.ambassador.min_positive) == (365, 3)
    assert (rules.win_back.stages, rules.win_back.min_total_spend,
            rules.win_back.min_lifetime_value) == (["dormant"], None, Decimal(400))


def test_every_error_is_listed_with_its_path(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
segments:
  lifecycle: {new_days: 0, lost_days: forever, prefer: erp}
  lifetime_value: {margin: 1.5, cost_per_contact: -1}
  ambassador: {min_positive: 0, colour: red}
  win_back: {stages: [active]}
  rfm: {}
""") == [
        "segments.lifecycle.new_days: input should be greater than or equal to 1",
        "segments.lifecycle.lost_days: input should be a valid integer, unable to parse "
        "string as an integer",
        "segments.lifecycle.prefer: input should be 'computed' or 'source'",
        "segments.lifetime_value.margin: input should be less than or equal to 1",
        "segments.lifetime_value.cost_per_contact: input should be greater than or equal to 0",
        "segments.ambassador.min_positive: input should be greater than or equal to 1",
        "segments.ambassador.colour: unknown key",
        "segments.win_back.stages[0]: input should be 'dormant' or 'lost'",
        "segments.rfm: unknown key",
    ]


def test_durations_and_thresholds_must_be_in_order(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
segments:
  lifecycle: {new_days: 400}
  ambassador: {positive_score: 6}
  win_back: {min_total_spend: null, abc_classes: []}
""") == [
        "segments.lifecycle: new_days must not exceed active_days",
        "segments.ambassador: negative_score must be less than positive_score",
        "segments.win_back: set min_total_spend, min_lifetime_value or abc_classes: nobody "
        "would be valuable",
    ]
    assert errors(tmp_path, "segments:\n  lifecycle: {active_days: 730}\n") == [
        "segments.lifecycle: active_days must be less than lost_days"]
