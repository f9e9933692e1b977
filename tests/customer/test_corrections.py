"""A correction is checked before anything is kept: a field some source takes, a source that
knows the person, a valid new value the record does not hold, the replaced value one it holds."""

from __future__ import annotations

import pytest

from connector.customer.corrections import (
    CorrectionRefused,
    InvalidCorrection,
    check,
    held,
    shows,
)
from connector.models import Address, CustomerProfile, Identity, SourceState, SourceStatus

WRITES = {"erp": {"identity.emails": None, "identity.phones": None}, "pos": {},
          "crm": {"identity.emails": None}}


def pauline() -> CustomerProfile:
    return CustomerProfile(customer_id="cus_1", identity=Identity(
        emails=["pauline.deneve@easiware.fr"], phones=["+33 6 53 88 88 90"],
        external_ids={"erp": "C100997"}))


def test_a_new_email_is_normalised_and_replaces_the_first_one() -> None:
    done = check(pauline(), "identity.emails", "  Pauline.D@Exemple.FR ", None, None, WRITES,
                 "FR")
    assert (done.source, done.new, done.old, done.external) == (
        "erp", "pauline.d@exemple.fr", "pauline.deneve@easiware.fr", "C100997")
    assert done.values() == {"new": "pauline.d@exemple.fr", "old": "pauline.deneve@easiware.fr",
                             "external": "C100997"}


def test_a_phone_is_written_in_e164_and_the_replaced_one_must_be_held() -> None:
    done = check(pauline(), "identity.phones", "06 11 22 33 44", "+33653888890", "erp", WRITES,
                 "FR")
    assert (done.new, done.old) == ("+33611223344", "+33653888890")
    with pytest.raises(CorrectionRefused, match="not in the record"):
        check(pauline(), "identity.phones", "06 11 22 33 44", "0699999999", None, WRITES, "FR")


@pytest.mark.parametrize(("field", "value", "source", "message"), [
    ("identity.birth_date", "x", None, "'identity.birth_date' cannot be corrected"),
    ("identity.emails", "not an email", None, "identity.emails: not an email address"),
    ("identity.emails", "", None, "give the new value as a non-empty string"),
    ("identity.emails", 42, None, "give the new value as a non-empty string"),
    ("identity.phones", "12", None, "identity.phones: not a valid phone number"),
    ("identity.emails", "PAULINE.DENEVE@easiware.fr", None, "holds this value already"),
    ("identity.emails", "a@b.fr", "pos", "source 'pos' takes no correction of identity.emails"),
])
def test_what_cannot_be_corrected_says_why(field: str, value: object, source: str | None,
                                           message: str) -> None:
    with pytest.raises(InvalidCorrection, match=message):
        check(pauline(), field, value, None, source, WRITES, "FR")


def test_a_source_that_does_not_know_the_person_or_none_at_all_is_refused() -> None:
    with pytest.raises(CorrectionRefused, match="crm does not know this customer"):
        check(pauline(), "identity.emails", "a@b.fr", None, "crm", WRITES, "FR")
    with pytest.raises(CorrectionRefused, match="no source takes corrections"):
        check(pauline(), "identity.emails", "a@b.fr", None, None, {"pos": {}}, "FR")


def test_a_source_that_did_not_answer_is_unavailable_not_ignorant() -> None:
    profile = pauline()
    profile.identity.external_ids = {}
    profile.sources = {"erp": SourceStatus(status=SourceState.TIMEOUT)}
    with pytest.raises(CorrectionRefused, match="erp did not answer") as refused:
        check(profile, "identity.emails", "a@b.fr", None, None, WRITES, "FR")
    assert refused.value.status == 503 and refused.value.reason == "unavailable"


def test_a_correction_kept_for_roles_is_refused_to_others() -> None:
    kept = {"erp": {"identity.emails": ["supervisor"], "identity.phones": None}}
    with pytest.raises(CorrectionRefused, match="role 'agent' may not correct") as refused:
        check(pauline(), "identity.emails", "a@b.fr", None, None, kept, "FR", role="agent")
    assert refused.value.status == 403 and refused.value.reason == "role"
    with pytest.raises(CorrectionRefused, match="role 'none'"):
        check(pauline(), "identity.emails", "a@b.fr", None, None, kept, "FR")
    done = check(pauline(), "identity.emails", "a@b.fr", None, None, kept, "FR",
                 role="SUPERVISOR")
    assert done.source == "erp"
    assert check(pauline(), "identity.phones", "0611223344", None, None, kept, "FR").new


