"""A source's circuit shared by processes through the rate limits' Redis storage: one process
finding a source down pauses it for the others, a successful trial reopens it for all, and a
storage that does not answer leaves each process its own circuit."""

from __future__ import annotations

import pytest

from connector.sources.base import CircuitConfig, SourceUnavailable
from connector.sources.guard import Circuit, CircuitOpen, SourceGuard
from connector.sources.shared_state import SharedFlags, shared_flags_for
from tests.conftest import REDIS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(flags: SharedFlags | None, clock: Clock) -> SourceGuard:
    return SourceGuard(2, CircuitConfig(failures=2, cooldown_s=30), wait_s=1, clock=clock,
                       name="erp", shared=flags)


def failing() -> None:
    raise SourceUnavailable("down")


def test_one_process_finding_a_source_down_pauses_it_for_the_others(redis_prefix: str) -> None:
    one, other = Clock(), Clock()
    first = guard(SharedFlags(REDIS, redis_prefix), one)
    second = guard(SharedFlags(REDIS, redis_prefix), other)
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            first.run(failing)
    assert first.state == Circuit.OPEN
    calls = []
    with pytest.raises(CircuitOpen) as refused:
        second.run(lambda: calls.append(1))
    assert calls == [] and "another process" in str(refused.value)
    one.now += 31  # the cooldown over: the first process's trial call succeeds
    assert first.run(lambda: "answer") == "answer"
    assert first.state == Circuit.CLOSED
    second._shared._seen.clear()  # type: ignore[union-attr]  # its second of memo over
    assert second.run(lambda: "answer") == "answer"


def test_without_a_shared_storage_each_process_keeps_its_own_circuit() -> None:
    assert shared_flags_for("memory://", "connector") is None
    away = guard(SharedFlags("redis://127.0.0.1:1/0", "test-away"), Clock())
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            away.run(failing)
    assert away.state == Circuit.OPEN  # its own circuit still opens, no error from the storage
