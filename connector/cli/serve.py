"""`connector serve`: the Flask app under gunicorn (threads for concurrent sidebars)."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from connector.cli.common import EXIT_INVALID, manifest_or_report
from connector.settings import Settings

# The URL path only: query strings may carry identifiers, which never go to a log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, the path written as sent (percent-encoded): a decoded `%0A` would
    start a forged line of its own."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        found["U"] = quote(found.get("U") or "", safe="/:@!$&'()*+,;=-._~")
        return found


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from our settings rather than its command line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": f"{self.settings.host}:{self.settings.port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": self.settings.threads,
            "accesslog": "-",
            "logger_class": AccessLogger,
            "access_log_format": ACCESS_LOG_FORMAT,
            "timeout": 30,
            "graceful_timeout": 5,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """The app, in the worker process, with its event worker thread and job scheduler
        running (every process may run them: events are claimed, never shared, and each job
        runs once per cluster)."""
        from connector.web import create_app

        app = create_app(self.settings)
        app.extensions["connector"].worker.start()
        app.extensions["connector"].jobs.start()
        return app


def run_server(settings: Settings) -> int:
    """Serve until stopped; prints where."""
    url = f"http://{settings.host}:{settings.port}"
    print(f"connector: serving on {url} — demo helpdesk: {url}/demo", file=sys.stderr, flush=True)
    _Gunicorn(settings).run()
    return 0


def add_serve_command(commands: Any) -> argparse.ArgumentParser:
    """Add `serve` to the `connector` parser."""
    serve: argparse.ArgumentParser = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=serve_command)
    return serve


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve on the host and port given (or the settings'), once the manifest is valid."""
    updates: dict[str, Any] = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    settings = settings.model_copy(update=updates)
    if manifest_or_report(settings) is None:
        return EXIT_INVALID
    return run_server(settings)
