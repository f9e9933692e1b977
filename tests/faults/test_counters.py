"""The shared counters (`CONNECTOR_RATE_LIMIT_STORAGE=redis://…`: rate limits, write-back
budgets, a source's open circuit) on a Redis that accepts connections and never answers, cut
by a TCP proxy the test owns: nothing waits on it longer than `counters.TIMEOUT_S` a call,
each process goes on with its own counters, the storage is left alone for `RETRY_S` after a
failure, `/readyz` says "degraded", and all is shared again once Redis answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.events.budgets import SharedBudget
from connector.helpdesk.base import Limits
from connector.sources.shared_state import SharedFlags
from connector.store import counters
from tests.conftest import API_TOKEN, Backoffice, service_env, start_service, stop
from tests.faults.proxy import HANG, PASS, Proxy

LIMITS = Limits(calls=5, per_s=60, target_interval_s=12)


@pytest.fixture
def hung() -> Iterator[Proxy]:
    """A proxy to the machine's Redis, hung from the start (accepts, never answers)."""
    proxy = Proxy(("127.0.0.1", 6379))
    proxy.set(HANG)
    yield proxy
    proxy.close()


class Asked:
    """Counts the calls made to a storage's methods."""

    def __init__(self, storage: Any) -> None:
        self.calls = 0
        for name in ("get", "get_expiry", "incr", "clear", "acquire_entry", "get_moving_window"):
            original = getattr(storage, name)

            def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.calls += 1
                return _original(*args, **kwargs)

            setattr(storage, name, counted)


def test_a_hung_storage_is_given_up_at_once_then_left_alone(hung: Proxy,
                                                            redis_prefix: str) -> None:
    flags = SharedFlags(f"redis://127.0.0.1:{hung.port}/0", redis_prefix)
    asked = Asked(flags.storage)
    started = time.monotonic()
    assert flags.remaining_s("source-open/erp", max_age_s=0) == 0.0  # no flag: not known
    assert time.monotonic() - started < 10 * counters.TIMEOUT_S  # not the minutes it hangs
    assert asked.calls == 1 and flags.outage.skipping
    flags.raise_for("source-open/erp", 30)  # this process's own view still holds it
    assert flags.remaining_s("source-open/erp") > 25
    assert flags.remaining_s("other", max_age_s=0) == 0.0
    flags.lower("source-open/erp")
    assert asked.calls == 1  # left alone while the outage lasts


def test_a_write_back_budget_on_a_hung_storage_is_this_process_s(hung: Proxy,
                                                                 redis_prefix: str) -> None:
    budget = SharedBudget(f"redis://127.0.0.1:{hung.port}/0", redis_prefix)
    asked = Asked(budget.storage)
    flags = Asked(budget.pauses.storage)
    started = time.monotonic()
    waits = [budget.acquire("zendesk", LIMITS) for _ in range(6)]
    assert time.monotonic() - started < 10 * counters.TIMEOUT_S
    assert waits[:5] == [0.0] * 5 and waits[5] > 0  # this process's 5 a minute
    assert asked.calls + flags.calls == 1  # the first pause check found it hung; then none


def test_after_the_outage_the_storage_is_asked_again(redis_prefix: str) -> None:
    proxy = Proxy(("127.0.0.1", 6379))
    try:
        flags = SharedFlags(f"redis://127.0.0.1:{proxy.port}/0", redis_prefix)
        flags.outage.retry_s = 0.2
        proxy.set(HANG)
        assert flags.remaining_s("source-open/erp", max_age_s=0) == 0.0
        assert flags.outage.skipping
        proxy.set(PASS)
        SharedFlags("redis://127.0.0.1:6379/0", redis_prefix).raise_for("source-open/erp", 30)
        deadline = time.monotonic() + 10
        while flags.outage.skipping:  # the retry delay passes
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert flags.remaining_s("source-open/erp", max_age_s=0) > 25  # read from Redis
    finally:
        proxy.close()


def test_the_service_answers_and_says_degraded_on_hung_counters(
        hung: Proxy, demo_data: Path, backoffice: Backoffice, tmp_path: Path,
        redis_prefix: str) -> None:
    env = service_env(demo_data, backoffice.url, tmp_path) | {
        "CONNECTOR_RATE_LIMIT": "1000 per minute",
        "CONNECTOR_RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{hung.port}/0",
        "CONNECTOR_RATE_LIMIT_PREFIX": redis_prefix}
    service = start_service(env)
    try:
        for _ in range(5):  # without bounded waits, each of these waited seconds, then 503
            answer = requests.get(f"{service.url}/api/v1/customers/lookup", timeout=5,
                                  params={"email": "pauline.deneve@easiware.fr"},
                                  headers={"Authorization": f"Bearer {API_TOKEN}"})
            assert answer.status_code == 200
        ready = requests.get(f"{service.url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["counters"] == {
            "ok": False, "error": "counters unavailable (ConnectionError)"}
    finally:
        stop(service.process)
