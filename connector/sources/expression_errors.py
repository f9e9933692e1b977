"""When an expression of the manifest meets an answer it cannot read (a function given a null,
a number where a list is expected): one error naming the source and the expression's path,
for the admin, never a bare JMESPath error or a traceback, and never the value met."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from jmespath.exceptions import JMESPathError, JMESPathTypeError

from connector.sources.base import SourceMisconfigured

log = logging.getLogger(__name__)
# JMESPath names a value in a list by its Python type: the admin reads JSON's names
JSON_TYPES = {"NoneType": "null", "str": "string", "int": "number", "float": "number",
              "Decimal": "number", "bool": "boolean", "dict": "object", "list": "array"}


class ExpressionFailed(SourceMisconfigured):
    """An expression of the manifest could not be evaluated on what the source answered (a
    function given a null, a number where a list is expected): the admin must fix it."""


def expression_error(exc: JMESPathError) -> str:
    """What went wrong, without the value met (it may be a customer's data)."""
    if isinstance(exc, JMESPathTypeError):
        expected = " or ".join(exc.expected_types)
        given = JSON_TYPES.get(exc.actual_type, exc.actual_type)
        return f"{exc.function_name}() was given {given}, expected {expected}"
    return re.sub(r"\s+", " ", str(exc).splitlines()[0])[:200]


@contextmanager
def failing_as(source: str, where: str) -> Iterator[None]:
    """An expression failing inside raises ExpressionFailed naming the source and its path
    (`sources.erp.requests[0].when`), never a bare JMESPath error."""
    try:
        yield
    except JMESPathError as exc:
        reason = expression_error(exc)
        log.warning("source %s: expression failed at sources.%s.%s: %s", source, source,
                    where, reason)
        raise ExpressionFailed(f"expression failed at sources.{source}.{where}: {reason}",
                               reason) from exc
