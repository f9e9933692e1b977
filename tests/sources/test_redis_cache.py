"""The shared cache on a real Redis (127.0.0.1:6379): the memory cache's semantics, entries
shared between instances (standing for processes), one fetch per key across them, and this
process's memory standing in while Redis is cut (through a proxy the test owns)."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis

from connector.models import SECTIONS
from connector.sources.base import (
    SourceCandidate,
    SourceResult,
    SourceTimeout,
    SourceUnavailable,
    deadline_at,
)
from connector.sources.cache import Entry, MemoryCache, Policy
from connector.sources.redis_cache import RedisCache, SharedSingleFlight, decode, encode
from tests.conftest import REDIS

P60 = Policy(ttl_for=lambda _: 60, stale_ttl_s=600)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """This test's own Redis key prefix (tests/conftest.py `redis_prefix`)."""
    return redis_prefix


def shared(prefix: str, clock: Clock | None = None, url: str = REDIS,
           **kw: float) -> RedisCache:
    return RedisCache(url, prefix, clock=clock or time.time, **kw)  # type: ignore[arg-type]


# -- the memory cache's semantics ---------------------------------------------------------------

def test_fresh_then_refetched_after_ttl(prefix: str) -> None:
    clock = Clock()
    flight = SharedSingleFlight(shared(prefix, clock))
    calls = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    assert flight.load("src:erp:email=a", load, P60).value == 1
    assert flight.load("src:erp:email=a", load, P60).from_cache
    clock.now += 61
    assert flight.load("src:erp:email=a", load, P60).value == 2


def test_stale_value_served_when_the_source_fails(prefix: str) -> None:
    clock = Clock()
    flight = SharedSingleFlight(shared(prefix, clock))
    flight.load("k:s:1", lambda: "old", P60)
    clock.now += 120

    def down() -> str:
        raise SourceUnavailable("server error (503)")

    loaded = flight.load("k:s:1", down, P60)
    assert (loaded.value, loaded.stored_at) == ("old", 1000.0)
    assert loaded.stale_error is not None and loaded.stale_error.public == "server error (503)"
    clock.now += 600  # past keeping: nothing left to serve
    with pytest.raises(SourceUnavailable):
        flight.load("k:s:1", down, P60)


def test_not_found_answers_kept_no_longer_than_their_cap(prefix: str) -> None:
    clock = Clock()
    flight = SharedSingleFlight(shared(prefix, clock))
    capped = Policy(ttl_for=lambda r: 300 if r.found else 60, stale_ttl_s=0)
    flight.load("src:erp:email=x", lambda: SourceResult(found=False), capped)
    clock.now += 30
    assert flight.load("src:erp:email=x", lambda: SourceResult(found=True), capped).from_cache
    clock.now += 31
    assert flight.load("src:erp:email=x", lambda: SourceResult(found=True), capped).value.found


def test_entries_expire_in_redis_after_their_stale_ttl(prefix: str) -> None:
    cache = shared(prefix)
    cache.put("src:erp:email=a", "v", 0.05, 0.05)
    assert cache.get("src:erp:email=a") is not None
    time.sleep(0.15)
    assert cache.get("src:erp:email=a") is None


def test_just_expired_value_served_at_once_while_refreshed_in_background(prefix: str) -> None:
    clock = Clock()
    pool = ThreadPoolExecutor(2)
    flight = SharedSingleFlight(shared(prefix, clock), refresher=pool)
    policy = Policy(ttl_for=lambda _: 60, stale_ttl_s=600, revalidate_s=30)
    values = iter(["v1", "v2"])
    flight.load("k:s:1", lambda: next(values), policy)
    clock.now += 70  # past the TTL, within the revalidation grace
    served = flight.load("k:s:1", lambda: next(values), policy)
    assert (served.value, served.revalidating) == ("v1", True)
    pool.shutdown(wait=True)
    assert flight.load("k:s:1", lambda: "never", policy).value == "v2"
    clock.now += 200  # past the grace: a caller waits for the fresh value
    assert flight.load("k:s:1", lambda: "v3", policy).value == "v3"


def test_a_revalidation_runs_in_one_process_only(prefix: str) -> None:
    clock = Clock()
    policy = Policy(ttl_for=lambda _: 60, stale_ttl_s=600, revalidate_s=30)
    pools = [ThreadPoolExecutor(1), ThreadPoolExecutor(1)]
    flights = [SharedSingleFlight(shared(prefix, clock), refresher=p) for p in pools]
    flights[0].load("k:s:1", lambda: "v1", policy)
    clock.now += 70
    gate, calls = threading.Event(), []

    def slow() -> str:
        calls.append(1)
        gate.wait(2)
        return "v2"

    assert [f.load("k:s:1", slow, policy).value for f in flights] == ["v1", "v1"]
    gate.set()
    for pool in pools:
        pool.shutdown(wait=True)
    assert len(calls) == 1
    assert flights[1].load("k:s:1", lambda: "never", policy).value == "v2"


