"""The database as a dependency that fails: every wait on PostgreSQL is bounded.

- connecting: psycopg's `connect_timeout` (whole seconds, 2 at least), TCP keepalives and a
  `tcp_user_timeout`, so a server that went away is noticed;
- a statement: PostgreSQL's `statement_timeout`, and a watchdog that cuts the connection's
  socket a second after it: a server that accepts TCP and never answers enforces nothing
  (its own timeout needs it to run), and nothing else would wake the waiting thread;
- a pooled connection: `pool_timeout`, and a ping on checkout under the watchdog (SQLAlchemy's
  own pre-ping cannot be bounded); a dead one discards every older connection of the pool.
  A connection given back less than `PING_BYPASS_S` ago is not pinged (HikariCP's
  `aliveBypassWindowMs`, 500 ms): a warm sidebar's reads would otherwise pay a round trip
  each for nothing, and one dead within that window fails as a lost connection does; one
  that hangs is found out by the read itself, which a request's point reads
  (`store.engine.reading`) bound like the ping, not like any statement;
- after a failed connection (or a ping that got no answer), new ones fail at once for
  `retry_s`, then one is tried (the others still fail at once until it is settled): a request
  does not wait on a database known down.

What fails is SQLAlchemy's OperationalError (a lost connection is also invalidated), which
`unavailable` recognises. SQLite is a file: its busy timeout is its bound.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, exc, text
from sqlalchemy.engine import URL, Connection

log = logging.getLogger(__name__)

GRACE_S = 1.0  # past statement_timeout, the server had its chance to cancel: cut the socket
IDLE_TICK_S = 1.0  # the watchdog looks at least this often (deadlines are later than this)
FRESH = "connector.fresh"  # a connection just made needs no ping
RETURNED = "connector.returned"  # when the connection was last given back to the pool
PING_BYPASS_S = 0.5  # given back this recently: no ping on checkout
# an execution option `store.engine.reading` sets: a point read on a request's path, bounded
# like a ping (`timeout_s`), not like any statement (`statement_timeout_s`)
HOT_READ = "connector_hot_read"


@dataclass(frozen=True)
class Limits:
    """How long the database may keep a caller waiting (the settings' `db_*`)."""

    timeout_s: float = 2.0  # connecting, a pooled connection, the ping on checkout
    statement_timeout_s: float = 10.0  # one statement
    retry_s: float = 1.0  # after a failed connection, new ones fail at once this long


def unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be used now (refused, lost, hung, too slow,
    no free connection), rather than a mistake in a statement."""
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return True
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


def connect_args(url: URL, limits: Limits) -> dict[str, Any]:
    """psycopg's connection parameters for these limits; the URL's own `options` (a schema's
    search path) are kept, after ours, so a statement_timeout set there wins."""
    theirs = url.query.get("options")
    given = [theirs] if isinstance(theirs, str) else list(theirs or ())
    statement_ms = int(limits.statement_timeout_s * 1000)
    return {
        "connect_timeout": max(2, math.ceil(limits.timeout_s)),
        "options": " ".join([f"-c statement_timeout={statement_ms}", *given]),
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
        "keepalives_count": 3,
        "tcp_user_timeout": int((limits.statement_timeout_s + GRACE_S) * 1000),
    }


class Watchdog:
    """Cuts the socket of a connection whose call outlived its deadline (the call then fails
    as a lost connection, and SQLAlchemy discards it). One thread for the process; a call is
    armed by the connection's thread and disarmed when it returns or fails, or when the
    connection goes back to the pool."""

    def __init__(self) -> None:
        self._armed: dict[int, tuple[float, Any, int]] = {}  # id -> deadline, conn, thread
        self._lock = threading.Condition()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def arm(self, connection: Any, seconds: float) -> None:
        """Cut this connection in `seconds` unless disarmed before."""
        deadline = time.monotonic() + seconds
        with self._lock:
            self._armed[id(connection)] = (deadline, connection, threading.get_ident())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog",
                                                daemon=True)
                self._thread.start()
            if deadline < self._wake_at:
                self._lock.notify()

    def disarm(self, connection: Any) -> None:
        """The connection's call is over."""
        with self._lock:
            self._armed.pop(id(connection), None)

    def disarm_here(self) -> None:
        """Every call this thread armed is over (an error names no connection)."""
        me = threading.get_ident()
        with self._lock:
            for key in [k for k, (_, _, thread) in self._armed.items() if thread == me]:
                del self._armed[key]

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for key in [k for k, (deadline, _, _) in self._armed.items() if deadline <= now]:
                    _, connection, _ = self._armed.pop(key)
                    _cut(connection)  # under the lock: a disarmed call is never cut
                nearest = min((d for d, _, _ in self._armed.values()), default=math.inf)
                self._wake_at = min(nearest, now + IDLE_TICK_S)
                self._lock.wait(self._wake_at - now)


def _cut(connection: Any) -> None:
    """Shut the connection's socket down (both ways): the thread reading it wakes with an
    end of file. The descriptor stays the connection's, closed by its owner."""
    try:
        duplicate = socket.socket(fileno=os.dup(connection.fileno()))
    except Exception:  # closed meanwhile: nothing to cut
        return
    try:
        with contextlib.suppress(OSError):  # already shut by the server: nothing to cut
            duplicate.shutdown(socket.SHUT_RDWR)
            log.warning("database call past its deadline: connection cut")
    finally:
        duplicate.close()


WATCHDOG = Watchdog()


class Outage:
    """After a failed connection, new ones fail at once for `retry_s`; then one is tried while
    the others still fail at once, until it succeeds (closed again) or fails (another wait)."""

    def __init__(self, retry_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until: float | None = None
        self._trying = False

    def admit(self) -> bool:
        """Whether a connection may be tried now."""
        with self._lock:
            if self._down_until is None:
                return True
            if self._trying or self._clock() < self._down_until:
                return False
            self._trying = True
            return True

    def failed(self) -> None:
        """A connection failed: new ones fail at once for a while."""
        with self._lock:
            if self._down_until is None:
                log.warning("database unreachable: connections fail at once for %.1f s, "
                            "then one is tried", self.retry_s)
            self._down_until = self._clock() + self.retry_s
            self._trying = False

    def succeeded(self) -> None:
        """A connection was made: the database is back."""
        with self._lock:
            if self._down_until is not None:
                log.warning("database reachable again")
            self._down_until = None
            self._trying = False


def guard(engine: Engine, limits: Limits) -> None:
    """Bound every wait of this PostgreSQL engine (see the module's docstring)."""
    statement_s = limits.statement_timeout_s + GRACE_S
    # a point read answers in milliseconds: past the ping's bound the server hangs (a
    # connection given back a moment ago is not pinged, so its first read is what finds out)
    read_s = min(limits.timeout_s, limits.statement_timeout_s) + GRACE_S
    outage = Outage(limits.retry_s)
    dbapi = engine.dialect.loaded_dbapi

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        if not outage.admit():
            raise dbapi.OperationalError("database unavailable: a connection failed less than "
                                         f"{limits.retry_s:g} s ago")
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception:
            outage.failed()
            raise
        outage.succeeded()
        return connection

    @event.listens_for(engine, "connect")
    def _fresh(_connection: Any, record: Any) -> None:
        record.info[FRESH] = True

    @event.listens_for(engine.pool, "checkout")
    def _ping(connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(FRESH, False):
            return
        if time.monotonic() - record.info.get(RETURNED, -math.inf) < PING_BYPASS_S:
            return
        started = time.monotonic()
        WATCHDOG.arm(connection, limits.timeout_s)
        try:
            engine.dialect.do_ping(connection)
        except Exception as error:  # dead, or no answer in time: this one and older ones go
            if time.monotonic() - started >= limits.timeout_s:  # no answer: the server hangs,
                outage.failed()  # so connecting would hang too (a closed one reconnects)
            raise exc.InvalidatePoolError(f"ping failed: {type(error).__name__}") from error
        finally:
            WATCHDOG.disarm(connection)

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, *_args: Any) -> None:
        bound = getattr(_deadline, "seconds", None)
        if bound is None:
            bound = read_s if conn.get_execution_options().get(HOT_READ) else statement_s
        WATCHDOG.arm(cursor.connection, bound)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ending(conn: Any) -> None:  # disarmed at the next statement, or back in the pool
        if conn.invalidated or conn.closed:  # nothing to send (and no reconnecting here)
            return
        connection = conn.connection.dbapi_connection
        if connection is not None:
            WATCHDOG.arm(connection, getattr(_deadline, "seconds", None) or statement_s)

    @event.listens_for(engine.pool, "reset")
    def _reset(connection: Any, _record: Any, _state: Any) -> None:
        WATCHDOG.arm(connection, statement_s)

    @event.listens_for(engine, "after_cursor_execute")
    @event.listens_for(engine, "handle_error")
    def _over(*_args: Any) -> None:
        WATCHDOG.disarm_here()

    @event.listens_for(engine.pool, "checkin")
    @event.listens_for(engine.pool, "close")
    def _back(connection: Any, record: Any) -> None:
        if connection is not None:
            WATCHDOG.disarm(connection)
        if record is not None:
            record.info[RETURNED] = time.monotonic()


_deadline = threading.local()  # a caller's own bound for its statements (`check`)


@contextmanager
def longer_statements(connection: Connection, seconds: float) -> Iterator[None]:
    """Let this transaction's statements run up to `seconds` (a job's bulk delete, not a
    request): PostgreSQL's statement_timeout for the transaction, and the watchdog's bound in
    this thread."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
    before = getattr(_deadline, "seconds", None)
    _deadline.seconds = seconds + GRACE_S
    try:
        yield
    finally:
        _deadline.seconds = before


def check(engine: Engine, seconds: float) -> float:
    """A SELECT 1 bounded to about `seconds` (a ping, then connecting, may each take that
    long): its duration in ms; raises when the database cannot answer."""
    started = time.perf_counter()
    _deadline.seconds = seconds
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        _deadline.seconds = None
    return round((time.perf_counter() - started) * 1000, 1)
