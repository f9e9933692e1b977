"""Whole sidebar pages kept per request (`connector.widgets.kept`): a warm page is served after
one statement, with this request's token and nonce; anything it was made of changing — a note
written by any writer, a cached answer invalidated, an answer past its refresh — makes it
again; the time alone moving serves it and makes it again behind. The service wired in this
process on the default manifest and the demo back office, on a real SQLite file, and on
PostgreSQL with the Redis cache."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from flask.testing import FlaskClient
from sqlalchemy import event

from connector.app import Services, build_services
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.store.versions import PRUNE_AFTER_S
from connector.web import create_app
from connector.widgets.kept import KEPT_S, KeptPages
from tests.conftest import (
    API_TOKEN,
    MANIFEST,
    REDIS,
    Backoffice,
    drop_schema,
    postgres_url,
    service_env,
)

EMAIL = "pauline.deneve@easiware.fr"


class Served:
    """The service, its client, and what became of each page it made or served."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.web: FlaskClient = create_app(services.settings, services).test_client()
        self.results: list[str] = []
        noted = services.pages.noted

        def counted(result: str, size: int) -> None:
            self.results.append(result)
            noted(result, size)

        services.pages.noted = counted

    def open(self, email: str = EMAIL) -> Any:
        """The sidebar of `email`, through a link sealed now (a token of its own)."""
        embed = self.services.embed
        answer = self.web.get(embed.url("", embed.token(email=email)))
        assert answer.status_code == 200, answer.text[:300]
        return answer

    def settled(self, email: str = EMAIL) -> Any:
        """Opened until its page is kept (the first opening learns who they are, and its page
        is made again behind)."""
        self.open(email)
        self.services.pages.idle()
        return self.open(email)

    def last(self) -> str:
        return self.results[-1]


def noted_elsewhere(url: str, services: Services, text: str) -> None:
    """A note on EMAIL's person written by another writer on the PostgreSQL database at `url`
    (plain SQL: the database's triggers tell the kept pages)."""
    customer = services.assembler.resolver.resolve(Identifiers(emails=(EMAIL,))).customer_id
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(
                "INSERT INTO notes (customer_id, text, author, created_at, updated_at) "
                "VALUES (:c, :t, 'x', now(), now())"), {"c": customer, "t": text})
    finally:
        engine.dispose()


@pytest.fixture
def served(demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> Iterator[Served]:
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="test-secret-key",
                        public_url="http://connector.test", api_token=API_TOKEN)
    services = build_services(settings, load_manifest(
        MANIFEST, env=service_env(demo_data, backoffice.url, tmp_path)))
    try:
        yield Served(services)
    finally:
        services.close()


def _reads(served: Served) -> tuple[list[str], list[str]]:
    """The statements SQLAlchemy runs from now on, and the connections the pool lends."""
    ran: list[str] = []
    lent: list[str] = []
    engine = served.services.assembler.resolver.store.engine
    event.listen(engine, "before_cursor_execute", lambda *a: ran.append(a[2]))
    event.listen(engine.pool, "checkout", lambda *a: lent.append("lent"))
    return ran, lent


def test_a_warm_page_is_served_after_one_statement_with_its_own_token_and_nonce(
        served: Served) -> None:
    served.settled()
    assert served.last() in ("hit", "kept")
    ran, lent = _reads(served)
    embed = served.services.embed
    token = embed.token(email=EMAIL)
    answer = served.web.get(embed.url("", token))
    assert served.last() == "hit"
    # the check is one statement (`store.versions.read`) on one connection, nothing else
    assert len(ran) == 1 and "record_changes" in ran[0] and lent == ["lent"], (ran, lent)
    assert "Pauline" in answer.text
    assert token in answer.text  # its links carry this request's token, no other
    tokens = set(re.findall(r"[?&]t=([A-Za-z0-9_\-=%]+)", answer.text))
    assert tokens and all(t.replace("%3D", "=") == token for t in tokens), tokens
    nonce = re.search(r"'nonce-([^']+)'", answer.headers["Content-Security-Policy"])
    assert nonce is not None and f'nonce="{nonce.group(1)}"' in answer.text
    again = served.open()
    assert served.last() == "hit"
    assert re.search(r"'nonce-([^']+)'", again.headers["Content-Security-Policy"]) != nonce


def test_a_note_written_by_any_writer_shows_at_the_next_opening(
        served: Served, tmp_path: Path) -> None:
    served.settled()
    customer = served.services.assembler.resolver.resolve(
        Identifiers(emails=(EMAIL,))).customer_id
    assert customer is not None
    database = sqlite3.connect(tmp_path / "connector.sqlite")  # not ours: the triggers tell
    now = dt.datetime.now(dt.UTC).isoformat()
    with database:
        database.execute("INSERT INTO notes (customer_id, text, author, created_at, updated_at) "
                         "VALUES (?, 'Written from elsewhere', 'dba', ?, ?)",
                         (customer, now, now))
    database.close()
    answer = served.open()
    assert served.last() == "kept"  # made again, not served as kept
    assert "Written from elsewhere" in answer.text
    served.open()
    assert served.last() == "hit"


