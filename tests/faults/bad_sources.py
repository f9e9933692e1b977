"""A real HTTP server the tests own, whose answer on each path (or for one customer's email on
that path) is one way a source misbehaves:

- `ok`: the path's payload for the email, as JSON (a 404 when the payload is None);
- `dribble`: the headers at once, then the body one byte every 0.2 s (a socket timeout never
  fires: each read gets a byte in time);
- `hang_after_headers`: the headers, then nothing until the test ends;
- `hang_before_headers`: the request is read, then nothing until the test ends;
- `huge`: a Content-Length of 50 MB, sent as fast as it goes;
- `huge_chunked`: chunks of 64 KB with no length, up to 20 MB;
- `html`: a web page (a login page, a proxy's error page) with 200;
- `text_json`: the payload's JSON, said to be text/plain;
- `truncated`: JSON that stops in the middle;
- `slow`: the payload after 0.6 s (pages that are each in time, and all together are not).

It speaks HTTP/1.1 with keep-alive, so the connector's pooled connections are exercised too.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DRIBBLE_STEP_S = 0.2
Payload = Callable[[dict[str, str]], Any]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Answer as the path's mode says."""
        self.server.owner.answer(self)

    def do_POST(self) -> None:
        """Read the body, then answer as the path's mode says."""
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.owner.answer(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: BadSources


class BadSources:
    """The server (see the module's docstring); `modes` maps a path, or (path, email), to a
    mode; `payloads` maps a path to its JSON for the query's parameters."""

    def __init__(self) -> None:
        self.modes: dict[str | tuple[str, str], str] = {}
        self.payloads: dict[str, Payload] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes sent, per path
        self.ports: set[int] = set()  # the client ports requests came from (one a connection)
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Let every held answer go, and stop."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def hit(self, path: str, email: str | None = None) -> int:
        """How many requests came for a path (for one email)."""
        with self._lock:
            return self.hits[path if email is None else f"{path}?{email}"]

    def answer(self, handler: _Handler) -> None:
        """One answer, in the mode set for its path and email."""
        url = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        email = params.get("email", "")
        with self._lock:
            self.hits[url.path] += 1
            self.hits[f"{url.path}?{email}"] += 1
            self.ports.add(handler.client_address[1])
            mode = self.modes.get((url.path, email)) or self.modes.get(url.path, "ok")
        try:
            getattr(self, f"_{mode}")(handler, url.path, params)
        except OSError:  # the connector cut the call: what it should do
            handler.close_connection = True

    def _body(self, path: str, params: dict[str, str]) -> bytes | None:
        payload = self.payloads.get(path, lambda _p: {})(params)
        return None if payload is None else json.dumps(payload).encode()

    def _head(self, handler: _Handler, length: int | None, kind: str = "application/json",
              status: int = 200) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        if length is None:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.flush()

    def _ok(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        body = self._body(path, params)
        if body is None:
            body = b'{"error": "not found"}'
            self._head(handler, len(body), status=404)
        else:
            self._head(handler, len(body))
        handler.wfile.write(body)

    def _slow(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        self.release.wait(0.6)
        self._ok(handler, path, params)

    def _dribble(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        body = (self._body(path, params) or b"{}") + b" " * 200  # 40 s at this pace
        self._head(handler, len(body))
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            with self._lock:
                self.sent[path] += 1
            if self.release.wait(DRIBBLE_STEP_S):
                return

    def _hang_after_headers(self, handler: _Handler, path: str, _params: dict[str, str]) -> None:
        self._head(handler, 100)
        self.release.wait(60)
        handler.close_connection = True

    def _hang_before_headers(self, handler: _Handler, path: str,
                             _params: dict[str, str]) -> None:
        self.release.wait(60)
        handler.close_connection = True

    def _huge(self, handler: _Handler, path: str, _params: dict[str, str]) -> None:
        self._head(handler, 50 * 1024 * 1024)
        block = b" " * 65536
        for _ in range(50 * 16):
            handler.wfile.write(block)

    def _huge_chunked(self, handler: _Handler, path: str, _params: dict[str, str]) -> None:
        self._head(handler, None)
        block = b" " * 65536
        for _ in range(20 * 16):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        handler.wfile.write(b"0\r\n\r\n")

    def _html(self, handler: _Handler, path: str, _params: dict[str, str]) -> None:
        body = b"<!doctype html><html><body><form>Sign in</form></body></html>"
        self._head(handler, len(body), kind="text/html; charset=utf-8")
        handler.wfile.write(body)

    def _text_json(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        body = self._body(path, params) or b"{}"
        self._head(handler, len(body), kind="text/plain; charset=utf-8")
        handler.wfile.write(body)

    def _truncated(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        body = (self._body(path, params) or b'{"a": [1, 2, 3]}')[:-3]
        self._head(handler, len(body))
        handler.wfile.write(body)


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for a condition to hold (polling), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        time.sleep(0.01)
