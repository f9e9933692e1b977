"""Deadlines, bounded waits and the cache's byte budget, piece by piece: a deadline set around
calls holds them all, a finished call is never cut afterwards, a single-flight waiter gives up
at its deadline (with the stale copy) and shares the holder's failure, a slow answer counts for
the breaker, SQLite stops a query at the deadline, and large answers cannot fill the memory."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.identifiers import Identifiers
from connector.sources.base import (
    BuildContext,
    CircuitConfig,
    SourceTimeout,
    SourceUnavailable,
    deadline_in,
)
from connector.sources.cache import MemoryCache, Policy, SingleFlight
from connector.sources.guard import Circuit, SourceGuard
from connector.sources.http import WATCHDOG, new_session, send
from connector.sources.sql import SqlConfig, SqlSource
from tests.faults.bad_sources import BadSources, wait_until

P60 = Policy(ttl_for=lambda _: 60, stale_ttl_s=600)


@pytest.fixture
def bad() -> Iterator[BadSources]:
    server = BadSources()
    server.payloads["/c"] = lambda _params: {"id": "C1"}
    yield server
    server.close()


# ---- HTTP calls ----------------------------------------------------------------------------


def test_a_deadline_set_around_a_call_comes_before_its_own_timeout(bad: BadSources) -> None:
    bad.modes["/c"] = "dribble"
    started = time.monotonic()
    with deadline_in(0.5), pytest.raises(SourceTimeout):
        send(new_session(), "GET", f"{bad.url}/c", timeout_s=30)
    assert time.monotonic() - started < 2.0


def test_no_call_is_made_once_the_deadline_has_passed(bad: BadSources) -> None:
    with deadline_in(0), pytest.raises(SourceTimeout) as caught:
        send(new_session(), "GET", f"{bad.url}/c", timeout_s=5)
    assert caught.value.public == "no answer within 5 s"
    assert bad.hit("/c") == 0


def test_calls_finished_in_time_are_never_cut_afterwards(bad: BadSources) -> None:
    session = new_session()
    for _ in range(20):
        assert send(session, "GET", f"{bad.url}/c", timeout_s=0.2).data == {"id": "C1"}
    wait_until(lambda: WATCHDOG.pending() == 0)  # every deadline has passed
    assert send(session, "GET", f"{bad.url}/c", timeout_s=5).data == {"id": "C1"}
    assert len(bad.ports) == 1  # one pooled connection all along: none was shut under it


def test_a_json_answer_with_another_content_type_is_read(bad: BadSources) -> None:
    bad.modes["/c"] = "text_json"  # many back offices send JSON as text/plain: taken as JSON
    answer = send(new_session(), "GET", f"{bad.url}/c", timeout_s=5)
    assert answer.data == {"id": "C1"}


# ---- the single flight ---------------------------------------------------------------------


def held_load(flight: SingleFlight, release: threading.Event) -> threading.Thread:
    """A thread loading key "k" until released (it then fails)."""
    entered = threading.Event()

    def load() -> str:
        entered.set()
        release.wait(10)
        raise SourceTimeout("no answer within 10 s")

    def run() -> None:
        with contextlib.suppress(SourceTimeout):
            flight.load("src:reviews:k", load, P60)

    thread = threading.Thread(target=run)
    thread.start()
    entered.wait(5)
    return thread


def test_a_waiter_gives_up_at_its_deadline_with_the_stale_copy() -> None:
    cache = MemoryCache()
    cache.put("src:reviews:k", "old", ttl_s=0, stale_ttl_s=600)
    flight = SingleFlight(cache)
    release = threading.Event()
    holder = held_load(flight, release)
    started = time.monotonic()
    with deadline_in(0.3):
        loaded = flight.load("src:reviews:k", lambda: "never asked", P60)
    assert time.monotonic() - started < 2.0
    assert loaded.value == "old" and isinstance(loaded.stale_error, SourceTimeout)
    release.set()
    holder.join()


def test_a_waiter_with_no_stale_copy_gets_a_timeout() -> None:
    flight = SingleFlight(MemoryCache())
    release = threading.Event()
    holder = held_load(flight, release)
    with deadline_in(0.3), pytest.raises(SourceTimeout) as caught:
        flight.load("src:reviews:k", lambda: "never asked", P60)
    assert caught.value.public == "no answer in time"
    release.set()
    holder.join()


class SeenLock:
    """A key lock that tells when a second caller is waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waited = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.locked():
            self.waited.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


