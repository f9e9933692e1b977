"""The generic REST source: requests templated from identifiers, answers mapped by JMESPath."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator

from connector.sources.base import (
    BuildContext,
    IdentifierKind,
    Identifiers,
    SourceConfig,
    SourceResult,
    Strict,
)
from connector.sources.http import call_json, new_session
from connector.sources.mapping import found_result, search

TEMPLATE = re.compile(r"\{([^{}]+)\}")
MAX_ATTEMPTS = 4


class BearerAuth(Strict):
    """`Authorization: Bearer <token>`."""

    type: Literal["bearer"]
    token: SecretStr


class BasicAuth(Strict):
    """HTTP basic authentication."""

    type: Literal["basic"]
    username: str
    password: SecretStr


class ApiKeyAuth(Strict):
    """An API key sent in a header or a query parameter."""

    type: Literal["api_key"]
    name: str
    value: SecretStr
    where: Literal["header", "query"] = "header"


Auth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth, Field(discriminator="type")]


class RestRequest(Strict):
    """One call; `{email}`, `{phone}`, `{card}` or `{<earlier request>.<path>}` fill its path and
    params, and a request whose path needs a value that is missing is not sent."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    method: Literal["GET", "POST"] = "GET"
    path: str
    params: dict[str, str] = Field(default_factory=dict)
    body: Any = None


class RestConfig(SourceConfig):
    """A source reached over HTTP with JSON answers."""

    type: Literal["rest"]
    base_url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    auth: Auth | None = None
    lookup_by: list[IdentifierKind] = Field(default=["email"], min_length=1)
    requests: list[RestRequest] = Field(min_length=1)
    found: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class RestSource:
    """A source reached over HTTP: find the customer with the first request, then follow."""

    def __init__(self, name: str, config: RestConfig, context: BuildContext) -> None:
        self.name = name
        self.config = config
        self.provides = frozenset(config.sections)
        self._session = new_session()
        self._session.headers.update({k: v.get_secret_value() for k, v in config.headers.items()})
        self._query_auth: dict[str, str] = {}
        self._apply_auth(config.auth)

    def _apply_auth(self, auth: BearerAuth | BasicAuth | ApiKeyAuth | None) -> None:
        if isinstance(auth, BearerAuth):
            self._session.headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
        elif isinstance(auth, BasicAuth):
            self._session.auth = (auth.username, auth.password.get_secret_value())
        elif isinstance(auth, ApiKeyAuth) and auth.where == "header":
            self._session.headers[auth.name] = auth.value.get_secret_value()
        elif isinstance(auth, ApiKeyAuth):
            self._query_auth[auth.name] = auth.value.get_secret_value()

    def fetch(self, ids: Identifiers) -> SourceResult:
        """Run the requests with each usable identifier in turn until the customer is found."""
        attempts = [(k, v) for k in self.config.lookup_by for v in ids.of(k)][:MAX_ATTEMPTS]
        for kind, value in attempts:
            document: dict[str, Any] = {kind: value}
            for request in self.config.requests:
                document[request.name] = self._call(request, document)
            if self._found(document):
                return self._result(document)
        return SourceResult(found=False)

    def _result(self, document: dict[str, Any]) -> SourceResult:
        return found_result(document, self.config, self.name)

    def _found(self, document: dict[str, Any]) -> bool:
        expression = self.config.found or self.config.id or self.config.requests[0].name
        return search(expression, document) not in (None, "", [], {})

    def _call(self, request: RestRequest, context: dict[str, Any]) -> Any:
        path = render(request.path, context, quote_values=True)
        if path is None:
            return None
        params = {k: v for k, t in request.params.items() if (v := render(t, context)) is not None}
        params.update(self._query_auth)
        return call_json(
            self._session,
            request.method,
            self.config.base_url + path,
            timeout_s=self.config.timeout_s,
            params=params,
            json=render_body(request.body, context),
        )


def render(template: str, context: dict[str, Any], *, quote_values: bool = False) -> str | None:
    """Fill `{expression}` placeholders from the context; None when one has no value."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        found = search(match.group(1).strip(), context)
        if found is None or found == "":
            missing = True
            return ""
        return quote(str(found), safe="") if quote_values else str(found)

    text = TEMPLATE.sub(value, template)
    return None if missing else text


def render_body(body: Any, context: dict[str, Any]) -> Any:
    """Fill placeholders in every string of a JSON body template."""
    if isinstance(body, str):
        return render(body, context)
    if isinstance(body, list):
        return [render_body(item, context) for item in body]
    if isinstance(body, dict):
        return {k: render_body(v, context) for k, v in body.items()}
    return body
