"""Corrections an agent makes from the record: which canonical fields may be corrected, which
source takes each (its `writes:`), the new value normalised and checked before anything is
kept, and whether a record shows it (the check that confirms the change once sent). A value is
a string (an email, a phone) or, for a structured field (the postal address), its parts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from connector.customer.refusals import ChangeRefused, InvalidChange, may
from connector.identifiers import InvalidIdentifier, normalise_email, normalise_phone
from connector.models import CORRECTABLE, Canonical, CustomerProfile, SourceState

# a source that did not answer this lookup: whether it knows the person is not known now
UNANSWERED = frozenset({SourceState.ERROR, SourceState.TIMEOUT, SourceState.CIRCUIT_OPEN})

# a structured field's parts, each with its longest length; its required parts
PARTS: dict[str, dict[str, int]] = {
    "identity.address": {"line1": 120, "postcode": 12, "city": 80, "country": 2}}
REQUIRED: dict[str, tuple[str, ...]] = {"identity.address": ("line1", "city")}
# a postcode, lightly: letters and digits, maybe spaced or hyphenated (SW1A 1AA, 1000-001)
POSTCODE = re.compile(r"[0-9A-Z](?:[0-9A-Z -]*[0-9A-Z])?")
CODES = {"postcode": "postcode", "country": "country"}  # parts upper-cased, their own reason
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)  # ISO 3166 alpha-2 codes, as libphonenumber
Value = str | dict[str, str]


class InvalidCorrection(InvalidChange):
    """A correction that cannot be made as given (HTTP 400); `reason`: `correction.error.*`."""


class CorrectionRefused(ChangeRefused):
    """A correction that may not be made now (HTTP `status`: 409, 503)."""


@dataclass(frozen=True)
class Correction:
    """A checked correction: the field, the source that takes it, the values it sends."""

    field: str
    source: str
    new: Value
    old: Value
    external: str

    def values(self) -> dict[str, Any]:
        """What the source's request is filled with (`{change}` is added by the outbox): a
        structured value as an object, so that `{new.line1}` names its part."""
        return {"new": self.new, "old": self.old, "external": self.external}


def normalised(field: str, raw: object, region: str) -> Value:
    """The value as the record keeps it: an email lower-cased with an IDNA domain, a phone in
    E.164, an address's parts checked (InvalidCorrection when it is not one)."""
    if field in PARTS:
        return _checked_parts(field, raw)
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidCorrection(f"{field}: give the new value as a non-empty string")
    try:
        if field == "identity.emails":
            return normalise_email(raw)
        if field == "identity.phones":
            return normalise_phone(raw, region)
    except InvalidIdentifier as exc:
        raise InvalidCorrection(f"{field}: {exc}") from exc
    raise InvalidCorrection(f"'{field}' cannot be corrected (one of: {', '.join(CORRECTABLE)})",
                            "unknown_field")


def _checked_parts(field: str, raw: object) -> dict[str, str]:
    """A structured value given as an object of its parts: each trimmed, bounded, free of
    control characters, the required ones given, a postcode and a country code that look like
    one (InvalidCorrection, its reason naming what is wrong)."""
    names = PARTS[field]
    if not isinstance(raw, Mapping):
        raise InvalidCorrection(f"{field}: give the new value as an object "
                                f"{{{', '.join(names)}}}")
    unknown = [str(name) for name in raw if name not in names]
    if unknown:
        raise InvalidCorrection(f"{field}.{unknown[0]}: unknown part (one of: "
                                f"{', '.join(names)})")
    parts = {name: _part(field, name, raw.get(name), longest)
             for name, longest in names.items()}
    missing = [name for name in REQUIRED[field] if not parts[name]]
    if missing:
        raise InvalidCorrection(f"{field}.{missing[0]}: required", "required")
    if parts.get("postcode") and not POSTCODE.fullmatch(parts["postcode"]):
        raise InvalidCorrection(f"{field}.postcode: letters and digits only, maybe spaced or "
                                "hyphenated", "postcode")
    if parts.get("country") and parts["country"] not in COUNTRIES:
        raise InvalidCorrection(f"{field}.country: not an ISO 3166 country code (FR, BE…)",
                                "country")
    return parts


def _part(field: str, name: str, raw: object, longest: int) -> str:
    """One part of a structured value: trimmed, its spaces collapsed, codes upper-cased."""
    where, reason = f"{field}.{name}", CODES.get(name, "invalid")
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidCorrection(f"{where}: give a string", reason)
    text = raw.strip()
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text):
        raise InvalidCorrection(f"{where}: control characters are not allowed", reason)
    text = " ".join(text.split())
    if len(text) > longest:
        raise InvalidCorrection(f"{where}: at most {longest} characters", reason)
    return text.upper() if name in CODES else text


