"""Normalise the identifiers a customer is known by, so every source compares like with like."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import idna
import phonenumbers
from anyascii import anyascii
from babel import Locale
from babel.core import get_global
from cachetools import LRUCache

T = TypeVar("T")
# no space nor control character (a NUL is no address, and no database can keep it)
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
ANGLED = re.compile(r"[^<>]*<([^<>]*)>")  # `Pauline Denève <p@x.fr>`, `<p@x.fr>`
QUOTES = {'"': '"', "'": "'", "“": "”", "„": "“", "‘": "’", "«": "»"}
# What copying an address from a page or a document adds: zero-width characters and no-break
# spaces (removed), full-width at signs (read as @)
EMAIL_NOISE = str.maketrans({"\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None,
                             "\ufeff": None, "\u00a0": None, "\u202f": None,
                             "\uff20": "@", "\ufe6b": "@"})
# Languages whose country names `address.country` may hold (`Belgique`, `België`, `Deutschland`)
COUNTRY_LANGUAGES = ("fr", "en", "de", "nl", "es", "it")
NAME_KEY_MAX = 200  # the link store's `customers.name_folded` column

IdentifierKind = Literal["email", "phone", "card", "handle", "external"]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = ("email", "phone", "card", "handle", "external")
PERSONAL_KINDS: tuple[IdentifierKind, ...] = ("email", "phone", "card", "handle")
HANDLE = re.compile(r"^(?:([a-z][a-z0-9]{1,19}):)?@?([a-z0-9._-]{1,64})$")


@dataclass(frozen=True)
class Identifiers:
    """The normalised identifiers a customer is looked up by: emails, E.164 phones, loyalty
    cards, social handles (`network:name`), and sources' own ids (`externals`: source, id)."""

    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    cards: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    externals: tuple[tuple[str, str], ...] = ()

    def of(self, kind: IdentifierKind, source: str | None = None) -> tuple[str, ...]:
        """The values of one kind of identifier (for `external`: that source's own ids)."""
        if kind == "external":
            return tuple(value for name, value in self.externals if name == source)
        return {"email": self.emails, "phone": self.phones, "card": self.cards,
                "handle": self.handles}[kind]

    def attempts(self, kinds: Sequence[IdentifierKind], source: str) -> list[tuple[str, str]]:
        """(kind, value) to try, in the source's order of kinds."""
        return [(kind, value) for kind in kinds for value in self.of(kind, source)]

    def pairs(self) -> list[tuple[str, str]]:
        """Every identifier as (kind, value); a source's own id has that source as its kind."""
        found = [(kind, value) for kind in PERSONAL_KINDS for value in self.of(kind)]
        return found + list(self.externals)

    def merged(self, other: Identifiers) -> Identifiers:
        """These identifiers plus the other's, order kept, no repeats."""
        return Identifiers(
            emails=_union(self.emails, other.emails),
            phones=_union(self.phones, other.phones),
            cards=_union(self.cards, other.cards),
            handles=_union(self.handles, other.handles),
            externals=_union(self.externals, other.externals),
        )

    def cache_key(self) -> str:
        """A stable key naming these identifiers (order-independent)."""
        return "&".join(f"{k}={v}" for k, v in sorted(self.pairs()))

    def __bool__(self) -> bool:
        return bool(self.pairs())


def _union(a: tuple[T, ...], b: tuple[T, ...]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(a + b))


class InvalidIdentifier(ValueError):
    """An identifier that cannot be used; the message says why, for an agent or an admin."""


def normalise_email(raw: str) -> str:
    """A lower-case email with an ASCII (IDNA 2008) domain, however it was pasted."""
    # pasted: `mailto:…`, `Name <a@b.fr>`, quotes, trailing punctuation, invisible characters
    value = _unwrap_email(raw).lower()
    if not EMAIL.match(value):
        raise InvalidIdentifier(f"not an email address: {_hint(raw)}")
    local, _, domain = value.rpartition("@")
    try:
        domain = _ascii_domain(domain)
    except idna.IDNAError as exc:
        raise InvalidIdentifier(f"not a valid email domain: {_hint(raw)}") from exc
    return f"{local}@{domain}"


