"""A preset parameter's default may be built from the parameters the admin gave."""

from __future__ import annotations

from connector.sources.preset import Parameter, Preset


def shop_preset() -> Preset:
    parameters = {
        "shop": Parameter("shop", "the shop's subdomain", True, None, False),
        "api_url": Parameter("api_url", "where the API answers", False,
                             "https://{{shop}}.myshopify.com", False),
        "api_version": Parameter("api_version", "pinned version", False, "2025-01", False),
        "names": Parameter("names", "location id -> name", False, {}, False),
    }
    source = {"type": "rest", "base_url": "{{api_url}}/admin/api/{{api_version}}",
              "map": "{{names}}"}
    return Preset("shop", "Shop", "A shop.", parameters, source, "")


def test_a_default_is_filled_from_the_given_parameters() -> None:
    errors: list[str] = []
    source = shop_preset().expand({"type": "shop", "shop": "maison"}, "sources.s", errors)
    assert errors == []
    assert source["base_url"] == "https://maison.myshopify.com/admin/api/2025-01"
    assert source["map"] == {}  # non-string defaults keep their type


def test_a_given_value_wins_over_the_built_default() -> None:
    errors: list[str] = []
    source = shop_preset().expand(
        {"type": "shop", "shop": "maison", "api_url": "http://127.0.0.1:8080"}, "sources.s", errors)
    assert errors == []
    assert source["base_url"] == "http://127.0.0.1:8080/admin/api/2025-01"


def test_a_missing_required_parameter_is_still_reported_once() -> None:
    errors: list[str] = []
    shop_preset().expand({"type": "shop"}, "sources.s", errors)
    assert errors == ["sources.s.shop: required (the shop's subdomain)"]


def test_zero_and_false_are_values_inside_strings() -> None:
    from connector.sources.preset import _fill

    assert _fill("scale={{s}}&on={{b}}&x={{n}}", {"s": 0, "b": False, "n": None}) == (
        "scale=0&on=false&x=")
    assert _fill("{{s}}", {"s": 0}) == 0
