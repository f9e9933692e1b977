"""Map a source's raw answer into canonical sections, driven by the manifest's JMESPath fields."""

from __future__ import annotations

import logging
import re
import types
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import BaseModel

from connector.identifiers import Identifiers
from connector.models import SECTIONS
from connector.sources.base import (
    CandidatesMap,
    DetailSpec,
    SectionMap,
    SourceCandidate,
    SourceConfig,
    SourceMisconfigured,
    SourceResult,
)
from connector.sources.expression_errors import expression_error, failing_as
from connector.sources.values import Mapped, Place, off_scale, validated

log = logging.getLogger(__name__)

ISO_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


@cache
def compiled(expression: str) -> ParsedResult:
    """A compiled JMESPath expression (the manifest checks them all at load)."""
    return jmespath.compile(expression)


def search(expression: str, document: Any) -> Any:
    """Evaluate a JMESPath expression against a document."""
    return compiled(expression).search(document)


def field_type(model: type[BaseModel], dotted: str) -> Any:
    """The annotation of a (possibly nested, dotted) field of a canonical model, or None."""
    head, _, rest = dotted.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return None
    annotation = _unwrap_optional(info.annotation)
    if rest:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return field_type(annotation, rest)
        return None
    return annotation


def _unwrap_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


@dataclass(frozen=True)
class Reader:
    """Reads raw values into Python values of the canonical field types."""

    decimal_comma: bool = False
    date_formats: tuple[str, ...] = ()

    def coerce(self, value: Any, target: Any) -> Any:
        """Convert a raw value to the target type; raise ValueError when it cannot be read."""
        if value is None or value == "":
            return None
        origin = typing.get_origin(target)
        if origin is list:
            (inner,) = typing.get_args(target)
            items = value if isinstance(value, list) else [value]
            return [v for v in (self.coerce(i, inner) for i in items) if v is not None]
        if target is Decimal:
            return self._decimal(value)
        if target is datetime:
            return self._datetime(value)
        if target is date:
            return self._datetime(value).date() if not isinstance(value, date) else value
        if target is int and isinstance(value, str):
            return int(self._decimal(value))
        if target is str and not isinstance(value, str):
            return str(value)
        return value

    def number(self, value: Any) -> Decimal:
        """A raw value read as a Decimal; raise ValueError when it is not a number."""
        return self._decimal(value)

    def _decimal(self, value: Any) -> Decimal:
        number = self._any_decimal(value)
        if not number.is_finite():
            raise ValueError("not a finite number")
        return number

    def _any_decimal(self, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise ValueError("a truth value, not a number")
        if isinstance(value, (int, Decimal)):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(str(value))
        text = re.sub(r"[\s\u00a0\u202f€$£]", "", str(value))
        if self.decimal_comma:
            text = text.replace(".", "").replace(",", ".")
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise ValueError("not a number") from exc

    def _datetime(self, value: Any) -> datetime:
        parsed = self._parse_datetime(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _parse_datetime(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=UTC)
        text = str(value).strip().replace("Z", "+00:00")
        for fmt in (*self.date_formats, *ISO_DATE_FORMATS):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        try:
            return datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError("not a date in the expected formats") from exc


def map_sections(document: Any, config: SourceConfig, source: str) -> Mapped:
    """Apply every section mapping of a source to its raw answer. A value that cannot be read
    as its field's type, or a score off its scale, is dropped; an item left without what it
    needs is dropped; the rest of the answer stands."""
    reader = Reader(config.decimal_comma, tuple(config.date_formats))
    out = Mapped(sections={})
    for name, section in config.sections.items():
        model, is_list = SECTIONS[name]
        if is_list:
            try:
                raw_items = search(section.items or "@", document) or []
            except JMESPathError as exc:
                out.drop(source, f"{name} (items)", f"expression failed: {expression_error(exc)}")
                continue
            if not isinstance(raw_items, list):
                raw_items = [raw_items]
            items = [_map_one(i, Place(name, f"{name}[{n}]", source), section, model, reader,
                              out) for n, i in enumerate(raw_items)]
            out.sections[name] = [i for i in items if i is not None]
        else:
            try:
                root = search(section.path, document) if section.path else document
            except JMESPathError as exc:
                out.drop(source, f"{name} (path)", f"expression failed: {expression_error(exc)}")
                continue
            if root is not None:
                value = _map_one(root, Place(name, name, source), section, model, reader, out)
                if value is not None:
                    out.sections[name] = value
    return out


def map_item(raw: Any, section: SectionMap, name: str, where: str, source: str,
             reader: Reader, out: Mapped) -> Any:
    """One item mapped as an item of section `name` (a change feed's review or loyalty card),
    or None when it cannot stand; what was dropped is added to `out`."""
    model = SECTIONS[name][0]
    return _map_one(raw, Place(name, where, source), section, model, reader, out)


def _map_one(raw: Any, place: Place, section: SectionMap, model: type[BaseModel],
             reader: Reader, out: Mapped) -> BaseModel | None:
    values: dict[str, Any] = {}
    for dotted, spec in section.fields.items():
        try:
            value = search(spec.path, raw)
        except JMESPathError as exc:
            out.drop(place.source, f"{place.where}.{dotted}",
                     f"expression failed: {expression_error(exc)}")
            continue
        if spec.map is not None and value is not None:
            value = spec.map.get(str(value), value)
        try:
            if spec.scale and value is not None:
                value = reader.number(value).scaleb(spec.scale)
            value = reader.coerce(value, field_type(model, dotted))
        except (ValueError, TypeError, ArithmeticError):
            out.drop(place.source, f"{place.where}.{dotted}", "unreadable as its type")
            continue
        if value is not None:
            _set_dotted(values, dotted, value)
    for dotted in off_scale(place.section, values):
        values.pop(dotted, None)
        out.drop(place.source, f"{place.where}.{dotted}", "off its scale")
    if "source" in model.model_fields:
        values["source"] = place.source
    return validated(model, values, place, out)


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


class MappedSource(ABC):
    """A source that finds a raw document for a customer; the manifest's mapping does the rest."""

    def __init__(self, name: str, config: SourceConfig) -> None:
        self.name = name
        self.config = config
        self.provides = frozenset(config.sections)

    @abstractmethod
    def find(self, ids: Identifiers) -> Any | None:
        """The raw document about the customer, or None when this source does not know them."""

    def fetch(self, ids: Identifiers) -> SourceResult:
        """Find the customer, then map the document into canonical sections."""
        document = self.find(ids)
        if document is None:
            return SourceResult(found=False)
        with failing_as(self.name, "candidates"):
            several = candidates(document, self.config.candidates)
        if len(several) > 1:
            return SourceResult(found=True, candidates=several)
        with failing_as(self.name, "id"):
            return found_result(document, self.config, self.name)

    @property
    def searchable(self) -> bool:
        """Whether the manifest gives this source a `search`."""
        return getattr(self.config, "search", None) is not None

    def search(self, query: str) -> list[SourceCandidate]:
        """Customers matching free text (source types that can search override this)."""
        return []

    def write(self, field: str, values: dict[str, str]) -> Any:
        """Apply a correction (source types that take them override this)."""
        raise SourceMisconfigured(f"{self.config.type} sources take no corrections")

    def act(self, name: str, values: dict[str, Any]) -> Any:
        """Run a back-office action (source types that offer them override this)."""
        raise SourceMisconfigured(f"{self.config.type} sources offer no actions")

    def raw_detail(self, spec: DetailSpec, key: str) -> Any:
        """The raw answer for one detail (source types with details override this)."""
        raise SourceMisconfigured(f"{self.config.type} sources have no details")

    def detail(self, kind: str, key: str) -> dict[str, Any]:
        """One on-demand detail as {field: value}; empty when the source has nothing for key."""
        spec = getattr(self.config, "details", {}).get(kind)
        if spec is None:
            raise SourceMisconfigured(f"no detail '{kind}' on this source")
        answer = self.raw_detail(spec, key)
        if answer in (None, [], {}):
            return {}
        with failing_as(self.name, f"details.{kind}.fields"):
            return {name: _plain(search(line.path, answer))
                    for name, line in spec.fields.items()}


def candidates(document: Any, spec: CandidatesMap | None) -> list[SourceCandidate]:
    """Every customer the answer lists, when the source declares where they are."""
    if spec is None:
        return []
    items = search(spec.items, document)
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        key = search(spec.id, item)
        if key is not None:
            found.append(SourceCandidate(str(key), _text(_quiet(spec.name, item)),
                                         _text(_quiet(spec.postcode, item))))
    return found


def _quiet(expression: str | None, item: Any) -> Any:
    """A candidate's name or postcode; None when its expression fails on this item (a null
    first name in a `join`): the candidate still shows, by its id."""
    try:
        return search(expression, item) if expression else None
    except JMESPathError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return value if isinstance(value, (list, dict)) else str(value)


def found_result(document: Any, config: SourceConfig, source: str) -> SourceResult:
    """The result of a source that found the customer: its sections and its own id for them."""
    mapped = map_sections(document, config, source)
    external = search(config.id, document) if config.id else None
    return SourceResult(
        found=True,
        sections=mapped.sections,
        external_id=None if external is None else str(external),
        dropped_values=mapped.dropped,
    )
