"""Texts and formats in French and English: complete catalogs, Babel formats, ages."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connector import i18n
from connector.widgets.badges import BADGE_FIELDS, LIFECYCLE_TONES
from connector.widgets.freshness import STATES
from connector.widgets.identity import CIVILITIES, IDENTITY_FIELDS
from connector.widgets.kpis import DETAIL_FIELDS, TILE_FIELDS
from connector.widgets.orders import CHANNELS, COLUMNS, STATUSES
from connector.widgets.page import BLOCKS


def plain(value: str) -> str:
    """Normalise Babel's no-break spaces to ordinary spaces."""
    return value.replace("\u202f", " ").replace("\xa0", " ")


def placeholders(template: str) -> set[str]:
    """Return the `{name}` placeholders of a catalog text."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogs_hold_the_same_keys() -> None:
    assert set(i18n.CATALOGS) == set(i18n.LOCALES) == {"fr", "en"}
    assert sorted(i18n.CATALOGS["fr"]) == sorted(i18n.CATALOGS["en"])


def test_catalog_texts_are_filled_and_take_the_same_parameters() -> None:
    for key, french in i18n.CATALOGS["fr"].items():
        english = i18n.CATALOGS["en"][key]
        assert french.strip() and english.strip(), key
        assert placeholders(french) == placeholders(english), key


def test_every_key_the_blocks_use_is_in_both_catalogs() -> None:
    keys = {f"block.{key}" for key in BLOCKS}
    keys |= {field.label for field in (*IDENTITY_FIELDS, *BADGE_FIELDS)}
    keys |= {field.label for field in (*TILE_FIELDS, *DETAIL_FIELDS)}
    keys |= {column.label for column in COLUMNS}
    keys |= {key for key, _tone in STATUSES.values()} | {key for key, _tone in STATES.values()}
    keys |= set(CIVILITIES.values())
    keys |= {f"channel.{channel}" for channel in CHANNELS}
    keys |= {f"channel_abbr.{channel}" for channel in CHANNELS}
    keys |= {f"lifecycle.{stage}" for stage in LIFECYCLE_TONES}
    keys |= {"orders.more.one", "orders.more.other", "page.block_error", "page.empty"}
    for locale in i18n.LOCALES:
        missing = sorted(key for key in keys if not i18n.has_text(key, locale))
        assert missing == [], locale


def test_the_sidebar_view_finds_its_messages() -> None:
    for key in ("not_found", "unauthorized", "unknown_helpdesk"):
        for locale in i18n.LOCALES:
            assert i18n.text(f"message.{key}.title", locale, kind="x")
    assert "erp, pos" in i18n.text("message.sources_down", "en", names="erp, pos")
    assert "« zendesk »" in i18n.text("message.unknown_helpdesk", "fr", kind="zendesk")


def test_text_fills_parameters_and_refuses_unknown_keys() -> None:
    assert i18n.text("age.minutes", "fr", n=3) == "il y a 3 min"
    assert i18n.text("age.minutes", "en", n=3) == "3 min ago"
    with pytest.raises(KeyError):
        i18n.text("no.such.key", "en")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("fr", "fr"), ("en", "en"), ("en-GB", "en"), ("fr_FR", "fr"), ("de", "fr"), ("", "fr")],
)
def test_locale_strings_are_normalised(raw: str, expected: str) -> None:
    assert i18n.normalize_locale(raw) == expected


def test_money_follows_the_locale() -> None:
    assert plain(i18n.format_money(Decimal("1464.00"), "EUR", "fr")) == "1 464,00 €"
    assert i18n.format_money(Decimal("1464.00"), "EUR", "en") == "€1,464.00"
    assert plain(i18n.format_money(Decimal("45.95"), "CHF", "fr")) == "45,95 CHF"


def test_numbers_dates_and_moments_follow_the_locale() -> None:
    assert i18n.format_number(Decimal("8.5"), "fr") == "8,5"
    assert i18n.format_number(Decimal("8.5"), "en") == "8.5"
    assert i18n.format_date(date(2017, 8, 5), "fr") == "05/08/2017"
    assert i18n.format_date(date(2017, 8, 5), "en") == "5 Aug 2017"
    moment = datetime(2019, 2, 23, 17, 54)
    assert i18n.format_datetime(moment, "fr") == "23/02/2019 17:54"
    assert i18n.format_datetime(moment, "en") == "23 Feb 2019 17:54"


def test_aware_moments_are_shown_in_the_requested_zone_else_their_own() -> None:
    utc = datetime(2019, 2, 23, 16, 54, tzinfo=UTC)
    assert i18n.format_datetime(utc, "fr", tz=ZoneInfo("Europe/Paris")) == "23/02/2019 17:54"
    reunion = datetime(2019, 2, 23, 20, 54, tzinfo=timezone(timedelta(hours=4)))
    assert i18n.format_datetime(reunion, "fr") == "23/02/2019 20:54"


@pytest.mark.parametrize(
    ("seconds", "french", "english"),
    [
        (-5, "à l'instant", "just now"),
        (12, "à l'instant", "just now"),
        (190, "il y a 3 min", "3 min ago"),
        (2 * 3600 + 59, "il y a 2 h", "2 h ago"),
        (4 * 86400 + 10, "il y a 4 j", "4 d ago"),
    ],
)
def test_ages_read_naturally(seconds: float, french: str, english: str) -> None:
    assert i18n.format_age(seconds, "fr") == french
    assert i18n.format_age(seconds, "en") == english


def test_plural_texts_pick_the_form_of_the_count() -> None:
    assert i18n.plural_text("orders.more", 1, "fr") == "+ 1 autre commande"
    assert i18n.plural_text("orders.more", 4, "fr") == "+ 4 autres commandes"
    assert i18n.plural_text("orders.more", 1, "en") == "+1 more order"
    assert i18n.plural_text("orders.more", 4, "en") == "+4 more orders"


def test_texts_for_gives_a_template_its_strings() -> None:
    demo = i18n.texts_for("demo", "en")
    assert demo["title"] == "Helpdesk demo"
    assert set(demo) == set(i18n.texts_for("demo", "fr"))


def test_territory_names_are_translated() -> None:
    assert i18n.territory_name("FR", "fr") == "France"
    assert i18n.territory_name("be", "en") == "Belgium"
    assert i18n.territory_name("Nowhere", "en") == "Nowhere"
