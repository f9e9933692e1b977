"""Process settings, read from CONNECTOR_* environment variables."""

from __future__ import annotations

import importlib
import logging
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


_BASE = {  # what the base install runs on instead of each setting that needs the extra
    "CONNECTOR_CACHE_URL": "this process's memory",
    "CONNECTOR_RATE_LIMIT_STORAGE": "this process's memory",
    "CONNECTOR_DATABASE_URL": "SQLite",
}


class Settings(BaseSettings):
    """Everything about this process that is not in the manifest (and every secret)."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore")

    manifest: Path = Path("manifest.yaml")
    data_dir: Path = Path("var")
    demo_dir: Path = Path("var/demo")
    database_url: str | None = None
    # migrate the schema at start (once per cluster, under a lock); off when a rollout runs
    # `connector migrate` first (a process then refuses a schema older than its code)
    auto_migrate: bool = True
    secret_key: SecretStr | None = None
    api_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    # when set, /metrics asks for `Authorization: Bearer <it>` (its figures name no customer,
    # but they tell an outsider how busy the service is and which sources fail)
    metrics_token: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 8
    # how many of a web process's threads do a sidebar's Python work at once (the others wait
    # their turn rather than contend for the interpreter; a thread waiting on its sources
    # gives its slot up): 0, no limit (connector/ops/gate.py)
    cpu_slots: int = Field(default=0, ge=0, le=64)
    log_level: str = "INFO"
    # the demo helpdesk (`/demo`, which makes sealed links for its sample tickets): only where
    # asked for (`make run` sets CONNECTOR_DEMO=1), never on a production service
    demo: bool = False
    # how long a worker may hold an event before another process takes it over (it died)
    event_lease_s: int = Field(default=300, ge=1, le=86400)
    # how many webhook events one process works at once (they mostly wait on sources)
    worker_threads: int = Field(default=4, ge=1, le=32)
    # how much the worker process (`connector worker`, `serve --workers N`'s event process)
    # lowers its CPU priority (nice(2): 0 keeps it): on a host it shares with web processes,
    # acknowledgements and sidebars go first, and the events are worked with what is left
    worker_nice: int = Field(default=10, ge=0, le=19)
    # database as a failing dependency (connector/store/guard.py): how long a call waits to
    # connect (psycopg counts whole seconds, 2 at least), for a pooled connection, for the ping
    # that checks it out and for /readyz, before the record comes from the sources alone or the
    # route answers 503; how long one statement may run (PostgreSQL cancels it; a server that
    # never answers has its socket cut a second later); after a failed connection, how long new
    # ones fail at once before one is tried again
    db_timeout_s: float = Field(default=2.0, ge=0.5, le=60)
    db_statement_timeout_s: float = Field(default=10.0, ge=0.5, le=3600)
    db_retry_s: float = Field(default=1.0, ge=0.1, le=60)
    # source deadlines: each source call ends within its manifest `timeout_s` and runs on the
    # source's own `max_concurrency` threads; the source cache holds at most this many bytes
    # (estimated as pickled size) and never keeps one answer larger than the second figure
    cache_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024)
    cache_max_entry_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # the source cache shared by every process (redis://host:6379/0; None: each process its
    # own, in memory), its keys under `{cache_prefix}:{manifest digest}:`
    cache_url: str | None = None
    cache_prefix: str = "connector"
    # a warm sidebar's rendered blocks, kept per record version in each process (0: off)
    render_cache_mb: int = Field(default=32, ge=0, le=4096)
    # whole sidebar pages, kept per request while nothing they were made of changed (0: off)
    kept_pages_mb: int = Field(default=16, ge=0, le=4096)
    # and shared by every process through the shared cache (CONNECTOR_CACHE_URL), when set
    kept_pages_shared: bool = True
    # the front (`connector serve`, see connector/cli/front.py and docs/security.md)
    max_connections: int = Field(default=1000, ge=10, le=100_000)
    max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    idle_timeout_s: int = Field(default=30, ge=1, le=3600)  # a keep-alive socket with no request
    request_read_timeout_s: float = Field(default=15, gt=0, le=600)  # one request, all of it
    drain_s: float = Field(default=10, ge=0, le=600)  # on SIGTERM, for requests under way
    # a process whose requests have not moved this long (none ended while some were under way)
    # or whose threads have not run (its heartbeat) is ended and started again; 0: never
    stuck_s: float = Field(default=120, ge=0, le=86_400)
    trusted_proxy: str | None = None  # the reverse proxy's address: X-Forwarded-For is believed
    # rate limits per client address (the `limits` library's notation, `;` between several);
    # their counters in memory, or in Redis shared by every process (redis://host:6379/0)
    rate_limit: str = "1200 per minute"
    auth_failure_limit: str = "30 per minute"  # refused credentials, signatures or links
    change_limit: str = "60 per hour"  # corrections and actions one agent may ask for
    # web processes of `connector serve` (1: one process serves and runs the event worker and
    # the jobs; more: as many web processes on one port, and one for events and jobs; "auto":
    # one per core when the source cache is shared, else 1: `web_processes`)
    workers: Literal["auto"] | Annotated[int, Field(ge=1, le=64)] = "auto"
    # a correction or action is refused while the record shows a copy of its source older than
    # this, kept because the source does not answer (0: never refused)
    change_max_age_s: int = Field(default=900, ge=0, le=7 * 86_400)
    rate_limit_storage: str = "memory://"
    rate_limit_prefix: str = "connector"  # their keys in Redis (several services, one Redis)

    def database(self) -> str:
        """Where links and audit live: CONNECTOR_DATABASE_URL, else SQLite under data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'connector.sqlite'}"

    def missing_extras(self) -> list[str]:
        """What these settings ask for that this install lacks: the Redis client or the
        PostgreSQL driver (the `scale` extra: `pip install 'connector[scale]'`; `make run`
        installs the base alone, which serves on memory and SQLite). Each said in a line."""
        wanted = []
        if self.cache_url:
            wanted.append(("redis", "CONNECTOR_CACHE_URL"))
        if self.rate_limit_storage.startswith(("redis://", "rediss://", "redis+")):
            wanted.append(("redis", "CONNECTOR_RATE_LIMIT_STORAGE"))
        if self.database().startswith("postgresql+psycopg:"):  # the driver the extra brings
            wanted.append(("psycopg", "CONNECTOR_DATABASE_URL"))
        missing = []
        for module, setting in wanted:
            try:
                importlib.import_module(module)
            except ImportError:
                missing.append(f"{setting} needs the Python package `{module}`, which is not "
                               f"installed: pip install 'connector[scale]' (or leave "
                               f"{setting} unset to run on {_BASE[setting]})")
        return missing

    def web_processes(self) -> tuple[int, str]:
        """How many web processes `serve` runs, and why: CONNECTOR_WORKERS when it is a number;
        with "auto", one per core the process may use when the source cache is shared (Redis),
        else one (each process's own memory cache would make a record warm in one process
        cold in the next: more processes would mean more source calls, not faster sidebars)."""
        if self.workers != "auto":
            return int(self.workers), "CONNECTOR_WORKERS"
        if not self.cache_url:
            return 1, "auto: the source cache is this process's memory (CONNECTOR_CACHE_URL unset)"
        cores = usable_cores()
        return cores, f"auto: {cores} core{'s' if cores > 1 else ''}, the source cache shared"

    def signing_key(self) -> bytes:
        """The key that signs sidebar links: CONNECTOR_SECRET_KEY, else one kept under data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
            log.warning("CONNECTOR_SECRET_KEY is not set: generated a signing key in %s", path)
        return path.read_text().strip().encode()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
