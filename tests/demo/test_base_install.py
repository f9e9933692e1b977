"""What `make run` installs is the base package alone (`pip install -e .`): the Redis client and
the PostgreSQL driver are the `scale` extra. The demo must start and serve on it, and a setting
that needs the extra must be refused in one clear line, not with a traceback. The extra is
hidden from the processes here (a `sitecustomize` that makes importing it fail, as on a fresh
machine), whatever the test environment has installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from connector.helpdesk.embed import EmbedLinks
from demo.generate import TODAY_VAR
from tests.conftest import connector, free_port
from tests.demo.test_run import running_demo

EXTRA = ("redis", "psycopg")


@pytest.fixture
def base_env(demo_data: Path, tmp_path: Path) -> dict[str, str]:
    """The demo's environment, with the `scale` extra not importable."""
    hiding = tmp_path / "base-install"
    hiding.mkdir()
    (hiding / "sitecustomize.py").write_text(
        "import sys\n"
        f"for name in {EXTRA!r}:\n"
        "    sys.modules[name] = None  # importing it fails, as when it is not installed\n")
    env = {k: v for k, v in os.environ.items()  # the demo's pinned day kept: the shared data
           if (not k.startswith("CONNECTOR_") or k == TODAY_VAR)  # are that day's
           and k != "DEMO_BACKOFFICE_URL"}
    return env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(hiding),
                                                               env.get("PYTHONPATH")])),
                  "CONNECTOR_DATA_DIR": str(tmp_path / "var"),
                  "CONNECTOR_DEMO_DIR": str(demo_data),
                  "CONNECTOR_SECRET_KEY": "test-secret-key"}


def test_the_extra_is_hidden(base_env: dict[str, str]) -> None:
    for name in EXTRA:
        tried = subprocess.run([sys.executable, "-c", f"import {name}"], env=base_env,
                               capture_output=True, text=True, timeout=30)
        assert tried.returncode != 0 and "ModuleNotFoundError" in tried.stderr


def test_the_demo_serves_on_the_base_install(base_env: dict[str, str]) -> None:
    port = free_port()
    env = base_env | {"CONNECTOR_PORT": str(port), "DEMO_BACKOFFICE_PORT": str(free_port())}
    with running_demo(env, port):
        links = EmbedLinks(b"test-secret-key", 600, "FR")
        url = links.url(f"http://127.0.0.1:{port}",
                        links.token(email="pauline.deneve@easiware.fr"))
        page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "Pauline" in page.text


@pytest.mark.parametrize(("setting", "value", "package"), [
    ("CONNECTOR_CACHE_URL", "redis://127.0.0.1:6379/0", "redis"),
    ("CONNECTOR_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0", "redis"),
    ("CONNECTOR_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test", "psycopg"),
])
def test_a_setting_that_needs_the_extra_is_refused_in_one_line(
        base_env: dict[str, str], setting: str, value: str, package: str) -> None:
    refused = connector("lookup", "--email", "pauline.deneve@easiware.fr",
                        env=base_env | {setting: value})
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"connector lookup: {setting} needs the Python package `{package}`, which is not "
        f"installed: pip install 'connector[scale]' (or leave {setting} unset to run on "
        + ("SQLite)" if package == "psycopg" else "this process's memory)")]
    checked = connector("check", env=base_env | {setting: value})  # the manifest alone
    assert checked.returncode == 0, checked.stderr
