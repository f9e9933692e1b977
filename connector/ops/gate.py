"""A process's CPU slots for a sidebar's own Python work (`CONNECTOR_CPU_SLOTS`).

A warm sidebar is all interpreter work (identity, merging, rendering), and a process's threads
take the interpreter's lock in turns: with 8 of them at it, each request's work is spread thin
and waitress' own thread, which reads every request (`/healthz`, webhooks) and hands it on,
waits its turn among them (bench/RESULTS.md: fewer threads served more sidebars, and /healthz in
a third of the time). The gate lets `slots` threads at a time do that work and the others wait
their turn without contending; a thread gives its slot up while it waits on its sources
(`released`), so a cold opening waiting seconds on a slow source never holds a warm one back.
0 slots: no gate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event


class Gate:
    """At most `slots` threads inside `held` at once, a thread's own nesting counted once; a
    thread steps out while it waits (`released`, or `step_out` … `step_in` from hooks that come
    in pairs: a database statement's start and end)."""

    def __init__(self, slots: int = 0) -> None:
        self._free = threading.Semaphore(slots) if slots > 0 else None
        self._mine = threading.local()  # holding: a slot now; out: stepped out of one

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a slot for the block (waiting for one); within another `held`, nothing more."""
        free = self._free
        mine = self._mine
        if free is None or getattr(mine, "holding", False) or getattr(mine, "out", False):
            yield
            return
        free.acquire()
        mine.holding = True
        try:
            yield
        finally:
            if mine.holding:
                free.release()
            mine.holding = mine.out = False

    def step_out(self) -> None:
        """This thread is about to wait: its slot goes to another (none held: nothing)."""
        mine = self._mine
        if self._free is not None and getattr(mine, "holding", False):
            mine.holding, mine.out = False, True
            self._free.release()

    def step_in(self) -> None:
        """The wait is over: take a slot again, if `step_out` gave one up."""
        mine = self._mine
        if self._free is not None and getattr(mine, "out", False):
            self._free.acquire()
            mine.holding, mine.out = True, False

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give this thread's slot up for the block (a wait on others), then take one again."""
        self.step_out()
        try:
            yield
        finally:
            self.step_in()

    def watch(self, engine: Engine) -> None:
        """Step out for each statement of this engine (a hung database keeps a request up to
        its statement timeout: never while holding a slot). Connecting and the checkout's ping
        are bounded by the database guard's shorter timeout, and fail at once for everyone
        else while it is known down."""
        if self._free is None:
            return
        event.listen(engine, "before_cursor_execute", lambda *_: self.step_out())
        event.listen(engine, "after_cursor_execute", lambda *_: self.step_in())
        event.listen(engine, "handle_error", lambda *_: self.step_in())
