"""The front of `connector serve`: waitress, a buffering WSGI server, bounded, drained on stop.

Why waitress (bench/bench_front.py measures it against gunicorn's threaded worker): its one
event loop reads every request, headers and body, into buffers before a worker thread sees it,
so a client that sends a byte a second holds a socket, not one of the threads that render
sidebars. What it does not bound by itself is bounded here:
- headers (`max_request_header_size`) and bodies (`max_request_body_size`, a 413 before the
  app runs; the app caps each route lower, see `connector.web.limits`);
- open connections (`connection_limit`; `poll`, not `select`, so more than 1,024 sockets work);
- a request that takes longer than `request_read_timeout_s` to arrive is cut (a slow-loris
  client cannot keep a socket for ever by sending a byte before each idle timeout);
- `/healthz` has a thread of its own: a liveness probe never waits behind sidebar work, even
  when every other thread waits on a source or the database;
- on SIGTERM or SIGINT the listening socket closes at once, the requests already read finish
  (up to `drain_s`), then the event worker and the jobs stop (the worker releases the events
  it holds).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any
from urllib.parse import quote

from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ThreadedTaskDispatcher

from connector.ops.progress import Progress
from connector.settings import Settings

log = logging.getLogger(__name__)
access = logging.getLogger("connector.access")

PROBES = frozenset({"/healthz"})  # answered on their own thread

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class BoundedChannel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, noting when the request it is reading began."""

    request_started: float | None = None

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.monotonic()
        done: bool = super().received(data)
        if self.request is None:
            self.request_started = None
        return done


class ProbeLane:
    """waitress's task dispatcher, with a lane of its own for liveness probes."""

    def __init__(self, main: ThreadedTaskDispatcher) -> None:
        self.main = main
        self.probes = ThreadedTaskDispatcher()
        self.probes.set_thread_count(1)

    def add_task(self, channel: HTTPChannel) -> None:
        """A probe to the probe thread, anything else to the others."""
        request = channel.requests[0] if channel.requests else None
        probe = request is not None and request.command == "GET" and request.path in PROBES
        (self.probes if probe else self.main).add_task(channel)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        """Both lanes' threads stopped."""
        self.probes.shutdown(cancel_pending, timeout)
        return bool(self.main.shutdown(cancel_pending, timeout))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.main, name)


class Front:
    """The server for one process: bound at creation, serving in `run` until a signal."""

    def __init__(self, app: WsgiApp, settings: Settings,
                 sock: socket.socket | None = None) -> None:
        """Bound to the settings' host and port, or serving `sock`, a socket bound already
        (the one a parent shares with its web processes, `connector serve --workers`)."""
        self.settings = settings
        self.progress = Progress("request")  # the requests under way, for the watchdog
        where: dict[str, Any] = ({"sockets": [sock]} if sock is not None
                                 else {"host": settings.host, "port": settings.port})
        self.server: BaseWSGIServer = create_server(
            AccessLog(app, self.progress), **where, ident="connector",
            threads=settings.threads,
            connection_limit=settings.max_connections,
            max_request_header_size=settings.max_header_bytes,
            max_request_body_size=settings.max_body_bytes,
            channel_timeout=settings.idle_timeout_s,
            cleanup_interval=1,
            asyncore_use_poll=True,
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=True,
            **_proxy_options(settings.trusted_proxy))
        self.server.channel_class = BoundedChannel
        self.server.task_dispatcher = ProbeLane(self.server.task_dispatcher)
        self._stop_asked = threading.Event()
        self._maintain = self.server.maintenance
        self.server.maintenance = self._maintenance  # type: ignore[method-assign]

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one the system gave for 0)."""
        return int(self.server.effective_port)

    def run(self, on_stop: Callable[[], None]) -> None:
        """Serve until SIGTERM or SIGINT, drain, then call `on_stop`."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        self.serve(on_stop)

    def serve(self, on_stop: Callable[[], None]) -> None:
        """Serve until `stop`, drain, then call `on_stop` (any thread: no signal handlers)."""
        while not self._stop_asked.is_set():
            wasyncore.loop(timeout=0.5, map=self.server._map, use_poll=True, count=1)
        log.info("stopping: the listening socket is closed, finishing requests under way")
        self._drain()
        on_stop()
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=self.settings.drain_s)
        self.server.close()
        log.info("stopped")

    def stop(self) -> None:
        """Ask the loop to stop (from any thread; again is harmless)."""
        if self._stop_asked.is_set():
            return
        self._stop_asked.set()
        self.server.pull_trigger()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s received", signal.Signals(signum).name)
        self.stop()

    def _drain(self) -> None:
        """Stop accepting; let the requests already read finish and their answers go out (up to
        `drain_s`); close idle and half-read connections."""
        self.server.accepting = False
        self.server.del_channel()
        self.server.socket.close()
        deadline = time.monotonic() + self.settings.drain_s
        while time.monotonic() < deadline:
            busy = False
            for channel in self._channels():
                if channel.requests or channel.total_outbufs_len:
                    busy = True
                else:
                    channel.will_close = True
            if not busy and not self._channels():
                return
            wasyncore.loop(timeout=0.1, map=self.server._map, use_poll=True, count=1)
        log.warning("%d connection(s) still busy after %g s: closing them",
                    len(self._channels()), self.settings.drain_s)

    def _channels(self) -> list[HTTPChannel]:
        return [c for c in list(self.server._map.values()) if isinstance(c, HTTPChannel)]

    def _maintenance(self, now: float) -> None:
        """waitress's idle sweep, plus: a request still arriving after the read timeout is cut."""
        self._maintain(now)
        cutoff = time.monotonic() - self.settings.request_read_timeout_s
        for channel in self._channels():
            started = getattr(channel, "request_started", None)
            if started is not None and started < cutoff and not channel.requests:
                channel.will_close = True


def _proxy_options(trusted: str | None) -> dict[str, Any]:
    """Behind a reverse proxy, the client's address from X-Forwarded-For (rate limits and the
    access log need the real one); never from a client we do not trust."""
    if not trusted:
        return {}
    return {"trusted_proxy": trusted, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto",
                                      "x-forwarded-host"}}


class AccessLog:
    """One line per request: client, method, path as sent (percent-encoded: a decoded `%0A`
    would start a forged line), status, bytes, milliseconds. Never the query string, which may
    carry identifiers. Each request but the liveness probes is counted in `progress` while
    under way (the watchdog's)."""

    def __init__(self, app: WsgiApp, progress: Progress | None = None) -> None:
        self.app = app
        self.progress = progress

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        started = time.perf_counter()
        status = ["-"]
        progress = self.progress
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") in PROBES:
            progress = None  # on their own thread: never what a process is stuck on
        if progress is not None:
            progress.began()

        def starting(code: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, *args)

        sent = 0
        body: Iterable[bytes] = ()
        try:
            body = self.app(environ, starting)
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            if progress is not None:
                progress.ended()
            close = getattr(body, "close", None)
            if close is not None:
                close()
            raw = environ.get("PATH_INFO", "").encode("latin-1", "replace")  # WSGI's bytes
            path = quote(raw, safe="/:@!$&'()*+,;=-._~")
            access.info('%s "%s %s" %s %d %dms', environ.get("REMOTE_ADDR", "-"),
                        environ.get("REQUEST_METHOD", "-"), path, status[0], sent,
                        (time.perf_counter() - started) * 1000)
