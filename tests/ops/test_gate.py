"""The CPU gate (`CONNECTOR_CPU_SLOTS`): at most N threads inside at once, a thread's nesting
counted once, a slot given up while its thread waits (on others, or on a database statement)
and taken again after; no slots, no gate."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, event, text

from connector.ops.gate import Gate


def test_at_most_n_threads_hold_it_at_once() -> None:
    gate = Gate(2)
    inside, most = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        with gate.held(), gate.held():  # nested: the same slot
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 2


def test_a_waiting_thread_gives_its_slot_to_another() -> None:
    gate = Gate(1)
    other_in = threading.Event()

    def other() -> None:
        with gate.held():
            other_in.set()

    with gate.held():
        helper = threading.Thread(target=other)
        helper.start()
        assert not other_in.wait(0.2)  # the one slot is this thread's
        with gate.released():
            assert other_in.wait(5)  # given up while this thread waits
        helper.join(5)
    assert not helper.is_alive()


def test_a_database_statement_is_waited_on_without_the_slot(tmp_path: Path) -> None:
    gate = Gate(1)
    engine = create_engine(f"sqlite:///{tmp_path}/gate.sqlite")
    gate.watch(engine)
    other_in = threading.Event()

    def other() -> None:
        with gate.held():
            other_in.set()

    @event.listens_for(engine, "before_cursor_execute")
    def _during(*_: object) -> None:  # runs after the gate's own hook: the slot is free
        helper = threading.Thread(target=other)
        helper.start()
        assert other_in.wait(5)
        helper.join(5)

    with gate.held(), engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        other_in.clear()
        event.remove(engine, "before_cursor_execute", _during)
        helper = threading.Thread(target=other)
        helper.start()
        assert not other_in.wait(0.2)  # the statement is over: the slot is this thread's again
    helper.join(5)
    assert other_in.is_set()
    engine.dispose()


def test_no_slots_no_gate() -> None:
    gate = Gate(0)
    entered = []

    def work() -> None:
        with gate.held(), gate.released():
            entered.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(entered) == 4
