"""On-demand details: fetched when the agent asks, for one item of the customer's record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.customer.profile import ProfileAssembler
from connector.i18n import LOCALES
from connector.models import SECTIONS, CustomerProfile
from connector.sources.base import DetailSpec
from connector.sources.cache import Policy

# canonical coded field -> a source's value (case-folded) -> its name per language
ValueNames = Mapping[str, Mapping[str, Mapping[str, str]]]


class UnknownDetail(KeyError):
    """No such source or detail in the manifest."""


@dataclass(frozen=True)
class DetailOffer:
    """An on-demand detail an item of a section can open (declared by a source)."""

    source: str  # the source that answers it
    detail: str  # its name in that source's `details`
    label: dict[str, str]  # the button's text per language
    key: str  # the item field whose value is the detail's key (e.g. "number")


@dataclass(frozen=True)
class DetailAnswer:
    """A detail's values and how old they are."""

    source: str
    detail: str
    key: str
    label: dict[str, str]  # per language
    fields: dict[str, Any]  # field name -> the value as read
    fetched_at: dt.datetime
    from_cache: bool
    spec: DetailSpec  # its declaration: each field's label and format
    # the manifest's names (`sidebar.values`) of the coded fields its fields hold (`values:`)
    names: ValueNames = field(default_factory=dict)


class DetailService:
    """Fetches details through the sources' guards and a short-lived cache."""

    def __init__(self, assembler: ProfileAssembler) -> None:
        self.assembler = assembler
        self.offers = _offers(assembler)
        # the manifest's sidebar.values, which name the coded values detail fields hold
        sidebar = getattr(assembler.manifest, "sidebar", None)
        self.value_names: ValueNames = getattr(sidebar, "values", None) or {}

    def spec(self, source: str, detail: str) -> DetailSpec:
        """A detail's declaration; UnknownDetail when the manifest has none."""
        config = self.assembler.manifest.sources.get(source)
        spec = getattr(config, "details", {}).get(detail) if config is not None else None
        if spec is None:
            raise UnknownDetail(f"{source}.{detail}")
        return spec  # type: ignore[no-any-return]

    def get(self, source: str, detail: str, key: str) -> DetailAnswer:
        """The detail for one key (raises UnknownDetail or SourceError)."""
        spec = self.spec(source, detail)
        guard = self.assembler.guards[source]
        adapter = self.assembler.sources[source]
        loaded = self.assembler.cache.load(
            f"detail:{source}:{detail}:{key}",
            lambda: guard.run(lambda: adapter.detail(detail, key)),
            Policy(ttl_for=lambda _: spec.ttl_s, stale_ttl_s=0),
        )
        names = {f.values: self.value_names.get(f.values, {})
                 for f in spec.fields.values() if f.values}
        return DetailAnswer(source, detail, key, spec.label or _every_language(detail),
                            loaded.value, dt.datetime.fromtimestamp(loaded.stored_at, dt.UTC),
                            loaded.from_cache, spec, names)

    def belongs(self, profile: CustomerProfile, source: str, detail: str, key: str) -> bool:
        """Whether key names an item of this customer's record (an agent may only open details
        of the customer in front of them)."""
        spec = self.spec(source, detail)
        if spec.of is None or spec.key is None or spec.of not in SECTIONS:
            return False
        section = getattr(profile, spec.of, None)
        items = section if isinstance(section, list) else [section]
        return any(str(getattr(item, spec.key, None)) == key for item in items
                   if getattr(item, "source", source) == source)


def _offers(assembler: ProfileAssembler) -> dict[str, tuple[DetailOffer, ...]]:
    """For each section, the details its items can open, as the manifest declares them."""
    offers: dict[str, list[DetailOffer]] = {}
    for name, config in assembler.manifest.sources.items():
        for detail, spec in getattr(config, "details", {}).items():
            if spec.of and spec.key:
                offers.setdefault(spec.of, []).append(
                    DetailOffer(name, detail, spec.label or _every_language(detail), spec.key))
    return {section: tuple(found) for section, found in offers.items()}


def _every_language(text: str) -> dict[str, str]:
    return {locale: text for locale in LOCALES}