def test_a_waiter_shares_the_failure_of_the_load_it_waited_for() -> None:
    flight = SingleFlight(MemoryCache())
    lock = SeenLock()
    flight._locks["src:reviews:k"] = lock  # type: ignore[assignment]
    release = threading.Event()
    holder = held_load(flight, release)
    asked: list[int] = []
    outcome: list[SourceTimeout] = []

    def wait() -> None:
        try:
            flight.load("src:reviews:k", lambda: asked.append(1) or "again", P60)
        except SourceTimeout as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert lock.waited.wait(5)
    release.set()
    holder.join()
    waiter.join(5)
    assert asked == []  # the holder's failure is its answer: nothing asked again
    assert outcome[0].public == "no answer within 10 s"


# ---- the guard -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_slower_than_the_deadline_counts_as_a_failure() -> None:
    clock = Clock()
    guard = SourceGuard(4, CircuitConfig(failures=2, cooldown_s=30), wait_s=1, clock=clock,
                        slow_s=1.0)

    def slow() -> str:
        clock.now += 1.5
        return "late"

    assert guard.run(slow) == "late"  # the answer is kept, and counted
    assert guard.state == Circuit.CLOSED
    assert guard.run(slow) == "late"
    assert guard.state == Circuit.OPEN
    clock.now += 31
    assert guard.run(lambda: "quick") == "quick"
    assert guard.state == Circuit.CLOSED


def test_a_free_slot_is_awaited_no_longer_than_the_deadline() -> None:
    guard = SourceGuard(1, CircuitConfig(), wait_s=30)
    inside, release = threading.Event(), threading.Event()
    busy = threading.Thread(target=guard.run, args=(lambda: inside.set() or release.wait(10),))
    busy.start()
    inside.wait(5)
    started = time.monotonic()
    with deadline_in(0.2), pytest.raises(SourceUnavailable):
        guard.run(lambda: "never")
    assert time.monotonic() - started < 2.0
    release.set()
    busy.join()
    guard.close()


def test_submitted_work_runs_on_the_sources_own_threads() -> None:
    guard = SourceGuard(2, CircuitConfig(), wait_s=1, name="reviews")
    assert guard.submit(lambda: threading.current_thread().name).result(5).startswith(
        "source-reviews")
    guard.close()


# ---- SQL -----------------------------------------------------------------------------------


def test_sqlite_stops_a_query_at_the_deadline(tmp_path: Path) -> None:
    database = tmp_path / "loyalty.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE members (email TEXT, points INT)")
        connection.execute("INSERT INTO members VALUES ('a@x.fr', 3)")
    endless = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT email, points FROM members WHERE email = :email "
               "AND (SELECT count(*) FROM n WHERE i < 1000000000) > 0")
    config = SqlConfig.model_validate({
        "type": "sql", "url": f"sqlite:///{database}", "timeout_s": 0.5,
        "queries": {"member": endless},
        "sections": {"loyalty": {"path": "member[0]", "fields": {"points": "points"}}}})
    started = time.monotonic()
    with pytest.raises(SourceTimeout) as caught:
        SqlSource("loyalty", config, BuildContext(tmp_path)).fetch(
            Identifiers(emails=("a@x.fr",)))
    assert time.monotonic() - started < 2.5
    assert caught.value.public == "no answer within 0.5 s"


# ---- the cache's budget --------------------------------------------------------------------


def test_the_cache_holds_no_more_bytes_than_its_budget() -> None:
    cache = MemoryCache(max_bytes=100_000, max_entry_bytes=20_000)
    for n in range(50):
        cache.put(f"src:erp:email=c{n}", "x" * 10_000, ttl_s=60, stale_ttl_s=60)
    assert cache.size_bytes <= 100_000
    assert cache.get("src:erp:email=c49") is not None  # the newest kept
    assert cache.get("src:erp:email=c0") is None  # the oldest gone
    assert 5 <= len(cache) <= 10


def test_the_cache_holds_no_more_entries_than_its_cap() -> None:
    cache = MemoryCache(maxsize=3)
    for n in range(5):
        cache.put(f"src:erp:email=c{n}", n, ttl_s=60, stale_ttl_s=60)
    assert len(cache) == 3 and cache.get("src:erp:email=c4") is not None


def test_an_answer_too_large_is_not_cached_and_the_log_names_only_the_source(
        caplog: pytest.LogCaptureFixture) -> None:
    cache = MemoryCache(max_bytes=1_000_000, max_entry_bytes=50_000)
    flight = SingleFlight(cache)
    with caplog.at_level(logging.INFO, logger="connector.sources.cache"):
        loaded = flight.load("src:reviews:email=pauline.deneve@easiware.fr",
                             lambda: "x" * 60_000, P60)
    assert loaded.value == "x" * 60_000  # served, only not kept
    assert cache.get("src:reviews:email=pauline.deneve@easiware.fr") is None
    assert len(cache) == 0
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("reviews" in line and "not cached" in line for line in logged)
    assert not any("pauline" in line or "easiware" in line for line in logged)
