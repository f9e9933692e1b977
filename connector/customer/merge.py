"""Merge what several sources say about one customer: manifest order decides, lists join;
a consent is the newest one said."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from connector.identifiers import normalise, phone_region
from connector.models import (
    CONSENT_KINDS,
    Address,
    Consent,
    ConsentEntry,
    ConsentValue,
    Identity,
    Loyalty,
    Status,
)
from connector.sources.base import SourceResult

LIST_SECTIONS = ("orders", "store_purchases", "reviews", "campaigns", "notes", "agenda",
                 "documents")
T = TypeVar("T")
Found = tuple[str, str, str | None]
log = logging.getLogger(__name__)


def merged_sections(found: dict[str, SourceResult], region: str) -> dict[str, Any]:
    """Sources in manifest order: first value wins for single fields, lists are concatenated."""
    identities = [r.sections["identity"] for r in found.values() if "identity" in r.sections]
    statuses = [r.sections["status"] for r in found.values() if "status" in r.sections]
    loyalties = [r.sections["loyalty"] for r in found.values() if "loyalty" in r.sections]
    merged: dict[str, Any] = {
        "identity": merge_identity(identities, found, region),
        "status": first_values(Status, statuses, union=("tags",)),
        "loyalty": first_values(Loyalty, loyalties),
        "consent": merge_consent(found),
    }
    for name in (*LIST_SECTIONS, "surveys", "contacts"):
        items = [i for r in found.values() for i in r.sections.get(name, [])]
        merged[name] = sorted(items, key=newest_key, reverse=True)
    for result in found.values():
        if "kpis" in result.sections:
            merged.setdefault("kpis", result.sections["kpis"])
    return merged


def merge_identity(identities: list[Identity], found: dict[str, SourceResult],
                   region: str) -> Identity:
    """One identity: first values win, emails and phones normalised and joined (one the
    normaliser refuses is dropped, logged by source and field, never its value)."""
    log_refused(found, region)
    identity = first_values(Identity, identities, union=("emails", "phones"))
    emails = [e for raw in identity.emails if (e := normalise("email", raw, region))]
    phones = [p for i in identities for raw in i.phones
              if (p := normalise("phone", raw, phone_region(i.address.country, region)))]
    address = next((i.address for i in identities if i.address != Address()), Address())
    full_name = identity.full_name or " ".join(
        n for n in (identity.first_name, identity.last_name) if n
    ) or None
    external = {name: r.external_id for name, r in found.items() if r.external_id}
    return identity.model_copy(update={
        "emails": list(dict.fromkeys(emails)), "phones": list(dict.fromkeys(phones)),
        "address": address, "full_name": full_name, "external_ids": external,
    })


def merge_consent(found: dict[str, SourceResult]) -> Consent:
    """Each consent as the source that said it last: given or refused with the newest day
    wins over older and undated ones; on the same day (or none), a refusal wins (the safe
    reading), then the manifest's order. A source that does not know says nothing."""
    said: dict[str, ConsentEntry] = {}
    for name, result in found.items():
        consent = result.sections.get("consent")
        if consent is None:
            continue
        for kind in CONSENT_KINDS:
            entry: ConsentEntry = getattr(consent, kind)
            if entry.known and (kind not in said or _later(entry, said[kind])):
                said[kind] = entry.model_copy(update={"source": name})
    return Consent.model_validate({kind: entry.model_dump() for kind, entry in said.items()})


def _later(entry: ConsentEntry, kept: ConsentEntry) -> bool:
    """Whether `entry` overrides the consent kept from an earlier source."""
    if entry.date != kept.date:
        return kept.date is None or (entry.date is not None and entry.date > kept.date)
    return entry.value is ConsentValue.REFUSED and kept.value is not ConsentValue.REFUSED


def log_refused(found: dict[str, SourceResult], region: str) -> None:
    """Log each email or phone of a source's identity that the record cannot use."""
    for name, result in found.items():
        identity = result.sections.get("identity")
        if identity is None:
            continue
        local = phone_region(identity.address.country, region)
        for field, kind, values in (("emails", "email", identity.emails),
                                    ("phones", "phone", identity.phones)):
            for n, raw in enumerate(values):
                if raw and normalise(kind, raw, local) is None:  # type: ignore[arg-type]
                    log.warning("source %s: dropped identity.%s[%d] (not %s the record can "
                                "use)", name, field, n,
                                "an email" if kind == "email" else "a phone number")


def first_values(model: type[T], values: list[Any], union: tuple[str, ...] = ()) -> T:
    """The first non-default value of each field; `union` fields join their lists."""
    merged: dict[str, Any] = {}
    for value in values:
        for key, item in value.model_dump(exclude_defaults=True).items():
            if key in union:
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *item]))
            else:
                merged.setdefault(key, item)
    return model.model_validate(merged)  # type: ignore[attr-defined, no-any-return]


def found_identifiers(found: dict[str, SourceResult], region: str) -> list[Found]:
    """Every identifier the sources gave for the customer: (kind, value, source)."""
    triples: list[Found] = []
    for name, result in found.items():
        if result.external_id:
            triples.append((name, result.external_id, name))
        identity = result.sections.get("identity")
        if identity is not None:
            triples += [("email", e, name) for raw in identity.emails
                        if (e := normalise("email", raw, region))]
            local = phone_region(identity.address.country, region)  # the record's own country
            triples += [("phone", p, name) for raw in identity.phones
                        if (p := normalise("phone", raw, local))]
        loyalty = result.sections.get("loyalty")
        if loyalty is not None and loyalty.card and (c := normalise("card", loyalty.card, region)):
            triples.append(("card", c, name))
    return triples


def newest_key(item: Any) -> tuple[int, str]:
    """Sort key putting the newest dated items first (undated last) when reversed."""
    value = getattr(item, "date", None)
    return (1, value.isoformat()) if value is not None else (0, "")
