"""After `forget`, the person's email, phone and name are nowhere: not in the SQLite file (its
raw bytes, WAL included), not in any table of the PostgreSQL schema, not in the shared Redis
cache (keys and values, decompressed), not in the logs of the run. Before it, a lookup, a
helpdesk event worked (contact, helpdesk id, write-back) and an agent's note put the person in
every table that can hold them, and the same scan finds them there: the scan is proven to see.
The erasure queues the removal of our tags and fields in the helpdesk, durably (a process
started afterwards sends it); with `suppress`, the person is not looked up nor learnt again
until an admin lifts it. Real files sources, real SQLite, PostgreSQL and Redis, the app in
process."""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy
from flask.testing import FlaskClient

from connector.app import Services, build_services
from connector.events.worker import EventWorker
from connector.events.writeback import WriteBackQueue
from connector.helpdesk.base import Limits, TicketEvent, WriteBack
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.sources.redis_cache import HEADER, ZLIB
from connector.store.engine import open_database
from connector.web import create_app
from tests.conftest import REDIS, drop_schema, postgres_url

EMAIL = "albertine.vasseur@example.org"
PHONE = "+33612345678"
FIRST, LAST = "Albertine", "Vasseur-Quint"
# what must be found nowhere, however written (compared without case)
NEEDLES = (EMAIL, PHONE, "612345678", "12 34 56 78", FIRST, "Vasseur")
TOKEN = "scan-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MANIFEST = """\
version: 1
sources:
  shop:
    type: files
    path: shop.csv
    match: {email: email, phone: phone}
    sections:
      identity:
        path: "rows[0]"
        fields: {first_name: first_name, last_name: last_name, emails: email, phones: phone}
      status: {path: "rows[0]", fields: {segment: segment}}
helpdesks:
  zendesk:
    write_back: {enabled: true, fields: true}
