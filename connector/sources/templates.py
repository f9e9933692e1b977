"""Request templates: `{expression}` or `{expression|filter}` filled from the lookup's context.

An expression is JMESPath over the context: the identifier being tried (`email`, `phone`,
`card`), earlier answers by request name, `secret.<name>`, `auth.<name>` and `key` (details).
A string that is exactly one placeholder keeps the value's JSON type (a number stays a number),
which JSON-RPC bodies need.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import phonenumbers

from connector.sources.mapping import search

TEMPLATE = re.compile(r"\{([^{}|]+)(?:\|([a-z_][a-z0-9_]*))?\}")


def _phone(kind: int) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        try:
            return phonenumbers.format_number(phonenumbers.parse(str(value)), kind)
        except phonenumbers.NumberParseException:
            return str(value)

    return convert


FILTERS: dict[str, Callable[[Any], Any]] = {
    "base64": lambda v: base64.b64encode(str(v).encode()).decode(),
    "urlquote": lambda v: quote(str(v), safe=""),
    "odata": lambda v: str(v).replace("'", "''"),
    "lower": lambda v: str(v).lower(),
    "digits": lambda v: re.sub(r"\D", "", str(v)),
    "national": lambda v: re.sub(r"\D", "", _phone(phonenumbers.PhoneNumberFormat.NATIONAL)(v)),
    "international": _phone(phonenumbers.PhoneNumberFormat.INTERNATIONAL),
}


class MissingValue(Exception):
    """A placeholder whose expression has no value in the context."""


def _value(match: re.Match[str], context: dict[str, Any]) -> Any:
    found = search(match.group(1).strip(), context)
    if found is None or found == "":
        raise MissingValue(match.group(1))
    name = match.group(2)
    return FILTERS[name](found) if name else found


def render(template: str, context: dict[str, Any], *, quote_values: bool = False) -> str | None:
    """The template filled in; None when a placeholder has no value."""
    try:
        text = TEMPLATE.sub(lambda m: _text(_value(m, context), quote_values), template)
    except MissingValue:
        return None
    return text


def _text(value: Any, quote_values: bool) -> str:
    text = value if isinstance(value, str) else str(value)
    if not quote_values:
        return text
    quoted = quote(text, safe="")
    # a value is one path segment: `.` and `..` would climb the source's paths
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def render_value(template: Any, context: dict[str, Any]) -> Any:
    """A JSON template filled in: strings rendered, a lone placeholder keeping its value's type;
    raises MissingValue when a placeholder has no value."""
    if isinstance(template, str):
        whole = TEMPLATE.fullmatch(template)
        if whole:
            return _value(whole, context)
        rendered = render(template, context)
        if rendered is None:
            raise MissingValue(template)
        return rendered
    if isinstance(template, list):
        return [render_value(item, context) for item in template]
    if isinstance(template, dict):
        return {k: render_value(v, context) for k, v in template.items()}
    return template


def expressions(template: Any) -> list[tuple[str, str | None]]:
    """Every (expression, filter) in a template, for the manifest checks."""
    if isinstance(template, str):
        return [(m.group(1).strip(), m.group(2)) for m in TEMPLATE.finditer(template)]
    if isinstance(template, list):
        return [e for item in template for e in expressions(item)]
    if isinstance(template, dict):
        return [e for value in template.values() for e in expressions(value)]
    return []