def test_invalidate_by_identifier_tag_and_source_reaches_every_instance(prefix: str) -> None:
    one, other = shared(prefix), shared(prefix)
    one.put("src:erp:email=a", 1, 60, 0, tags=["email:a", "phone:+331"])
    one.put("src:pos:phone=+331", 2, 60, 0, tags=["phone:+331"])
    one.put("src:pos:email=b", 3, 60, 0, tags=["email:b"])
    assert other.invalidate_tags(["phone:+331"], prefix="src:pos:") == 1
    assert one.get("src:erp:email=a") is not None and one.get("src:pos:phone=+331") is None
    assert other.invalidate_tags(["phone:+331"]) == 1
    assert one.get("src:erp:email=a") is None and one.get("src:pos:email=b") is not None


def test_no_identifier_in_any_redis_key(prefix: str) -> None:
    shared(prefix).put("src:erp:email=jane@example.com", 1, 60, 0, tags=["email:jane@example.com"])
    keys = redis.Redis.from_url(REDIS).keys(f"{prefix}:*")
    assert keys and not any(b"jane" in key for key in keys)


def test_a_value_too_large_is_not_kept(prefix: str) -> None:
    cache = RedisCache(REDIS, prefix, fallback=MemoryCache(max_entry_bytes=1024))
    cache.put("src:erp:email=a", "x" * 5000 + secrets.token_hex(2000), 60, 0)
    assert cache.get("src:erp:email=a") is None


def test_a_source_result_round_trips_with_its_sections() -> None:
    identity_model, _ = SECTIONS["identity"]
    order_model, _ = SECTIONS["orders"]
    identity = identity_model.model_validate({"first_name": "Jane", "birth_date": "1990-02-03",
                                               "address": {"city": "Paris"}})
    result = SourceResult(True, {"identity": identity, "orders": []}, "C1", 2,
                          [SourceCandidate("C2", "J. Doe", "75001")])
    plain = {"amount": Decimal("12.50"), "at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
             "day": dt.date(2026, 1, 2), "items": [1, "a", None]}
    for value in (result, plain):
        entry = decode(encode(Entry(value, 1.0, 2.0, 3.0)))
        assert entry.value == value and (entry.stored_at, entry.fresh_until) == (1.0, 2.0)
    assert order_model  # a list section's model is known too


# -- across processes -------------------------------------------------------------------------

def test_an_entry_stored_by_one_instance_is_a_hit_on_another(prefix: str) -> None:
    one, other = SharedSingleFlight(shared(prefix)), SharedSingleFlight(shared(prefix))
    one.load("src:erp:email=a", lambda: SourceResult(True, {}, "C1"), P60)
    loaded = other.load("src:erp:email=a", lambda: pytest.fail("fetched again"), P60)
    assert loaded.from_cache and loaded.value.external_id == "C1"
    assert other.fresh_many(["src:erp:email=a"])[0] is not None