"""


class Helpdesk:
    """A helpdesk that records what it is told."""

    kind = "zendesk"
    write_limits = Limits(target_interval_s=0)  # the flags just written do not delay removal

    def __init__(self) -> None:
        self.calls: list[WriteBack] = []

    def write_back(self, change: WriteBack) -> None:
        self.calls.append(change)


@dataclass
class World:
    services: Services
    client: FlaskClient
    database: str
    sqlite_file: Path | None
    redis_prefix: str | None


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The service on a SQLite file with its memory cache, or on PostgreSQL (a schema of its
    own) with the cache shared on Redis (a key prefix of its own)."""
    (tmp_path / "shop.csv").write_text(
        f"email,phone,first_name,last_name,segment\n{EMAIL},06 12 34 56 78,{FIRST},{LAST},VIP\n"
        "other@example.org,06 99 99 99 99,Jean,Autre,\n", encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    schema = prefix = None
    if request.param == "sqlite":
        database, sqlite_file = f"sqlite:///{tmp_path}/connector.sqlite", tmp_path / \
            "connector.sqlite"
        extra = {}
    else:
        schema = "connector_scan_" + uuid.uuid4().hex[:10]
        prefix = request.getfixturevalue("redis_prefix")
        database, sqlite_file = postgres_url(schema), None
        extra = {"cache_url": REDIS, "cache_prefix": prefix}
    settings = Settings(data_dir=tmp_path / "var", secret_key="scan-secret",  # type: ignore[arg-type]
                        api_token=TOKEN, database_url=database,  # type: ignore[arg-type]
                        public_url="http://connector.test", **extra)
    services = build_services(settings, load_manifest(tmp_path / "manifest.yaml", env={}))
    yield World(services, create_app(services=services).test_client(), database, sqlite_file,
                prefix)
    services.close()
    services.assembler.resolver.store.engine.dispose()
    if schema:
        drop_schema(schema)


def found_in(blob: bytes) -> list[str]:
    """The needles in these bytes (without case)."""
    lowered = blob.lower()
    return [n for n in NEEDLES if n.lower().encode() in lowered]


def in_sqlite(path: Path) -> list[str]:
    """The needles in the SQLite file and its WAL, read as raw bytes (free pages included)."""
    return sorted({n for part in ("", "-wal", "-shm") if Path(f"{path}{part}").exists()
                   for n in found_in(Path(f"{path}{part}").read_bytes())})


def in_postgresql(url: str) -> dict[str, list[str]]:
    """The needles in each table of the schema, every row as text."""
    engine = sqlalchemy.create_engine(url)
    hits: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in sqlalchemy.inspect(connection).get_table_names():
            rows = connection.execute(sqlalchemy.text(f'SELECT t::text FROM "{table}" t'))
            found = sorted({n for (row,) in rows for n in found_in(row.encode())})
            if found:
                hits[table] = found
    engine.dispose()
    return hits


def in_redis(prefix: str) -> list[str]:
    """The needles in the keys and values under the test's prefix (cache entries unpacked)."""
    client = redis.Redis.from_url(REDIS)
    blobs: list[bytes] = []
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        blobs.append(key)
        kind = client.type(key)
        if kind == b"string":
            value = client.get(key) or b""
            blobs.append(value)
            if len(value) >= HEADER.size and HEADER.unpack_from(value)[3] & ZLIB:
                blobs.append(zlib.decompress(value[HEADER.size:]))
        elif kind == b"hash":
            blobs += [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == b"set":
            blobs += list(client.smembers(key))
    client.close()
    return sorted({n for blob in blobs for n in found_in(blob)})


def everywhere(world: World, caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    """Where the needles are: each store the service keeps, and the logs."""
    hits: dict[str, object] = {}
    if world.sqlite_file is not None:
        hits["sqlite"] = in_sqlite(world.sqlite_file)
    else:
        hits["postgresql"] = in_postgresql(world.database)
    if world.redis_prefix is not None:
        hits["redis"] = in_redis(world.redis_prefix)
    logged = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])
    hits["logs"] = found_in(logged.encode())
    return {where: found for where, found in hits.items() if found}


def known_everywhere(world: World) -> str:
    """Look the person up, work a ticket of theirs, and note them: their id."""
    looked = world.client.get("/api/v1/customers/lookup", query_string={"email": EMAIL},
                              headers=AUTH)
    assert looked.status_code == 200, looked.json
    customer_id = str(looked.json["customer_id"])
    services, helpdesk = world.services, Helpdesk()
    event = TicketEvent(helpdesk="zendesk", key="evt-5001", kind="ticket.created",
                        identifiers=Identifiers(emails=(EMAIL,), phones=(PHONE,)),
                        ticket_id="5001", requester_id="9001", channel="email",
                        subject=f"{FIRST} {LAST}: mon colis", new_request=True)
    services.events.record(event)
    worker = EventWorker(services.events, services.assembler, services.writebacks,
                         {"zendesk": helpdesk}, services.manifest.helpdesks.adapters)
    assert worker.run_once() == 1
    assert [c.requester_id for c in helpdesk.calls] == ["9001"]  # the flags were written
    noted = world.client.post(f"/api/v1/customers/{customer_id}/notes", headers=AUTH,
                              json={"text": f"{FIRST} préfère être appelée au {PHONE}",
                                    "author": "agent"})
    assert noted.status_code == 201, noted.json
    return customer_id


def test_after_forget_the_person_is_nowhere(world: World,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    known_everywhere(world)
    before = everywhere(world, caplog)
    assert "sqlite" in before or "postgresql" in before  # the scan sees them where they are
    if world.redis_prefix is not None:
        assert before.get("redis")

    erased = world.client.post("/api/v1/customers/forget", headers=AUTH,
                               json={"email": EMAIL, "suppress": True})

    assert erased.status_code == 200, erased.json
    body = erased.json
    assert body["customers"] == 1 and body["links"] >= 2 and body["suppressed"] >= 2
    assert {k: body["erased"][k] for k in ("customers", "notes", "contacts", "helpdesk_people",
                                           "ticket_events")} == {
        "customers": 1, "notes": 1, "contacts": 1, "helpdesk_people": 1, "ticket_events": 1}
    assert body["remaining_at_sources"] == ["shop"]
    assert body["helpdesk_removals_queued"] == 2  # the requester, and the ticket
    assert everywhere(world, caplog) == {}


def test_the_helpdesk_removal_is_durable_and_removes_every_tag_we_own(world: World) -> None:
    known_everywhere(world)
    erased = world.client.post("/api/v1/customers/forget", headers=AUTH, json={"email": EMAIL})
    assert erased.status_code == 200 and erased.json["helpdesk_removals_queued"] == 2
    # as a process started after this one died would find it: in the database
    engine = open_database(world.database)
    queue = WriteBackQueue(engine)
    assert {(c.requester_id, c.ticket_id) for c in queue.pending()} == {("9001", None),
                                                                         (None, "5001")}
    helpdesk = Helpdesk()
    assert queue.send_due({"zendesk": helpdesk}) == 2
    engine.dispose()
    by_target = {(c.requester_id, c.ticket_id): c for c in helpdesk.calls}
    assert set(by_target) == {("9001", None), (None, "5001")}
    person = by_target[("9001", None)]
    assert person.erases and person.tags == () and not person.keeps_tags
    assert person.tag_prefix == "connector_" and set(person.fields) == {
        "segment", "lifecycle", "abc_class"} and not any(person.fields.values())
    assert person.note is None and by_target[(None, "5001")].erases


def test_a_suppressed_person_is_not_looked_up_until_lifted(world: World) -> None:
    known_everywhere(world)
    erased = world.client.post("/api/v1/customers/forget", headers=AUTH,
                               json={"phone": PHONE, "suppress": True})
    assert erased.status_code == 200 and erased.json["suppressed"] >= 2
    store = world.services.assembler.resolver.store

    for ids in (Identifiers(emails=(EMAIL,)), Identifiers(phones=(PHONE,))):
        found = world.services.assembler.lookup(ids)
        assert found.suppressed and found.profile is None
        assert found.sources == {}  # no source asked
    api = world.client.get("/api/v1/customers/lookup", query_string={"email": EMAIL},
                           headers=AUTH)
    assert (api.status_code, api.json) == (404, {"error": "suppressed", "sources": {}})
    embed = world.services.embed
    page = world.client.get(embed.url("", embed.token(email=EMAIL), "en"))
    assert page.status_code == 404 and "erased at their request" in page.get_data(as_text=True)
    assert store.owners([("email", EMAIL)]) == {("email", EMAIL): []}  # nothing learnt
    assert store.search_people("vasseur") == []
    trail = store.audit_trail()
    assert [e["action"] for e in trail if e["action"] in ("forget", "suppress")] == [
        "suppress", "forget"]
    assert not any(EMAIL in str(e["detail"]) or "612345678" in str(e["detail"]) for e in trail)

    lifted = world.client.post("/api/v1/customers/unsuppress", headers=AUTH,
                               json={"email": EMAIL, "phone": PHONE})
    assert lifted.status_code == 200 and lifted.json == {"lifted": 2}
    assert store.audit_trail()[-1]["action"] == "unsuppress"
    again = world.services.assembler.lookup(Identifiers(emails=(EMAIL,)))
    assert again.profile is not None and not again.suppressed
    assert world.client.post("/api/v1/customers/unsuppress", headers=AUTH,
                             json={"email": EMAIL}).status_code == 404
