"""Twenty agents open the same, never-seen customer at the same moment, ten on each of two
real `connector serve` processes sharing PostgreSQL and the source cache in Redis
(CONNECTOR_CACHE_URL): each source is asked each distinct question once, for the cluster
(the cross-process single-flight of connector/sources/redis_cache.py: a `SET NX PX` lock, the
others polling it within their deadline), and all twenty get the same record.

The demo back office counts no reads, so the sources' HTTP calls go through a counting proxy of
the test's own that answers each 300 ms late: the twenty opens are all under way before the
first answer comes back (the HTTP sources' timeouts raised, so that a busy machine does not
turn the wait into a timeout). The files and SQL sources, read in-process, are counted by
their cache misses in each process's /metrics."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.cluster_helpers import (
    CountingProxy,
    Process,
    manifest_copy,
    postgres_schema,
    serve,
    stop_all,
)
from tests.conftest import API_TOKEN, REDIS, Backoffice, Service, service_env

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PAULINE = "pauline.deneve@easiware.fr"
OPENS_PER_PROCESS = 10
LATENCY_S = 0.3  # each source call (the feedback source makes three in a row)
SOURCE_TIMEOUT_S = 8  # the HTTP sources' (1.5 s in the default manifest): room for a busy CI
SOURCES = ("erp", "pos", "feedback", "loyalty", "history")  # the default manifest's


def a_customer(demo_data: Path) -> dict[str, Any]:
    """A demo customer of the ERP other than Pauline (whom other tests look up), the only one
    with their email, who has orders: nobody opened them in this test's namespace."""
    erp = json.loads((demo_data / "erp.json").read_text(encoding="utf-8"))
    emails = Counter(c.get("email") for c in erp["customers"])
    buyers = {o["customer_id"] for o in erp["orders"]}
    return next(c for c in erp["customers"]
                if c.get("email") and c["email"] != PAULINE and emails[c["email"]] == 1
                and c["id"] in buyers)


def lookups(service: Service) -> Counter[tuple[str, str]]:
    """This process's source cache lookups by (source, result): a miss is a fetch it made,
    a hit an answer it found cached (here: in Redis, or its own wait for the lock)."""
    text = requests.get(f"{service.url}/metrics", timeout=10).text
    found: Counter[tuple[str, str]] = Counter()
    for labels, value in re.findall(r'^connector_cache_lookups_total\{([^}]*)\} (\S+)$', text,
                                    re.MULTILINE):
        named = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        found[named["source"], named["result"]] += int(float(value))
    return found


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The record without what differs from one answer to the next for the same data: how
    long each source took and whether it came from the cache."""
    return {k: v for k, v in record.items() if k != "sources"}


@pytest.fixture
def proxy(backoffice: Backoffice) -> Iterator[CountingProxy]:
    """The demo back office behind a proxy of this test's own: every call counted, each
    answered LATENCY_S late."""
    counting = CountingProxy(backoffice.url, latency_s=LATENCY_S)
    yield counting
    counting.close()


def test_twenty_simultaneous_cold_opens_on_two_processes_ask_each_source_once(
        demo_data: Path, proxy: CountingProxy, tmp_path: Path, redis_prefix: str) -> None:
    customer = a_customer(demo_data)
    manifest = manifest_copy(tmp_path / "manifest.yaml",
                             ("    timeout_s: 1.5\n", f"    timeout_s: {SOURCE_TIMEOUT_S}\n", 2))
    running: list[Process] = []
    with postgres_schema("connector_cold_" + uuid.uuid4().hex[:10]) as database:
        try:
            envs = [{**service_env(demo_data, proxy.url, tmp_path / name),
                     "CONNECTOR_MANIFEST": str(manifest), "CONNECTOR_DATABASE_URL": database,
                     "CONNECTOR_CACHE_URL": REDIS, "CONNECTOR_CACHE_PREFIX": redis_prefix}
                    for name in ("one", "two")]
            services, running = serve(envs, [tmp_path / "one.log", tmp_path / "two.log"],
                                      "--no-worker")
            assert proxy.seen() == []  # nothing asked of the sources yet

            opens = OPENS_PER_PROCESS * len(services)
            barrier = threading.Barrier(opens)
            sent: list[float] = []
            answers: list[requests.Response] = []
            failures: list[BaseException] = []
            lock = threading.Lock()

            def open_record(index: int) -> None:
                service = services[index % len(services)]  # ten on each process
                try:
                    barrier.wait(timeout=20)
                    with lock:
                        sent.append(time.monotonic())
                    answer = requests.get(f"{service.url}/api/v1/customers/lookup",
                                          params={"email": customer["email"]}, headers=AUTH,
                                          timeout=30)
                    with lock:
                        answers.append(answer)
                except BaseException as exc:  # reported below, with the others
                    with lock:
                        failures.append(exc)

            threads = [threading.Thread(target=open_record, args=(i,)) for i in range(opens)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not failures and len(answers) == opens, failures

            # every answer 200, complete (each source ok), and the same record
            assert [a.status_code for a in answers] == [200] * opens
            records = [a.json() for a in answers]
            assert all(r["customer_id"] == records[0]["customer_id"] for r in records)
            assert customer["email"] in records[0]["identity"]["emails"]
            for record in records:
                statuses = {name: s["status"] for name, s in record["sources"].items()}
                assert statuses == dict.fromkeys(SOURCES, "ok"), record["sources"]
                assert comparable(record) == comparable(records[0])
            assert records[0]["orders"]  # the ERP's answer is in it, not only its status

            # each source asked each question once, for the two processes together
            calls = proxy.seen()
            asked = Counter((c.method, c.target) for c in calls)
            assert asked and all(n == 1 for n in asked.values()), asked
            email = quote(customer["email"])
            assert {target for _, target in asked} >= {
                f"/erp/api/customers?email={email}", f"/erp/api/customers/{customer['id']}/orders",
                f"/feedback/api/reviews?email={email}", f"/feedback/api/surveys?email={email}",
                f"/feedback/api/campaigns?email={email}"}, asked
            # the files and SQL sources too: one fetch in the cluster, each process asked by
            # its ten opens, the one that did not fetch a source finding it in Redis
            seen = [lookups(service) for service in services]
            for name in SOURCES:
                assert [n[name, "hit"] + n[name, "miss"] for n in seen] == [OPENS_PER_PROCESS] * 2
                assert sum(n[name, "miss"] for n in seen) == 1, seen
            # the twenty really overlapped: every one was sent before any source had answered
            assert max(sent) < min(c.answered for c in calls)
        except BaseException:
            for process in running:  # what the services said, to tell why
                print(f"--- {process.log.name}\n{process.output()[-4000:]}")
            raise
        finally:
            stop_all(running)
