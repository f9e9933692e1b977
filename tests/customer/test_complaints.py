"""Complaints: one rule (the flag's) picks them out of the contacts; the record keeps how each
was handled; the first-reply target is the manifest's, validated at the door."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connector.customer.flags import complaints_of, evaluate_flags, is_complaint
from connector.customer.rules import FlagRules
from connector.manifest import Manifest, ManifestError, load_manifest
from connector.models import ContactEvent, CustomerProfile, Identity
from connector.sources.base import SourceConfig
from connector.sources.mapping import map_sections
from connector.widgets.layout import DEFAULT_BLOCKS

from .test_profile import EMAIL, Fake, assemble, found

UTC = dt.UTC
RULES = FlagRules()


def contact(reason: str | None, day: int, **handling: object) -> ContactEvent:
    """A contact on day `day` of March 2024."""
    return ContactEvent.model_validate({"date": dt.datetime(2024, 3, day, 9, tzinfo=UTC),
                                        "channel": "email", "reason": reason, **handling})


def test_a_complaint_is_a_contact_whose_reason_names_one_of_the_manifest_s_words() -> None:
    assert is_complaint(contact("RÉCLAMATION colis", 1), RULES)
    assert is_complaint(contact("Litige sur facture", 1), RULES)
    assert not is_complaint(contact("Suivi de livraison", 1), RULES)
    assert not is_complaint(contact(None, 1), RULES)
    custom = FlagRules(complaint_reasons=["Complaint"])
    assert is_complaint(contact("complaint about delivery", 1), custom)
    assert not is_complaint(contact("Réclamation", 1), custom)


def test_the_flag_and_the_record_use_the_same_complaints() -> None:
    contacts = [contact("Réclamation", 2), contact("Question", 5), contact("Plainte", 9),
                contact("Retour", 12)]
    picked = complaints_of(contacts, RULES)
    assert [c.reason for c in picked] == ["Plainte", "Réclamation"]  # newest first
    profile = CustomerProfile(customer_id="x")
    flags = evaluate_flags(profile, contacts, RULES, dt.date(2024, 3, 20), "fr")
    assert [(f.key, f.reason) for f in flags] == [("past_complaint", "2 × Plainte · 09/03/2024")]


def test_the_assembled_record_keeps_complaints_with_their_handling(manifest: Manifest) -> None:
    history = [
        contact("Réclamation", 2, status="resolved", resolution="Avoir de 10 €",
                first_reply_at=dt.datetime(2024, 3, 2, 15, tzinfo=UTC),
                resolved_at=dt.datetime(2024, 3, 4, 10, tzinfo=UTC), source="erp"),
        contact("Suivi de livraison", 8, source="erp"),
    ]
    assembler = assemble(manifest, Fake("erp", found(identity=Identity(last_name="Denève"),
                                                     contacts=history)),
                         Fake("pos", found()), Fake("loyalty", found()))
    assembler.clock = lambda: dt.datetime(2024, 3, 20, 12, tzinfo=UTC)  # flags look back 180 d
    profile = assembler.lookup(EMAIL).profile
    assert profile is not None
    assert profile.contacts.count == 2
    assert profile.contacts.last is not None and profile.contacts.last.reason == \
        "Suivi de livraison"
    [complaint] = profile.contacts.complaints
    assert (complaint.status, complaint.resolution, complaint.source) == (
        "resolved", "Avoir de 10 €", "erp")
    assert complaint.first_reply_at == dt.datetime(2024, 3, 2, 15, tzinfo=UTC)
    assert "past_complaint" in [f.key for f in profile.flags]


def test_a_helpdesk_export_maps_the_handling_fields() -> None:
    config = SourceConfig.model_validate({"type": "files", "sections": {"contacts": {
        "items": "rows", "fields": {
            "date": "at", "reason": "reason", "status": "status", "first_reply_at": "replied",
            "resolved_at": "solved", "resolution": "outcome"}}}})
    rows = {"rows": [{"at": "2017-10-01T17:51:00Z", "reason": "Réclamation", "status": "resolved",
                      "replied": "2017-10-03T09:12:00Z", "solved": "2017-10-05T19:51:00Z",
                      "outcome": "Avoir de 10 €"}, {"at": "2017-11-02T10:00:00Z"}]}
    handled, plain = map_sections(rows, config, "history").sections["contacts"]
    assert handled.resolution == "Avoir de 10 €" and handled.source == "history"
    assert handled.first_reply_at == dt.datetime(2017, 10, 3, 9, 12, tzinfo=UTC)
    assert handled.resolved_at == dt.datetime(2017, 10, 5, 19, 51, tzinfo=UTC)
    assert (plain.status, plain.first_reply_at, plain.resolution) == (None, None, None)


MANIFEST = """\
version: 1
sources:
  history: {type: files, path: c.jsonl, match: {email: email},
            sections: {contacts: {items: rows, fields: {date: at, reason: reason}}}}
flags:
  complaint_reply_hours: {hours}
"""


def test_the_first_reply_target_defaults_to_24_hours_and_is_validated(tmp_path: Path) -> None:
    assert FlagRules().complaint_reply_hours == 24
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST.replace("{hours}", "48"))
    assert load_manifest(path, env={}).flags.complaint_reply_hours == 48
    for bad, message in (("0", "greater than or equal to 1"), ("soon", "valid integer")):
        path.write_text(MANIFEST.replace("{hours}", bad))
        with pytest.raises(ManifestError) as caught:
            load_manifest(path, env={})
        [error] = caught.value.errors
        assert error.startswith("flags.complaint_reply_hours: ") and message in error


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    from .test_profile import MANIFEST as PROFILE_MANIFEST

    (tmp_path / "manifest.yaml").write_text(PROFILE_MANIFEST)
    return load_manifest(tmp_path / "manifest.yaml", env={})


def test_the_default_manifest_maps_the_handling_and_shows_complaints_before_sources() -> None:
    shipped = load_manifest(Path(__file__).parents[2] / "manifest.yaml", env={})
    fields = shipped.sources["history"].sections["contacts"].fields
    assert {"status", "first_reply_at", "resolved_at", "resolution"} <= set(fields)
    blocks = [entry.block for entry in shipped.sidebar.blocks]
    # the complaints, then the campaigns (folded), the sources last
    assert blocks[-3:] == ["complaints", "campaigns", "freshness"]
    assert DEFAULT_BLOCKS.index("complaints") < DEFAULT_BLOCKS.index("freshness")
    assert DEFAULT_BLOCKS[-1] == "freshness"
