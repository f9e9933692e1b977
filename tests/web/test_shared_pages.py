"""Kept sidebar pages shared between processes through the shared cache (Redis), on one
PostgreSQL: a page one process made is served by another after the same one-statement check,
with that request's own token and nonce; anything it was made of changing — a note written by
any writer, an erasure — is never served from it; a page made again for the time is made once
for both; a process on another database takes none; Redis away, every page is still served.
Two services wired in this process, sharing only PostgreSQL and Redis as two processes would
(tests/web/test_redis_shared.py runs two real `connector serve` processes)."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from connector.app import Services, build_services
from connector.manifest import load_manifest
from connector.models import SourceState, SourceStatus
from connector.settings import Settings
from connector.widgets.base import scripts, stylesheet
from connector.widgets.kept import KEPT_S, Kept, decode, encode
from tests.conftest import (
    API_TOKEN,
    MANIFEST,
    REDIS,
    Backoffice,
    drop_schema,
    postgres_url,
    service_env,
)
from tests.faults.proxy import PASS, REFUSE, Proxy
from tests.web.test_kept_pages import EMAIL, Served, _reads, noted_elsewhere


class Cluster:
    """Services on one PostgreSQL schema and one Redis prefix, each wired as a process."""

    def __init__(self, demo_data: Path, backoffice: Backoffice, tmp_path: Path,
                 prefix: str) -> None:
        self.demo_data, self.backoffice, self.tmp_path = demo_data, backoffice, tmp_path
        self.prefix = prefix
        self.schema = "connector_test_" + uuid.uuid4().hex[:10]
        self.url = postgres_url(self.schema)
        self.built: list[Services] = []
        self.schemas = [self.schema]

    def process(self, name: str, cache_url: str = REDIS, database_url: str | None = None,
                frozen: float | None = None) -> Served:
        """A service of its own (its clock frozen at `frozen`, when given)."""
        env = service_env(self.demo_data, self.backoffice.url, self.tmp_path / name)
        settings = Settings(data_dir=self.tmp_path / name, demo_dir=self.demo_data,
                            secret_key="test-secret-key", public_url="http://connector.test",
                            api_token=API_TOKEN, database_url=database_url or self.url,
                            cache_url=cache_url, cache_prefix=self.prefix)
        services = build_services(settings, load_manifest(MANIFEST, env=env))
        self.built.append(services)
        if frozen is not None:
            services.pages.clock = lambda: frozen
        return Served(services)

    def close(self) -> None:
        for services in self.built:
            services.close()
        for schema in self.schemas:
            drop_schema(schema)


@pytest.fixture
def cluster(demo_data: Path, backoffice: Backoffice, tmp_path: Path,
            redis_prefix: str) -> Iterator[Cluster]:
    made = Cluster(demo_data, backoffice, tmp_path, redis_prefix)
    try:
        yield made
    finally:
        made.close()


def _plain(answer: object, token: str) -> str:
    """A page's HTML less its token and nonce (what differs at each opening)."""
    text = answer.text  # type: ignore[attr-defined]
    nonce = re.search(r"'nonce-([^']+)'", answer.headers["Content-Security-Policy"])  # type: ignore[attr-defined]
    assert nonce is not None
    return text.replace(nonce.group(1), "NONCE").replace(token, "TOKEN")


def _opened(served: Served) -> tuple[object, str]:
    embed = served.services.embed
    token = embed.token(email=EMAIL)
    answer = served.web.get(embed.url("", token))
    assert answer.status_code == 200, answer.text[:300]
    return answer, token


