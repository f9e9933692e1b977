"""Normalise the identifiers a customer is known by, so every source compares like with like."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import phonenumbers

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

IdentifierKind = Literal["email", "phone", "card"]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = ("email", "phone", "card")


@dataclass(frozen=True)
class Identifiers:
    """The normalised identifiers a customer is looked up by (emails, E.164 phones, cards)."""

    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    cards: tuple[str, ...] = ()

    def of(self, kind: IdentifierKind) -> tuple[str, ...]:
        """The values of one kind of identifier."""
        return {"email": self.emails, "phone": self.phones, "card": self.cards}[kind]

    def merged(self, other: Identifiers) -> Identifiers:
        """These identifiers plus the other's, order kept, no repeats."""
        return Identifiers(
            emails=_union(self.emails, other.emails),
            phones=_union(self.phones, other.phones),
            cards=_union(self.cards, other.cards),
        )

    def cache_key(self) -> str:
        """A stable key naming these identifiers (order-independent)."""
        parts = [f"{k}={v}" for k in IDENTIFIER_KINDS for v in sorted(self.of(k))]
        return "&".join(parts)

    def __bool__(self) -> bool:
        return bool(self.emails or self.phones or self.cards)


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
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


def normalise(kind: IdentifierKind, raw: str, region: str) -> str | None:
    """The normal form of one identifier, or None when it cannot be used."""
    try:
        if kind == "email":
            return normalise_email(raw)
        if kind == "phone":
            return normalise_phone(raw, region)
        return normalise_card(raw)
    except InvalidIdentifier:
        return None


def identifiers_from(
    region: str, *, email: str | None = None, phone: str | None = None, card: str | None = None
) -> Identifiers:
    """Identifiers from raw input; raises InvalidIdentifier naming the value that is unusable."""
    return Identifiers(
        emails=(normalise_email(email),) if email else (),
        phones=(normalise_phone(phone, region),) if phone else (),
        cards=(normalise_card(card),) if card else (),
    )


def fold_name(name: str) -> str:
    """A name folded for comparison: no accents, no case ("Denève" == "DENEVE")."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _hint(raw: str) -> str:
    """A short, non-identifying echo of bad input for messages (never logged in full)."""
    text = raw.strip()
    return f"'{text[:3]}…' ({len(text)} characters)" if len(text) > 6 else f"'{text}'"
