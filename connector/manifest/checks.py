"""Checks that need the whole manifest: mappings against the canonical model, references, paths."""

from __future__ import annotations

from collections.abc import Mapping

from jmespath.exceptions import ArityError, JMESPathError, JMESPathTypeError, UnknownFunctionError
from pydantic import BaseModel

from connector.customer.actions import TARGETS as ACTION_TARGETS
from connector.customer.actions import placeholder_problems, when_expression
from connector.customer.expressions import ExpressionError
from connector.customer.paths import expression_problem
from connector.helpdesk import adapter_modules
from connector.helpdesk.config import AdapterConfig
from connector.manifest.source_checks import check_source_entry
from connector.models import SECTIONS, ConsentEntry
from connector.sources.base import SectionMap, SourceConfig
from connector.sources.expression_errors import expression_error
from connector.sources.mapping import field_type, search
from connector.sources.rest import RestConfig, RestRequest
from connector.sources.rest_graphql import request_problems
from connector.sources.templates import FILTERS, expressions, stray_braces
from connector.widgets.base import CARD_BLOCK
from connector.widgets.layout import BlockEntry, Sidebar
from connector.widgets.page import BLOCKS

AUTOMATIC_FIELDS = {"source", "also_in"}  # filled by connector, never mapped
# structured fields mapped part by part (a consent's value and day: `sms.value`, `sms.date`)
PART_BY_PART: tuple[type[BaseModel], ...] = (ConsentEntry,)


class SectionMaps(BaseModel):
    """Only the sections of a source entry (to check them when the rest of the entry is wrong)."""

    sections: dict[str, SectionMap] = {}


def check_semantics(
    sources: dict[str, SourceConfig], sidebar: Sidebar | None, declared: list[str]
) -> list[str]:
    """Every problem the models alone cannot see, each prefixed by its dotted path (`declared`:
    every source name in the file, valid or not)."""
    errors: list[str] = []
    for name, config in sources.items():
        errors.extend(_check_source(f"sources.{name}", config))
    if sidebar is not None:
        errors.extend(_check_sidebar(declared, sidebar))
    return errors


def check_helpdesks(adapters: Mapping[str, AdapterConfig], declared: list[str],
                    sources: Mapping[str, SourceConfig] | None = None) -> list[str]:
    """Each helpdesk's `external_id_source` names a source of the file (`declared`) that looks
    customers up by its own id."""
    known = ", ".join(declared) or "none"
    errors = []
    for kind, config in adapters.items():
        name = config.external_id_source
        if name is None:
            continue
        if name not in declared:
            errors.append(f"helpdesks.{kind}.external_id_source: unknown source '{name}' "
                          f"(declared: {known})")
        elif sources is not None and name in sources and "external" not in (
                getattr(sources[name], "lookup_by", None) or []):
            errors.append(f"helpdesks.{kind}.external_id_source: sources.{name} does not look "
                          "customers up by their id: put `external` first in its lookup_by")
    return errors


def _check_sidebar(sources: list[str], sidebar: Sidebar) -> list[str]:
    errors = _check_blocks("sidebar.blocks", sources, sidebar.blocks)
    kinds = [*adapter_modules(), "embed"]
    for kind, entries in sidebar.helpdesks.items():
        if kind not in kinds:
            errors.append(f"sidebar.helpdesks.{kind}: unknown helpdesk (one of: "
                          f"{', '.join(kinds)})")
        errors += _check_blocks(f"sidebar.helpdesks.{kind}", sources, entries)
    names = {entry.block for entries in (sidebar.blocks, *sidebar.helpdesks.values())
             for entry in entries if entry.card is None and entry.block in BLOCKS}
    names |= {entry.card.key for entries in (sidebar.blocks, *sidebar.helpdesks.values())
              for entry in entries if entry.card is not None and entry.card.key}
    for i, name in enumerate(sidebar.folded):
        if name not in names:
            errors.append(f"sidebar.folded[{i}]: '{name}' is neither a block of the layout "
                          f"nor a card's key (the layout has: {', '.join(sorted(names))})")
    return errors


