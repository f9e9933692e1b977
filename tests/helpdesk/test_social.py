"""Social handles as helpdesks give them — pairs, `network:name`, profiles' addresses — read
into the identifiers every adapter reports, the unusable ones dropped."""

from __future__ import annotations

import pytest

from connector.helpdesk.base import lenient_identifiers
from connector.helpdesk.social import RawHandle, profile_name, social_handle
from connector.identifiers import Identifiers


@pytest.mark.parametrize(("raw", "expected"), [
    (("twitter", "@Claire_Deco67"), "twitter:claire_deco67"),
    ("twitter:@Claire_Deco67", "twitter:claire_deco67"),
    ("Instagram: @Claire_Deco67", "instagram:claire_deco67"),
    ((" Facebook ", "855769377321"), "facebook:855769377321"),
    (("twitter", "https://twitter.com/helpscout"), "twitter:helpscout"),
    (("twitter", "x.com/HelpScout/"), "twitter:helpscout"),
    (("linkedin", "https://fr.linkedin.com/in/claire-deco/"), "linkedin:claire-deco"),
    (("facebook", "https://www.facebook.com/profile.php?id=100004"), "facebook:100004"),
    (("tiktok", "https://www.tiktok.com/@claire.deco"), "tiktok:claire.deco"),
])
def test_handles_in_every_shape_become_network_name(raw: RawHandle, expected: str) -> None:
    assert social_handle(raw) == expected


@pytest.mark.parametrize("raw", [
    "@claire_deco67",                                      # no network: anyone's, anywhere
    ("twitter", None), (None, "claire"), ("twitter", ""), None, "", "twitter:",
    ("twitter", "Claire Deco"), ("twitter", "claire:deco"),  # not a handle
    ("x", "claire"),                                       # not a network name we keep
    ("twitter", "https://example.com/blog"),               # another site's address
    ("facebook", "https://www.facebook.com/people/Claire-Deco/100004"),  # no single name
    ("twitter", "https://twitter.com/helpscout/status/1"),
    ("youtube", "https://youtube.com/@claire"),            # a site we do not read
])
def test_unusable_handles_are_dropped(raw: RawHandle) -> None:
    assert social_handle(raw) is None


def test_a_value_that_is_no_address_is_kept_as_it_is() -> None:
    assert profile_name("twitter", " @Claire ") == "@Claire"
    assert profile_name("github", "github.com/claire") == "claire"


def test_lenient_identifiers_takes_handles_beside_emails_and_phones() -> None:
    ids = lenient_identifiers(
        "FR", emails=["Pauline.Deneve@Easiware.fr"], phones=["06 53 88 88 90"],
        handles=[("twitter", "@PDeneve"), "twitter:pdeneve", "facebook:855769377321",
                 "@nobody", ("instagram", None)])
    assert ids == Identifiers(emails=("pauline.deneve@easiware.fr",), phones=("+33653888890",),
                              handles=("twitter:pdeneve", "facebook:855769377321"))
    assert lenient_identifiers("FR", handles=[("twitter", "not a handle")]) == Identifiers()
    assert not lenient_identifiers("FR")
