"""The cache: TTL, one fetch per key however many callers, stale values served in outages."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from connector.sources.base import SourceUnavailable
from connector.sources.cache import MemoryCache, Policy, SingleFlight

P60 = Policy(ttl_for=lambda _: 60, stale_ttl_s=600)


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

    assert flight.load("k", load, P60).value == 1
    assert flight.load("k", load, P60).from_cache
    clock.now += 61
    assert flight.load("k", load, P60).value == 2


def test_stale_value_served_when_the_source_fails() -> None:
    clock = Clock()
    flight = SingleFlight(MemoryCache(clock=clock))
    flight.load("k", lambda: "old", P60)
    clock.now += 120

    def down() -> str:
        raise SourceUnavailable("server error (503)")

    loaded = flight.load("k", down, P60)
    assert (loaded.value, loaded.stored_at) == ("old", 1000.0)
    assert loaded.stale_error is not None and loaded.stale_error.public == "server error (503)"
    clock.now += 600  # past keeping: nothing left to serve
    with pytest.raises(SourceUnavailable):
        flight.load("k", down, P60)


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
        flight.load("k", slow, P60).value)) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 20
    assert len(calls) == 1


def test_just_expired_value_served_at_once_while_refreshed_in_background() -> None:
    clock = Clock()
    pool = ThreadPoolExecutor(2)
    flight = SingleFlight(MemoryCache(clock=clock), refresher=pool)
    policy = Policy(ttl_for=lambda _: 60, stale_ttl_s=600, revalidate_s=30)
    values = iter(["v1", "v2"])
    flight.load("k", lambda: next(values), policy)
    clock.now += 70  # past the TTL, within the revalidation grace
    served = flight.load("k", lambda: next(values), policy)
    assert (served.value, served.revalidating) == ("v1", True)
    pool.shutdown(wait=True)
    assert flight.load("k", lambda: "never", policy).value == "v2"
    clock.now += 200  # past the grace: a caller waits for the fresh value
    assert flight.load("k", lambda: "v3", policy).value == "v3"


def test_invalidate_by_identifier_tag_and_source() -> None:
    cache = MemoryCache()
    cache.put("src:erp:email=a", 1, 60, 0, tags=["email:a", "phone:+331"])
    cache.put("src:pos:phone=+331", 2, 60, 0, tags=["phone:+331"])
    cache.put("src:pos:email=b", 3, 60, 0, tags=["email:b"])
    assert cache.invalidate_tags(["phone:+331"], prefix="src:pos:") == 1
    assert cache.get("src:erp:email=a") is not None
    assert cache.invalidate_tags(["phone:+331"]) == 1
    assert cache.get("src:erp:email=a") is None and cache.get("src:pos:email=b") is not None


def test_a_failed_background_refresh_marks_the_next_answer_stale() -> None:
    clock = Clock()
    pool = ThreadPoolExecutor(1)
    flight = SingleFlight(MemoryCache(clock=clock), refresher=pool)
    policy = Policy(ttl_for=lambda _: 60, stale_ttl_s=600, revalidate_s=30)
    flight.load("k", lambda: "v1", policy)
    clock.now += 70

    def down() -> str:
        raise SourceUnavailable("server error (503)")

    assert flight.load("k", down, policy).stale_error is None  # refresh started
    pool.shutdown(wait=True)
    flight.refresher = ThreadPoolExecutor(1)
    after = flight.load("k", down, policy)
    assert after.value == "v1" and after.stale_error is not None


def test_a_failure_kept_for_the_next_callers_keeps_nothing_of_the_failed_call() -> None:
    """A failed load is kept (for the callers that wait on it) without the frames it failed
    in: they would keep the call's objects alive as long as the failure is kept, then leave
    them to the full collections, which pause every thread."""
    import gc
    import weakref

    class Held:
        """What the failed call had in hand (a request, an answer being read…)."""

    flight = SingleFlight(MemoryCache())
    seen: list[weakref.ref[Held]] = []

    def down() -> str:
        held = Held()
        seen.append(weakref.ref(held))
        raise SourceUnavailable("server error (503)")

    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            flight.load("k", down, P60)
    gc.collect()  # what the raised errors left behind goes; the kept failure stays
    assert [ref() for ref in seen] == [None, None, None]


def test_answers_fetched_together_expire_apart_never_later_than_their_ttl() -> None:
    from connector.sources.cache import TTL_SPREAD, spread

    ttls = [spread(f"src:erp:email:person{n}@example.com", 60) for n in range(1000)]
    assert all(60 * (1 - TTL_SPREAD) <= ttl <= 60 for ttl in ttls)
    assert max(ttls) - min(ttls) > 60 * TTL_SPREAD * 0.9  # spread over the whole share
    assert spread("src:erp:email:a@example.com", 60) == spread("src:erp:email:a@example.com", 60)