def _check_blocks(path: str, sources: list[str], entries: list[BlockEntry]) -> list[str]:
    """One list of blocks: known names, cards with a title and fields and unique keys,
    sources that exist."""
    errors = []
    declared = ", ".join(sources) or "none"
    for i, entry in enumerate(entries):
        if entry.card is None and entry.block == CARD_BLOCK:
            errors.append(f"{path}[{i}]: a card needs a title and fields "
                          "(card: {title: …, fields: [{label: …, path: …}]})")
        elif entry.card is None and entry.block not in BLOCKS:
            known = ", ".join(BLOCKS)
            errors.append(f"{path}[{i}]: unknown block '{entry.block}' (one of: {known})")
        if entry.card is not None and entry.sources is not None:
            errors.append(f"{path}[{i}].sources: sources do not apply to a card "
                          "(its paths choose the data)")
        for j, source in enumerate(entry.sources or []):
            if source not in sources:
                errors.append(
                    f"{path}[{i}].sources[{j}]: unknown source '{source}' "
                    f"(declared: {declared})"
                )
    return errors + _check_card_keys(path, entries)


def _check_card_keys(path: str, entries: list[BlockEntry]) -> list[str]:
    """Two cards may not share a key: it is their HTML id."""
    errors, seen = [], set()
    for i, entry in enumerate(entries):
        key = entry.card.key if entry.card is not None else None
        if key is not None and key in seen:
            errors.append(f"{path}[{i}].card.key: '{key}' is used by two cards")
        seen.add(key)
    return errors


def _check_source(path: str, config: SourceConfig) -> list[str]:
    errors = _expressions(path, {"id": config.id})
    errors.extend(_expressions(path, {"found": getattr(config, "found", None)}, nothing=True))
    if config.candidates is not None:
        spec = config.candidates
        errors.extend(_expressions(f"{path}.candidates", {
            "items": spec.items, "id": spec.id, "name": spec.name, "postcode": spec.postcode}))
    errors.extend(check_sections(path, config))
    errors.extend(check_details(path, config))
    errors.extend(check_source_entry(path, config))
    if isinstance(config, RestConfig):
        errors.extend(_check_requests(path, config))
    return errors


def check_sections(path: str, config: SectionMaps | SourceConfig | None) -> list[str]:
    """Each section mapped onto the canonical model: known sections, fields and expressions."""
    errors: list[str] = []
    for section_name, section in (config.sections if config else {}).items():
        where = f"{path}.sections.{section_name}"
        if section_name not in SECTIONS:
            errors.append(f"{where}: unknown section (one of: {', '.join(SECTIONS)})")
            continue
        model, is_list = SECTIONS[section_name]
        if is_list and section.path is not None:
            errors.append(f"{where}.path: {section_name} is a list: use items")
        if not is_list and section.items is not None:
            errors.append(f"{where}.items: {section_name} is not a list: use path")
        errors.extend(_expressions(where, {"path": section.path, "items": section.items}))
        for field_name, spec in section.fields.items():
            field_path = f"{where}.fields.{field_name}"
            problem = _field_problem(model, section_name, field_name)
            if problem is not None:
                errors.append(f"{field_path}: {problem}")
            errors.extend(_expressions(field_path, {"": spec.path}))
    return errors


def _field_problem(model: type[BaseModel], section_name: str, field_name: str) -> str | None:
    """Why a section's field cannot be mapped: unknown, filled by connector (`source`, also
    nested), or a consent given whole instead of part by part."""
    kind = field_type(model, field_name)
    if field_name.rsplit(".", 1)[-1] in AUTOMATIC_FIELDS or kind is None:
        known = ", ".join(_field_names(model))
        return f"unknown field of {section_name} (one of: {known})"
    if kind in PART_BY_PART:
        parts = ", ".join(f"{field_name}.{p}" for p in kind.model_fields
                          if p not in AUTOMATIC_FIELDS)
        return f"a {section_name} is mapped part by part: {parts}"
    return None


def _check_requests(path: str, config: RestConfig) -> list[str]:
    errors: list[str] = []
    names = [r.name for r in config.requests]
    for i, request in enumerate(config.requests):
        where = f"{path}.requests[{i}]"
        if names.count(request.name) > 1:
            errors.append(f"{where}.name: '{request.name}' is used by two requests")
        errors.extend(_check_request(where, request, config))
    for name, detail in config.details.items():
        errors.extend(_check_request(f"{path}.details.{name}.request", detail.request, config))
    for field, write in config.writes.items():
        where = f"{path}.writes.{field}.request"
        errors.extend(_check_request(where, write.request, config))
        used = [e for part in (write.request.path, write.request.params, write.request.body,
                               write.request.variables) for e, _ in expressions(part)]
        if not any(e == "new" or e.startswith("new.") for e in used):
            errors.append(f"{where}: never uses {{new}} (or its parts, {{new.line1}}…), so the "
                          "corrected value would not be sent (put it in the path, params or "
                          "body)")
    for name, action in config.actions.items():
        where = f"{path}.actions.{name}"
        errors.extend(_check_request(f"{where}.request", action.request, config))
        for index, step in enumerate(action.before):
            errors.extend(_check_request(f"{where}.before[{index}]", step, config))
        try:
            when_expression(action)
        except ExpressionError as exc:
            errors.append(f"{where}.when: {exc}")
        item = ACTION_TARGETS.get(action.applies_to)
        if action.key is not None and item is not None and action.key not in item.model_fields:
            errors.append(f"{where}.key: '{action.key}' is no field of {action.applies_to} "
                          f"(one of: {', '.join(item.model_fields)})")
        for part in ("confirm", "note"):
            errors.extend(f"{where}.{part}: {problem}"
                          for problem in placeholder_problems(getattr(action, part), action))
    return errors


