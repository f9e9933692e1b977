"""A source whose call never returns, whatever its deadline (a `files` export on a path that
blocks when opened, as a hung network share does: here a named pipe nobody writes to): each
lookup ends by the source's deadline with the other sources' answers, the calls still stuck
past it count as failures so the source's circuit opens, and once open the source is not
even queued for its (stuck) threads: lookups answer at once, saying it is paused, until a
trial call after the cooldown finds it readable again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.app import Services, build_services
from connector.identifiers import Identifiers
from connector.models import SourceState
from connector.settings import Settings

TIMEOUT_S = 0.5
ROWS = "email;tier\na@example.fr;Gold\n"


@pytest.fixture
def stuck(tmp_path: Path) -> Iterator[tuple[Services, Path]]:
    """Services with two files sources: `pos`, readable, and `share`, a named pipe."""
    (tmp_path / "pos.csv").write_text("email;store\na@example.fr;Paris\n", encoding="utf-8")
    share = tmp_path / "share.csv"
    os.mkfifo(share)
    (tmp_path / "manifest.yaml").write_text(f"""version: 1
sources:
  pos:
    type: files
    path: pos.csv
    delimiter: ";"
    match: {{email: email}}
    sections:
      identity: {{path: "rows[0]", fields: {{home_store: store}}}}
  share:
    type: files
    path: share.csv
    delimiter: ";"
    timeout_s: {TIMEOUT_S}
    circuit: {{failures: 2, cooldown_s: 1}}
    match: {{email: email}}
    sections:
      loyalty: {{path: "rows[0]", fields: {{tier: tier}}}}
""", encoding="utf-8")
    services = build_services(Settings(data_dir=tmp_path / "var", secret_key="k",
                                       manifest=tmp_path / "manifest.yaml"))
    yield services, share
    unblock(share)  # the stuck threads read what is there and end
    services.close()


def unblock(pipe: Path) -> None:
    """Give every reader blocked on the named pipe an end of file: each opening for writing
    releases the readers waiting then (none left: the opening fails, ENXIO)."""
    if not pipe.is_fifo():
        return
    for _ in range(100):
        try:
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return
        time.sleep(0.01)  # the next blocked reader, if any, opens meanwhile


def lookup(services: Services) -> tuple[float, dict[str, SourceState]]:
    started = time.monotonic()
    found = services.assembler.lookup(Identifiers(emails=("a@example.fr",)))
    return time.monotonic() - started, {n: s.status for n, s in found.sources.items()}


def test_a_source_whose_calls_never_return_is_paused_then_read_again(
        stuck: tuple[Services, Path]) -> None:
    services, share = stuck
    guard = services.assembler.guards["share"]
    for _ in range(2):
        took, states = lookup(services)
        assert states == {"pos": SourceState.OK, "share": SourceState.TIMEOUT}
        assert took < TIMEOUT_S + 2  # by its deadline: the other source answered meanwhile
    assert guard.state.value == "open"  # two calls stuck past their deadline: two failures
    # paused, so not waited on: queued behind its stuck threads it would read `timeout`
    assert lookup(services)[1]["share"] is SourceState.CIRCUIT_OPEN
    unblock(share)  # the stuck read ends (an empty file: nobody found, kept a moment)
    share.unlink()
    share.write_text(ROWS, encoding="utf-8")  # the share answers again
    deadline = time.monotonic() + 15  # after the cooldown (1 s), a trial call reads it
    while True:
        services.assembler.invalidate(Identifiers(emails=("a@example.fr",)))
        if lookup(services)[1]["share"] is SourceState.OK:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert guard.state.value == "closed"
