"""What the job tests share: the database a service keeps its tables in, on both engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import drop_schema, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Where the service keeps its tables: a SQLite file under its data folder (None, the
    default), or a fresh schema of a real PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    yield postgres_url(schema)
    drop_schema(schema)