def test_one_fetch_for_many_callers_across_instances(prefix: str) -> None:
    flights = [SharedSingleFlight(shared(prefix)) for _ in range(2)]
    calls, gate = [], threading.Event()

    def slow() -> str:
        calls.append(1)
        gate.wait(2)
        return "value"

    results: list[str] = []
    threads = [threading.Thread(target=lambda f=flights[n % 2]: results.append(
        f.load("src:erp:email=a", slow, P60).value)) for n in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 20
    assert len(calls) == 1


def test_a_waiter_gives_up_at_its_deadline_with_the_stale_copy(prefix: str) -> None:
    clock = Clock()
    holder, waiter = shared(prefix, clock), shared(prefix, clock)
    flight = SharedSingleFlight(waiter)
    flight.load("k:s:1", lambda: "old", P60)
    clock.now += 120
    token = holder.lock("k:s:1")  # another process loads it, and takes its time
    assert token is not None
    started = time.monotonic()
    with deadline_at(time.monotonic() + 0.2):
        loaded = flight.load("k:s:1", lambda: pytest.fail("fetched twice"), P60)
    assert loaded.value == "old" and isinstance(loaded.stale_error, SourceTimeout)
    assert time.monotonic() - started < 0.5
    assert holder.lock("k:s:2") is not None  # nothing kept for this one: a timeout
    with deadline_at(time.monotonic() + 0.1), pytest.raises(SourceTimeout):
        flight.load("k:s:2", lambda: "x", P60)


def test_a_lock_whose_holder_died_expires(prefix: str) -> None:
    dead, alive = shared(prefix, lock_ttl_s=0.2), shared(prefix, lock_ttl_s=0.2)
    assert dead.lock("k:s:1") is not None  # and never released
    started = time.monotonic()
    assert SharedSingleFlight(alive).load("k:s:1", lambda: "v", P60).value == "v"
    assert 0.1 < time.monotonic() - started < 1.0


# -- Redis cut ----------------------------------------------------------------------------------

class Proxy:
    """A TCP proxy to Redis that the test can cut (close every connection and refuse new ones)
    and bring back on the same port."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 6379)) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._server: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            sockets, self._sockets = self._sockets, []
        for sock in [server, *sockets]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                if self._server is not server:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    proxy = Proxy()
    proxy.start()
    yield proxy
    proxy.cut()


def test_redis_cut_mid_run_memory_answers_then_redis_again(prefix: str, proxy: Proxy,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    cache = shared(prefix, url=f"redis://127.0.0.1:{proxy.port}/0", retry_s=0.2)
    flight = SharedSingleFlight(cache)
    calls: list[str] = []

    def load(value: str) -> str:
        calls.append(value)
        return value

    assert flight.load("src:erp:email=a", lambda: load("a"), P60).value == "a"
    assert not cache.degraded
    proxy.cut()
    started = time.monotonic()
    for _ in range(3):  # answers still come, from the source then this process's memory
        assert flight.load("src:erp:email=b", lambda: load("b"), P60).value == "b"
    assert time.monotonic() - started < 1.5
    assert cache.degraded and cache.fallbacks >= 3 and cache.outages == 1
    assert calls == ["a", "b"]
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "email" not in warnings[0].getMessage()
    with pytest.raises(ConnectionError):
        cache.ping()
    flight.cache.invalidate_tags(["email:a"])  # made while away: applied once Redis is back
    shared(prefix).put("src:erp:email=a", "a", 60, 0, tags=["email:a"])  # as another process
    proxy.start()
    time.sleep(0.25)  # past the back-off
    assert flight.load("src:erp:email=c", lambda: load("c"), P60).value == "c"
    assert not cache.degraded and isinstance(cache.ping(), float)
    assert shared(prefix).get("src:erp:email=c") is not None  # in Redis again
    assert shared(prefix).get("src:erp:email=a") is None  # the missed invalidation applied
    assert cache.outages == 1


def test_redis_never_there_every_answer_from_memory(prefix: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = shared(prefix, url=f"redis://127.0.0.1:{port}/0")
    flight = SharedSingleFlight(cache)
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        return "v"

    for _ in range(3):
        assert flight.load("k:s:1", load, P60).value == "v"
    assert calls == [1] and cache.degraded


def test_fresh_many_reads_several_sources_in_one_round_trip(prefix: str) -> None:
    clock = Clock()
    cache = shared(prefix, clock)
    flight = SharedSingleFlight(cache)
    flight.load("src:erp:email=a", lambda: "erp", P60)
    flight.load("src:pos:email=a", lambda: "pos", P60)
    asked: list[int] = []
    real_mget, real_get = cache._redis.mget, cache._redis.get
    cache._redis.mget = lambda keys: asked.append(len(keys)) or real_mget(keys)  # type: ignore[method-assign]
    cache._redis.get = lambda key: asked.append(-1) or real_get(key)  # type: ignore[method-assign]
    keys = ["src:erp:email=a", "src:crm:email=a", "src:pos:email=a"]
    found = flight.fresh_many(keys)
    assert asked == [3]  # one MGET, no GET
    assert [f.value if f is not None else None for f in found] == ["erp", None, "pos"]
    clock.now += 61  # past their TTL: kept, no longer fresh
    assert flight.fresh_many(keys) == [None, None, None]


def test_fresh_many_answers_from_memory_while_redis_is_away(prefix: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = shared(prefix, url=f"redis://127.0.0.1:{port}/0")
    flight = SharedSingleFlight(cache)
    flight.load("src:erp:email=a", lambda: "erp", P60)  # kept in memory: Redis is away
    found = flight.fresh_many(["src:erp:email=a", "src:pos:email=a"])
    assert [f.value if f is not None else None for f in found] == ["erp", None]
    assert cache.degraded
