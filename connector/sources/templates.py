"""Request templates: `{expression}` or `{expression|filter}` filled from the lookup's context.

An expression is any JMESPath over the context (`{email}`, `{by_email[0].id || by_phone[0].id}`,
`{customer | length(@)}`): the identifier being tried (`email`, `phone`, `card`), earlier answers
by request name, `secret.<name>`, `auth.<name>` and `key` (details). `|name` right after the
expression (no space) names a filter. `{{` and `}}` write a literal brace; any other brace
(an expression holding braces, one left open) is refused by `connector check`.
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

# a literal brace, a placeholder (an expression, then maybe `|filter`), or a stray brace
TEMPLATE = re.compile(r"(?P<open>\{\{)|(?P<close>\}\})|\{(?P<expr>[^{}]+)\}|(?P<stray>[{}])")
LITERAL = {"open": "{", "close": "}"}
# `email|lower`: a filter right after the expression (not the second bar of `a || b`)
FILTER = re.compile(r"(?<![|\s])\|([a-z_][a-z0-9_]*)\s*$")


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
    "int": lambda v: int(str(v)),  # a whole number sent as one (Square's points), not as text
    "national": lambda v: re.sub(r"\D", "", _phone(phonenumbers.PhoneNumberFormat.NATIONAL)(v)),
    "international": _phone(phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    # a double-quoted value of a search string (Shopify's `email:"…"`), `\` and `"` escaped
    "quoted": lambda v: '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"',
}


class MissingValue(Exception):
    """A placeholder whose expression has no value in the context."""


class Blank(str):
    """An empty value that is a value (an optional input left empty, no old value to
    replace): its placeholder is filled with "" instead of being missing."""


SPACED_FILTER = re.compile(rf"(.*[^|\s])\s*\|\s*({'|'.join(FILTERS)})\s*", re.DOTALL)


def _parts(match: re.Match[str]) -> tuple[str, str | None]:
    """A placeholder's expression and filter (`{email | lower}` is a filter too: a JMESPath
    pipe to a field named like one would find nothing)."""
    expression = match["expr"].strip()
    tight = FILTER.search(expression)
    if tight:
        return expression[:tight.start()].strip(), tight[1]
    spaced = SPACED_FILTER.fullmatch(expression)
    return (spaced[1], spaced[2]) if spaced else (expression, None)


def _value(match: re.Match[str], context: dict[str, Any]) -> Any:
    expression, name = _parts(match)
    found = search(expression, context)
    if found is None or (found == "" and not isinstance(found, Blank)):
        raise MissingValue(expression)
    return FILTERS[name](found) if name else found


def _placeholder(match: re.Match[str]) -> bool:
    """Whether a match is a placeholder (`{ }` is not: a stray pair of braces)."""
    return match["expr"] is not None and bool(match["expr"].strip())


def _piece(match: re.Match[str], context: dict[str, Any], quote_values: bool) -> str:
    if not _placeholder(match):
        return LITERAL.get(str(match.lastgroup), match[0])
    return _text(_value(match, context), quote_values)


def render(template: str, context: dict[str, Any], *, quote_values: bool = False) -> str | None:
    """The template filled in; None when a placeholder has no value."""
    try:
        text = TEMPLATE.sub(lambda m: _piece(m, context, quote_values), template)
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
        if whole and _placeholder(whole):
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
        return [_parts(m) for m in TEMPLATE.finditer(template) if _placeholder(m)]
    if isinstance(template, list):
        return [e for item in template for e in expressions(item)]
    if isinstance(template, dict):
        return [e for value in template.values() for e in expressions(value)]
    return []


def stray_braces(template: Any) -> bool:
    """Whether a template holds a brace that is neither a placeholder's nor `{{`/`}}` (an
    expression with braces in it, a placeholder left open): it would be sent as it is."""
    if isinstance(template, str):
        return any(not _placeholder(m) and m.lastgroup not in LITERAL
                   for m in TEMPLATE.finditer(template))
    if isinstance(template, list):
        return any(stray_braces(item) for item in template)
    if isinstance(template, dict):
        return any(stray_braces(value) for value in template.values())
    return False
