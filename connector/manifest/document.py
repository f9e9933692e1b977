"""The manifest: what an admin declares (brand, sources, sidebar), validated at the door."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
)

from connector.config import Brand, Strict
from connector.customer.compensation import CompensationGrid, action_problems
from connector.customer.ranking import AbcOverride
from connector.customer.resolver import IdentityRules
from connector.customer.rules import FlagRules, KpiRules
from connector.customer.segments import SegmentRules
from connector.events.marketing import MarketingSink
from connector.helpdesk import adapter_modules
from connector.helpdesk.config import AdapterConfig, EmbedConfig, unset_secrets
from connector.jobs.config import Jobs
from connector.manifest.checks import (
    SectionMaps,
    check_helpdesks,
    check_sections,
    check_semantics,
)
from connector.sources import SOURCE_TYPES
from connector.sources.base import BuildContext, SourceConfig
from connector.sources.preset import presets
from connector.widgets.layout import Sidebar

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
M = TypeVar("M", bound=BaseModel)


class ManifestError(Exception):
    """A manifest that cannot be used; `errors` holds every problem, each prefixed by its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Helpdesks:
    """The helpdesk adapters and their settings: the sealed-link `embed` adapter (always on)
    and one entry per helpdesk module (`connector/helpdesk/<kind>.py`), validated by its own
    `Config`."""

    embed: EmbedConfig = field(default_factory=EmbedConfig)
    adapters: dict[str, AdapterConfig] = field(default_factory=dict)


def _validate_helpdesks(entries: Any, errors: list[str]) -> Helpdesks:
    """Each helpdesk entry validated by its adapter's model; unknown kinds are errors."""
    if entries is None:
        return Helpdesks()
    if not isinstance(entries, dict):
        errors.append("helpdesks: must be a mapping of helpdesk kinds to their settings")
        return Helpdesks()
    modules = adapter_modules()
    embed = EmbedConfig()
    adapters: dict[str, AdapterConfig] = {}
    for kind, entry in entries.items():
        path = f"helpdesks.{kind}"
        if kind == "embed":
            embed = _validate(EmbedConfig, entry or {}, path, errors) or embed
        elif kind in modules:
            config = _validate(modules[kind].Config, entry or {}, path, errors)
            if config is not None:
                adapters[str(kind)] = config
        else:
            known = ", ".join(["embed", *modules])
            errors.append(f"{path}: unknown helpdesk (one of: {known})")
    return Helpdesks(embed, {k: c for k, c in adapters.items() if c.enabled})


class ManifestDocument(Strict):
    """The manifest file's top level (sources are validated one by one, by type)."""

    version: Literal[1]
    brand: Brand = Brand()
    sources: dict[str, dict[str, Any]] = Field(min_length=1)
    sidebar: Sidebar = Sidebar()
    kpis: KpiRules = KpiRules()
    flags: FlagRules = FlagRules()
    segments: SegmentRules = SegmentRules()
    helpdesks: dict[str, Any] | None = None
    identity: IdentityRules = IdentityRules()
    jobs: Jobs = Jobs()
    marketing: MarketingSink | None = None
    compensation: CompensationGrid | None = None


@dataclass(frozen=True)
class Manifest:
    """A valid manifest, its sources' models typed."""

    path: Path
    brand: Brand
    sources: dict[str, SourceConfig]
    sidebar: Sidebar
    kpis: KpiRules
    flags: FlagRules
    helpdesks: Helpdesks
    identity: IdentityRules = field(default_factory=IdentityRules)
    jobs: Jobs = field(default_factory=Jobs)
    segments: SegmentRules = field(default_factory=SegmentRules)
    marketing: MarketingSink | None = None  # where confirmed corrections are told
    compensation: CompensationGrid | None = None  # what agents may give without escalation
    # path -> environment variable, where an unset variable's default was used
    unset_variables: dict[str, str] = field(default_factory=dict)

    def unset_secrets(self) -> dict[str, list[str]]:
        """Per helpdesk, its secrets that are not set, named by their environment variable
        where the manifest reads one ("ZENDESK_WEBHOOK_SECRET (webhook_secret)")."""
        found = {}
        for kind, config in self.helpdesks.adapters.items():
            names = []
            for name in unset_secrets(config):
                variable = self.unset_variables.get(f"helpdesks.{kind}.{name}")
                names.append(f"{variable} ({name})" if variable else name)
            if names:
                found[kind] = names
        return found

    @property
    def directory(self) -> Path:
        """The folder relative paths in the manifest are taken from."""
        return self.path.parent

    def source_context(self) -> BuildContext:
        """What source adapters are built with: the manifest's folder and the brand's region."""
        return BuildContext(manifest_dir=self.directory, default_region=self.brand.default_region)


