"""Checks of one source entry that a typo would otherwise make silent: a placeholder or a `when`
naming a request that does not exist, a status mapped to a value no block knows, a file that
is not there. Each problem is one line with its path and a hint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jmespath
from pydantic import ValidationError

from connector.identifiers import IDENTIFIER_KINDS
from connector.models import ConsentEntry, ConsentValue
from connector.sources.base import SourceConfig
from connector.sources.files import FilesConfig
from connector.sources.rest import RestConfig, RestRequest
from connector.sources.templates import expressions
from connector.widgets.complaints import CLOSED_STATUSES
from connector.widgets.orders import STATUSES

# what a request's expressions may read besides the requests: the identifier tried, the
# source's secrets, what a login gave
ALWAYS = frozenset({*IDENTIFIER_KINDS, "secret", "auth"})
# section -> the statuses its block knows (another one shows as written, in grey)
KNOWN_STATUSES: dict[str, frozenset[str]] = {
    "orders": frozenset(STATUSES),
    "store_purchases": frozenset(STATUSES),
    "contacts": frozenset({"open", "pending", *CLOSED_STATUSES}),
}


def check_source_entry(path: str, config: SourceConfig) -> list[str]:
    """Every problem of references and statuses in one source entry."""
    errors = check_statuses(path, config)
    errors.extend(check_consent_maps(path, config))
    if isinstance(config, RestConfig):
        errors.extend(check_references(path, config))
    return errors


def check_files(sources: Mapping[str, SourceConfig], manifest_dir: Path) -> list[str]:
    """The files the files sources read are there (`connector check` only: a service may
    start before tonight's export is dropped, and says so at each lookup)."""
    return [problem for name, config in sources.items() if isinstance(config, FilesConfig)
            for problem in check_file(f"sources.{name}", config, manifest_dir)]


def check_references(path: str, config: RestConfig) -> list[str]:
    """A request's placeholders and `when`, `found` and `id` read the identifiers, secrets,
    login values and requests declared (earlier ones: a later one has not answered yet)."""
    names = [r.name for r in config.requests]
    errors: list[str] = []
    for n, request in enumerate(config.requests):
        known = ALWAYS | set(names[:n])
        for key, expression in _request_expressions(request):
            errors.extend(_unknown(f"{path}.requests[{n}].{key}", expression, known, names[:n]))
    for key in ("found", "id"):
        expression = getattr(config, key)
        if expression:
            errors.extend(_unknown(f"{path}.{key}", expression, ALWAYS | set(names), names))
    for name, detail in config.details.items():
        for key, expression in _request_expressions(detail.request):
            errors.extend(_unknown(f"{path}.details.{name}.request.{key}", expression,
                                   ALWAYS | {"key"}, []))
    if config.search is not None:
        for key, expression in _request_expressions(config.search.request):
            errors.extend(_unknown(f"{path}.search.request.{key}", expression,
                                   ALWAYS | {"q"}, []))
    return errors


def _request_expressions(request: RestRequest) -> Iterator[tuple[str, str]]:
    parts = {"path": request.path, "params": request.params, "headers": request.headers,
             "body": request.body}
    for key, template in parts.items():
        for expression, _ in expressions(template):
            yield key, expression
    if request.when:
        yield "when", request.when


def _unknown(where: str, expression: str, known: set[str] | frozenset[str],
             requests: list[str]) -> list[str]:
    try:
        roots = root_names(jmespath.compile(expression).parsed)
    except jmespath.exceptions.JMESPathError:
        return []  # reported by the expression checks
    declared = ", ".join(requests) or "none before it"
    return [f"{where}: '{name}' is not a request declared before it (requests: {declared}; "
            f"or {', '.join(sorted(ALWAYS))})" for name in dict.fromkeys(roots)
            if name not in known]


def root_names(node: dict[str, Any]) -> list[str]:
    """The names an expression reads from the top of the document it is given."""
    kind = node["type"]
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind == "field":
        return [str(node["value"])]
    if kind in ("subexpression", "index_expression", "projection", "filter_projection",
                "flatten", "value_projection", "pipe"):
        return root_names(children[0]) if children else []
    if kind in ("literal", "current", "identity", "expref"):
        return []
    return [name for child in children for name in root_names(child)]


def check_statuses(path: str, config: SourceConfig) -> list[str]:
    """A status `map` gives statuses its block knows (another shows as written, and counts
    as a placed order)."""
    errors = []
    for section, known in KNOWN_STATUSES.items():
        spec = config.sections.get(section)
        field = spec.fields.get("status") if spec is not None else None
        if field is None or field.map is None:
            continue
        for raw, status in field.map.items():
            if status not in known:
                errors.append(f"{path}.sections.{section}.fields.status.map.{raw}: '{status}' "
                              f"is not a known status (one of: {', '.join(sorted(known))})")
    return errors


def check_consent_maps(path: str, config: SourceConfig) -> list[str]:
    """A consent's `map` gives values the record reads (given, refused, unknown): another
    would be dropped at every lookup."""
    spec = config.sections.get("consent")
    errors = []
    for name, field in (spec.fields.items() if spec is not None else ()):
        for raw, value in (field.map or {}).items() if name.endswith(".value") else ():
            try:
                ConsentEntry.model_validate({"value": value})
            except ValidationError:
                known = ", ".join(ConsentValue)
                errors.append(f"{path}.sections.consent.fields.{name}.map.{raw}: '{value}' "
                              f"is not a consent value (one of: {known})")
    return errors


def check_file(path: str, config: FilesConfig, manifest_dir: Path) -> list[str]:
    """The file of a files source is there (relative paths from the manifest's folder)."""
    file = Path(config.path)
    file = file if file.is_absolute() else manifest_dir / file
    if file.is_file():
        return []
    return [f"{path}.path: no file at {file} (a relative path is read from the manifest's "
            "folder; the export must be there before the service starts)"]
