"""Normalise the identifiers a customer is known by, so every source compares like with like."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import phonenumbers

T = TypeVar("T")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

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
    """Trimmed, lower-case email (mailboxes are case-insensitive in practice, domains always)."""
    value = raw.strip().lower()
    if not EMAIL.match(value):
        raise InvalidIdentifier(f"not an email address: {_hint(raw)}")
    local, _, domain = value.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidIdentifier(f"not a valid email domain: {_hint(raw)}") from exc
    return f"{local}@{domain}"


def normalise_phone(raw: str, region: str) -> str:
    """E.164 form of a phone number written in any usual way (`+33 (0)6…`, `0033 6…`, `06.53…`)."""
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
    """A name folded for comparison: no accents, no case ("Denève" == "DENEVE")."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _hint(raw: str) -> str:
    """A short, non-identifying echo of bad input for messages (never logged in full)."""
    text = raw.strip()
    return f"'{text[:3]}…' ({len(text)} characters)" if len(text) > 6 else f"'{text}'"
