"""Corrections an agent makes from the record: which canonical fields may be corrected, which
source takes each (its `writes:`), the new value normalised and checked before anything is
kept, and whether a record shows it (the check that confirms the change once sent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connector.customer.refusals import ChangeRefused, InvalidChange, may
from connector.identifiers import InvalidIdentifier, normalise_email, normalise_phone
from connector.models import CORRECTABLE, CustomerProfile, SourceState

# a source that did not answer this lookup: whether it knows the person is not known now
UNANSWERED = frozenset({SourceState.ERROR, SourceState.TIMEOUT, SourceState.CIRCUIT_OPEN})


class InvalidCorrection(InvalidChange):
    """A correction that cannot be made as given (HTTP 400); `reason`: `correction.error.*`."""


class CorrectionRefused(ChangeRefused):
    """A correction that may not be made now (HTTP `status`: 409, 503)."""


@dataclass(frozen=True)
class Correction:
    """A checked correction: the field, the source that takes it, the values it sends."""

    field: str
    source: str
    new: str
    old: str
    external: str

    def values(self) -> dict[str, str]:
        """What the source's request is filled with (`{change}` is added by the outbox)."""
        return {"new": self.new, "old": self.old, "external": self.external}


def normalised(field: str, raw: object, region: str) -> str:
    """The value as the record keeps it: an email lower-cased with an IDNA domain, a phone in
    E.164 (InvalidCorrection when it is not one)."""
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


def held(profile: CustomerProfile, field: str, region: str) -> list[str]:
    """The values the record holds in a correctable field, normalised (those that cannot be
    are left out)."""
    section, _, name = field.partition(".")
    value = getattr(getattr(profile, section, None), name, None)
    found = []
    for item in value if isinstance(value, list) else [value]:
        try:
            found.append(normalised(field, item, region))
        except InvalidCorrection:
            continue
    return found


def shows(profile: CustomerProfile, field: str, value: str, region: str) -> bool:
    """Whether the record holds `value` in the field (both normalised)."""
    return value in held(profile, field, region)


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
    if new in holding:
        raise InvalidCorrection(f"{field}: the record holds this value already", "held")
    old = ""
    if raw_old not in (None, ""):
        old = normalised(field, raw_old, region)
        if old not in holding:
            raise CorrectionRefused(f"{field}: the value to replace is not in the record",
                                    "not_held")
    elif holding:
        old = holding[0]  # the record's first value is the one an agent sees and corrects
    return Correction(field, chosen[0], new, old, profile.identity.external_ids[chosen[0]])