def email_for_source(email: str, form: Literal["ascii", "unicode"]) -> str:
    """An email as a source stores it: its domain in ASCII (`xn--…`) or in Unicode."""
    value = normalise_email(email)
    if form == "ascii":
        return value
    local, _, domain = value.rpartition("@")
    return f"{local}@{idna.decode(domain)}"


@functools.lru_cache(maxsize=4096)  # a few domains (gmail.com…) carry most addresses
def _ascii_domain(domain: str) -> str:
    # UTS 46 then IDNA 2008: `straße.de` keeps its ß (Python's own codec, IDNA 2003, gives
    # `strasse.de`, another domain); raises idna.IDNAError for what is no domain at all
    return idna.encode(domain, uts46=True).decode("ascii")


def _unwrap_email(raw: str) -> str:
    """The address alone, without what pasting it added."""
    text = _trim(raw.translate(EMAIL_NOISE))
    angled = ANGLED.fullmatch(text)
    if angled:
        text = _trim(angled.group(1))
    if text[:7].lower() == "mailto:":
        text = _trim(text[7:].partition("?")[0])  # a mailto link's ?subject=… is not the address
    return text


def _trim(text: str) -> str:
    """Without surrounding spaces and quotes, nor trailing `.`, `,`, `;`."""
    while True:
        trimmed = text.strip().rstrip(".,;").strip()
        if len(trimmed) >= 2 and QUOTES.get(trimmed[0]) == trimmed[-1]:
            trimmed = trimmed[1:-1]
        if trimmed == text:
            return text
        text = trimmed


_PHONES: LRUCache[tuple[str, str], str | InvalidIdentifier] = LRUCache(maxsize=4096)
_PHONES_LOCK = threading.Lock()


def normalise_phone(raw: str, region: str) -> str:
    """E.164 form of a phone number written in any usual way (`+33 (0)6…`, `0033 6…`, `06.53…`).
    The last few thousand answers are remembered (libphonenumber's parse is most of a warm
    lookup's identifier work, and a record's numbers come back at every opening); a number
    alone, tied to no one, and forgotten with the rest at an erasure (`forget_phones`)."""
    key = (raw, region)
    with _PHONES_LOCK:
        known = _PHONES.get(key)
    if known is None:
        try:
            known = _normalise_phone(raw, region)
        except InvalidIdentifier as refused:
            known = refused
        with _PHONES_LOCK:
            _PHONES[key] = known
    if isinstance(known, InvalidIdentifier):
        raise InvalidIdentifier(str(known))
    return known


def forget_phones() -> None:
    """Drop the remembered phone numbers (a person was erased)."""
    with _PHONES_LOCK:
        _PHONES.clear()


