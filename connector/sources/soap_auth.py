"""How a SOAP back office is logged into: a WS-Security UsernameToken in the envelope's header,
or Windows NTLM over HTTP (Dynamics NAV on premises)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from typing import Literal
from xml.sax.saxutils import escape

import requests
from pydantic import SecretStr
from requests_ntlm import HttpNtlmAuth

from connector.config import Strict

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
BASE64 = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
          "#Base64Binary")


class WsSecurityAuth(Strict):
    """A WS-Security UsernameToken in each envelope's header: the password as text (over
    HTTPS), or its digest with a nonce and a creation time (`digest: true`)."""

    type: Literal["ws_security"]
    username: str
    password: SecretStr
    digest: bool = False


class NtlmAuth(Strict):
    """Windows NTLM over HTTP; `username` as `DOMAIN\\user` (or `user@domain`)."""

    type: Literal["ntlm"]
    username: str
    password: SecretStr


def ntlm_session_auth(auth: NtlmAuth) -> requests.auth.AuthBase:
    """What a requests session needs to answer NTLM's challenge on each connection."""
    return HttpNtlmAuth(auth.username, auth.password.get_secret_value())


def username_token(auth: WsSecurityAuth, now: dt.datetime | None = None,
                   nonce: bytes | None = None) -> str:
    """The `<wsse:Security>` header block for one message (a fresh nonce each time)."""
    password = auth.password.get_secret_value()
    user = f"<wsse:Username>{escape(auth.username)}</wsse:Username>"
    if not auth.digest:
        secret = (f'<wsse:Password Type="{PROFILE}#PasswordText">{escape(password)}'
                  "</wsse:Password>")
        return _security(user + secret)
    created = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    once = nonce if nonce is not None else secrets.token_bytes(16)
    digest = base64.b64encode(
        hashlib.sha1(once + created.encode() + password.encode()).digest()).decode()
    return _security(
        user + f'<wsse:Password Type="{PROFILE}#PasswordDigest">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(once).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created>")


def _security(token: str) -> str:
    return (f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
            f"<wsse:UsernameToken>{token}</wsse:UsernameToken></wsse:Security>")
