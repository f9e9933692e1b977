"""Coded values in the manifest: the fields `sidebar.values` names (requests' statuses
included), and a detail field that says which coded field its values are (`values:`), each
error with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.manifest import ManifestError, load_manifest
from connector.sources.base import DetailField

from .test_cards import write

DETAILS = """\
version: 1
sources:
  loyalty:
    type: rest
    base_url: https://loyalty.example.com
    requests: [{name: c, path: /c, params: {email: "{email}"}}]
    sections: {loyalty: {path: c, fields: {card: card, tier: tier}}}
    details:
      balance:
        of: loyalty
        key: card
        request: {name: b, path: "/b/{key}"}
        fields:
          points: {path: points, format: number}
          tier: {path: tier, label: {fr: Palier, en: Tier}, values: %s}
          state: {path: state, values: contacts.status%s}
sidebar:
  values:
    loyalty.tier: {Or: {fr: Or, en: Gold}}
    contacts.status: {en_cours: {fr: En cours, en: In progress}}
"""


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, text), env={})
    return caught.value.errors


def test_a_detail_field_names_the_coded_field_its_values_are(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, DETAILS % ("loyalty.tier", "")), env={})
    fields = manifest.sources["loyalty"].details["balance"].fields  # type: ignore[attr-defined]
    assert fields["tier"] == DetailField(path="tier", label={"fr": "Palier", "en": "Tier"},
                                         values="loyalty.tier")
    assert fields["state"].values == "contacts.status"
    assert fields["points"].values is None
    assert manifest.sidebar.values["contacts.status"] == {
        "en_cours": {"fr": "En cours", "en": "In progress"}}


def test_an_unknown_coded_field_and_a_format_beside_values_are_refused_with_paths(
        tmp_path: Path) -> None:
    assert errors_of(tmp_path, DETAILS % ("loyalty.tiers", ", format: money")) == [
        "sources.loyalty.details.balance.fields.tier.values: 'loyalty.tiers' has no coded "
        "values to name: give one of loyalty.tier, orders.status, contacts.status, "
        "status.segment, status.tags",
        "sources.loyalty.details.balance.fields.state: a field with values (contacts.status) "
        "is written by their names: leave out format (money)",
    ]


def test_requests_statuses_take_names_and_unknown_fields_are_listed(tmp_path: Path) -> None:
    broken = (DETAILS % ("loyalty.tier", "")).replace("contacts.status: {", "contact.status: {")
    assert errors_of(tmp_path, broken) == [
        "sidebar.values: 'contact.status' has no coded values to name: give one of "
        "loyalty.tier, orders.status, contacts.status, status.segment, status.tags"]
