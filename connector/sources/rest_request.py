"""One call of a REST source, as the manifest declares it (reads, details, searches, and the
changes agents ask for)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from connector.sources.base import Strict
from connector.sources.rest_paging import Pagination


class RestRequest(Strict):
    """One call. `{email}`, `{phone}`, `{card}`, `{<earlier request>.<path>}`, `{secret.<name>}`
    and `{auth.<name>}` fill its path, params and body; a call that needs a missing value is
    not sent, and its answer is null."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    path: str = ""
    params: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    query: str | None = None  # protocol graphql: sent as written, never filled
    variables: dict[str, Any] = Field(default_factory=dict)  # protocol graphql: filled
    rpc_method: str | None = None
    action: str | None = None  # protocol soap: the SOAPAction
    items: str | None = None
    paginate: Pagination | None = None
    when: str | None = None
