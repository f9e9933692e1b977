"""The write-back budget shared by processes through the rate limits' Redis storage: two
queues (two processes) together never exceed a helpdesk's calls per window, a 429 seen by one
pauses the other, and a storage that does not answer leaves each on its own budget."""

from __future__ import annotations

from pathlib import Path

from connector.customer.links import LinkStore
from connector.events.budgets import LocalBudget, SharedBudget, budget_for
from connector.events.writeback import WriteBackQueue
from connector.helpdesk.base import Limits, RateLimited
from tests.conftest import REDIS
from tests.events.test_writeback import Recorder, change, due_now


def process(tmp_path: Path, name: str, prefix: str, url: str = REDIS) -> WriteBackQueue:
    """A process's queue (its own database here: only the budget is shared)."""
    store = LinkStore(f"sqlite:///{tmp_path}/{name}.sqlite")
    return WriteBackQueue(store.engine, budget=SharedBudget(url, prefix))


def test_two_processes_together_never_exceed_the_helpdesk_s_limit(
        tmp_path: Path, redis_prefix: str) -> None:
    limits = Limits(calls=3, per_s=60, target_interval_s=12)
    queues = [process(tmp_path, name, redis_prefix) for name in ("one", "two")]
    writers = [Recorder(write_limits=limits), Recorder(write_limits=limits)]
    for index, q in enumerate(queues):
        for user in range(4):
            q.enqueue(change(user=f"{index}-{user}"))
    sent = sum(q.send_due({"zendesk": w}) for q, w in zip(queues, writers, strict=True))
    for q in queues:
        due_now(q)
    sent += sum(q.send_due({"zendesk": w}) for q, w in zip(queues, writers, strict=True))
    assert sent == 3 == len(writers[0].calls) + len(writers[1].calls)


def test_a_429_seen_by_one_process_pauses_the_other(tmp_path: Path, redis_prefix: str) -> None:
    one, two = process(tmp_path, "one", redis_prefix), process(tmp_path, "two", redis_prefix)
    refused = Recorder(fail_with=[RateLimited(30, "users")])
    one.enqueue(change(user="1"))
    two.enqueue(change(user="2"))
    assert one.send_due({"zendesk": refused}) == 0
    other = Recorder()
    assert two.send_due({"zendesk": other}) == 0 and other.calls == []


def test_a_storage_that_does_not_answer_leaves_each_process_its_own_budget(
        tmp_path: Path, redis_prefix: str) -> None:
    q = process(tmp_path, "one", redis_prefix, url="redis://127.0.0.1:1/0")
    writer = Recorder()  # 2 calls a minute
    for user in ("1", "2", "3"):
        q.enqueue(change(user=user))
    assert q.send_due({"zendesk": writer}) == 2  # this process's budget, no error
    assert isinstance(budget_for("memory://", "connector"), LocalBudget)
    assert isinstance(budget_for(REDIS, "connector"), SharedBudget)