def test_learning_someone_else_keeps_the_page_and_a_housemate_does_not(
        served: Served) -> None:
    served.settled()
    served.settled("paul.poirier@example.com")  # another person learnt: who is who written
    served.open()
    assert served.last() == "hit"  # told per identifier and person: this record untouched
    customer = served.services.assembler.resolver.resolve(
        Identifiers(emails=(EMAIL,))).customer_id
    assert customer is not None
    served.services.assembler.resolver.store.link("cus_housemate", [("email", EMAIL, None)])
    before, kept = len(served.results), served.services.pages.size_bytes
    answer = served.web.get(served.services.embed.url(
        "", served.services.embed.token(email=EMAIL)))
    assert answer.status_code == 200
    assert "hit" not in served.results[before:]  # someone else holds this email now: the
    assert served.services.pages.size_bytes < kept  # agent chooses: her page is no more kept


def test_an_invalidated_cache_makes_the_page_again(served: Served) -> None:
    served.settled()
    dropped = served.services.assembler.invalidate(Identifiers(emails=(EMAIL,)))
    assert dropped > 0
    served.open()
    assert served.last() in ("kept", "unkept")  # the sources asked again: never the kept one
    served.services.pages.idle()
    served.open()
    served.services.pages.idle()
    served.open()
    assert served.last() == "hit"


def test_when_only_the_time_moved_the_page_is_served_and_made_again_behind(
        served: Served) -> None:
    served.settled()
    pages = served.services.pages
    later = pages.clock() + 61  # another minute: its ages worded anew, its judgments redone
    pages.clock = lambda: later
    made_before = len(served.results)
    served.open()
    assert served.results[made_before] == "hit"
    pages.idle()
    assert "kept" in served.results[made_before + 1:]
    made_before = len(served.results)
    served.open()  # (its ages at the moved clock may differ again: made again behind, after)
    assert served.results[made_before] == "hit"


def test_an_answer_past_its_refresh_is_not_served_from_a_kept_page(served: Served) -> None:
    served.settled()
    pages = served.services.pages
    later = pages.clock() + 24 * 3600  # every answer past its TTL and its refresh time
    pages.clock = lambda: later
    served.open()
    assert served.last() != "hit"


def test_a_kept_page_leaves_memory_once_it_could_no_longer_pass_its_check(
        served: Served) -> None:
    served.settled()
    pages = served.services.pages
    assert pages.size_bytes > 0
    later = pages.clock() + 200  # past its first answer's TTL and refresh time (30 s + 60 s)
    assert KEPT_S > 200
    pages.clock = lambda: later
    assert pages.size_bytes == 0  # not held until KEPT_S


def test_an_erasure_empties_the_kept_pages(served: Served) -> None:
    served.settled()
    assert served.services.pages.size_bytes > 0
    answer = served.web.post("/api/v1/customers/forget", json={"email": EMAIL},
                             headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert served.services.pages.size_bytes == 0


def test_a_database_without_the_triggers_keeps_no_page(
        served: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = sqlite3.connect(tmp_path / "connector.sqlite")
    database.execute("DROP TRIGGER record_insert_notes")
    database.close()
    engine = served.services.assembler.resolver.store.engine
    pages = KeptPages(1024 * 1024, engine, served.services.assembler.cache.cache.stamps)
    try:
        with caplog.at_level("WARNING", logger="connector.widgets.kept"):
            assert not pages.enabled
    finally:
        pages.close()
    assert "notes lacks its change triggers (record_insert_notes)" in caplog.text


def test_on_postgresql_and_redis_pages_outlive_others_learnt_not_another_process_note(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path, redis_prefix: str) -> None:
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    url = postgres_url(schema)
    env = service_env(demo_data, backoffice.url, tmp_path)
    settings = Settings(data_dir=tmp_path, demo_dir=demo_data, secret_key="test-secret-key",
                        public_url="http://connector.test", database_url=url, cache_url=REDIS,
                        cache_prefix=redis_prefix)
    services = build_services(settings, load_manifest(MANIFEST, env=env))
    try:
        served = Served(services)
        served.settled()
        served.open()
        assert served.last() == "hit"
        served.settled("paul.poirier@example.com")  # another person learnt: who is who written
        served.open()
        assert served.last() == "hit"  # told per identifier and person: this record untouched
        noted_elsewhere(url, services, "Told by another process")
        assert "Told by another process" in served.open().text
        assert served.last() == "kept"
    finally:
        services.close()
        drop_schema(schema)


def test_no_kept_page_outlives_the_rows_it_was_checked_against() -> None:
    # a key whose rows are all pruned reads (0, 0, 0) again: a page made before its first row
    # must be gone by then (it expires KEPT_S after it was kept; a row is pruned PRUNE_AFTER_S
    # after it was written, at the earliest)
    assert PRUNE_AFTER_S >= KEPT_S
