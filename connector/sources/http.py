"""HTTP for sources: pooled sessions, and every failure classified in one place."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connector.retry import retry_after_s
from connector.sources.base import (
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    SourceTimeout,
    SourceUnavailable,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024


def new_session(pool_size: int = 16) -> requests.Session:
    """A pooled session for one source (connections reused across lookups)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "connector/0.1"
    return session


@dataclass(frozen=True)
class Answer:
    """A JSON answer (None for 404 or an empty body) and the headers it came with."""

    data: Any
    headers: dict[str, str]
    links: dict[str, str]


def call_json(
    session: requests.Session, method: str, url: str, *, timeout_s: float, **kwargs: Any
) -> Any:
    """Send one request and return its JSON, None on 404; raise a classified SourceError."""
    return send(session, method, url, timeout_s=timeout_s, **kwargs).data


def send(
    session: requests.Session, method: str, url: str, *, timeout_s: float, **kwargs: Any
) -> Answer:
    """Send one request; its JSON and headers, or a classified SourceError."""
    try:
        with session.request(method, url, timeout=timeout_s, stream=True, **kwargs) as response:
            _raise_for_status(response)
            headers = dict(response.headers)
            links = {rel: link["url"] for rel, link in response.links.items()}
            if response.status_code == 404:
                return Answer(None, headers, links)
            body = _read_capped(response)
    except requests.Timeout as exc:
        raise SourceTimeout(f"no answer within {timeout_s:g} s", str(exc)) from exc
    except requests.ConnectionError as exc:
        raise SourceUnavailable("unreachable", str(exc)) from exc
    except requests.RequestException as exc:
        raise SourceUnavailable("request failed", str(exc)) from exc
    try:
        return Answer(json.loads(body) if body.strip() else None, headers, links)
    except ValueError as exc:
        raise SourceError("answered with invalid JSON", str(exc)) from exc


def _raise_for_status(response: requests.Response) -> None:
    code = response.status_code
    if code == 429:
        wait = retry_after_s(response.headers.get("Retry-After"))
        error = SourceUnavailable("rate-limited (429)")
        error.retry_after_s = wait
        raise error
    if code >= 500:
        raise SourceUnavailable(f"server error ({code})")
    if code in (401, 403):
        raise SourceRefused(f"refused our credentials ({code})")
    if code >= 400 and code != 404:
        raise SourceMisconfigured(f"rejected the request ({code})")


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise SourceError(f"answer larger than {MAX_BODY_BYTES // 1024 // 1024} MB")
        chunks.append(chunk)
    return b"".join(chunks)
