"""A `sql` source on a PostgreSQL server that accepts connections and never answers, cut by a
TCP proxy the test owns: each lookup ends by the source's deadline, the stuck call itself is
cut a second past it (so it fails, and the source's circuit counts it: a server that hangs
opens the circuit, and lookups then answer at once), and the source is read again once the
server answers and the cooldown is over."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from connector.app import Services, build_services
from connector.identifiers import Identifiers
from connector.models import SourceState
from connector.settings import Settings
from tests.conftest import drop_schema, postgres_url
from tests.faults.proxy import HANG, PASS, Proxy

TIMEOUT_S = 0.5
GRACE_S = 1.0  # store.guard: a statement outliving its bound is cut this much later


@pytest.fixture
def loyalty(tmp_path: Path) -> Iterator[tuple[Services, Proxy]]:
    """Services whose one source is a loyalty table on the machine's PostgreSQL, read
    through a proxy (its own schema)."""
    schema = "sql_source_" + uuid.uuid4().hex[:10]
    url = postgres_url(schema)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "CREATE TABLE members (card text, email text, points int, tier text)"))
        connection.execute(sqlalchemy.text(
            "INSERT INTO members VALUES ('1', 'a@example.fr', 10, 'Gold')"))
    engine.dispose()
    proxy = Proxy(("127.0.0.1", 5432))
    proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    (tmp_path / "manifest.yaml").write_text(f"""version: 1
sources:
  loyalty:
    type: sql
    url: "{proxied}"
    timeout_s: {TIMEOUT_S}
    circuit: {{failures: 2, cooldown_s: 1}}
    lookup_by: [email]
    queries:
      member: SELECT card, points, tier FROM members WHERE lower(email) = :email
    sections:
      loyalty: {{path: "member[0]", fields: {{card: card, points: points, tier: tier}}}}
""", encoding="utf-8")
    services = build_services(Settings(data_dir=tmp_path / "var", secret_key="k",
                                       manifest=tmp_path / "manifest.yaml"))
    yield services, proxy
    services.close()
    proxy.close()
    drop_schema(schema)


def looked_up(services: Services) -> tuple[float, SourceState]:
    """A lookup of the member, its cached answer dropped first: how long, and the state."""
    ids = Identifiers(emails=("a@example.fr",))
    services.assembler.invalidate(ids)
    started = time.monotonic()
    found = services.assembler.lookup(ids)
    return time.monotonic() - started, found.sources["loyalty"].status


def test_a_hung_server_opens_the_circuit_then_the_source_is_read_again(
        loyalty: tuple[Services, Proxy]) -> None:
    services, proxy = loyalty
    assert looked_up(services)[1] is SourceState.OK
    guard = services.assembler.guards["loyalty"]
    proxy.set(HANG)
    states = []
    for _ in range(4):
        took, state = looked_up(services)
        assert took < TIMEOUT_S + GRACE_S + 2  # by its deadline, whatever the server does
        states.append(state)
    deadline = time.monotonic() + 10  # the stuck calls are cut: they fail, and count
    while guard.state.value != "open" and time.monotonic() < deadline:
        looked_up(services)
        time.sleep(0.1)
    assert guard.state.value == "open", states
    assert looked_up(services)[1] is SourceState.CIRCUIT_OPEN  # paused: not waited on
    proxy.set(PASS)
    deadline = time.monotonic() + 15  # the cooldown (1 s), then a trial call that answers
    while looked_up(services)[1] is not SourceState.OK:
        assert time.monotonic() < deadline
        time.sleep(0.2)
