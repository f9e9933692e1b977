"""The event tests' shared fixture: the service wired in this process on the default manifest
against the demo back office (a module may define its own `services` instead)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.app import Services, build_services
from connector.manifest import load_manifest
from connector.settings import Settings
from tests.conftest import MANIFEST, Backoffice, service_env


@pytest.fixture
def services(demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> Iterator[Services]:
    env = service_env(demo_data, backoffice.url, tmp_path)
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="k")  # type: ignore[arg-type]
    built = build_services(settings, load_manifest(MANIFEST, env=env))
    yield built
    built.close()