def test_a_record_shows_a_value_whatever_its_writing() -> None:
    profile = pauline()
    assert held(profile, "identity.phones", "FR") == ["+33653888890"]
    assert shows(profile, "identity.phones", "+33653888890", "FR")
    assert shows(profile, "identity.emails", "pauline.deneve@easiware.fr", "FR")
    assert not shows(profile, "identity.emails", "other@easiware.fr", "FR")


@pytest.mark.parametrize(("status", "age_s", "limit", "refused"), [
    (SourceState.STALE, 1800, 900, True),   # an old copy, kept while erp does not answer
    (SourceState.STALE, 600, 900, False),   # a recent one: the agent sees it as it is
    (SourceState.OK, 1800, 900, False),     # fresh from the source, however old the cache
    (SourceState.STALE, 1800, 0, False),    # 0: never refused
])
def test_a_change_is_refused_while_the_record_shows_an_old_copy_of_its_source(
        status: SourceState, age_s: float, limit: int, refused: bool) -> None:
    from connector.customer.refusals import ChangeRefused, recent_enough

    profile = pauline()
    profile.sources["erp"] = SourceStatus(status=status, age_s=age_s)
    if not refused:
        recent_enough(profile, "erp", limit)
        return
    with pytest.raises(ChangeRefused) as caught:
        recent_enough(profile, "erp", limit)
    assert (caught.value.reason, caught.value.status) == ("stale", 409)
    assert "30 min old" in str(caught.value)


def test_an_empty_optional_value_fills_its_placeholder_and_a_missing_one_does_not() -> None:
    from connector.sources.templates import Blank, MissingValue, render_value

    body = {"reason": "{inputs.reason}", "comment": "{inputs.comment}", "was": "old: {old}"}
    given = {"inputs": {"reason": "late", "comment": Blank("")}, "old": Blank("")}
    assert render_value(body, given) == {"reason": "late", "comment": "", "was": "old: "}
    with pytest.raises(MissingValue):
        render_value(body, {"inputs": {"reason": "late", "comment": ""}, "old": Blank("")})


ADDRESS_WRITES = {"erp": {"identity.address": None}}
SPINOZA = {"line1": "1 AVENUE SPINOZA", "postcode": "77184", "city": "EMERAINVILLE",
           "country": "FR"}


def housed(**address: str | None) -> CustomerProfile:
    profile = pauline()
    profile.identity.address = Address(**(address or SPINOZA))
    return profile


def test_a_new_address_is_checked_part_by_part_and_replaces_the_records() -> None:
    given = {"line1": "  12  rue des\u00a0Lilas ", "postcode": " 69003", "city": "Lyon ",
             "country": "fr"}
    done = check(housed(), "identity.address", given, None, None, ADDRESS_WRITES, "FR")
    assert (done.source, done.external) == ("erp", "C100997")
    assert done.values() == {
        "new": {"line1": "12 rue des Lilas", "postcode": "69003", "city": "Lyon",
                "country": "FR"},
        "old": SPINOZA, "external": "C100997"}


def test_an_address_needs_only_its_street_and_city() -> None:
    done = check(housed(), "identity.address", {"line1": "Flat 2, 10 Downing St",
                                                 "city": "London", "postcode": "sw1a 2aa"},
                 None, None, ADDRESS_WRITES, "FR")
    assert done.new == {"line1": "Flat 2, 10 Downing St", "postcode": "SW1A 2AA",
                        "city": "London", "country": ""}
    done = check(pauline(), "identity.address", {"line1": "Main Street", "city": "Dublin",
                                                  "country": "IE"},
                 None, None, ADDRESS_WRITES, "FR")
    assert done.old == ""  # the record held no address


def test_the_source_request_is_filled_with_the_address_parts() -> None:
    from connector.sources.templates import render_value

    done = check(housed(), "identity.address", {"line1": "12 rue des Lilas",
                                                 "postcode": "69003", "city": "Lyon",
                                                 "country": "FR"},
                 None, None, ADDRESS_WRITES, "FR")
    body = {"street": "{new.line1}", "zip": "{new.postcode}", "town": "{new.city | lower}",
            "country": "{new.country}", "was": "{old.line1}, {old.city}", "whole": "{new}"}
    assert render_value(body, {**done.values(), "change": "c1"}) == {
        "street": "12 rue des Lilas", "zip": "69003", "town": "lyon", "country": "FR",
        "was": "1 AVENUE SPINOZA, EMERAINVILLE",
        "whole": {"line1": "12 rue des Lilas", "postcode": "69003", "city": "Lyon",
                  "country": "FR"}}


