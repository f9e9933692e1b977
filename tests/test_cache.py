"""The cache: TTL, one fetch per key however many callers, stale values served in outages."""

from __future__ import annotations

import threading
import time

import pytest

from connector.cache import MemoryCache, SingleFlight
from connector.sources.base import SourceUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fresh_then_refetched_after_ttl() -> None:
    clock = Clock()
    flight = SingleFlight(MemoryCache(clock=clock))
    calls = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    assert flight.load("k", load, lambda _: 60, 600).value == 1
    assert flight.load("k", load, lambda _: 60, 600).from_cache
    clock.now += 61
    assert flight.load("k", load, lambda _: 60, 600).value == 2


def test_stale_value_served_when_the_source_fails() -> None:
    clock = Clock()
    flight = SingleFlight(MemoryCache(clock=clock))
    flight.load("k", lambda: "old", lambda _: 60, 600)
    clock.now += 120

    def down() -> str:
        raise SourceUnavailable("server error (503)")

    loaded = flight.load("k", down, lambda _: 60, 600)
    assert (loaded.value, loaded.stored_at) == ("old", 1000.0)
    assert loaded.stale_error is not None and loaded.stale_error.public == "server error (503)"
    clock.now += 600  # past keeping: nothing left to serve
    with pytest.raises(SourceUnavailable):
        flight.load("k", down, lambda _: 60, 600)


def test_single_flight_one_fetch_for_many_callers() -> None:
    flight = SingleFlight(MemoryCache())
    calls = []
    gate = threading.Event()

    def slow() -> str:
        calls.append(1)
        gate.wait(2)
        return "value"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(
        flight.load("k", slow, lambda _: 60, 0).value)) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 20
    assert len(calls) == 1


def test_invalidate_by_prefix() -> None:
    cache = MemoryCache()
    cache.put("src:erp:a", 1, 60, 0)
    cache.put("src:erp:b", 2, 60, 0)
    cache.put("src:pos:a", 3, 60, 0)
    assert cache.invalidate("src:erp:") == 2
    assert cache.get("src:erp:a") is None and cache.get("src:pos:a") is not None
