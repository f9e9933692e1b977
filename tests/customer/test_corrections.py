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
from connector.models import CustomerProfile, Identity, SourceState, SourceStatus

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
    ("identity.address", "x", None, "'identity.address' cannot be corrected"),
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
