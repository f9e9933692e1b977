"""The write-back queue: merged per target, within limits, 429 honoured, retried, given up."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import update

from connector.customer.links import LinkStore
from connector.events.writeback import FAILED, WriteBackQueue
from connector.helpdesk.base import Limits, RateLimited, WriteBack, WriteBackFailed
from connector.store.schema import writeback_targets, writebacks


@dataclass
class Recorder:
    """A helpdesk's API as the queue sees it: records calls, fails as told."""

    kind: str = "zendesk"
    write_limits: Limits = field(default_factory=lambda: Limits(calls=2, per_s=60,
                                                                target_interval_s=12))
    calls: list[WriteBack] = field(default_factory=list)
    fail_with: list[Exception] = field(default_factory=list)

    def write_back(self, change: WriteBack) -> None:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.calls.append(change)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def queue(tmp_path: object, clock: Clock | None = None) -> WriteBackQueue:
    store = LinkStore(f"sqlite:///{tmp_path}/wb.sqlite")
    return WriteBackQueue(store.engine, max_attempts=3, clock=clock or Clock())


def due_now(q: WriteBackQueue) -> None:
    """Make every pending change due and every target free (the tests do not wait)."""
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with q.engine.begin() as connection:
        connection.execute(update(writebacks).values(not_before=long_ago))
        connection.execute(update(writeback_targets).values(sent_at=long_ago))


def change(user: str = "42", tags: tuple[str, ...] = ("connector_vip",), **extra: object
           ) -> WriteBack:
    return WriteBack(helpdesk="zendesk", requester_id=user, tags=tags, **extra)  # type: ignore[arg-type]


def test_pending_changes_to_one_person_are_sent_as_one(tmp_path: object) -> None:
    q = queue(tmp_path)
    first = q.enqueue(change(tags=("connector_vip",), fields={"segment": "VIP"}))
    second = q.enqueue(change(tags=("connector_vip", "connector_negative_review"),
                              fields={"lifecycle": "active"}))
    assert first == second
    writer = Recorder()
    assert q.send_due({"zendesk": writer}) == 1
    [sent] = writer.calls
    assert sent.tags == ("connector_vip", "connector_negative_review")  # the newest full set
    assert dict(sent.fields) == {"segment": "VIP", "lifecycle": "active"}
    assert q.counts() == {}  # nothing kept once applied


def test_notes_are_joined_not_lost(tmp_path: object) -> None:
    q = queue(tmp_path)
    q.enqueue(change(ticket_id="7", note="VIP"))
    q.enqueue(change(ticket_id="7", note="Avis négatif récent"))
    writer = Recorder()
    q.send_due({"zendesk": writer})
    assert writer.calls[0].note == "VIP\n\nAvis négatif récent"


def test_a_note_that_keeps_the_tags_never_empties_a_pending_tag_set(tmp_path: object) -> None:
    """An action's note (no tags of its own) merged with a pending flags change keeps that
    change's tags; alone, it is sent as one that leaves the tags as they are."""
    q = queue(tmp_path)
    q.enqueue(change(user="", ticket_id="7", tags=("connector_vip",)))
    q.enqueue(WriteBack(helpdesk="zendesk", ticket_id="7", note="Retour ouvert",
                        keeps_tags=True))
    q.enqueue(WriteBack(helpdesk="zendesk", ticket_id="8", note="Bon renvoyé",
                        keeps_tags=True))
    writer = Recorder(write_limits=Limits(calls=10, per_s=60, target_interval_s=12))
    q.send_due({"zendesk": writer})
    merged, alone = sorted(writer.calls, key=lambda c: c.ticket_id or "")
    assert (merged.tags, merged.keeps_tags, merged.note) == (("connector_vip",), False,
                                                             "Retour ouvert")
    assert (alone.tags, alone.keeps_tags) == ((), True)


def test_a_person_is_not_updated_again_before_the_per_user_interval(tmp_path: object) -> None:
    q = queue(tmp_path)
    writer = Recorder()
    q.enqueue(change())
    q.send_due({"zendesk": writer})
    q.enqueue(change(tags=()))
    assert q.send_due({"zendesk": writer}) == 0  # Zendesk: 5 updates a minute per user
    due_now(q)
    assert q.send_due({"zendesk": writer}) == 1
    assert writer.calls[-1].tags == ()


