"""Shared fixtures: the demo data, the demo back office and the service, as real processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from connector.customer.links import LinkStore
from demo.generate import TODAY_VAR, ensure

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "manifest.yaml"
API_TOKEN = "test-api-token"
ADMIN_TOKEN = "test-admin-token"
ARTIFACTS = ROOT / "tests" / "artifacts"

# The suite sends thousands of requests, hundreds of them refused on purpose, from one address:
# rate limits off for every service it builds or starts (this process's settings and the
# environment its children inherit), except where a test sets them (tests/web/test_limits.py,
# tests/faults/test_front.py).
os.environ.setdefault("CONNECTOR_RATE_LIMIT", "off")
os.environ.setdefault("CONNECTOR_AUTH_FAILURE_LIMIT", "off")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each API operation schemathesis makes a test of gets an id of its own: under pytest 9
    its items all share the function's id, and `make test`'s parallel workers (pytest-xdist)
    run one item per id — every operation but the first would go unchecked."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith("]"):
            item._id = item._id.with_params(label)  # type: ignore[attr-defined]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """Wait until url answers 200, failing early if the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:  # not up yet, or too busy to answer in time
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")



def until(check: Callable[[], T | None], seconds: float = 20, every_s: float = 0.2) -> T:
    """The first truthy answer of `check`, polled every `every_s`: a test waits for a
    condition, never for a fixed time; AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"nothing came within {seconds} s")

@dataclass
class Backoffice:
    """A running demo back office."""

    url: str
    process: subprocess.Popen[bytes]

    def faults(self, **systems: str) -> None:
        """Switch a system down, slow or ok."""
        requests.post(f"{self.url}/_admin/faults", json=systems, timeout=5).raise_for_status()


@dataclass
class Service:
    """A running `connector serve`."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]


# The demo data are generated for the day they run (`make run`); the suite pins that day, for
# itself and every process it starts (`python -m demo` included), so that the figures the tests
# expect of the demo stay the same whatever the calendar says. A test that wants today's data
# passes `today=` to generate() or ensure().
DEMO_TODAY = "2026-11-01"
os.environ[TODAY_VAR] = DEMO_TODAY


# The shared demo data, once generated, and what its files were then (a test that rewrites them,
# e.g. a `python -m demo` started without the pinned day, would change every later test's data
# on the same worker: the test that did it fails instead).
_SHARED_DEMO: dict[Path, dict[str, tuple[int, int]]] = {}


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file of a folder: when it was last written, and its size."""
    return {f.name: (f.stat().st_mtime_ns, f.stat().st_size)
            for f in sorted(folder.iterdir()) if f.is_file()}


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, generated once per run, for the pinned day (DEMO_TODAY). Never written
    to: a test that changes them works on a copy (shutil.copytree)."""
    folder = ensure(tmp_path_factory.mktemp("demo"))
    _SHARED_DEMO[folder] = _files(folder)
    return folder


@pytest.fixture(autouse=True)
def _shared_demo_data_untouched() -> Iterator[None]:
    """Fail the test that wrote to the shared demo data, not the tests that read them after."""
    yield
    for folder, files in _SHARED_DEMO.items():
        now = _files(folder)
        changed = sorted(n for n in now.keys() | files.keys() if now.get(n) != files.get(n))
        _SHARED_DEMO[folder] = now  # said once, by the test that did it
        assert not changed, f"this test changed the shared demo data in {folder}: {changed}"


def start_backoffice(data: Path) -> Backoffice:
    """Start the demo back office as its own process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.backoffice", "--data", str(data), "--port", str(port),
         "--latency-ms", "5-20", "--log-requests"], cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", process)
    return Backoffice(url, process)


def service_env(data: Path, backoffice_url: str, var: Path) -> dict[str, str]:
    """The environment a connector process runs with in the tests."""
    return {
        **os.environ,
        "DEMO_BACKOFFICE_URL": backoffice_url,
        "CONNECTOR_DEMO_DIR": str(data),
        "CONNECTOR_DATA_DIR": str(var),
        "CONNECTOR_SECRET_KEY": "test-secret-key",
        "CONNECTOR_API_TOKEN": API_TOKEN,
        "CONNECTOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONNECTOR_MANIFEST": str(MANIFEST),
        "CONNECTOR_DEMO": "1",  # the demo helpdesk, which the browser tests drive
        # one process each, whatever the cache (a test that reads one process's /metrics must
        # reach that process); tests of several processes say how many
        "CONNECTOR_WORKERS": "1",
    }


def start_service(env: dict[str, str]) -> Service:
    """Start `connector serve` as its own process."""
    port = free_port()
    env = {**env, "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    connector = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    process = subprocess.Popen([connector, "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", process)
    return Service(url, env, process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def backoffice(demo_data: Path) -> Iterator[Backoffice]:
    """The demo back office shared by the run (never put faults on it: use a private one)."""
    office = start_backoffice(demo_data)
    yield office
    stop(office.process)


@pytest.fixture(scope="session")
def env(demo_data: Path, backoffice: Backoffice, tmp_path_factory: pytest.TempPathFactory
        ) -> dict[str, str]:
    """The environment of connector commands run against the shared back office."""
    return service_env(demo_data, backoffice.url, tmp_path_factory.mktemp("var"))


@pytest.fixture(scope="session")
def service(env: dict[str, str]) -> Iterator[Service]:
    """`connector serve` on the default manifest and the demo, shared by the run."""
    running = start_service(env)
    yield running
    stop(running.process)


CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's headless Chromium driven by its chromedriver (never a downloaded browser)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(make test installs them: apt-get install chromium chromium-driver)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=driver_path))
    yield driver
    driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows under tests/artifacts/ (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def postgres_url(schema: str) -> str:
    """A PostgreSQL URL whose tables live in a fresh schema (started if it is not running)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES)
    for attempt in range(2):
        try:
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
            break
        except sqlalchemy.exc.OperationalError as exc:
            if attempt:
                pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
            subprocess.run(PG_START, shell=True, check=False, capture_output=True)
            time.sleep(3)
    engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    """Remove a schema made by postgres_url."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def connector(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the `connector` command."""
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    return subprocess.run([exe, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LinkStore]:
    """The store on a SQLite file (as served) and on a real PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        yield LinkStore(f"sqlite:///{tmp_path}/store.sqlite")
        return
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    yield LinkStore(postgres_url(schema))
    drop_schema(schema)


REDIS = "redis://127.0.0.1:6379/0"  # the machine's Redis: each test its own key prefix


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys deleted afterwards (and only its keys, never
    FLUSHDB); skipped, saying why, when no Redis answers."""
    import secrets

    import redis

    try:
        client = redis.Redis.from_url(REDIS, socket_timeout=1)
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379 (start it: see the machine's env entry)")
    name = f"test-{secrets.token_hex(6)}"
    yield name
    keys = list(client.scan_iter(f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
