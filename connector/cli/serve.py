"""`connector serve`: the Flask app behind its front (`connector.cli.front`: waitress, bounded,
drained on SIGTERM)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from connector.cli.common import EXIT_INVALID, manifest_or_report
from connector.cli.front import Front
from connector.settings import Settings
from connector.web import create_app


def run_server(settings: Settings) -> int:
    """Serve until SIGTERM or Ctrl-C, then drain; prints where. The event worker and the job
    scheduler run in this process too (every process may run them: events are claimed, never
    shared, and each job runs once per cluster)."""
    app = create_app(settings)
    services = app.extensions["connector"]
    front = Front(app, settings)
    services.worker.start()
    services.jobs.start()
    url = f"http://{settings.host}:{front.port}"
    demo = f" — demo helpdesk: {url}/demo" if settings.demo else ""
    print(f"connector: serving on {url}{demo}", file=sys.stderr, flush=True)
    front.run(on_stop=services.close)
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
