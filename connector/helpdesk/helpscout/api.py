"""Help Scout's Mailbox API 2.0, as much as write-back needs: an OAuth2 token from the
client-credentials grant, a conversation's tags (read, then replaced), an internal note.

Documented at developer.helpscout.com/mailbox-api: `POST /v2/oauth2/token`
(grant_type=client_credentials, client_id, client_secret → access_token, expires_in, 2 days),
`GET /v2/conversations/{id}` (`tags`: [{id, color, tag}]), `PUT /v2/conversations/{id}/tags`
(`{"tags": […]}`, the whole list: 204), `POST /v2/conversations/{id}/notes` (`{"text": …}`:
201). Rate limits: 200 requests a minute per account, writes counting twice; a 429 carries
`X-RateLimit-Retry-After` (seconds; the legacy API said `Retry-After`: both are read).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import requests

from connector.helpdesk.base import RateLimited, WriteBackFailed, retry_after

log = logging.getLogger(__name__)
TOKEN_MARGIN_S = 60  # renew a token this long before it expires


class MailboxApi:
    """A small client of the Mailbox API, one token shared by every call."""

    def __init__(self, base_url: str, client_id: str, client_secret: str,
                 clock: Callable[[], float], timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "connector/0.1"
        self._token: tuple[str, float] | None = None  # (access token, expiry on the clock)
        self._lock = threading.Lock()

    def conversation_tags(self, conversation_id: str) -> list[str]:
        """The tags a conversation has now."""
        data = self._call("GET", f"/v2/conversations/{conversation_id}").json()
        tags = data.get("tags") if isinstance(data, dict) else None
        return [t["tag"] if isinstance(t, dict) else str(t) for t in tags or []
                if isinstance(t, str) or (isinstance(t, dict) and isinstance(t.get("tag"), str))]

    def replace_tags(self, conversation_id: str, tags: list[str]) -> None:
        """Set a conversation's whole tag list."""
        self._call("PUT", f"/v2/conversations/{conversation_id}/tags", json={"tags": tags})

    def add_note(self, conversation_id: str, text: str) -> None:
        """Add an internal note to a conversation."""
        self._call("POST", f"/v2/conversations/{conversation_id}/notes", json={"text": text})

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call; a token refused once is renewed and the call tried again."""
        for attempt in (1, 2):
            response = self._send(method, path, self._access_token(), **kwargs)
            if response.status_code == 401 and attempt == 1:
                with self._lock:
                    self._token = None
                continue
            return self._checked(response, method, path)
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, f"{self.base_url}{path}",
                                         headers={"Authorization": f"Bearer {token}"},
                                         timeout=self._timeout_s, **kwargs)
        except requests.RequestException as exc:
            log.warning("Help Scout API %s %s failed: %s", method, path, type(exc).__name__)
            raise WriteBackFailed("Help Scout's API did not answer") from exc

    def _checked(self, response: requests.Response, method: str,
                 path: str) -> requests.Response:
        """The response when it succeeded; else the failure, classified once."""
        status = response.status_code
        if status < 300:
            return response
        log.warning("Help Scout API %s %s answered %s", method, path, status)
        if status == 429:
            raise RateLimited(wait_after_429(response.headers), endpoint=path)
        if status >= 500:
            raise WriteBackFailed(f"Help Scout's API failed ({status})")
        if status in (401, 403):
            raise WriteBackFailed("Help Scout refused the app's access: check the app's "
                                  "permissions (HELPSCOUT_CLIENT_ID)", permanent=True)
        if status in (301, 404):
            raise WriteBackFailed("the conversation is gone (deleted, moved or merged)",
                                  permanent=True)
        raise WriteBackFailed(f"Help Scout refused the change ({status})", permanent=True)

    def _access_token(self) -> str:
        """A valid token: the cached one, else a new one from the client-credentials grant."""
        with self._lock:
            if self._token is not None and self._token[1] > self._clock():
                return self._token[0]
            try:
                response = self._session.post(
                    f"{self.base_url}/v2/oauth2/token", timeout=self._timeout_s,
                    data={"grant_type": "client_credentials", "client_id": self._client_id,
                          "client_secret": self._client_secret})
            except requests.RequestException as exc:
                raise WriteBackFailed("Help Scout's token endpoint did not answer") from exc
            if response.status_code == 429:
                raise RateLimited(wait_after_429(response.headers), endpoint="/v2/oauth2/token")
            if response.status_code >= 500:
                raise WriteBackFailed(f"Help Scout's token endpoint failed "
                                      f"({response.status_code})")
            if response.status_code != 200:
                raise WriteBackFailed("Help Scout refused the app's credentials: check "
                                      "HELPSCOUT_CLIENT_ID and HELPSCOUT_CLIENT_SECRET",
                                      permanent=True)
            data = response.json()
            token = data.get("access_token") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token:
                raise WriteBackFailed("Help Scout's token endpoint gave no token")
            lifetime = float(data.get("expires_in") or 0) - TOKEN_MARGIN_S
            self._token = (token, self._clock() + max(lifetime, 0.0))
            return token


def wait_after_429(headers: Any) -> float:
    """Seconds to wait after a 429, from Help Scout's header (the legacy API's as a fallback;
    else a minute)."""
    return retry_after(headers.get("X-RateLimit-Retry-After") or headers.get("Retry-After"))
