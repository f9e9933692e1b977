"""`connector check --probe`: ask every source about one customer and show, field by field,
what the manifest's mapping reads from each answer and what the record will show (a Decimal,
an ISO date, an E.164 phone, a mapped status), and what it drops and why (where, never the
value in the log) — the admin's view of a source. A source fails the probe when it cannot
answer, or when a mapped field is dropped for every item it listed."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from jmespath.exceptions import JMESPathError
from pydantic import BaseModel

from connector.identifiers import Identifiers, normalise
from connector.models import SECTIONS
from connector.sources import build_source
from connector.sources.base import (
    BuildContext,
    FieldMap,
    SectionMap,
    SourceConfig,
    SourceError,
)
from connector.sources.expression_errors import expression_error
from connector.sources.mapping import MappedSource, Reader, field_type, map_sections, search

SHOWN = 70
IDENTIFIER_FIELDS = {"emails": "email", "phones": "phone"}  # normalised when merged
DROPPED = re.compile(r"^(?P<section>[a-z_]+)\[(?P<item>\d+)\]\.(?P<field>[a-z_.]+): (?P<why>.*)$")


def probe(sources: Mapping[str, SourceConfig], context: BuildContext, ids: Identifiers,
          say: Callable[[str], None]) -> int:
    """Probe every source; how many failed (could not answer, or lost a field everywhere)."""
    failures = 0
    for name, config in sources.items():
        source = build_source(name, config, context)
        kind = config.preset or config.type
        started = time.monotonic()
        try:
            document = source.find(ids) if isinstance(source, MappedSource) else None
        except SourceError as exc:
            failures += 1
            say(f"{name} ({kind}): {exc.state.value}: {exc.public}")
            continue
        elapsed = (time.monotonic() - started) * 1000
        if document is None:
            searched = _searched(name, config, ids)
            say(f"{name} ({kind}): not found in {elapsed:.0f} ms ({searched})")
            continue
        say(f"{name} ({kind}): found in {elapsed:.0f} ms")
        for line in trace(document, config, context.default_region):
            say(f"  {line}")
        problems = map_sections(document, config, name).problems
        for problem in problems:
            say(f"  dropped {problem}")
        for line in unmapped(document, config):
            say(f"  unmapped {line}")
        lost = lost_everywhere(document, config, problems)
        for line in lost:
            say(f"  ✗ {line}")
        failures += bool(lost)
    return failures


def trace(document: Any, config: SourceConfig, region: str = "FR") -> list[str]:
    """For each mapped field, the value its expression reads and what the record shows."""
    reader = Reader(config.decimal_comma, tuple(config.date_formats))
    lines = []
    if config.id:
        found, failed = _read(config.id, document)
        lines.append(_line("id", found, failed, config.id, found))
    for section_name, section in config.sections.items():
        model, is_list = SECTIONS[section_name]
        where = section.items if is_list else section.path
        root, failed = _read(where or "@", document)
        if is_list:
            items = _listed(root)
            lines.append(f"{section_name}: {len(items)} item(s) at '{section.items}'"
                         + (f" ✗ {failed}" if failed else ""))
            root, section_name = (items[0] if items else None), section_name + "[0]"
        lines.extend(_fields(section_name, root, section, model, reader, region))
    return lines


def _read(expression: str, document: Any) -> tuple[Any, str | None]:
    try:
        return search(expression, document), None
    except JMESPathError as exc:
        return None, f"expression failed: {expression_error(exc)}"


def _fields(prefix: str, root: Any, section: SectionMap, model: type[BaseModel],
            reader: Reader, region: str) -> list[str]:
    if root is None:
        return [f"{prefix}: nothing at '{section.path or section.items}'"]
    lines = []
    for field, spec in section.fields.items():
        raw, failed = _read(spec.path, root)
        shown, why = (None, failed) if failed else as_shown(raw, spec, model, field, reader,
                                                            region)
        lines.append(_line(f"{prefix}.{field}", raw, why, spec.path, shown))
    return lines


def as_shown(raw: Any, spec: FieldMap, model: type[BaseModel], field: str, reader: Reader,
             region: str) -> tuple[Any, str | None]:
    """The value as the record will hold it, or why it will be dropped."""
    value = raw
    if spec.map is not None and value is not None:
        value = spec.map.get(str(value), value)
    try:
        if spec.scale and value is not None:
            value = reader.number(value).scaleb(spec.scale)
        value = reader.coerce(value, field_type(model, field))
    except ValueError as exc:
        return None, f"unreadable as its type ({exc})"
    except (TypeError, ArithmeticError):
        return None, "unreadable as its type"
    kind = IDENTIFIER_FIELDS.get(field.rsplit(".", 1)[-1])
    if kind and isinstance(value, list):
        normal = [normalise(kind, str(v), region) for v in value]  # type: ignore[arg-type]
        if value and not any(normal):
            return None, f"not {'an email' if kind == 'email' else 'a phone number'} " \
                         "the record can use"
        value = [n for n in normal if n]
    return value, None


def _line(label: str, raw: Any, why: str | None, path: str, shown: Any = None) -> str:
    if why is not None and raw is None:
        return f"{label:<34} ✗ {why}"
    if raw is None or raw == "" or raw == []:
        return f"{label:<34} ✗ no value at '{path}'"
    text = _cut(repr(raw))
    if why is not None:
        return f"{label:<34} = {text} ✗ dropped: {why}"
    same = (type(shown) is type(raw) and shown == raw) or shown == [raw]
    return f"{label:<34} = {text}" + ("" if same else f" → {_cut(_text(shown))}")


def _text(value: Any) -> str:
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return repr(value)


def _cut(text: str) -> str:
    return f"{text[:SHOWN]}{'…' if len(text) > SHOWN else ''}"


def unmapped(document: Any, config: SourceConfig) -> list[str]:
    """The values of fields with a `map` that it does not name, in every item: the record
    shows them as the source wrote them (a status `l` where the map says `L`)."""
    lines = []
    for section_name, section in config.sections.items():
        maps = {name: spec for name, spec in section.fields.items() if spec.map is not None}
        if not maps:
            continue
        is_list = SECTIONS[section_name][1]
        root, _ = _read((section.items if is_list else section.path) or "@", document)
        for index, item in enumerate(_listed(root) if is_list else [root]):
            place = f"{section_name}[{index}]" if is_list else section_name
            for name, spec in maps.items():
                raw, failed = _read(spec.path, item) if item is not None else (None, None)
                if failed is None and raw is not None and str(raw) not in (spec.map or {}):
                    lines.append(f"{place}.{name}: {_cut(repr(raw))} is not in its map "
                                 f"({', '.join(map(repr, spec.map or {}))}): shown as written")
    return lines


def _listed(root: Any) -> list[Any]:
    """A list section's items, as its path read them (one item alone, or none)."""
    return root if isinstance(root, list) else [] if root is None else [root]


def lost_everywhere(document: Any, config: SourceConfig, problems: list[str]) -> list[str]:
    """The mapped fields of a list section dropped for every item the source listed."""
    dropped: dict[tuple[str, str], set[int]] = {}
    why: dict[tuple[str, str], str] = {}
    for problem in problems:
        match = DROPPED.match(problem)
        if match:
            key = (match["section"], match["field"])
            dropped.setdefault(key, set()).add(int(match["item"]))
            why.setdefault(key, match["why"])
    lines = []
    for (section, field), items in dropped.items():
        listed, _ = _read(config.sections[section].items or "@", document)
        count = len(listed) if isinstance(listed, list) else 1
        if len(items) >= count:
            lines.append(f"{section}[*].{field}: dropped for every item ({count} of {count}: "
                         f"{why[(section, field)]}): the record will never show it")
    return lines


def _searched(name: str, config: SourceConfig, ids: Identifiers) -> str:
    kinds = getattr(config, "lookup_by", None) or list(getattr(config, "match", {}))
    usable = [k for k in kinds if ids.of(k, name)]
    if not usable:
        return f"it searches by {', '.join(kinds)}: none of them was given"
    return "searched by " + ", ".join(usable)
