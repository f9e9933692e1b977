"""No marketing correction without consent: a correction the ERP confirmed is told to
marketing only when the customer's consent for the field's channel is given (an email under
`consent.email_marketing`, a mobile under `consent.sms`); refused or unknown (no source says
it), its delivery is kept settled as `held`, carrying nothing, never posted, with the reason in
its outcome and in the audit trail."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from connector.events.marketing import HELD, MarketingSink, handover
from connector.events.outbox import SETTLED
from connector.models import Consent, ConsentEntry
from connector.store.schema import audit
from tests.conftest import until
from tests.events import test_marketing
from tests.events.test_marketing import NEW, OLD, World, delivered

build = test_marketing.build  # the ERP, the sink and the outbox of the marketing tests

MOBILE, NEW_MOBILE = "+33653888890", "+33611223344"


def kept_for_marketing(world: World, change_id: str) -> Any:
    """Work the outbox until the correction is confirmed and its marketing row kept."""
    def kept() -> Any:
        world.work()
        found = [r for r in world.rows("marketing") if r.item == change_id]
        return found[0] if found else None
    return until(kept)


def trail(world: World) -> list[tuple[str, str]]:
    with world.store.engine.connect() as connection:
        return [(r.action, r.detail) for r in connection.execute(select(audit))]


def test_a_refused_email_marketing_consent_holds_the_correction_back(build: Any) -> None:
    world = build(optin={"email": False, "sms": True, "at": "2024-01-05"})
    change = world.correct()
    row = kept_for_marketing(world, change)
    assert world.outbox.get(change).state == "confirmed"  # type: ignore[union-attr]
    assert (row.state, row.payload, row.outcome) == (
        HELD, None, "held back: consent.email_marketing is refused (erp, 2024-01-05)")
    for _ in range(3):  # never claimed, never sent
        world.clock.advance(3600)
        world.work()
    assert not world.sink.received
    assert world.outbox.get(row.id).state == HELD  # type: ignore[union-attr]
    assert ("change.held", f"identity.emails at marketing (change {row.id}, for {change}): "
            "held back: consent.email_marketing is refused (erp, 2024-01-05)") in trail(world)
    assert not any(action == "change.requested" and "at marketing" in detail
                   for action, detail in trail(world))
    assert OLD not in repr(trail(world)) and NEW not in repr(trail(world))


def test_an_unknown_consent_holds_it_back_too(build: Any) -> None:
    world = build(optin={})  # the ERP keeps no consent for this customer
    row = kept_for_marketing(world, world.correct())
    assert (row.state, row.payload) == (HELD, None)
    assert row.outcome == ("held back: consent.email_marketing is unknown (no source says it; "
                           "never assumed)")
    world.clock.advance(3600)
    world.work()
    assert not world.sink.received


def test_a_given_consent_lets_it_through(build: Any) -> None:
    world = build(optin={"email": "yes", "at": "2024-01-05"})
    change = world.correct()
    assert delivered(world, change).state == "done"
    assert [p["field"] for p in world.sink.payloads()] == ["identity.emails"]


def test_each_field_is_told_under_its_own_channel_consent(build: Any) -> None:
    world = build(optin={"email": False, "sms": True, "at": "2024-01-05"})
    phone = world.correct("identity.phones", NEW_MOBILE, MOBILE)
    assert delivered(world, phone).state == "done"  # the SMS consent is given
    assert [(p["field"], p["new"]) for p in world.sink.payloads()] == [
        ("identity.phones", NEW_MOBILE)]


def test_the_manifest_may_tell_a_field_under_another_consent(build: Any) -> None:
    world = build(extra="  consent: {identity.phones: email_marketing}\n",
                  optin={"email": False, "sms": True, "at": "2024-01-05"})
    assert world.manifest.marketing is not None
    assert world.manifest.marketing.consent["identity.emails"] == "email_marketing"
    row = kept_for_marketing(world, world.correct("identity.phones", NEW_MOBILE, MOBILE))
    assert (row.state, row.outcome) == (
        HELD, "held back: consent.email_marketing is refused (erp, 2024-01-05)")
    assert not world.sink.received


SINK = {"url": "https://hooks.example.com/c", "secret": "s"}


@pytest.mark.parametrize(("field", "consent", "expected"), [
    ("identity.emails", Consent(), "held back: consent.email_marketing is unknown (no source "
                                   "says it; never assumed)"),
    ("identity.emails", None, "held back: consent.email_marketing is unknown (no source says "
                              "it; never assumed)"),
    ("identity.emails", Consent(email_marketing=ConsentEntry(value="refused")),
     "held back: consent.email_marketing is refused"),
    ("identity.emails", Consent(email_marketing=ConsentEntry(value="given"),
                                sms=ConsentEntry(value="refused")), None),
    ("identity.phones", Consent(email_marketing=ConsentEntry(value="given")),
     "held back: consent.sms is unknown (no source says it; never assumed)"),
    ("identity.phones", Consent(sms=ConsentEntry(value="given", source="crm")), None),
    ("identity.address", Consent(sms=ConsentEntry(value="given")),
     "held back: consent.email_marketing is unknown (no source says it; never assumed)"),
])
def test_held_back_reads_the_consent_of_the_fields_channel(
        field: str, consent: Consent | None, expected: str | None) -> None:
    assert MarketingSink.model_validate(SINK).held_back(field, consent) == expected


def test_a_held_row_carries_no_value_and_is_purged_as_settled() -> None:
    change = SimpleNamespace(id="c1", customer_id="cus_1", name="identity.emails", source="erp")
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    row = handover(change, {"old": OLD, "new": NEW}, now, held="held back: why")
    assert (row["state"], row["payload"], row["outcome"]) == (HELD, None, "held back: why")
    sent = handover(change, {"old": OLD, "new": NEW}, now)
    assert sent["state"] == "pending" and NEW in sent["payload"]
    assert HELD in SETTLED  # `purge` deletes it with the other settled changes


@pytest.mark.parametrize(("consent", "message"), [
    ({"identity.emails": "newsletter"}, "'newsletter' is not a consent of the record (one of: "
                                        "email_marketing, sms, publish_reviews)"),
    ({"identity.birth_date": "sms"}, "'identity.birth_date' is not a field corrected from the "
                                     "record"),
])
def test_the_manifest_refuses_an_unknown_consent_or_field(consent: dict[str, str],
                                                          message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MarketingSink.model_validate({**SINK, "consent": consent})