def test_the_helpdesk_wide_limit_holds_back_the_rest(tmp_path: object) -> None:
    clock = Clock()
    q = queue(tmp_path, clock)
    writer = Recorder()  # 2 calls a minute
    for user in ("1", "2", "3"):
        q.enqueue(change(user=user))
    assert q.send_due({"zendesk": writer}) == 2
    due_now(q)
    assert q.send_due({"zendesk": writer}) == 0
    clock.now += 61
    due_now(q)
    assert q.send_due({"zendesk": writer}) == 1
    assert [c.requester_id for c in writer.calls] == ["1", "2", "3"]


def test_a_429_pauses_the_helpdesk_for_its_retry_after(tmp_path: object) -> None:
    clock = Clock()
    q = queue(tmp_path, clock)
    writer = Recorder(fail_with=[RateLimited(30, "users")])
    q.enqueue(change(user="1"))
    q.enqueue(change(user="2"))
    assert q.send_due({"zendesk": writer}) == 0  # the 429 pauses the second one too
    due_now(q)
    clock.now += 29
    assert q.send_due({"zendesk": writer}) == 0  # still within Retry-After
    clock.now += 2
    due_now(q)
    # the refused call was made too: it counts in the 2 calls a minute
    assert q.send_due({"zendesk": writer}) == 1
    clock.now += 30
    due_now(q)
    assert q.send_due({"zendesk": writer}) == 1
    assert sorted(c.requester_id or "" for c in writer.calls) == ["1", "2"]


@pytest.mark.parametrize("permanent", [True, False])
def test_refusals_are_given_up_and_failures_retried(tmp_path: object, permanent: bool) -> None:
    q = queue(tmp_path)
    writer = Recorder(fail_with=[WriteBackFailed("422 invalid tag", permanent=permanent)])
    q.enqueue(change())
    assert q.send_due({"zendesk": writer}) == 0
    if permanent:
        assert q.counts() == {FAILED: 1}
        return
    assert q.counts() == {"pending": 1}
    due_now(q)
    assert q.send_due({"zendesk": writer}) == 1


def test_a_change_for_a_helpdesk_no_longer_configured_is_given_up(tmp_path: object) -> None:
    q = queue(tmp_path)
    q.enqueue(change())
    assert q.send_due({}) == 0
    assert q.counts() == {FAILED: 1}


def test_due_in_says_when_the_earliest_change_put_back_may_go(tmp_path: object) -> None:
    clock = Clock()
    q = queue(tmp_path, clock)
    assert q.due_in() is None  # nothing pending
    for user in ("1", "2", "3"):
        q.enqueue(change(user=user))
    assert q.due_in() == 0  # due now
    assert q.send_due({"zendesk": Recorder()}) == 2  # 2 calls a minute: the third waits
    waiting = q.due_in()
    margin = q.margin_s("zendesk", Recorder().write_limits)  # the calls' time: little here
    assert waiting is not None and 55 < waiting <= 60 + margin  # the window's end, not a poll
    assert margin < 1


def test_changes_wait_past_a_full_window_by_the_longest_recent_write_at_most_a_tenth(
        tmp_path: object) -> None:
    """The budget counts a call when granted, the helpdesk when the write reaches it (after a
    read, sometimes a token): a change granted as the window reopens must not reach it
    sooner after its grant than the oldest did, so it waits the longest recent write more."""
    clock = Clock()
    q = queue(tmp_path, clock)

    class Slow(Recorder):
        def write_back(self, change: WriteBack) -> None:
            time.sleep(0.3)  # a token fetched, then the read and the write
            super().write_back(change)

    writer = Slow(write_limits=Limits(calls=1, per_s=5, target_interval_s=0))
    limits = writer.write_limits
    assert q.margin_s("zendesk", limits) == 0  # nothing sent yet
    for user in ("1", "2"):
        q.enqueue(change(user=user))
    assert q.send_due({"zendesk": writer}) == 1
    assert 0.3 <= q.margin_s("zendesk", limits) <= 0.5  # capped at a tenth of 5 s
    waiting = q.due_in()
    assert waiting is not None and 5.2 < waiting <= 5.5  # the window's end and the margin
    assert q.margin_s("zendesk", Limits(calls=1, per_s=1)) == 0.1  # a tenth of the window
