"""GraphQL over the REST engine (`protocol: graphql`): the `{query, variables}` body, the
`errors` of a 200 answer classified like HTTP failures, and cursor paging through a
connection's `pageInfo { hasNextPage endCursor }`.

The query is sent verbatim (its braces are GraphQL's); placeholders fill `variables` only, so
a value is a JSON value and never GraphQL text.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import jmespath
from jmespath.exceptions import JMESPathError

from connector.sources.base import (
    EMAIL_LIKE,
    NUMBER_LIKE,
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    SourceUnavailable,
)
from connector.sources.http import Answer
from connector.sources.mapping import search

log = logging.getLogger(__name__)

# `extensions.code` of an error worth retrying later (Shopify's leaky bucket, a server fault)
TRANSIENT_CODES = frozenset({"THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE",
                             "TIMEOUT", "TOO_MANY_REQUESTS"})
# codes that say our credentials or scopes are refused
REFUSED_CODES = frozenset({"ACCESS_DENIED", "UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN"})
MESSAGE_CHARS = 160
MAX_PAUSE_S = 60.0  # the longest a throttled source is left alone on its own word


class Paging(Protocol):
    """What the checks read of a request's `paginate` (rest_paging.Pagination)."""

    @property
    def type(self) -> str:
        """The kind of paging."""
        ...

    @property
    def page_info(self) -> str | None:
        """graphql_cursor: where the connection's pageInfo is."""
        ...

    @property
    def variable(self) -> str | None:
        """graphql_cursor: the query's cursor variable."""
        ...


class Request(Protocol):
    """What the checks read of a request (rest.RestRequest, which imports this module)."""

    body: Any
    query: str | None
    variables: dict[str, Any]

    @property
    def paginate(self) -> Paging | None:
        """How the request pages."""
        ...


def graphql_body(query: str, variables: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of one GraphQL call: the query as written, the filled variables and the
    paging variables (`extra`: the cursor of the next page)."""
    return {"query": query, "variables": {**(variables or {}), **extra}}


def graphql_answer(answer: Answer, source: str) -> Answer:
    """The answer as it came (`data`, `errors`, `extensions`), or the classified failure when
    it has errors and no data; partial data with errors is used, the errors counted in the
    log."""
    document = answer.data
    if not isinstance(document, dict) or not document.get("errors"):
        return answer
    errors = document["errors"] if isinstance(document["errors"], list) else [document["errors"]]
    if document.get("data") is None:
        raise classified(errors, document.get("extensions"))
    log.warning("source %s: GraphQL answer with %d error(s) (%s): partial data used", source,
                len(errors), ", ".join(sorted(_codes(errors))) or "no code")
    return answer


def classified(errors: list[Any], extensions: Any = None) -> SourceError:
    """The failure a list of GraphQL errors stands for: throttled or a server fault is
    transient (retry, serve stale; throttled pauses the source until its cost budget is
    back), refused access a credential problem, anything else a request the admin must fix;
    the first error's message is the public text."""
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    message = " ".join(str(first.get("message") or "error").split())
    # a message may quote a variable's value: no email, no long number (a GraphQL message is
    # full of `?`, so base.scrub's query-string rule would eat its hints)
    message = NUMBER_LIKE.sub("…", EMAIL_LIKE.sub("…@…", message))[:MESSAGE_CHARS]
    public = f"GraphQL error: {message}"
    codes = _codes(errors)
    detail = f"{len(errors)} error(s), codes: {', '.join(sorted(codes)) or 'none'}"
    if codes & TRANSIENT_CODES or message.lower() == "throttled":
        error = SourceUnavailable(public, detail)
        if "THROTTLED" in codes or message.lower() == "throttled":
            error.retry_after_s = _refill_s(extensions)
        return error
    if codes & REFUSED_CODES:
        return SourceRefused(public, detail)
    return SourceMisconfigured(public, detail)


def _refill_s(extensions: Any) -> float:
    """Seconds until the query's cost is available again, from Shopify's `extensions.cost`
    (1 s when the answer does not say)."""
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    status = cost.get("throttleStatus") if isinstance(cost, dict) else None
    if not isinstance(cost, dict) or not isinstance(status, dict):
        return 1.0
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return 1.0
    return min(max(missing / rate, 1.0), MAX_PAUSE_S) if rate > 0 else 1.0


def _codes(errors: list[Any]) -> set[str]:
    found = set()
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if code:
            found.add(str(code).upper())
    return found


def next_cursor(data: Any, page_info: str) -> str | None:
    """The cursor of the next page from the connection's `pageInfo` at `page_info`; None on
    the last page."""
    info = search(page_info, data) if data is not None else None
    if not isinstance(info, dict) or not info.get("hasNextPage"):
        return None
    cursor = info.get("endCursor")
    return str(cursor) if cursor not in (None, "") else None


def request_problems(where: str, request: Request, protocol: str) -> list[str]:
    """What a request's GraphQL settings get wrong, each with its path."""
    errors: list[str] = []
    graphql = protocol == "graphql"
    if graphql and not (request.query or "").strip():
        errors.append(f"{where}.query: required with protocol graphql")
    if graphql and request.body is not None:
        errors.append(f"{where}.body: not used with protocol graphql (give query and "
                      "variables)")
    if not graphql and (request.query is not None or request.variables):
        errors.append(f"{where}.query: only with protocol graphql")
    if request.paginate is not None:
        errors.extend(_paging_problems(f"{where}.paginate", request.paginate, graphql))
    return errors


def _paging_problems(where: str, paging: Paging, graphql: bool) -> list[str]:
    if paging.type != "graphql_cursor":
        return []
    errors = [] if graphql else [f"{where}.type: graphql_cursor only with protocol graphql"]
    if not paging.page_info:
        errors.append(f"{where}.page_info: required with graphql_cursor (where the connection's "
                      "pageInfo is, e.g. data.customer.orders.pageInfo)")
    else:
        try:
            jmespath.compile(paging.page_info)
        except JMESPathError:
            errors.append(f"{where}.page_info: invalid JMESPath expression "
                          f"'{paging.page_info}'")
    if not paging.variable:
        errors.append(f"{where}.variable: required with graphql_cursor (the query's cursor "
                      "variable, e.g. after)")
    return errors
