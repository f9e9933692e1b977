"""Presets: a known system's source as data over the generic engines (presets/<name>.yaml).

A preset file declares its `parameters` (what the admin writes: URL, account, secrets) and the
`source` they fill, with `{{parameter}}` placeholders. In the manifest the admin writes
`type: <preset>` and the parameters (a default may be built from other parameters:
`https://{{shop}}.myshopify.com`); `label`, `timeout_s`, `ttl_s`, `stale_ttl_s`, `lookup_by`
and whole `sections` may be overridden too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PRESETS_DIR = Path(__file__).parent / "presets"
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
OVERRIDABLE = ("label", "timeout_s", "ttl_s", "stale_ttl_s", "lookup_by", "sections", "details")


@dataclass(frozen=True)
class Parameter:
    """One value the admin gives a preset."""

    name: str
    description: str
    required: bool
    default: Any
    secret: bool


@dataclass(frozen=True)
class Preset:
    """A preset file, read."""

    name: str
    title: str
    description: str
    parameters: dict[str, Parameter]
    source: dict[str, Any]
    example: str

    def expand(self, entry: dict[str, Any], path: str, errors: list[str]) -> dict[str, Any]:
        """The source entry this preset makes from a manifest entry; problems go to errors."""
        values: dict[str, Any] = {}
        for name, parameter in self.parameters.items():
            if name in entry:
                values[name] = entry[name]
            elif parameter.required:
                errors.append(f"{path}.{name}: required ({parameter.description})")
            else:
                values[name] = parameter.default
        for name, parameter in self.parameters.items():  # defaults may name other parameters
            if name not in entry and not parameter.required:
                values[name] = _fill(parameter.default, values)
        known = {"type", *self.parameters, *OVERRIDABLE}
        for key in entry:
            if key not in known:
                errors.append(f"{path}.{key}: unknown key (parameters of {self.name}: "
                              f"{', '.join(self.parameters)}; may override: "
                              f"{', '.join(OVERRIDABLE)})")
        source = _fill(self.source, values)
        for key in OVERRIDABLE:
            if key in entry and key in ("sections", "details"):
                source[key] = {**source.get(key, {}), **entry[key]}
            elif key in entry:
                source[key] = entry[key]
        source["preset"] = self.name
        return source


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            return values.get(whole.group(1))
        return PLACEHOLDER.sub(lambda m: _text(values.get(m.group(1))), template)
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    return template


def _text(value: Any) -> str:
    """A parameter inside a longer string: 0 and false are values, only null is empty."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _read(path: Path) -> Preset:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    parameters = {
        name: Parameter(name, spec.get("description", ""), bool(spec.get("required", False)),
                        spec.get("default"), bool(spec.get("secret", False)))
        for name, spec in (data.get("parameters") or {}).items()
    }
    return Preset(path.stem, data["title"], data.get("description", ""), parameters,
                  data["source"], data.get("example", ""))


@cache
def presets() -> dict[str, Preset]:
    """Every preset shipped with connector, by name."""
    return {p.stem: _read(p) for p in sorted(PRESETS_DIR.glob("*.yaml"))}
