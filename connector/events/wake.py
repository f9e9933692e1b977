"""A wake across processes: a web process that acknowledges an event cannot call the worker
of another process, so on PostgreSQL the event log announces each event it records (`NOTIFY
connector_events`, sent as its transaction commits) and every worker listens on a connection
of its own (`LISTEN`), working the event at once rather than at its next poll.

The wake is only a hurry: events are still claimed from the log, so a notification lost (the
listening connection cut, the database restarted) costs at most a polling interval. The
listener reconnects by itself; SQLite (one host) has nothing to listen to and keeps polling.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from connector.events.log import CHANNEL

log = logging.getLogger(__name__)
RETRY_S = 2.0  # after the listening connection failed, before it is made again
WAIT_S = 1.0  # how long one wait for notifications lasts (a stop is seen within it)


class Listener:
    """Calls `wake` whenever an event is recorded by any process sharing this PostgreSQL
    database, from a daemon thread holding one connection (not one of the pool's)."""

    def __init__(self, engine: Engine, wake: Callable[[], None],
                 channel: str = CHANNEL) -> None:
        self.engine = engine
        self.wake = wake
        self.channel = channel
        self.listening = threading.Event()  # set while LISTEN is in force (tests, health)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self.backend_pid: int | None = None  # the listening connection's server process

    @staticmethod
    def supported(engine: Engine) -> bool:
        """Whether this database can wake workers elsewhere (PostgreSQL)."""
        return engine.dialect.name == "postgresql"

    def start(self) -> None:
        """Listen in a daemon thread until `stop`."""
        if self._thread is None and self.supported(self.engine):
            self._thread = threading.Thread(target=self._run, name="event-listener",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening: the thread closes its connection within WAIT_S (a daemon: nothing
        waits for it)."""
        self._stop.set()

    def _run(self) -> None:
        failed = False
        while not self._stop.is_set():
            try:
                self._listen()
                failed = False
            except Exception as exc:  # the database went away: poll meanwhile, then again
                if not failed:
                    log.warning("event wake-ups from other processes paused (%s): the worker "
                                "polls until the database answers", type(exc).__name__)
                failed = True
            finally:
                self.listening.clear()
                self._close()
            self._stop.wait(RETRY_S)

    def _listen(self) -> None:
        pooled = self.engine.raw_connection()  # the engine's settings (schema, timeouts)
        pooled.detach()  # ours alone: never handed back to the pool
        connection: Any = pooled.dbapi_connection
        self._connection = connection
        if connection.info.transaction_status != 0:  # the pool's checkout left it idle, else
            connection.rollback()
        connection.autocommit = True
        connection.execute(f"LISTEN {self.channel}")
        self.backend_pid = connection.info.backend_pid
        self.listening.set()
        self.wake()  # what was recorded while no one listened
        while not self._stop.is_set():
            for _ in connection.notifies(timeout=WAIT_S, stop_after=1):
                self.wake()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already gone
                log.debug("listening connection already closed")
