"""The guard: a failing source is paused, then tried once, and Retry-After is obeyed."""

from __future__ import annotations

import threading

import pytest

from connector.models import SourceState
from connector.sources.base import CircuitConfig, SourceRefused, SourceUnavailable
from connector.sources.guard import Circuit, CircuitOpen, SourceGuard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def down() -> str:
    raise SourceUnavailable("server error (503)")


def test_opens_after_failures_then_half_opens_for_one_trial() -> None:
    clock = Clock()
    guard = SourceGuard(4, CircuitConfig(failures=3, cooldown_s=30), wait_s=1, clock=clock)
    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            guard.run(down)
    assert guard.state == Circuit.OPEN
    calls: list[int] = []
    with pytest.raises(CircuitOpen) as caught:
        guard.run(lambda: calls.append(1))
    assert calls == [] and caught.value.state == SourceState.CIRCUIT_OPEN
    assert caught.value.public == "paused for 30 s after errors"
    clock.now += 31
    assert guard.state == Circuit.HALF_OPEN
    with pytest.raises(SourceUnavailable):
        guard.run(down)  # the trial fails: open again at once
    assert guard.state == Circuit.OPEN
    clock.now += 31
    assert guard.run(lambda: "back") == "back"
    assert guard.state == Circuit.CLOSED


def test_refused_credentials_count_too() -> None:
    guard = SourceGuard(4, CircuitConfig(failures=2, cooldown_s=30), wait_s=1, clock=Clock())

    def refused() -> str:
        raise SourceRefused("refused our credentials (401)")

    for _ in range(2):
        with pytest.raises(SourceRefused):
            guard.run(refused)
    assert guard.state == Circuit.OPEN


def test_retry_after_is_obeyed() -> None:
    clock = Clock()
    guard = SourceGuard(4, CircuitConfig(failures=99, cooldown_s=30), wait_s=1, clock=clock)

    def limited() -> str:
        error = SourceUnavailable("rate-limited (429)")
        error.retry_after_s = 120
        raise error

    with pytest.raises(SourceUnavailable):
        guard.run(limited)
    with pytest.raises(CircuitOpen) as caught:
        guard.run(lambda: "too soon")
    assert caught.value.public == "paused for 120 s after errors"
    clock.now += 121
    assert guard.run(lambda: "ok") == "ok"


def test_concurrency_cap() -> None:
    guard = SourceGuard(1, CircuitConfig(), wait_s=0.1)
    inside = threading.Event()
    release = threading.Event()

    def slow() -> str:
        inside.set()
        release.wait(2)
        return "done"

    worker = threading.Thread(target=guard.run, args=(slow,))
    worker.start()
    inside.wait(2)
    with pytest.raises(SourceUnavailable) as caught:
        guard.run(lambda: "second")
    assert caught.value.public == "too many lookups in flight"
    release.set()
    worker.join()


def test_a_pause_is_logged_once_as_it_begins_and_the_resumption_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """An operator reads when a source was paused, why and for how long, then when it came
    back; the lookups turned away in between add nothing to the log."""
    clock = Clock()
    guard = SourceGuard(4, CircuitConfig(failures=2, cooldown_s=30), wait_s=1, clock=clock,
                        name="erp")
    caplog.set_level("INFO", logger="connector.sources.guard")
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            guard.run(down)
    for _ in range(5):
        with pytest.raises(CircuitOpen):
            guard.run(lambda: "not called")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "source erp paused for 30 s (2 failure(s) in a row): records show it "
                    "unavailable, older copies stand in where kept")]
    caplog.clear()
    clock.now += 31
    assert guard.run(lambda: "back") == "back"
    assert guard.run(lambda: "still") == "still"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "source erp answers again: calls resumed")]


def test_what_a_pause_says_stays_the_same_while_it_lasts() -> None:
    """The paused source's words are in the record, whose rendered blocks are kept while it
    does not change: a countdown would make every opening render every block again."""
    clock = Clock()
    guard = SourceGuard(4, CircuitConfig(failures=1, cooldown_s=30), wait_s=1, clock=clock)
    with pytest.raises(SourceUnavailable):
        guard.run(down)
    said = set()
    for _ in range(29):
        with pytest.raises(CircuitOpen) as caught:
            guard.run(lambda: "not called")
        said.add(caught.value.public)
        clock.now += 1
    assert said == {"paused for 30 s after errors"}
