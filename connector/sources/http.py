"""HTTP for sources: pooled sessions, one deadline per call (connect, headers and the whole
body), and every failure classified in one place."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connector.retry import retry_after_s
from connector.sources.base import (
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    SourceTimeout,
    SourceUnavailable,
    current_deadline,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
CHUNK_BYTES = 16 * 1024


# ---- the deadline of one call, and the watchdog that holds calls to it ----------------------

_HOLD = threading.Lock()  # attaching, cutting and finishing calls never interleave


class _Watch:
    """One call's deadline and the connection it runs on, cut when the deadline passes (a
    server dribbling its answer a byte at a time never lets a socket timeout fire)."""

    def __init__(self, due: float) -> None:
        self.due = due
        self.connection: _Watched | None = None
        self.cut_off = False
        self.finished = False

    def attach(self, connection: _Watched) -> None:
        """The call now runs on this connection."""
        with _HOLD:
            if not self.finished:
                self.connection = connection
                connection.deadline_watch = self

    def cut(self) -> None:
        """The deadline passed: shut the connection's socket, so a blocked read returns now."""
        with _HOLD:
            if self.finished:
                return
            self.cut_off = True
            connection = self.connection
            if connection is None or connection.deadline_watch is not self:
                return
            sock = connection.sock
            if sock is not None:  # the plain socket's shutdown: wakes a reader in TLS too
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        """The call is over: its connection (back in the pool) is no longer cut for it."""
        with _HOLD:
            self.finished = True
            if self.connection is not None and self.connection.deadline_watch is self:
                self.connection.deadline_watch = None

    def late(self) -> bool:
        """Whether the call was cut or is past its deadline."""
        return self.cut_off or time.monotonic() >= self.due


