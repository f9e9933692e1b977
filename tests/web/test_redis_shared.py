"""Two real `connector serve` processes sharing the source cache on Redis
(CONNECTOR_CACHE_URL): a record looked up on one is a hit on the other (no source call), and
forgotten on one (`cache/invalidate`) is forgotten on the other; a process whose Redis does not
answer keeps serving from memory, `/readyz` saying "degraded"."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
import requests

from connector.helpdesk.embed import EmbedLinks
from tests.conftest import (
    API_TOKEN,
    REDIS,
    Backoffice,
    Service,
    drop_schema,
    free_port,
    postgres_url,
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


def kept_pages(service: Service, result: str) -> float:
    """Sidebar pages of one process with this result (hit, shared, kept…), from /metrics."""
    text = requests.get(f"{service.url}/metrics", timeout=10).text
    found = re.search(rf'^connector_kept_pages_total\{{result="{result}"\}} (\S+)$', text,
                      re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_sidebar_page_made_on_one_process_is_served_by_the_other(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path, prefix: str) -> None:
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    database = {"CONNECTOR_DATABASE_URL": postgres_url(schema)}
    one = start_service({**service_env(demo_data, backoffice.url, tmp_path / "one"), **database,
                         "CONNECTOR_CACHE_URL": REDIS, "CONNECTOR_CACHE_PREFIX": prefix})
    other = start_service({**service_env(demo_data, backoffice.url, tmp_path / "other"),
                           **database, "CONNECTOR_CACHE_URL": REDIS,
                           "CONNECTOR_CACHE_PREFIX": prefix})
    try:
        def link(service: Service) -> str:  # the same request to either: a link both accept
            token = EmbedLinks(b"test-secret-key", 3600, "FR").token(email=PAULINE)
            return f"{service.url}/helpdesk/embed/sidebar?t={token}"

        requests.get(link(one), timeout=20).raise_for_status()  # learns who she is
        deadline = time.monotonic() + 30  # the page made again behind, then kept and shared
        while kept_pages(one, "kept") < 1:
            assert time.monotonic() < deadline, "the first process kept no page"
            time.sleep(0.05)
        page = requests.get(link(other), timeout=20)
        assert page.status_code == 200 and "Pauline" in page.text
        assert kept_pages(other, "shared") == 1 and kept_pages(other, "kept") == 0
        assert lookups(other, "miss") == 0 and lookups(other, "hit") == 0  # nothing made
    finally:
        stop(one.process)
        stop(other.process)
        drop_schema(schema)
