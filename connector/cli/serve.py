"""`connector serve`: the Flask app behind its front (`connector.cli.front`: waitress, bounded,
drained on SIGTERM); with `--workers N`, N web processes on one port and one process for the
event worker and the jobs (`connector.cli.processes`). `connector worker`: that last one alone."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from connector.cli.common import EXIT_INVALID, manifest_or_report
from connector.cli.front import Front
from connector.cli.processes import Supervisor, listening_socket, run_worker, settle_heap
from connector.cli.watchdog import watch
from connector.ops.metrics import process_ended, restarts, share_between_processes, unshare
from connector.settings import Settings
from connector.web import create_app


def run_server(settings: Settings, sock: socket.socket | None = None,
               with_worker: bool = True) -> int:
    """Serve until SIGTERM or Ctrl-C, then drain; prints where. The event worker and the job
    scheduler run in this process too unless `with_worker` is off (every process may run them:
    events are claimed, never shared, and each job runs once per cluster)."""
    app = create_app(settings)
    services = app.extensions["connector"]
    front = Front(app, settings, sock)
    settle_heap()
    watch(settings.stuck_s, [front.progress, *([services.worker.progress] if with_worker else [])],
          noted=services.metrics.note_stalled)
    if with_worker:
        services.worker.start()
        services.jobs.start()
    url = f"http://{settings.host}:{front.port}"
    demo = f" — demo helpdesk: {url}/demo" if settings.demo else ""
    print(f"connector: serving on {url}{demo}", file=sys.stderr, flush=True)
    front.run(on_stop=services.close)
    return 0


def run_processes(settings: Settings, workers: int, with_worker: bool, why: str) -> int:
    """`workers` web processes sharing the port, and one for events and jobs (unless another
    host runs `connector worker`), supervised until SIGTERM or Ctrl-C."""
    sock = listening_socket(settings)
    children = {f"web-{n}": (lambda: run_server(settings, sock, with_worker=False))
                for n in range(1, workers + 1)}
    if with_worker:
        children["worker"] = lambda: run_worker(settings)
    where = f"http://{settings.host}:{sock.getsockname()[1]}"
    print(f"connector: {workers} web processes ({why}) on {where}"
          f"{' and one for events and jobs' if with_worker else ''}", file=sys.stderr,
          flush=True)
    made = share_between_processes()
    try:
        return Supervisor(children, ended=process_ended, stuck_s=settings.stuck_s,
                          restarted=restarts()).run()
    finally:
        unshare(made)


def add_serve_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `serve` and `worker` to the `connector` parser."""
    serve: argparse.ArgumentParser = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=_workers,
                       help="web processes, or auto (default: CONNECTOR_WORKERS, auto: one per "
                            "core when CONNECTOR_CACHE_URL shares the cache, else 1; 1: one "
                            "process runs everything)")
    serve.add_argument("--no-worker", action="store_true",
                       help="run no event worker or jobs here (`connector worker` runs them)")
    serve.set_defaults(run=serve_command)
    worker: argparse.ArgumentParser = commands.add_parser(
        "worker", help="run the event worker, the outbox and the jobs, without serving HTTP")
    worker.set_defaults(run=worker_command)
    return [serve, worker]


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve on the host and port given (or the settings'), once the manifest is valid."""
    updates: dict[str, Any] = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    settings = settings.model_copy(update=updates)
    if manifest_or_report(settings) is None:
        return EXIT_INVALID
    if args.workers is not None:
        settings = settings.model_copy(update={"workers": args.workers})
    workers, why = settings.web_processes()
    if workers == 1:
        return run_server(settings, with_worker=not args.no_worker)
    return run_processes(settings, workers, with_worker=not args.no_worker, why=why)


def _workers(text: str) -> int | str:
    """--workers: a number of processes from 1 to 64, or auto."""
    if text == "auto":
        return text
    if text.isdigit() and 1 <= int(text) <= 64:
        return int(text)
    raise argparse.ArgumentTypeError("a number of processes from 1 to 64, or auto")


def worker_command(_args: argparse.Namespace, settings: Settings) -> int:
    """Run the event worker and the jobs, once the manifest is valid."""
    if manifest_or_report(settings) is None:
        return EXIT_INVALID
    return run_worker(settings)
