"""Run the test django-helpdesk site as a real process: migrate, seed a staff agent and a queue,
then `manage.py runserver` with its webhooks pointed at a running connector."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from tests.conftest import MANIFEST, free_port, stop, wait_http

HERE = Path(__file__).resolve().parent
AGENT, AGENT_PASSWORD = "agent", "agent-password-for-tests"
QUEUE_SLUG = "support"
SEED = f"""
from django.contrib.auth import get_user_model
from helpdesk.models import Queue
get_user_model().objects.create_superuser({AGENT!r}, "agent@example.com", {AGENT_PASSWORD!r})
Queue.objects.create(title="Support", slug={QUEUE_SLUG!r}, allow_public_submission=True)
"""


def webhook_url(connector_url: str, secret: str) -> str:
    """Our webhook URL as django-helpdesk is told it: the secret as the user-info's password
    (requests sends it as `Authorization: Basic`, never in the request line)."""
    scheme, _, host = connector_url.partition("://")
    user_info = f"django-helpdesk:{quote(secret, safe='')}"
    return f"{scheme}://{user_info}@{host}/helpdesk/django_helpdesk/webhook"


@dataclass
class DeskSite:
    """A running django-helpdesk."""

    url: str  # e.g. http://127.0.0.1:8123/helpdesk
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop(self.process)


def manage(*args: str, env: dict[str, str], timeout: float = 60) -> None:
    """Run a management command of the site, failing with its output."""
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=HERE, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")


def desk_env(data: Path, env: dict[str, str]) -> dict[str, str]:
    """The site's environment: its settings module and its data directory."""
    return {**env, "DJANGO_SETTINGS_MODULE": "deskproject.settings", "DESK_DATA_DIR": str(data)}


def prepare_desk(data: Path) -> None:
    """Migrate a fresh SQLite database under `data` and seed a staff agent and a queue (no
    webhook fires: the seed makes no ticket)."""
    env = desk_env(data, dict(os.environ))
    data.mkdir(parents=True, exist_ok=True)
    manage("migrate", "--verbosity", "0", env=env)
    manage("shell", "--no-imports", "-c", SEED, env=env)


def serve_desk(data: Path, env: dict[str, str], port: int | None = None) -> DeskSite:
    """Serve a prepared site (one thread, so SQLite never sees two writers); `env` holds the
    webhook URLs and the connector's settings for the sidebar tag."""
    port = port or free_port()
    log = data / "runserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--nothreading",
             f"127.0.0.1:{port}"], cwd=HERE, env=desk_env(data, env), stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/helpdesk"
    wait_http(f"{url}/", process)
    return DeskSite(url, process, log)


def write_manifest(path: Path, entry: dict[str, Any]) -> Path:
    """The default manifest with `helpdesks.django_helpdesk` set to `entry`."""
    data = yaml.safe_load(MANIFEST.read_text())
    data.setdefault("helpdesks", {})["django_helpdesk"] = entry
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path