def load_manifest(path: Path, env: Mapping[str, str] | None = None) -> Manifest:
    """Read, interpolate and validate a manifest; raise ManifestError listing every problem."""
    raw = _read_yaml(path)
    errors: list[str] = []
    defaulted: dict[str, str] = {}
    data = _interpolate(raw, os.environ if env is None else env, "", errors, defaulted)
    document = _validate(ManifestDocument, data, "", errors)
    sources: dict[str, SourceConfig] = {}
    entries = data.get("sources") if isinstance(data.get("sources"), dict) else {}
    for name, entry in entries.items():
        config = _validate_source(str(name), entry, errors)
        if config is not None:
            sources[str(name)] = config
        elif isinstance(entry, dict):
            errors.extend(check_sections(f"sources.{name}", _quietly(SectionMaps, entry)))
    sidebar = document.sidebar if document else _quietly(Sidebar, data.get("sidebar") or {})
    errors.extend(check_semantics(sources, sidebar, [str(n) for n in entries]))
    helpdesks = _validate_helpdesks(data.get("helpdesks"), errors)
    errors.extend(check_helpdesks(helpdesks.adapters, [str(n) for n in entries], sources))
    if document is not None:
        errors.extend(_abc_override_sources(document.jobs.segments.abc_override, sources))
        errors.extend(action_problems(sources, document.compensation))
        reviews = document.jobs.refresh_reviews
        if "alert_flags" in reviews.model_fields_set:  # the default may name rules set off
            errors.extend(_alert_flags(reviews.alert_flags, list(document.flags.rules)))
    if errors or document is None:
        raise ManifestError(errors)
    return Manifest(
        path=path.resolve(),
        brand=document.brand,
        sources=sources,
        sidebar=document.sidebar,
        kpis=document.kpis,
        flags=document.flags,
        helpdesks=helpdesks,
        identity=document.identity,
        jobs=document.jobs,
        segments=document.segments,
        marketing=document.marketing,
        compensation=document.compensation,
        unset_variables=defaulted,
    )


def _abc_override_sources(override: AbcOverride, sources: Mapping[str, SourceConfig]
                          ) -> list[str]:
    """A customer listed by a source's id names a source that lists its purchases."""
    listing = {name for name, config in sources.items()
               if getattr(config, "purchases", None) is not None}
    return [f"jobs.segments.abc_override.customers: '{ref}' ({letter}[{n}]): no source "
            f"'{ref.partition(':')[0]}' lists its purchases (known: {', '.join(sorted(listing))})"
            for letter, refs in override.customers.items() for n, ref in enumerate(refs)
            if not ref.startswith("cus_") and ref.partition(":")[0] not in listing]


def _alert_flags(keys: list[str], rules: list[str]) -> list[str]:
    """The flags a review alerts about are rules of `flags:` (a typo would alert nobody)."""
    return [f"jobs.refresh_reviews.alert_flags[{n}]: '{key}' is not a flag rule (known: "
            f"{', '.join(rules)})" for n, key in enumerate(keys) if key not in rules]


def _quietly(model: type[M], data: Any) -> M | None:
    """The model if the data is valid; its errors are reported elsewhere."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError([f"{path}: cannot be read ({exc.strerror})"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError([f"{path}: {where}invalid YAML ({problem})"]) from exc
    if not isinstance(data, dict):
        raise ManifestError([f"{path}: the manifest must be a mapping of keys (version, sources…)"])
    return data


def _interpolate(value: Any, env: Mapping[str, str], path: str, errors: list[str],
                 defaulted: dict[str, str] | None = None) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string; unknown variables are errors.
    `defaulted` collects path -> variable for the unset ones a default stood in for."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env, _join(path, str(k)), errors, defaulted)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{path}[{i}]", errors, defaulted)
                for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            if defaulted is not None:
                defaulted[path] = name
            return default
        errors.append(f"{path}: environment variable {name} is not set")
        return ""

    return ENV_REF.sub(substitute, value)


def _validate_source(name: str, entry: Any, errors: list[str]) -> SourceConfig | None:
    path = f"sources.{name}"
    if not SOURCE_NAME.match(name):
        errors.append(f"{path}: source names are lower case letters, digits and _ (max 40)")
        return None
    if not isinstance(entry, dict):
        errors.append(f"{path}: must be a mapping with a type (one of: {', '.join(SOURCE_TYPES)})")
        return None
    kind = entry.get("type")
    preset = presets().get(kind) if isinstance(kind, str) else None
    if preset is not None:
        entry = preset.expand(entry, path, errors)
        kind = entry.get("type")
    if kind not in SOURCE_TYPES:
        known = ", ".join([*SOURCE_TYPES, *presets()])
        shown = "missing" if kind is None else f"unknown type '{kind}'"
        errors.append(f"{path}.type: {shown} (one of: {known})")
        return None
    model, _ = SOURCE_TYPES[kind]
    return _validate(model, entry, path, errors)


def _validate(model: type[M], data: Any, prefix: str, errors: list[str]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_join(prefix, _dotted(error['loc'], data)) or '(top level)'}: "
                 f"{_message(error)}" for error in exc.errors()]
        errors.extend(dict.fromkeys(lines))  # a key and its value may fail alike
        return None


def _dotted(loc: tuple[int | str, ...], data: Any) -> str:
    """The error's path in the admin's file: union tags and validator names are left out."""
    path, node = "", data
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key itself is wrong": the path already says it
        if isinstance(node, dict) and part in node:
            key = next(k for k in node if k == part)  # False == 0: the file's own key
            shown = str(key).lower() if isinstance(key, bool) else str(part)
            path, node = _join(path, shown), node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path, node = f"{path}[{part}]", node[part]
        elif isinstance(node, dict) and (node.get("type") == part or "[" in str(part)):
            continue  # a union's tag or a validator's name, not a key of the file
        elif isinstance(part, str):
            path, node = _join(path, part), None
    return path


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if isinstance(error.get("input"), bool):
        message += (" — the YAML boolean trap: an unquoted yes, no, on, off, true or false is "
                    f"read as {str(error['input']).lower()}; quote it ('No', \"off\")")
    return message


def _join(prefix: str, part: str) -> str:
    return f"{prefix}.{part}" if prefix and part else prefix or part
