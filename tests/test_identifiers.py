"""Normalisation: every usual way of writing an identifier gives one form, or a clear reason."""

from __future__ import annotations

import phonenumbers
import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from connector.identifiers import (
    InvalidIdentifier,
    fold_name,
    identifiers_from,
    normalise_card,
    normalise_email,
    normalise_handle,
    normalise_phone,
)


@pytest.mark.parametrize("raw", ["+33 (0)6 53 88 88 90", "0033 6 53 88 88 90", "06.53.88.88.90",
                                 "+33 (0)653888890", "06 53 88 88 90", "+33653888890",
                                 "06-53-88-88-90"])
def test_the_same_french_mobile(raw: str) -> None:
    assert normalise_phone(raw, "FR") == "+33653888890"


def test_the_white_paper_s_belgian_landline_drops_its_trunk_prefix() -> None:
    assert normalise_phone("+32 (0)186953033", "FR") == "+32186953033"


@pytest.mark.parametrize(("raw", "reason"), [
    ("12", "not a valid phone number: '12'"),
    ("06 53", "not a valid phone number: '06 53'"),
    ("call me", "not a phone number: 'cal…' (7 characters)"),
])
def test_unusable_phones_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_phone(raw, "FR")
    assert str(caught.value) == reason


@pytest.mark.parametrize(("locale", "region"), [("fr_FR", "FR"), ("fr_BE", "BE"),
                                                ("en_GB", "GB")])
def test_faker_numbers_are_normalised_or_refused_with_a_reason(locale: str, region: str) -> None:
    fake = Faker(locale)
    fake.seed_instance(2017)
    accepted = refused = 0
    for _ in range(200):
        raw = fake.phone_number()
        try:
            e164 = normalise_phone(raw, region)
        except InvalidIdentifier as exc:
            refused += 1
            assert str(exc).startswith(("not a valid phone number", "not a phone number"))
            continue
        accepted += 1
        parsed = phonenumbers.parse(e164)
        assert e164.startswith("+") and phonenumbers.is_possible_number(parsed)
        assert normalise_phone(e164, region) == e164
    # every number is either normalised or refused with its reason, none skipped; Faker's fr_BE
    # provider also emits US-style numbers ("(917)953-2182"), which are rightly refused
    assert accepted > 0 and accepted + refused == 200


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("0470 12 34 56", "BE", "+32470123456"), ("02 555 12 12", "BE", "+3225551212"),
    ("+32 (0)2 555 12 12", "FR", "+3225551212"), ("07911 123456", "GB", "+447911123456"),
    ("020 7946 0958", "GB", "+442079460958"),
])
def test_belgian_and_british_numbers(raw: str, region: str, e164: str) -> None:
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize(("raw", "expected"), [
    (" Pauline.Deneve@EASIWARE.fr ", "pauline.deneve@easiware.fr"),
    ("anne@BÜCHER.de", "anne@xn--bcher-kva.de"),
])
def test_emails(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


def test_cards_handles_and_names() -> None:
    assert normalise_card("2900 0123 456") == "29000123456"
    assert normalise_handle("Instagram:@Claire_Deco67") == "instagram:claire_deco67"
    assert normalise_handle("@claire_deco67") == "claire_deco67"
    assert fold_name("Denève") == fold_name("deneve") == fold_name("DENEVE") == "deneve"
    with pytest.raises(InvalidIdentifier):
        normalise_email("pauline at easiware")


def test_several_values_of_each_kind() -> None:
    ids = identifiers_from("FR", email=["A@x.fr", "a@X.fr", "b@x.fr"],
                           phone=["06 53 88 88 90", "+33653888890"])
    assert ids.emails == ("a@x.fr", "b@x.fr") and ids.phones == ("+33653888890",)


@given(st.from_regex(r"0[67]( ?[0-9]{2}){4}", fullmatch=True))
def test_phone_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalise_phone(raw, "FR")
    except InvalidIdentifier:
        return
    assert normalise_phone(once, "FR") == once


@given(st.emails())
def test_email_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalise_email(raw)
    except InvalidIdentifier:
        return
    assert normalise_email(once) == once