def _check_request(where: str, request: RestRequest, config: RestConfig) -> list[str]:
    errors: list[str] = []
    if config.protocol == "jsonrpc" and not request.rpc_method:
        errors.append(f"{where}.rpc_method: required with protocol jsonrpc")
    errors.extend(request_problems(where, request, config.protocol))
    parts = {"path": request.path, "params": request.params, "headers": request.headers,
             "body": request.body, "variables": request.variables}
    for key, template in parts.items():
        if stray_braces(template):
            errors.append(f"{where}.{key}: a brace that is not a placeholder's (an expression "
                          "holding braces, or one left open): write {{ or }} for a literal "
                          "brace")
        for expression, filter_name in expressions(template):
            errors.extend(_expressions(f"{where}.{key}", {"": expression}, nothing=True))
            if filter_name and filter_name not in FILTERS:
                errors.append(f"{where}.{key}: unknown filter '{filter_name}' "
                              f"(one of: {', '.join(FILTERS)})")
    errors.extend(_expressions(where, {"items": request.items}))
    errors.extend(_expressions(where, {"when": request.when}, nothing=True))
    if request.paginate is not None:
        errors.extend(_expressions(f"{where}.paginate", {"next": request.paginate.next},
                                   nothing=True))  # the last page has no next
    return errors


def check_details(path: str, config: SourceConfig) -> list[str]:
    """Each detail names a section and one of its fields as key, with valid expressions."""
    errors: list[str] = []
    for name, detail in getattr(config, "details", {}).items():
        where = f"{path}.details.{name}"
        if detail.of is not None and detail.of not in SECTIONS:
            errors.append(f"{where}.of: unknown section (one of: {', '.join(SECTIONS)})")
        elif detail.of is not None and detail.key is not None:
            model = SECTIONS[detail.of][0]
            if field_type(model, detail.key) is None:
                errors.append(f"{where}.key: unknown field of {detail.of}")
        for label, line in detail.fields.items():
            errors.extend(_expressions(f"{where}.fields.{label}", {"": line.path}))
    return errors


def _expressions(path: str, expressions: dict[str, str | None],
                 nothing: bool = False) -> list[str]:
    """Each expression compiles and names known functions with their number of arguments;
    with `nothing`, it must also stand an answer that found nothing (a `when`, a `found`, a
    placeholder: read over earlier answers that may all be null)."""
    errors = []
    for key, expression in expressions.items():
        problem = expression_problem(expression) if expression is not None else None
        if problem is None and expression is not None:
            problem = _evaluation_problem(expression, nothing)
        if problem is not None:
            errors.append(f"{path}.{key}: {problem}" if key else f"{path}: {problem}")
    return errors


def _evaluation_problem(expression: str, nothing: bool) -> str | None:
    """Why an expression fails before any data is read: an unknown function or a wrong
    number of arguments; with `nothing`, a function given null when nothing was found."""
    try:
        search(expression, {})
    except (UnknownFunctionError, ArityError) as exc:
        return f"'{expression}': {expression_error(exc)}"
    except JMESPathTypeError as exc:
        if nothing:
            return (f"'{expression}' fails when nothing was found: {expression_error(exc)} "
                    "(write a default, e.g. length(x || `[]`))")
    except JMESPathError:
        return None
    return None


def _field_names(model: type) -> list[str]:
    names: list[str] = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        if name in AUTOMATIC_FIELDS:
            continue
        nested = info.annotation
        if hasattr(nested, "model_fields"):
            names.extend(f"{name}.{sub}" for sub in nested.model_fields
                         if sub not in AUTOMATIC_FIELDS)
        else:
            names.append(name)
    return names
