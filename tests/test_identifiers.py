"""Normalisation: every usual way of writing an identifier gives one form, or a clear reason."""

from __future__ import annotations

import phonenumbers
import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st

from connector.identifiers import (
    InvalidIdentifier,
    email_for_source,
    fold_name,
    identifiers_from,
    name_key,
    normalise_card,
    normalise_email,
    normalise_handle,
    normalise_phone,
    phone_region,
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


@pytest.mark.parametrize("raw", [
    "mailto:pauline.deneve@easiware.fr", "MAILTO:Pauline.Deneve@easiware.fr?subject=Commande",
    "Pauline Denève <pauline.deneve@easiware.fr>", '"Denève, Pauline" <PAULINE.DENEVE@easiware.fr>',
    "<pauline.deneve@easiware.fr>", "<mailto:pauline.deneve@easiware.fr>",
    '"pauline.deneve@easiware.fr"', "'pauline.deneve@easiware.fr'",
    "« pauline.deneve@easiware.fr »",
    "pauline.deneve@easiware.fr.", "pauline.deneve@easiware.fr,", "pauline.deneve@easiware.fr;",
    '"pauline.deneve@easiware.fr";', "pauline.deneve@easiware.fr. ",
    "pauline\u200b.deneve@easiware.fr", "\ufeffpauline.deneve@easi\u200cware.fr\u2060",
    "pauline.deneve\u200d@easiware.fr", "pauline.deneve@\u00a0easiware.fr\u00a0",
    "pauline.deneve＠easiware.fr",
])
def test_pasted_emails_are_cleaned(raw: str) -> None:
    assert normalise_email(raw) == "pauline.deneve@easiware.fr"


@pytest.mark.parametrize(("raw", "expected"), [
    ("anne@straße.de", "anne@xn--strae-oqa.de"),  # IDNA 2008 keeps ß (IDNA 2003: strasse.de)
    ("anne@STRASSE.de", "anne@strasse.de"),
    ("Élise@ÉCOLE.fr", "élise@xn--cole-9oa.fr"),
    ("anne@ｅｘａｍｐｌｅ.fr", "anne@example.fr"),
    ("anne@xn--strae-oqa.de", "anne@xn--strae-oqa.de"),
])
def test_international_domains_follow_idna_2008(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("pauline at easiware", "not an email address: 'pau…' (19 characters)"),
    ("mailto:", "not an email address: 'mai…' (7 characters)"),
    ("<>", "not an email address: '<>'"),
    ("a@b.fr, c@d.fr", "not an email address: 'a@b…' (14 characters)"),
    ("Pauline <p@x.fr> <q@x.fr>", "not an email address: 'Pau…' (25 characters)"),
    ("p@x..fr", "not a valid email domain: 'p@x…' (7 characters)"),
    ("p@-x.fr", "not a valid email domain: 'p@-…' (7 characters)"),
    ("p@xn--zz.fr", "not a valid email domain: 'p@x…' (11 characters)"),
])
def test_what_is_still_no_address_is_refused(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_email(raw)
    assert str(caught.value) == reason


@pytest.mark.parametrize(("raw", "ascii", "unicode"), [
    ("anne@straße.de", "anne@xn--strae-oqa.de", "anne@straße.de"),
    ("Anne@xn--bcher-kva.DE", "anne@xn--bcher-kva.de", "anne@bücher.de"),
    ("a@ÉCOLE.fr", "a@xn--cole-9oa.fr", "a@école.fr"),
    ("Pauline <p@easiware.fr>", "p@easiware.fr", "p@easiware.fr"),
])
def test_emails_in_the_form_a_source_stores(raw: str, ascii: str, unicode: str) -> None:
    assert email_for_source(raw, "ascii") == ascii
    assert email_for_source(raw, "unicode") == unicode
    assert normalise_email(email_for_source(raw, "unicode")) == ascii


def test_cards_handles_and_names() -> None:
    assert normalise_card("2900 0123 456") == "29000123456"
    assert normalise_handle("Instagram:@Claire_Deco67") == "instagram:claire_deco67"
    assert normalise_handle("@claire_deco67") == "claire_deco67"
    assert fold_name("Denève") == fold_name("deneve") == fold_name("DENEVE") == "deneve"
    with pytest.raises(InvalidIdentifier):
        normalise_email("pauline at easiware")


@pytest.mark.parametrize(("country", "region"), [
    ("BE", "BE"), ("be", "BE"), ("BEL", "BE"), ("Belgique", "BE"), ("BELGIQUE", "BE"),
    ("Belgium", "BE"), ("België", "BE"), ("belgie", "BE"), ("Belgien", "BE"), ("Bélgica", "BE"),
    ("Belgio", "BE"), ("DE", "DE"), ("DEU", "DE"), ("Deutschland", "DE"), ("Allemagne", "DE"),
    ("Germany", "DE"), ("Duitsland", "DE"), ("GB", "GB"), ("GBR", "GB"), ("UK", "GB"),
    ("United Kingdom", "GB"), ("Royaume-Uni", "GB"), ("royaume uni", "GB"),
    ("Vereinigtes Königreich", "GB"), ("Verenigd Koninkrijk", "GB"), ("Reino Unido", "GB"),
    ("FRA", "FR"), ("France", "FR"), (" Côte d’Ivoire ", "CI"), ("Cote d'Ivoire", "CI"),
])
def test_the_phone_region_of_a_record_s_country(country: str, region: str) -> None:
    assert phone_region(country, "FR") == region


@pytest.mark.parametrize("country", [None, "", "  ", "Narnia", "ZZ", "EU", "XYZ"])
def test_an_unknown_country_falls_back_to_the_default_region(country: str | None) -> None:
    assert phone_region(country, "FR") == "FR" and phone_region(country, "BE") == "BE"


@pytest.mark.parametrize(("raw", "country", "e164"), [
    ("0486/95.30.33", "Belgique", "+32486953033"),
    ("0486/95.30.33", "BEL", "+32486953033"),
    ("069 1234567", "DE", "+49691234567"),
    ("069 1234567", "Deutschland", "+49691234567"),
    ("020 7946 0958", "Royaume-Uni", "+442079460958"),
    ("+33 6 53 88 88 90", "Belgique", "+33653888890"),  # written internationally: as written
    ("+33 (0)6 53 88 88 90", "DE", "+33653888890"),
    ("0033 6 53 88 88 90", "United Kingdom", "+33653888890"),
])
def test_national_numbers_are_read_with_the_record_s_country(raw: str, country: str,
                                                              e164: str) -> None:
    assert normalise_phone(raw, phone_region(country, "FR")) == e164


def test_without_a_country_national_numbers_stay_french() -> None:
    assert normalise_phone("0486/95.30.33", phone_region(None, "FR")) == "+33486953033"
    with pytest.raises(InvalidIdentifier, match="not a valid phone number"):
        normalise_phone("069 1234567", phone_region("", "FR"))


@pytest.mark.parametrize(("names", "folded"), [
    (["Denève", "Dene\u0300ve", "deneve", "DENEVE", " Denève  "], "deneve"),
    (["Jean-Pierre", "jean pierre", "Jean–Pierre", "JEAN  PIERRE"], "jean pierre"),
    (["O’Brien", "O'Brien", "Oʼbrien", "O‘Brien", "O´Brien", "O`Brien", "OBRIEN"], "obrien"),
    (["Søren Ødegård"], "soren odegard"), (["Łukasz"], "lukasz"), (["Yıldız"], "yildiz"),
    (["Größer"], "grosser"), (["Þórunn"], "thorunn"), (["Æsa Œuvray"], "aesa oeuvray"),
    (["Владимир"], "vladimir"), (["Ἀθηνᾶ"], "athina"),
])
def test_names_fold_to_ascii_words(names: list[str], folded: str) -> None:
    assert {fold_name(name) for name in names} == {folded}


@pytest.mark.parametrize(("names", "key"), [
    (["Müller", "Mueller", "MÜLLER", "Muller"], "muller"),
    (["Größer", "Groesser", "Grösser", "Grosser"], "grosser"),
    (["Äschbach", "Aeschbach", "Aschbach"], "aschbach"),
    (["Le Gall", "LEGALL", "le-gall"], "legall"),
    (["Pauline Denève", "PAULINE DENEVE"], "paulinedeneve"),
    (["O’Brien", "O Brien"], "obrien"),
    # each word on its own: a key never gains a digraph across two words (Anna Edwards)
    (["Anna Edwards"], "annaedwards"),
    # the price of the rule, affordable for a search: Michael and Michal share a key
    (["Michael", "Michal"], "michal"),
])
def test_name_keys_join_german_transliterations(names: list[str], key: str) -> None:
    assert {name_key(name) for name in names} == {key}


def test_a_name_key_fits_the_link_store_column() -> None:
    assert len(name_key("张伟" * 150)) == 200


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


@given(st.text(max_size=60))
def test_every_word_of_a_name_is_found_in_its_key(name: str) -> None:
    folded = fold_name(name)
    assert folded.isascii() and fold_name(folded) == folded
    assert all(name_key(word) in name_key(name) for word in folded.split())


def test_remembered_numbers_answer_as_the_first_time_and_an_erasure_forgets_them() -> None:
    from connector import identifiers

    identifiers.forget_phones()
    assert identifiers.normalise_phone("06 53 88 88 90", "FR") == "+33653888890"
    assert identifiers.normalise_phone("06 53 88 88 90", "FR") == "+33653888890"
    assert identifiers.normalise_phone("0470 12 34 56", "BE") == "+32470123456"
    for _ in range(2):  # a refusal is remembered as a refusal, raised each time
        with pytest.raises(InvalidIdentifier, match="not a phone number"):
            identifiers.normalise_phone("call me", "FR")
    asked = [("06 53 88 88 90", "FR"), ("0470 12 34 56", "BE"), ("call me", "FR")]
    assert all(key in identifiers._PHONES for key in asked)
    identifiers.forget_phones()
    assert not any(key in identifiers._PHONES for key in asked)