def _normalise_phone(raw: str, region: str) -> str:
    text = raw.strip().replace("(0)", "")
    text = re.sub(r"^00", "+", re.sub(r"[\s.\-/()]", "", text))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(f"not a phone number: {_hint(raw)}") from exc
    # A number written in international form with a possible length is kept even when its area
    # code is unknown to libphonenumber (the white paper's own +32 (0)186953033 is such a number).
    international = text.startswith("+")
    possible = international and phonenumbers.is_possible_number(number)
    if not (phonenumbers.is_valid_number(number) or possible):
        raise InvalidIdentifier(f"not a valid phone number: {_hint(raw)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_card(raw: str) -> str:
    """A loyalty card number without spaces or dashes, upper case."""
    value = re.sub(r"[\s\-.]", "", raw).upper()
    if not value.isalnum():
        raise InvalidIdentifier(f"not a card number: {_hint(raw)}")
    return value


def normalise_handle(raw: str) -> str:
    """A social handle, lower case without its @, optionally `network:` first
    (`Instagram:@Claire_Deco67` → `instagram:claire_deco67`)."""
    match = HANDLE.match(raw.strip().lower().replace(": ", ":"))
    if not match:
        raise InvalidIdentifier(f"not a social handle: {_hint(raw)}")
    network, name = match.groups()
    return f"{network}:{name}" if network else name


NORMALISERS = {
    "email": lambda raw, _region: normalise_email(raw),
    "phone": normalise_phone,
    "card": lambda raw, _region: normalise_card(raw),
    "handle": lambda raw, _region: normalise_handle(raw),
    "external": lambda raw, _region: str(raw).strip(),
}


def normalise(kind: IdentifierKind, raw: str, region: str) -> str | None:
    """The normal form of one identifier, or None when it cannot be used."""
    try:
        return NORMALISERS[kind](str(raw), region) or None
    except InvalidIdentifier:
        return None


Raw = str | Sequence[str] | None


def identifiers_from(region: str, *, email: Raw = None, phone: Raw = None, card: Raw = None,
                     handle: Raw = None) -> Identifiers:
    """Identifiers from raw input (one value or several of each kind); raises InvalidIdentifier
    naming the value that is unusable."""
    return Identifiers(
        emails=tuple(dict.fromkeys(normalise_email(v) for v in _values(email))),
        phones=tuple(dict.fromkeys(normalise_phone(v, region) for v in _values(phone))),
        cards=tuple(dict.fromkeys(normalise_card(v) for v in _values(card))),
        handles=tuple(dict.fromkeys(normalise_handle(v) for v in _values(handle))),
    )


def _values(raw: Raw) -> list[str]:
    if raw is None:
        return []
    values = [raw] if isinstance(raw, str) else list(raw)
    return [v for v in values if v and v.strip()]


def fold_name(name: str) -> str:
    """A name as people compare it: ASCII words, no case (`O’Brien-Łukasz` → `obrien lukasz`)."""
    ascii_name = anyascii(name).replace("'", "").replace("`", "")  # O’Brien, Oʼ, O´ → O'
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_name.casefold()).split())


def name_key(name: str) -> str:
    """A name as the link store searches it, words squashed (`Le Gall`, `legall` → `legall`)."""
    # `ae`, `oe`, `ue` → `a`, `o`, `u` in each word on both sides, so Mueller finds Müller and
    # Aeschbach Äschbach; Michael and Michal collide too, which a search may afford
    words = (re.sub(r"([aou])e", r"\1", word) for word in fold_name(name).split())
    return "".join(words)[:NAME_KEY_MAX]


def phone_region(country: str | None, default: str) -> str:
    """The phone region of a country as sources write it (`BE`, `BEL`, `België`), or `default`."""
    if not country or not country.strip():
        return default
    code = country.strip().upper()
    if code in phonenumbers.SUPPORTED_REGIONS:
        return code
    return _country_index().get(code) or _country_index().get(name_key(country)) or default


@functools.cache
def _country_index() -> dict[str, str]:
    """Phone regions by ISO alpha-3 (and numeric) code and by country name key, from CLDR."""
    index: dict[str, str] = {}
    for alias, codes in get_global("territory_aliases").items():
        if len(codes) == 1 and codes[0] in phonenumbers.SUPPORTED_REGIONS:
            index[alias.upper()] = codes[0]  # BEL → BE, UK → GB
    for language in COUNTRY_LANGUAGES:
        for code, name in Locale(language).territories.items():
            if code in phonenumbers.SUPPORTED_REGIONS:
                index.setdefault(name_key(name), code)
    return index


def _hint(raw: str) -> str:
    """A short, non-identifying echo of bad input for messages (never logged in full)."""
    text = raw.strip()
    return f"'{text[:3]}…' ({len(text)} characters)" if len(text) > 6 else f"'{text}'"
