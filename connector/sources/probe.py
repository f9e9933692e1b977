"""`connector check --probe`: ask every source about one customer and show, field by field,
what the manifest's mapping reads from each answer, and what it drops (a score off its
scale, a label where a number is expected: where, never the value) — the admin's view of a
source."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from connector.identifiers import Identifiers
from connector.models import SECTIONS
from connector.sources import build_source
from connector.sources.base import BuildContext, SectionMap, SourceConfig, SourceError
from connector.sources.mapping import MappedSource, map_sections, search

SHOWN = 70


def probe(sources: Mapping[str, SourceConfig], context: BuildContext, ids: Identifiers,
          say: Callable[[str], None]) -> int:
    """Probe every source; how many failed."""
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
        for line in trace(document, config):
            say(f"  {line}")
        for problem in map_sections(document, config, name).problems:
            say(f"  dropped {problem}")
    return failures


def trace(document: Any, config: SourceConfig) -> list[str]:
    """For each mapped field, the value its expression reads, or where it found nothing."""
    lines = []
    if config.id:
        lines.append(_line("id", search(config.id, document), config.id))
    for section_name, section in config.sections.items():
        is_list = SECTIONS[section_name][1]
        if is_list:
            items = search(section.items or "@", document)
            count = len(items) if isinstance(items, list) else 0
            lines.append(f"{section_name}: {count} item(s) at '{section.items}'")
            first = items[0] if count else None
            lines.extend(_fields(section_name + "[0]", first, section))
        else:
            root = search(section.path, document) if section.path else document
            lines.extend(_fields(section_name, root, section))
    return lines


def _fields(prefix: str, root: Any, section: SectionMap) -> list[str]:
    if root is None:
        return [f"{prefix}: nothing at '{section.path or section.items}'"]
    return [_line(f"{prefix}.{field}", search(spec.path, root), spec.path, spec.map)
            for field, spec in section.fields.items()]


def _line(label: str, value: Any, path: str, mapping: dict[str, str] | None = None) -> str:
    if value is None or value == "" or value == []:
        return f"{label:<34} ✗ no value at '{path}'"
    text = repr(value)
    if mapping is not None and str(value) in mapping:
        text += f" → {mapping[str(value)]!r}"
    return f"{label:<34} = {text[:SHOWN]}{'…' if len(text) > SHOWN else ''}"


def _searched(name: str, config: SourceConfig, ids: Identifiers) -> str:
    kinds = getattr(config, "lookup_by", None) or list(getattr(config, "match", {}))
    usable = [k for k in kinds if ids.of(k, name)]
    if not usable:
        return f"it searches by {', '.join(kinds)}: none of them was given"
    return "searched by " + ", ".join(usable)
