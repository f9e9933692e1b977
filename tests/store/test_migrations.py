"""Schema migrations a cluster can run: a fresh database migrated, an earlier release's adopted
with its rows, `connector migrate [--check]`, the newer-schema refusal, and six `connector
serve` started at once on one empty PostgreSQL database, all up. Real SQLite files and a real
PostgreSQL (a database of its own per test)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from connector.cli.main import main
from connector.store import migrate
from connector.store.engine import open_database, settle_schema, unmigrated_engine
from connector.store.schema import links, metadata
from tests.conftest import POSTGRES, ROOT, free_port, stop

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped after."""
    name = "connector_mig_" + uuid.uuid4().hex[:10]
    admin = sqlalchemy.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/connector.sqlite"
        return
    yield request.getfixturevalue("pg_url")


def _differences(engine: sqlalchemy.Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def test_a_fresh_database_is_migrated_to_the_schema(url: str) -> None:
    engine = open_database(url)
    assert migrate.revisions(engine) == migrate.Revisions(migrate.head(), migrate.head())
    # the migrations make exactly schema.py: a change there without a revision fails here
    assert _differences(engine) == []
    engine.dispose()


def test_an_earlier_release_database_is_stamped_and_keeps_its_rows(url: str) -> None:
    legacy = sqlalchemy.create_engine(url)
    metadata.create_all(legacy)  # as an earlier release did, then older still:
    with legacy.begin() as connection:
        connection.execute(sqlalchemy.text("ALTER TABLE identity_links DROP COLUMN confirmed_at"))
        connection.execute(sqlalchemy.text("DROP TABLE loyalty_tiers"))
        connection.execute(sqlalchemy.text(
            "INSERT INTO identity_links (kind, value, customer_id, source, learned_at) "
            "VALUES ('email', 'claire@example.org', 'c-1', 'erp', :at)"), {"at": NOW})
    legacy.dispose()

    engine = open_database(url)
    assert migrate.revisions(engine).current == migrate.head()
    assert _differences(engine) == []
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.select(links)).all()
    assert [(r.kind, r.value, r.customer_id, r.confirmed_at) for r in rows] == [
        ("email", "claire@example.org", "c-1", None)]
    engine.dispose()


def test_migrate_check_says_pending_then_migrate_applies(
        url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    assert main(["migrate", "--check"]) == 1
    assert "migrations pending" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == f"migrated: rev none -> rev {migrate.head()}"
    assert main(["migrate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == f"up to date: rev {migrate.head()}"


def _stamp(url: str, revision: str) -> None:
    engine = open_database(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = :rev"),
                           {"rev": revision})
    engine.dispose()


def test_a_schema_newer_than_the_code_is_refused(url: str, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _stamp(url, "9999_from_the_future")
    expected = (f"the database's schema is newer (rev 9999_from_the_future) than this connector "
                f"(rev {migrate.head()}): upgrade connector, or roll the database back")
    with pytest.raises(migrate.SchemaError) as refused:
        settle_schema(url)
    assert str(refused.value) == expected
    with pytest.raises(migrate.SchemaError):
        open_database(url)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    assert main(["migrate"]) == 1
    assert expected in capsys.readouterr().err


def test_serve_refuses_a_newer_schema_with_a_clear_message(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/connector.sqlite"
    _stamp(url, "9999_from_the_future")
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    done = subprocess.run([exe, "serve", "--port", str(free_port())], cwd=ROOT,
                          env={**env, "CONNECTOR_DATABASE_URL": url}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert ("connector serve: the database's schema is newer (rev 9999_from_the_future) than "
            f"this connector (rev {migrate.head()})") in done.stderr
    assert "Traceback" not in done.stderr


def test_with_auto_migrate_off_an_old_schema_is_refused_until_migrated(url: str) -> None:
    with pytest.raises(migrate.SchemaError, match="CONNECTOR_AUTO_MIGRATE is off: run "
                                                  "`connector migrate`"):
        settle_schema(url, migrate=False)
    engine = unmigrated_engine(url)
    assert migrate.upgrade(engine)[1].current == migrate.head()
    engine.dispose()
    assert settle_schema(url, migrate=False)


def test_a_database_down_at_start_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    assert settle_schema(url) is False
    engine = open_database(url)  # the service starts; the next start migrates
    assert "database unavailable at start" in caplog.text
    engine.dispose()


def test_four_processes_on_one_sqlite_file_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/connector.sqlite"
    script = ("import sys; from connector.store import migrate; "
              "from connector.store.engine import unmigrated_engine; "
              "before, after = migrate.upgrade(unmigrated_engine(sys.argv[1])); "
              "print(before.current, after.current)")
    processes = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
    outcomes = sorted(process.communicate(timeout=60)[0].strip() for process in processes)
    head = migrate.head()
    assert outcomes == sorted([f"None {head}"] + [f"{head} {head}"] * 3)


def test_six_services_started_at_once_on_an_empty_postgresql_all_come_up(
        env: dict[str, str], pg_url: str, tmp_path: Path) -> None:
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    ports = [free_port() for _ in range(6)]
    processes = [subprocess.Popen(
        [exe, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=(tmp_path / f"serve-{port}.log").open("wb"),
        env={**env, "CONNECTOR_DATABASE_URL": pg_url,
             "CONNECTOR_DATA_DIR": str(tmp_path / f"var-{port}"),
             "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"}) for port in ports]
    try:
        up = _ready(processes, ports, seconds=40)
        logs = {port: (tmp_path / f"serve-{port}.log").read_text() for port in ports}
        assert up == set(ports), {p: logs[p][-600:] for p in ports if p not in up}
        assert sum("schema migrated from rev none" in text for text in logs.values()) == 1
    finally:
        for process in processes:
            stop(process)
    engine = unmigrated_engine(pg_url)
    assert migrate.revisions(engine).current == migrate.head()
    engine.dispose()


def _ready(processes: list[subprocess.Popen[bytes]], ports: list[int],
           seconds: float) -> set[int]:
    """The ports whose service answered /readyz (the database answers: the schema is there)."""
    up: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(up) < len(ports) and time.monotonic() < deadline:
        for process, port in zip(processes, ports, strict=True):
            if port in up or process.poll() is not None:
                continue
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    up.add(port)
            except requests.RequestException:
                pass
        if all(p in up or pr.poll() is not None for pr, p in zip(processes, ports, strict=True)):
            break
        time.sleep(0.1)
    return up