def test_a_page_one_process_made_is_served_by_another_after_one_statement(
        cluster: Cluster) -> None:
    one, other = cluster.process("one"), cluster.process("other")
    one.settled()
    made, made_token = _opened(one)
    assert one.last() == "hit"
    assert other.services.pages.enabled  # its first look at its database's triggers
    ran, _lent = _reads(other)
    answer, token = _opened(other)
    assert other.results == ["shared", "hit"]  # taken from Redis, then served: nothing made
    # the check, no more (besides this process's first look at its database's triggers
    # and its first prune mark)
    checks = [sql for sql in ran if 'WHERE "key" IN' in sql]
    assert len(checks) == 1 and all("record_changes" in sql or "pg_catalog" in sql
                                    for sql in ran), ran
    assert token in answer.text and made_token not in answer.text  # its own token
    assert _plain(answer, token) == _plain(made, made_token)  # the same page
    _opened(other)
    assert other.last() == "hit"  # kept in that process too now


def test_a_note_written_meanwhile_is_never_served_from_the_shared_page(
        cluster: Cluster) -> None:
    one, other = cluster.process("one"), cluster.process("other")
    one.settled()
    noted_elsewhere(cluster.url, one.services, "Told meanwhile")
    answer = other.open()
    assert "shared" not in other.results and other.last() == "kept"
    assert "Told meanwhile" in answer.text
    before = len(one.results)
    served = one.open()  # the first process's own copy fails its check: the other's, taken
    assert one.results[before:] == ["shared", "hit"] and "Told meanwhile" in served.text


def test_a_page_made_again_for_the_time_is_made_once_for_both_processes(
        cluster: Cluster) -> None:
    now = time.time()  # both clocks stopped: no minute ends during the test
    one = cluster.process("one", frozen=now)
    other = cluster.process("other", frozen=now)
    one.settled()
    other.open()
    assert other.results == ["shared", "hit"]
    # the other process's copy a minute old (as after a minute of the clock): served, and the
    # page another process made this minute taken instead of made again
    pages = other.services.pages
    ((key, kept),) = pages._kept.items()
    pages._kept[key] = replace(kept, minute=kept.minute - 1)
    before = len(other.results)
    other.open()
    pages.idle()
    assert other.results[before:] == ["hit", "shared"], other.results
    other.open()
    assert other.last() == "hit"


def test_a_page_made_again_for_the_time_is_made_when_redis_holds_no_newer_one(
        cluster: Cluster) -> None:
    now = time.time()
    one = cluster.process("one", frozen=now)
    one.settled()
    one.services.pages.clock = lambda: now + 61  # another minute, for this process alone
    before = len(one.results)
    one.open()
    one.services.pages.idle()
    assert one.results[before:] == ["hit", "kept"]  # Redis had this very making: not taken


