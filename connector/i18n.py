"""French and English texts (the catalogs in `connector/locales/`) and the locale-aware
formatting of money, dates, ages and numbers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from pydantic import BeforeValidator

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"

BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
DATE_PATTERNS = {"fr": "dd/MM/yyyy", "en": "d MMM yyyy"}
DATETIME_PATTERNS = {"fr": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy HH:mm"}

CATALOGS_DIR = Path(__file__).parent / "locales"


def _catalog(locale: str) -> dict[str, str]:
    """One language's texts, from `connector/locales/<locale>.yaml` (translators edit those)."""
    data = yaml.safe_load((CATALOGS_DIR / f"{locale}.yaml").read_text(encoding="utf-8"))
    return {str(key): str(value) for key, value in data.items()}


CATALOGS: dict[str, dict[str, str]] = {locale: _catalog(locale) for locale in LOCALES}

# (upper bound in seconds, catalog key, divisor): the first bound above the age wins.
AGE_STEPS: tuple[tuple[float, str, int], ...] = (
    (60, "age.now", 1),
    (3600, "age.minutes", 60),
    (86400, "age.hours", 3600),
    (float("inf"), "age.days", 86400),
)


def normalize_locale(locale: str | None) -> str:
    """Return "fr" or "en" for a locale string such as "en", "en-GB" or "fr_FR" (default fr)."""
    if locale is not None and locale in LOCALES:  # most calls: the locale chosen already
        return locale
    short = (locale or "").replace("-", "_").split("_")[0].lower()
    return short if short in LOCALES else DEFAULT_LOCALE


def babel_locale(locale: str | None) -> str:
    """Return the Babel locale used for one of our locales ("fr" -> "fr_FR", "en" -> "en_GB")."""
    return BABEL_LOCALES[normalize_locale(locale)]


def text(key: str, locale: str, **params: object) -> str:
    """Return the UI text `key` in `locale`, with `{name}` placeholders filled from `params`."""
    template = CATALOGS[normalize_locale(locale)][key]
    return template.format(**params) if params else template


def has_text(key: str, locale: str) -> bool:
    """Tell whether the catalog of `locale` holds `key` (for values translated when known)."""
    return key in CATALOGS[normalize_locale(locale)]


def plural_text(key: str, count: int, locale: str, **params: object) -> str:
    """Return the "one" or "other" form of `key` for `count` (keys `key.one`, `key.other`)."""
    form = Locale.parse(babel_locale(locale)).plural_form(count)
    suffix = "one" if form == "one" else "other"
    return text(f"{key}.{suffix}", locale, count=format_number(count, locale), **params)


def texts_for(prefix: str, locale: str) -> dict[str, str]:
    """Return every text under `prefix.` in `locale`, keyed without the prefix (for templates)."""
    start = f"{prefix}."
    catalog = CATALOGS[normalize_locale(locale)]
    return {key[len(start) :]: value for key, value in catalog.items() if key.startswith(start)}


def format_money(value: Decimal, currency: str, locale: str) -> str:
    """Format an amount: fr "1 464,00 €", en "€1,464.00" (Babel's no-break spaces kept)."""
    return format_currency(value, currency, locale=babel_locale(locale))


def format_number(value: Decimal | float | int, locale: str) -> str:
    """Format a number with the locale's decimal sign: fr "8,5", en "8.5"."""
    return format_decimal(value, locale=babel_locale(locale))


def format_share(value: Decimal | float, locale: str) -> str:
    """Format a share of 1 as a percentage: fr "13 %", en "13%"."""
    return format_percent(value, locale=babel_locale(locale))


def format_date(value: date, locale: str) -> str:
    """Format a day: fr "05/08/2017", en "5 Aug 2017"."""
    short = normalize_locale(locale)
    return babel_format_date(value, DATE_PATTERNS[short], locale=BABEL_LOCALES[short])


def format_datetime(value: datetime, locale: str, *, tz: tzinfo | None = None) -> str:
    """Format a moment: fr "23/02/2019 17:54", en "23 Feb 2019 17:54", in `tz` when given.

    Without `tz` an aware moment is shown in its own zone, never the server's.
    """
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    short = normalize_locale(locale)
    naive = value.replace(tzinfo=None)
    return babel_format_datetime(naive, DATETIME_PATTERNS[short], locale=BABEL_LOCALES[short])


def format_age(seconds: float, locale: str) -> str:
    """Say how old a value is: "à l'instant", "il y a 3 min", "il y a 2 h", "il y a 4 j"."""
    seconds = max(seconds, 0.0)
    for bound, key, divisor in AGE_STEPS:
        if seconds < bound:
            return text(key, locale, n=int(seconds // divisor))
    raise AssertionError("unreachable: the last age step is unbounded")


def territory_name(code: str, locale: str) -> str:
    """Return a country's name for an ISO code ("FR" -> "France"); other values unchanged."""
    territories = Locale.parse(babel_locale(locale)).territories
    return str(territories.get(code.strip().upper(), code))


def _label(value: Any) -> Any:
    """A plain text is the same in every language; a mapping gives one text per language."""
    if isinstance(value, str) and value.strip():
        return {locale: value for locale in LOCALES}
    if (isinstance(value, dict) and value and set(value) <= set(LOCALES)
            and all(isinstance(v, str) and v.strip() for v in value.values())):
        return dict(value)
    raise ValueError(f"give a text, or a text per language ({', '.join(LOCALES)}), "
                     'e.g. {fr: "Pointure", en: "Shoe size"}')


# A text an admin writes in the manifest: "Fidélité" (every language) or {fr: …, en: …}
Label = Annotated[dict[str, str], BeforeValidator(_label)]


def label_text(label: Mapping[str, str], locale: str) -> str:
    """The label in the page's language, else in the other one given."""
    return label.get(normalize_locale(locale)) or next(iter(label.values()))