@pytest.mark.parametrize(("value", "message", "reason"), [
    ("1 avenue Spinoza", "give the new value as an object {line1, postcode, city, country}",
     "invalid"),
    (None, "give the new value as an object", "invalid"),
    ({"line1": "1 rue X", "city": "Lyon", "zip": "69003"},
     "identity.address.zip: unknown part", "invalid"),
    ({"line1": "  ", "city": "Lyon"}, "identity.address.line1: required", "required"),
    ({"line1": "1 rue X"}, "identity.address.city: required", "required"),
    ({"line1": "1 rue X\nBât. B", "city": "Lyon"}, "line1: control characters", "invalid"),
    ({"line1": "1 rue X\u200b", "city": "Lyon"}, "line1: control characters", "invalid"),
    ({"line1": "x" * 121, "city": "Lyon"}, "line1: at most 120 characters", "invalid"),
    ({"line1": "1 rue X", "city": 69}, "identity.address.city: give a string", "invalid"),
    ({"line1": "1 rue X", "city": "Lyon", "postcode": "69@03"}, "postcode: letters and digits",
     "postcode"),
    ({"line1": "1 rue X", "city": "Lyon", "postcode": "-6900"}, "postcode: letters", "postcode"),
    ({"line1": "1 rue X", "city": "Lyon", "postcode": "1" * 13}, "postcode: at most 12",
     "postcode"),
    ({"line1": "1 rue X", "city": "Lyon", "country": "FRA"}, "country: at most 2", "country"),
    ({"line1": "1 rue X", "city": "Lyon", "country": "ZZ"}, "not an ISO 3166 country code",
     "country"),
    ({"line1": "1 avenue spinoza", "postcode": "77184", "city": "Emerainville",
      "country": "fr"}, "holds this value already", "held"),
])
def test_an_address_that_cannot_be_sent_says_why(value: object, message: str,
                                                 reason: str) -> None:
    with pytest.raises(InvalidCorrection, match=message) as refused:
        check(housed(), "identity.address", value, None, None, ADDRESS_WRITES, "FR")
    assert refused.value.reason == reason


def test_the_address_replaced_must_be_the_records() -> None:
    given = {"line1": "12 rue des Lilas", "city": "Lyon"}
    done = check(housed(), "identity.address", given, {**SPINOZA, "city": "Emerainville"},
                 None, ADDRESS_WRITES, "FR")
    assert done.old == SPINOZA
    with pytest.raises(CorrectionRefused, match="not in the record"):
        check(housed(), "identity.address", given, {"line1": "3 rue Y", "city": "Paris"},
              None, ADDRESS_WRITES, "FR")


def test_a_record_holds_its_address_as_it_is_and_shows_one_part_by_part() -> None:
    import json

    profile = housed(line1=" 1 AVENUE  SPINOZA", postcode="77184", city="EMERAINVILLE",
                     country="France")  # a source may keep what the form would refuse
    assert held(profile, "identity.address", "FR") == [
        {"line1": "1 AVENUE SPINOZA", "postcode": "77184", "city": "EMERAINVILLE",
         "country": "France"}]
    assert held(pauline(), "identity.address", "FR") == []
    new = {"line1": "1 avenue Spinoza", "postcode": "77184", "city": "Emerainville",
           "country": "france"}
    assert shows(profile, "identity.address", new, "FR")
    stored = json.loads(json.dumps({"new": new}))["new"]  # as the outbox keeps and passes it
    assert shows(profile, "identity.address", stored, "FR")
    assert not shows(profile, "identity.address", {**new, "postcode": "77185"}, "FR")
    assert not shows(profile, "identity.address", "not an address", "FR")
    assert not shows(pauline(), "identity.address", new, "FR")


def test_an_address_s_empty_part_is_sent_empty_not_missing() -> None:
    from connector.sources.rest import _blank
    from connector.sources.templates import render_value

    body = {"street": "{new.line1}", "zip": "{new.postcode}", "was": "{old}"}
    given = {"new": _blank({"line1": "1 avenue Spinoza", "postcode": ""}), "old": _blank("")}
    assert render_value(body, given) == {"street": "1 avenue Spinoza", "zip": "", "was": ""}