class _Watchdog:
    """One thread for the process, cutting every call still running at its deadline."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Watch]] = []
        self._wake = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, watch: _Watch) -> None:
        """Cut this call at its deadline unless it has finished by then."""
        with self._wake:
            heapq.heappush(self._due, (watch.due, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():  # first call, or forked
                self._thread = threading.Thread(target=self._run, name="source-deadlines",
                                                daemon=True)
                self._thread.start()
            if self._due[0][2] is watch:
                self._wake.notify()

    def pending(self) -> int:
        """How many calls it still watches (a finished call stays until its deadline)."""
        with self._wake:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(wait if wait is None else max(wait, 0.0))
                _, _, watch = heapq.heappop(self._due)
            watch.cut()


WATCHDOG = _Watchdog()
_CALL: ContextVar[_Watch | None] = ContextVar("source_call", default=None)


class _Watched(HTTPConnection):
    """A connection the current call's deadline can cut."""

    deadline_watch: _Watch | None = None

    def connect(self) -> None:
        """Connect, as the current call's connection."""
        _attach(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Send a request, as the current call's connection."""
        _attach(self)
        super().request(*args, **kwargs)


class _WatchedTLS(_Watched, HTTPSConnection):
    """A TLS connection the current call's deadline can cut."""


def _attach(connection: _Watched) -> None:
    watch = _CALL.get()
    if watch is not None:
        watch.attach(connection)
        if watch.cut_off:  # cut while it was still connecting
            raise TimeoutError("the call's deadline passed")


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _Watched


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLS


class _DeadlineAdapter(HTTPAdapter):
    """Pools whose connections the watchdog can cut (calls through a proxy are held by their
    socket timeouts and the checks between chunks only)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The pool manager, making watched connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool,
                                                   "https": _WatchedTLSPool}


# ---- sessions and calls ---------------------------------------------------------------------


def new_session(pool_size: int = 16) -> requests.Session:
    """A pooled session for one source (connections reused across lookups)."""
    session = requests.Session()
    adapter = _DeadlineAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "connector/0.1"
    return session


@dataclass(frozen=True)
class Answer:
    """A JSON answer (None for 404 or an empty body), the headers it came with, and the URL
    that answered (relative next links are read against it)."""

    data: Any
    headers: dict[str, str]
    links: dict[str, str]
    url: str = ""


def call_json(
    session: requests.Session, method: str, url: str, *, timeout_s: float, **kwargs: Any
) -> Any:
    """Send one request and return its JSON, None on 404; raise a classified SourceError."""
    return send(session, method, url, timeout_s=timeout_s, **kwargs).data


# An answer's body and Content-Type → its data (JSON by default; XML: `xml_answers`)
Decode = Callable[[bytes, str], Any]
# An error status's body and Content-Type → the error it states (a SOAP Fault), or None
ReadFault = Callable[[int, bytes, str], SourceError | None]


def send(
    session: requests.Session, method: str, url: str, *, timeout_s: float,
    decode: Decode | None = None, fault: ReadFault | None = None, **kwargs: Any
) -> Answer:
    """Send one request; its JSON (or what `decode` reads) and headers, or a classified
    SourceError (`fault` may read it from an error's body first). The whole call
    (connect, headers, body) ends within timeout_s, or by the deadline set around it
    (`base.deadline_at`) when that comes first: a late call raises SourceTimeout."""
    due = current_deadline(timeout_s)
    assert due is not None
    if due <= time.monotonic():
        raise SourceTimeout(_late(timeout_s), "deadline passed before the call")
    watch = _Watch(due)
    token = _CALL.set(watch)
    WATCHDOG.watch(watch)
    try:
        answer, body, kind = _exchange(session, method, url, timeout_s, watch, fault,
                                       **kwargs)
    except requests.RequestException as exc:
        raise _classified(exc, watch, timeout_s, url) from exc
    finally:
        watch.finish()
        _CALL.reset(token)
    if body is None or not body.strip():
        return answer
    data = (decode or json_answer)(body, kind)
    return Answer(data, answer.headers, answer.links, answer.url)


def json_answer(body: bytes, kind: str) -> Any:
    """A body read as JSON; SourceError when it is not."""
    try:
        return json.loads(body)
    except ValueError as exc:
        raise SourceError("answered with invalid JSON",
                          f"{kind or 'no content type'}, {len(body)} bytes: {exc}") from exc


def _exchange(session: requests.Session, method: str, url: str, timeout_s: float, watch: _Watch,
              fault: ReadFault | None, **kwargs: Any) -> tuple[Answer, bytes | None, str]:
    """The answer's headers and raw body (None for a 404), read by the deadline: no socket
    wait is longer than the time left, and the watchdog cuts the call at the deadline."""
    left = max(watch.due - time.monotonic(), 0.001)
    with session.request(method, url, timeout=(left, left), stream=True, **kwargs) as response:
        code = response.status_code
        if fault is not None and code >= 400 and code not in (404, 429):
            error = fault(code, _read_capped(response, watch, timeout_s),
                          response.headers.get("Content-Type", ""))
            if error is not None:
                raise error
        _raise_for_status(response)
        headers = dict(response.headers)
        links = {rel: link["url"] for rel, link in response.links.items()}
        kind = headers.get("Content-Type", "")
        answered = Answer(None, headers, links, response.url)
        if response.status_code == 404:
            return answered, None, kind
        return answered, _read_capped(response, watch, timeout_s), kind


def _classified(exc: requests.RequestException, watch: _Watch, timeout_s: float,
                url: str) -> SourceError:
    if watch.late() or isinstance(exc, requests.Timeout):
        return SourceTimeout(_late(timeout_s), str(exc))
    if isinstance(exc, requests.ConnectionError):
        return SourceUnavailable(f"unreachable at {origin(url)}", str(exc))
    return SourceUnavailable("request failed", str(exc))


def origin(url: str) -> str:
    """Where a call went, fit for an admin's eyes: scheme, host and port (no path, query or
    login, which may hold a customer's identifier or a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _late(timeout_s: float) -> str:
    return f"no answer within {timeout_s:g} s"


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


def _read_capped(response: requests.Response, watch: _Watch, timeout_s: float) -> bytes:
    """The body, refused past MAX_BODY_BYTES, cut at the call's deadline however it trickles."""
    too_large = f"answer larger than {MAX_BODY_BYTES // 1024 // 1024} MB"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise SourceError(too_large, f"Content-Length {declared}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(CHUNK_BYTES):
        if watch.late():
            raise SourceTimeout(_late(timeout_s), f"answer cut after {size} bytes")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise SourceError(too_large)
        chunks.append(chunk)
    if watch.cut_off:  # the watchdog shut the socket: what came is only part of the answer
        raise SourceTimeout(_late(timeout_s), f"answer cut after {size} bytes")
    return b"".join(chunks)
