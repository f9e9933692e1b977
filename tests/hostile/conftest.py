"""The hostile-input suite: its hypothesis profiles and the application it attacks.

Profiles (applied to this suite's tests only, as decorators: other suites keep hypothesis'
defaults):
- `connector-hostile`, the default (`make test`): derandomized (the same examples every run,
  so a failure is reproducible and nothing is flaky), no example database;
- `connector-soak`, with `CONNECTOR_SOAK=1`: ten times the examples, random ones, failures kept
  in `.hypothesis/hostile` (ignored by git) so they replay until fixed.

The application is built in this process (`create_app`) on the default manifest, the demo
data and the demo back office (a real process: sources answer as served), with every helpdesk
adapter configured with the test secrets below, the API token set and the rate limits off (a
fuzzer is a flood of refusals from one address: the limits are tested on their own). It runs on
SQLite (`client`), and on a real PostgreSQL for the writes (`pg_client`, test_postgresql.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from connector.app import Services, build_services
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import (
    MANIFEST,
    ROOT,
    Backoffice,
    drop_schema,
    postgres_url,
    service_env,
)

SOAK = os.environ.get("CONNECTOR_SOAK", "").strip() not in ("", "0")
BASE_EXAMPLES = 120
_SUPPRESSED = (HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
               HealthCheck.large_base_example)
settings.register_profile("connector-hostile", max_examples=BASE_EXAMPLES, derandomize=True,
                          database=None, deadline=None, print_blob=True,
                          suppress_health_check=_SUPPRESSED)
settings.register_profile(
    "connector-soak", max_examples=10 * BASE_EXAMPLES, derandomize=False, deadline=None,
    database=DirectoryBasedExampleDatabase(ROOT / ".hypothesis" / "hostile") if SOAK else None,
    print_blob=True, suppress_health_check=_SUPPRESSED)
PROFILE = settings.get_profile("connector-soak" if SOAK else "connector-hostile")


def hostile(scale: float = 1.0) -> settings:
    """This suite's settings (the profile chosen by CONNECTOR_SOAK), with `scale` times its
    examples: a decorator."""
    return settings(PROFILE, max_examples=max(1, round(PROFILE.max_examples * scale)))


API_TOKEN = "hostile-api-token"
SECRET_KEY = "hostile-secret-key"
SUBDOMAIN = "maison-exemple"
# every adapter's secrets, as the default manifest reads them from the environment
SECRETS = {
    "ZENDESK_SUBDOMAIN": SUBDOMAIN,
    "ZENDESK_WEBHOOK_SECRET": "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==",
    "CHATWOOT_ACCOUNT_ID": "7",
    "CHATWOOT_WEBHOOK_SECRET": "hostile-chatwoot-secret",
    "HELPSCOUT_APP_SECRET": "hostile-helpscout-app",
    "HELPSCOUT_WEBHOOK_SECRET": "hostile-helpscout-hook",
    "FREESCOUT_SECRET": "hostile-freescout-sidebar",
    "FREESCOUT_WEBHOOK_SECRET": "hostile-freescout-hook",
    "FRESHDESK_DOMAIN": "maison-exemple",
    "FRESHDESK_APP_TOKEN": "hostile-freshdesk-app",
    "FRESHDESK_WEBHOOK_SECRET": "hostile-freshdesk-hook",
    "DJANGO_HELPDESK_WEBHOOK_SECRET": "hostile-django-hook",
}


@pytest.fixture(scope="session")
def zendesk_key() -> rsa.RSAPrivateKey:
    """The key our fake Zendesk signs its signed-URL JWTs with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _services(demo_data: Path, backoffice: Backoffice, key: rsa.RSAPrivateKey, var: Path,
              database_url: str | None = None) -> Services:
    """The service wired in this process, every helpdesk configured."""
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    env = {**service_env(demo_data, backoffice.url, var), **SECRETS,
           "ZENDESK_APP_PUBLIC_KEY": public}
    config = Settings(data_dir=var, demo_dir=demo_data, secret_key=SECRET_KEY,
                      api_token=API_TOKEN, public_url="http://connector.test",
                      database_url=database_url, rate_limit="off", auth_failure_limit="off")
    return build_services(config, load_manifest(MANIFEST, env=env))


@pytest.fixture(scope="session")
def hostile_services(demo_data: Path, backoffice: Backoffice, zendesk_key: rsa.RSAPrivateKey,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The service on SQLite (as `connector serve` runs by default)."""
    services = _services(demo_data, backoffice, zendesk_key, tmp_path_factory.mktemp("hostile"))
    yield services
    services.close()


@pytest.fixture(scope="session")
def hostile_app(hostile_services: Services) -> Flask:
    """The Flask application on those services (exceptions become 500s, as served)."""
    return create_app(services=hostile_services)


@pytest.fixture(scope="session")
def client(hostile_app: Flask) -> FlaskClient:
    """A test client of that application (no cookies kept between requests)."""
    return hostile_app.test_client(use_cookies=False)


@pytest.fixture(scope="session")
def pg_app(demo_data: Path, backoffice: Backoffice, zendesk_key: rsa.RSAPrivateKey,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The same application on a real PostgreSQL (a fresh schema), which keeps what SQLite lets
    pass (a NUL, a value longer than its column) from being stored."""
    schema = "connector_hostile_" + uuid.uuid4().hex[:10]
    services = _services(demo_data, backoffice, zendesk_key, tmp_path_factory.mktemp("pg"),
                         postgres_url(schema))
    yield create_app(services=services)
    services.close()
    services.assembler.resolver.store.engine.dispose()
    drop_schema(schema)


@pytest.fixture(scope="session")
def pg_client(pg_app: Flask) -> FlaskClient:
    """A test client of the application on PostgreSQL."""
    return pg_app.test_client(use_cookies=False)
