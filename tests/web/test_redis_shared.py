"""Two real `connector serve` processes sharing the source cache on Redis
(CONNECTOR_CACHE_URL): a record looked up on one is a hit on the other (no source call), and
forgotten on one (`cache/invalidate`) is forgotten on the other; a process whose Redis does not
answer keeps serving from memory, `/readyz` saying "degraded"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.conftest import (
    API_TOKEN,
    REDIS,
    Backoffice,
    Service,
    free_port,
    service_env,
    start_service,
    stop,
)

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE = "pauline.deneve@easiware.fr"


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """This test's own Redis key prefix (tests/conftest.py `redis_prefix`)."""
    return redis_prefix


def started(demo_data: Path, backoffice: Backoffice, var: Path, url: str,
            prefix: str) -> Service:
    env = service_env(demo_data, backoffice.url, var)
    return start_service({**env, "CONNECTOR_CACHE_URL": url, "CONNECTOR_CACHE_PREFIX": prefix})


def lookups(service: Service, result: str) -> float:
    """Source cache lookups of one process with this result (hit, miss), from /metrics."""
    text = requests.get(f"{service.url}/metrics", timeout=10).text
    return sum(float(value) for value in re.findall(
        rf'^connector_cache_lookups_total\{{[^}}]*result="{result}"[^}}]*\}} (\S+)$', text,
        re.MULTILINE))


def test_a_record_looked_up_on_one_process_is_a_hit_on_the_other(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path, prefix: str) -> None:
    one = started(demo_data, backoffice, tmp_path / "one", REDIS, prefix)
    other = started(demo_data, backoffice, tmp_path / "other", REDIS, prefix)
    try:
        first = requests.get(f"{one.url}/api/v1/customers/lookup", params={"email": PAULINE},
                             headers=AUTH, timeout=20)
        assert first.status_code == 200 and lookups(one, "miss") > 0
        second = requests.get(f"{other.url}/api/v1/customers/lookup",
                              params={"email": PAULINE}, headers=AUTH, timeout=20)
        assert second.status_code == 200
        assert lookups(other, "miss") == 0 and lookups(other, "hit") > 0  # no source called
        for section in ("identity", "orders", "loyalty"):  # rebuilt from Redis as they were
            assert second.json()[section] == first.json()[section]
        ready = requests.get(f"{other.url}/readyz", timeout=10).json()
        assert ready["status"] == "ready" and ready["checks"]["cache"]["ok"] is True
        dropped = requests.post(f"{one.url}/api/v1/cache/invalidate", json={"email": PAULINE},
                                headers=AUTH, timeout=10)
        assert dropped.status_code == 200 and dropped.json()["dropped"] > 0
        requests.get(f"{other.url}/api/v1/customers/lookup", params={"email": PAULINE},
                     headers=AUTH, timeout=20).raise_for_status()
        assert lookups(other, "miss") > 0  # forgotten on one process, for the other too
    finally:
        stop(one.process)
        stop(other.process)


def test_a_process_whose_redis_does_not_answer_serves_from_memory_degraded(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path, prefix: str) -> None:
    away = started(demo_data, backoffice, tmp_path / "away", f"redis://127.0.0.1:{free_port()}/0",
                   prefix)
    try:
        for _ in range(2):
            answer = requests.get(f"{away.url}/api/v1/customers/lookup",
                                  params={"email": PAULINE}, headers=AUTH, timeout=20)
            assert answer.status_code == 200 and answer.json()["identity"]
        assert lookups(away, "hit") > 0  # the second, from this process's memory
        ready = requests.get(f"{away.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["cache"]["ok"] is False
        metrics = requests.get(f"{away.url}/metrics", timeout=10).text
        assert "connector_shared_cache_degraded 1.0" in metrics
    finally:
        stop(away.process)