def _loose_parts(field: str, raw: object) -> dict[str, str] | None:
    """A structured value as a record or the outbox holds it, read without checking it (a
    source may keep an address the form would refuse); None when it is no such value."""
    if isinstance(raw, Canonical):  # the record's own (an Address)
        raw = raw.model_dump()
    if not isinstance(raw, Mapping):
        return None
    parts = {name: " ".join(str(raw.get(name) or "").split()) for name in PARTS[field]}
    return parts if any(parts.values()) else None


def _same(field: str, one: Value, other: Value) -> bool:
    """Whether two normalised values are the same (a structured one part by part, in any
    case: a source that writes an address in capitals still shows it)."""
    if field not in PARTS:
        return one == other
    parts = [_loose_parts(field, value) or {} for value in (one, other)]
    return all(parts[0].get(name, "").casefold() == parts[1].get(name, "").casefold()
               for name in PARTS[field])


def held(profile: CustomerProfile, field: str, region: str) -> list[Value]:
    """The values the record holds in a correctable field, normalised (those that cannot be
    are left out); a structured field's one value, as the record has it."""
    section, _, name = field.partition(".")
    value = getattr(getattr(profile, section, None), name, None)
    if field in PARTS:
        parts = _loose_parts(field, value)
        return [parts] if parts is not None else []
    found: list[Value] = []
    for item in value if isinstance(value, list) else [value]:
        try:
            found.append(normalised(field, item, region))
        except InvalidCorrection:
            continue
    return found


def shows(profile: CustomerProfile, field: str, value: object, region: str) -> bool:
    """Whether the record holds `value` in the field (both normalised; a structured value
    as its parts)."""
    given = _loose_parts(field, value) if field in PARTS else value
    if given is None or not isinstance(given, str | dict):
        return False
    return any(_same(field, given, found) for found in held(profile, field, region))


Writes = Mapping[str, Mapping[str, list[str] | None]]  # source -> field -> roles (None: all)


def takers(writes: Writes, field: str, role: str | None = None,
           checked: bool = False) -> list[str]:
    """The sources that take corrections of this field, in manifest order; with `checked`,
    only those that let an agent of `role` make it."""
    return [name for name, fields in writes.items()
            if field in fields and (not checked or may(fields[field], role))]


def writes_of(sources: Mapping[str, object]) -> Writes:
    """Each source's `writes:` as field -> the roles that may make it."""
    return {name: {field: spec.roles for field, spec in (getattr(config, "writes", {}) or {})
                   .items()} for name, config in sources.items()}


def check(profile: CustomerProfile, field: str, raw_new: object, raw_old: object,
          source: str | None, writes: Writes, region: str,
          role: str | None = None) -> Correction:
    """A correction of this record, checked: a field some source takes, that source knowing
    the person (its own id in the record), a valid new value the record does not hold yet,
    and the value it replaces one the record holds (InvalidCorrection, CorrectionRefused)."""
    if field not in CORRECTABLE:
        raise InvalidCorrection(f"'{field}' cannot be corrected (one of: "
                                f"{', '.join(CORRECTABLE)})", "unknown_field")
    sources = takers(writes, field)
    if source is not None and source not in sources:
        raise InvalidCorrection(f"source '{source}' takes no correction of {field} (those "
                                f"that do: {', '.join(sources) or 'none'})", "no_source")
    if not sources:
        raise CorrectionRefused(f"no source takes corrections of {field}: declare "
                                f"`writes: {{{field}: …}}` on one (docs/corrections.md)",
                                "no_source")
    if not takers(writes, field, role, checked=True) or (
            source is not None and not may(writes[source][field], role)):
        raise CorrectionRefused(f"an agent of role '{role or 'none'}' may not correct {field}",
                                "role", 403)
    asked = [s for s in ([source] if source else sources) if may(writes[s][field], role)]
    down = [s for s in asked if s in profile.sources
            and profile.sources[s].status in UNANSWERED]
    chosen = [s for s in asked if profile.identity.external_ids.get(s)]
    if not chosen and down:
        raise CorrectionRefused(f"{', '.join(down)} did not answer: try again in a moment",
                                "unavailable", 503)
    if not chosen:
        raise CorrectionRefused(f"{', '.join([source] if source else sources)} does not know "
                                "this customer: nothing there to correct", "unknown_person")
    new = normalised(field, raw_new, region)
    holding = held(profile, field, region)
    if any(_same(field, new, value) for value in holding):
        raise InvalidCorrection(f"{field}: the record holds this value already", "held")
    return Correction(field, chosen[0], new, _replaced(field, raw_old, holding, region),
                      profile.identity.external_ids[chosen[0]])


def _replaced(field: str, raw_old: object, holding: list[Value], region: str) -> Value:
    """The value a correction replaces: the one given, if the record holds it, else the
    record's first (the one an agent sees and corrects); "" when it holds none."""
    if raw_old in (None, "", {}):
        return holding[0] if holding else ""
    old = (_loose_parts(field, raw_old) or {}) if field in PARTS \
        else normalised(field, raw_old, region)
    found = [value for value in holding if _same(field, old, value)]
    if not found:
        raise CorrectionRefused(f"{field}: the value to replace is not in the record",
                                "not_held")
    return found[0]
