"""How a REST source proves who it is: static credentials, OAuth2 client credentials, a login
(WS-Security and NTLM, for SOAP back offices: `soap_auth`)."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any, Literal

import requests
from pydantic import Field, SecretStr

from connector.config import Strict
from connector.sources.base import (
    LoginRefused,
    SourceMisconfigured,
    SourceRefused,
    SourceTimeout,
    current_deadline,
    time_left,
)
from connector.sources.http import call_json, new_session
from connector.sources.mapping import search
from connector.sources.soap_auth import NtlmAuth, WsSecurityAuth, ntlm_session_auth
from connector.sources.templates import MissingValue, render, render_value

TOKEN_MARGIN_S = 30.0


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


class OAuth2ClientCredentials(Strict):
    """OAuth2 client-credentials grant: a token fetched, cached, refreshed before it expires.
    The client proves itself in the form (`client_auth: body`) or with HTTP basic (`basic`)."""

    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id: str
    client_secret: SecretStr
    scope: str | None = None
    client_auth: Literal["body", "basic"] = "body"


class LoginAuth(Strict):
    """A login call whose answer (a session, a user id) feeds the headers and templates of the
    other calls as `{auth.<name>}`; done again when it expires or a call is refused."""

    type: Literal["login"]
    method: Literal["GET", "POST"] = "POST"
    path: str = ""
    rpc_method: str | None = None
    body: Any = None
    extract: dict[str, str] = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    ttl_s: int = Field(default=3600, ge=60)


Auth = Annotated[
    BearerAuth | BasicAuth | ApiKeyAuth | OAuth2ClientCredentials | LoginAuth
    | WsSecurityAuth | NtlmAuth,
    Field(discriminator="type"),
]


class Credentials:
    """The live credentials of one source: what to add to each request, renewed when needed
    (token and login calls hold the deadline of the lookup that needs them)."""

    def __init__(self, auth: Auth | None, session: requests.Session, base_url: str,
                 secrets: dict[str, str], timeout_s: float, jsonrpc: bool) -> None:
        self.auth = auth
        self._session = session
        self._base_url = base_url
        self._secrets = secrets
        self._timeout_s = timeout_s
        self._jsonrpc = jsonrpc
        self._lock = threading.Lock()
        self._token_session = new_session(pool_size=1)  # none of the source's own headers
        self._values: dict[str, Any] = {}
        self._headers: dict[str, str] = {}
        self._expires = 0.0
        self.query: dict[str, str] = {}
        self._apply_static()

    @property
    def renewable(self) -> bool:
        """Whether a refusal may be cured by logging in again."""
        return isinstance(self.auth, (OAuth2ClientCredentials, LoginAuth))

    def _apply_static(self) -> None:
        auth = self.auth
        if isinstance(auth, BearerAuth):
            self._session.headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
        elif isinstance(auth, BasicAuth):
            self._session.auth = (auth.username, auth.password.get_secret_value())
        elif isinstance(auth, ApiKeyAuth) and auth.where == "header":
            self._session.headers[auth.name] = auth.value.get_secret_value()
        elif isinstance(auth, ApiKeyAuth):
            self.query[auth.name] = auth.value.get_secret_value()
        elif isinstance(auth, NtlmAuth):
            self._session.auth = ntlm_session_auth(auth)

    def current(self) -> tuple[dict[str, str], dict[str, Any]]:
        """Headers to send and `auth` values for templates, logging in first if needed; a call
        waits for another's login no longer than its own deadline."""
        if not self.renewable:
            return {}, {}
        left = time_left(current_deadline(self._timeout_s))
        if not self._lock.acquire(timeout=-1 if left is None else left):
            raise SourceTimeout(f"no answer within {self._timeout_s:g} s",
                                "waited for a login under way")
        try:
            if time.monotonic() >= self._expires:
                self._renew()
            return dict(self._headers), dict(self._values)
        finally:
            self._lock.release()

    def forget(self) -> None:
        """Drop the token or session (after a refusal), so the next call logs in again."""
        with self._lock:
            self._expires = 0.0

    def _renew(self) -> None:
        if isinstance(self.auth, OAuth2ClientCredentials):
            self._oauth2(self.auth)
        elif isinstance(self.auth, LoginAuth):
            self._login(self.auth)

    def _oauth2(self, auth: OAuth2ClientCredentials) -> None:
        secret = auth.client_secret.get_secret_value()
        form = {"grant_type": "client_credentials"}
        basic = (auth.client_id, secret) if auth.client_auth == "basic" else None
        if basic is None:
            form.update(client_id=auth.client_id, client_secret=secret)
        if auth.scope:
            form["scope"] = auth.scope
        answer = call_json(self._token_session, "POST", auth.token_url,
                           timeout_s=self._timeout_s, data=form, auth=basic)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            raise SourceMisconfigured("the token endpoint gave no access_token")
        lifetime = float(answer.get("expires_in") or 3600)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._expires = time.monotonic() + max(lifetime - TOKEN_MARGIN_S, 1.0)

    def _login(self, auth: LoginAuth) -> None:
        context = {"secret": self._secrets}
        try:
            body = render_value(auth.body, context)
        except MissingValue as exc:
            raise SourceMisconfigured("the login needs a value that is not set") from exc
        if self._jsonrpc or auth.rpc_method:
            body = {"jsonrpc": "2.0", "id": 0, "method": auth.rpc_method, "params": body}
        try:
            answer = call_json(self._session, auth.method, self._base_url + auth.path,
                               timeout_s=self._timeout_s, json=body)
        except SourceRefused as exc:
            raise LoginRefused(exc.public) from exc
        if isinstance(answer, dict) and (self._jsonrpc or auth.rpc_method):
            if answer.get("error"):
                raise LoginRefused("refused our credentials (login)")
            answer = answer.get("result")
        values = {name: search(path, answer) for name, path in auth.extract.items()}
        if any(v in (None, "", False) for v in values.values()):
            raise LoginRefused("refused our credentials (login)")
        context["auth"] = values
        headers = {k: render(v, context) for k, v in auth.headers.items()}
        self._values = values
        self._headers = {k: v for k, v in headers.items() if v is not None}
        self._expires = time.monotonic() + auth.ttl_s