def test_an_erasure_clears_the_shared_pages(cluster: Cluster) -> None:
    one, other = cluster.process("one"), cluster.process("other")
    one.settled()
    client = redis.Redis.from_url(REDIS)
    try:
        assert list(client.scan_iter(f"{cluster.prefix}:*:page:*"))
        answer = one.web.post("/api/v1/customers/forget", json={"email": EMAIL},
                              headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert answer.status_code == 200, answer.text
        assert not list(client.scan_iter(f"{cluster.prefix}:*:page:*"))
    finally:
        client.close()
    other.open()
    assert "shared" not in other.results and "hit" not in other.results


def test_a_shared_page_is_held_as_long_as_a_process_could_take_it(cluster: Cluster) -> None:
    one = cluster.process("one")
    one.settled()
    client = redis.Redis.from_url(REDIS)
    try:
        [name] = list(client.scan_iter(f"{cluster.prefix}:*:page:*"))
        held_s = client.pttl(name) / 1000
        kept = decode(client.get(name))  # type: ignore[arg-type]
    finally:
        client.close()
    # past its first answer's TTL and the time it may be served while refreshed, no process
    # could take it: not held longer (the demo's contact history: 60 s, then 60 s)
    usable = min(fresh + one.services.assembler.revalidate_s(entry)
                 for entry, (_stored, fresh) in kept.entries) - time.time()
    assert usable - 5 < held_s <= usable + 0.5 and held_s < KEPT_S


def test_a_page_made_while_an_erasure_clears_the_shared_ones_is_not_shared(
        cluster: Cluster) -> None:
    one, other = cluster.process("one"), cluster.process("other")
    one.settled()
    client = redis.Redis.from_url(REDIS)
    pages = f"{cluster.prefix}:*:page:*"
    lookup = one.services.assembler.lookup

    def erased_meanwhile(*args: object, **kwargs: object) -> object:
        del one.services.assembler.lookup  # once
        other.services.pages.clear()  # another process's erasure, as this page is made
        return lookup(*args, **kwargs)

    try:
        noted_elsewhere(cluster.url, one.services, "Before")
        one.services.assembler.lookup = erased_meanwhile  # type: ignore[method-assign]
        assert "Before" in one.open().text and one.last() == "kept"
        assert not list(client.scan_iter(pages))  # made across the erasure: not put back
        noted_elsewhere(cluster.url, one.services, "After")
        assert "After" in one.open().text and one.last() == "kept"
        assert list(client.scan_iter(pages))  # made after it: shared again
    finally:
        client.close()


def test_a_process_on_another_database_takes_no_page(cluster: Cluster) -> None:
    one = cluster.process("one")
    one.settled()
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    cluster.schemas.append(schema)
    elsewhere = cluster.process("elsewhere", database_url=postgres_url(schema))
    elsewhere.settled()  # the same manifest and Redis prefix, its own who-is-who and notes
    assert "shared" not in elsewhere.results
    client = redis.Redis.from_url(REDIS)
    try:  # the same request, a page for each database (the same history writes the same
        # versions in each: they would pass each other's check)
        assert len(list(client.scan_iter(f"{cluster.prefix}:*:page:*"))) == 2
    finally:
        client.close()


def test_with_redis_away_every_page_is_still_served(cluster: Cluster) -> None:
    proxy = Proxy(("127.0.0.1", 6379))
    try:
        cache = f"redis://127.0.0.1:{proxy.port}/0"
        one, other = cluster.process("one", cache), cluster.process("other", cache)
        one.settled()
        proxy.set(REFUSE)
        assert "Pauline" in one.open().text and one.last() == "hit"  # its own copy
        assert "Pauline" in other.open().text  # made here: nothing to take
        assert "shared" not in other.results
        proxy.set(PASS)
        fresh = cluster.process("fresh", cache)
        assert "Pauline" in fresh.open().text
        assert fresh.results[0] == "shared"  # back to Redis: the page kept before, taken
    finally:
        proxy.close()


def test_a_kept_page_reads_back_as_it_was_written() -> None:
    kept = Kept("<p>cnpt0 cnpq0 cnpn0 é</p>", ("c:cus_1", "t:segments"),
                {"c:cus_1": (2, 9, 15), "t:segments": (0, 0, 0)},
                (("pos:email:x", (1.5, 301.5)),),
                (("pos", SourceStatus(status=SourceState.OK,
                                      fetched_at=dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC))),
                 ("erp", SourceStatus(status=SourceState.STALE, age_s=3.0, error="down"))),
                (("pos", "à l'instant"), ("erp", None)), "fr", 29_000_000,
                ("cnpt0", "cnpq0", "cnpn0"))
    assert decode(encode(kept)) == kept
    page = f"<style>{stylesheet()}</style><p>x</p><script>{''.join(scripts().values())}</script>"
    whole = replace(kept, html=page)
    blob = encode(whole)
    assert blob is not None and decode(blob) == whole
    assert len(blob) < len(zlib.compress(page.encode())) / 5  # its style and scripts left out
    assert encode(replace(kept, html="<p>\0</p>")) is None  # the stand-ins' byte: not shared
    for broken in (b"", b"not zlib", blob[:20], zlib.compress(b'{"html": 1}'),
                   zlib.compress(b'{"keys": []}\n<p>')):
        with pytest.raises((ValueError, KeyError, TypeError, zlib.error)):
            decode(broken)
