"""Two real `connector worker` processes send write-backs to one Zendesk account: with the
rate limits' storage in Redis (CONNECTOR_RATE_LIMIT_STORAGE, this test's own
CONNECTOR_RATE_LIMIT_PREFIX) they share its budget (connector/events/budgets.py,
`SharedBudget`): together they use the whole of it, and never more.

The helpdesk is a fake Zendesk of the test's own, answering as Zendesk's REST API documents
(Show User, then Add Tags to a user: `PUT /api/v2/users/{id}/tags.json`); it records the time
of each write call and answers 429 (Retry-After) to a write past its limit within its window.
The limit is the manifest's `helpdesks.zendesk.writes_per_minute` (each change is one budget
call; here each change is exactly one write: our tag on a user who has none). The window is
Zendesk's minute (the adapter's `per_s`, fixed at 60 s), longer than the test: the test sees
the budget's first window, used in full by the two processes, then every change left waiting
for that window's end.

The changes are queued the way the event worker queues them (`WriteBackQueue.enqueue`, into
the database both workers share), a hundred at once for a hundred people, so that each worker
claims its own batch and both send at the same time."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy
from sqlalchemy import func, select

from connector.events.writeback import WriteBackQueue
from connector.helpdesk.base import WriteBack
from connector.store.schema import writebacks
from tests.cluster_helpers import (
    HttpServer,
    Process,
    manifest_copy,
    postgres_schema,
    stop_all,
    workers,
)
from tests.conftest import REDIS, Backoffice, service_env, until

LIMIT = 20  # writes a window, the helpdesk's and the manifest's writes_per_minute
WINDOW_S = 60.0  # Zendesk's minute: the adapter's per_s
CHANGES = 100  # more than one window's budget, and than one worker claims at once (50)
LATENCY_S = 0.1  # each API call of the fake Zendesk: one worker alone takes seconds per window
USER = re.compile(r"^/api/v2/users/(\d+)(/tags)?\.json$")


class FakeZendesk:
    """Zendesk's Show User and Add Tags (users), limited to LIMIT writes per WINDOW_S, as
    its rate limit answers: 429 with Retry-After. Who called is told by the API token each
    process was given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writes: list[tuple[float, str, str]] = []  # (time.time(), token, user) accepted
        self.refused: list[tuple[float, str, str]] = []  # 429s
        self.http = HttpServer(self.answer)
        self.url = self.http.url

    def answer(self, method: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        time.sleep(LATENCY_S)
        found = USER.match(target.split("?")[0])
        if found is None:
            return 404, {"Content-Type": "application/json"}, b'{"error": "RecordNotFound"}'
        user, tags = found.group(1), found.group(2)
        token = token_of(headers.get("Authorization", ""))
        if method == "GET" and not tags:
            return self._json(200, {"user": {"id": int(user), "tags": [], "user_fields": {}}})
        if method == "PUT" and tags:
            now = time.time()
            with self.lock:
                recent = [t for t, _, _ in self.writes if t > now - WINDOW_S]
                if len(recent) >= LIMIT:
                    self.refused.append((now, token, user))
                    retry = max(1, int(recent[0] + WINDOW_S - now) + 1)
                    return 429, {"Retry-After": str(retry), "Content-Type": "application/json"}, \
                        b'{"error": "APIRateLimitExceeded"}'
                self.writes.append((now, token, user))
            return self._json(200, {"tags": json.loads(body or b"{}").get("tags", [])})
        return 405, {}, b""

    @staticmethod
    def _json(status: int, data: object) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(data).encode()

    def close(self) -> None:
        self.http.close()


def token_of(authorization: str) -> str:
    """The API token of a `{email}/token:{token}` basic authorization."""
    try:
        decoded = base64.b64decode(authorization.split(" ", 1)[1]).decode()
    except (IndexError, ValueError):
        return ""
    return decoded.rsplit(":", 1)[-1]


def most_in_a_window(times: list[float]) -> int:
    """The most calls within any WINDOW_S (each call's window starting at it)."""
    times = sorted(times)
    return max((sum(1 for t in times if start <= t < start + WINDOW_S) for start in times),
               default=0)


def test_two_workers_together_use_the_helpdesk_s_budget_and_never_exceed_it(
        demo_data: Path, backoffice: Backoffice, tmp_path: Path, redis_prefix: str) -> None:
    zendesk = FakeZendesk()
    anchor = "    api_url: ${ZENDESK_API_URL:-}"  # in helpdesks.zendesk
    manifest = manifest_copy(tmp_path / "manifest.yaml",
                             (anchor, f"    writes_per_minute: {LIMIT}\n{anchor}", 1))
    running: list[Process] = []
    with postgres_schema("connector_budget_" + uuid.uuid4().hex[:10]) as database:
        try:
            envs = [{**service_env(demo_data, backoffice.url, tmp_path / name),
                     "CONNECTOR_MANIFEST": str(manifest), "CONNECTOR_DATABASE_URL": database,
                     "ZENDESK_API_URL": zendesk.url, "ZENDESK_API_EMAIL": "agent@example.com",
                     "ZENDESK_API_TOKEN": f"token-{name}", "ZENDESK_WRITE_BACK": "true",
                     "CONNECTOR_RATE_LIMIT_STORAGE": REDIS,
                     "CONNECTOR_RATE_LIMIT_PREFIX": redis_prefix}
                    for name in ("one", "two")]
            running = workers(envs, [tmp_path / "one.log", tmp_path / "two.log"])

            engine = sqlalchemy.create_engine(database)
            queue = WriteBackQueue(engine)
            with engine.begin() as connection:  # all at once: each worker claims a batch
                for user in range(CHANGES):
                    queue.enqueue(WriteBack(helpdesk="zendesk", requester_id=str(9000 + user),
                                            tags=("connector_vip",)), connection)

            def settled() -> bool:
                """Nothing being sent, and every change left waiting for the window's end:
                no more write can come within this window."""
                with zendesk.lock:
                    first = zendesk.writes[0][0] if zendesk.writes else None
                if first is None:
                    return False
                with engine.connect() as connection:
                    states: dict[str, int] = dict(connection.execute(select(
                        writebacks.c.state, func.count()).group_by(writebacks.c.state)).all())
                    due = connection.execute(select(func.min(writebacks.c.not_before)).where(
                        writebacks.c.state == "pending")).scalar()
                assert "failed" not in states, states  # a change given up: say so at once
                return set(states) == {"pending"} and due is not None and \
                    due.astimezone(dt.UTC).timestamp() >= first + WINDOW_S - 5

            until(settled, seconds=30, every_s=0.1)
            with zendesk.lock:
                writes, refused = list(zendesk.writes), list(zendesk.refused)
            with engine.connect() as connection:
                left = connection.execute(select(func.count()).select_from(writebacks)).scalar()
            engine.dispose()

            times = [t for t, _, _ in writes]
            assert refused == []  # never over the helpdesk's limit: no 429
            assert most_in_a_window(times) <= LIMIT
            assert len(writes) >= 0.9 * LIMIT  # the window's budget used, ≥ 90 %
            by_process = Counter(token for _, token, _ in writes)
            assert set(by_process) == {"token-one", "token-two"}, by_process  # both sent
            assert len({user for _, _, user in writes}) == len(writes)  # each change once
            assert left == CHANGES - len(writes)  # the others wait for the next window
        except BaseException:
            for process in running:  # what the workers said, to tell why
                print(f"--- {process.log.name}\n{process.output()[-4000:]}")
            raise
        finally:
            stop_all(running)
            zendesk.close()
