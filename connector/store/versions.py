"""Whether anything a page was made of changed since it was made: the versions the database
keeps of its records, and what one page read.

Every table a customer's record is read from tells its changes in `record_changes`, through
the database's own triggers (so no writer can forget to: ours, an admin's SQL, a migration):

- the tables read by customer (`BY_CUSTOMER`: notes, requests, corrections and actions, review
  alerts) add a row `c:<customer id>` for each row written, for its customer (both, when a row
  changes hands), and `t:<table>` when the table is emptied at once (PostgreSQL's TRUNCATE);
- who is who (`BY_IDENTITY`: links, names) is told per identifier and person: a link's row
  adds its identifier's bucket (`value_key`: many identifiers share one, so none is written
  here) and `c:` of every person holding that identifier; a person's row, `c:` of them and of
  everyone sharing one of their identifiers;
- the other tables (`BY_TABLE`: refused links, choices, the suppression list, segments,
  tiers, the brand's NPS, helpdesk ids) add `t:<table>` for each statement that wrote a row
  (on SQLite, for each row).

A key's version is the count, the newest id and the sum of the ids of its rows: a change, a
change committed late with an older id, and a prune each move it. On PostgreSQL rows are only
ever added (no row is locked by two writers: no new wait, no deadlock between transactions
that write several people); on SQLite (one writer at a time) a key's row is replaced, so each
key has one. Rows older than `PRUNE_AFTER_S` are pruned (`Pruner`): no kept page lives that
long unused (`widgets.kept.KEPT_S`), and a pruned key only makes a page be made again.

While a page is made, `recording()` notes what it read (`MadeOf`): each statement on our
database (the tables it names, and for a table read by customer the customers its parameters
name, for who is who the identifiers and people), and each cached source answer (its key, when
it was stored, until when it is fresh). A statement on a table that tells no changes, a table
read by customer but not by its `customer_id`, who is who read by anything but an identifier
or a person, or any write, makes the page one that is not kept."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import Connection

from connector.store.schema import metadata, record_changes

log = logging.getLogger(__name__)

BY_CUSTOMER = frozenset({"notes", "contacts", "changes", "review_alerts"})
# who is who, by identifier and person: a link's change moves its value's key (a bucket many
# identifiers share: `value_key`) and the key of every person holding that identifier; a
# person's name, that of everyone sharing one of their identifiers (what a lookup reads of
# them: its own links, and the people around them)
BY_IDENTITY = frozenset({"identity_links", "customers"})
BY_TABLE = frozenset({"identity_blocks", "ticket_choices", "suppressed_identifiers",
                      "segments", "loyalty_tiers", "brand_nps", "helpdesk_people"})
VERSIONED = BY_CUSTOMER | BY_IDENTITY | BY_TABLE
IDENTITY_COLUMNS = frozenset({"customer_id", "kind", "value"})  # all a read of them may filter
VALUE_CHARS = 320  # the longest identifier value the schema holds
VALUE_HEX = 4  # an identifier's key: 16 bits of its digest, 65,536 buckets
# moved at each invalidation of cached source answers (`forget`, `cache/invalidate`, a
# customer.updated event, a correction sent): pages then check their answers' stamps
CACHE_KEY = "t:source_cache"
ID_CHARS = 40  # the longest customer id the schema holds
MAX_KEYS = 160  # a page made of more records than this is not kept (one short read checks it)
PRUNE_EVERY_S = 300.0
PRUNE_AFTER_S = 600.0  # rows older than this go (>= widgets.kept.KEPT_S: a test holds it)

Version = tuple[int, int, int]  # count, newest id, sum of ids: (0, 0, 0) for no row


def customer_key(customer_id: str) -> str:
    """The key a customer's kept parts change under."""
    return f"c:{customer_id}"


def value_key(value: str, dialect: str = "postgresql") -> str:
    """The key an identifier's links change under: a bucket of its value (whatever its kind),
    as the trigger writes it, so that many identifiers share each key and none can be told
    from it (a change to one makes the pages of the others in its bucket be made again too).
    PostgreSQL: the first 16 bits of its MD5. SQLite, which has no digest a trigger can call:
    12 bits folded from its length and its first and last two characters (`_SQLITE_BUCKET`)."""
    if dialect == "sqlite":
        codes = [ord(value[i]) if -len(value) <= i < len(value) else 0 for i in (0, 1, -1, -2)]
        folded = len(value) * 7919 + sum(c * w for c, w in zip(codes, (31, 17, 13, 11),
                                                                 strict=True))
        return f"v:s{folded % 4096}"
    return f"v:{hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()[:VALUE_HEX]}"


def _sqlite_bucket(value: str) -> str:
    """`value_key`'s SQLite bucket in SQL (`value`: NEW.value or OLD.value)."""
    def code(position: int) -> str:
        return f"coalesce(unicode(substr({value}, {position}, 1)), 0)"

    return (f"'v:s' || ((length({value}) * 7919 + {code(1)} * 31 + {code(2)} * 17 "
            f"+ {code(-1)} * 13 + {code(-2)} * 11) % 4096)")


def table_key(table: str) -> str:
    """The key a table read whole changes under."""
    return f"t:{table}"


# -- the triggers ----------------------------------------------------------------------------

_PG_FUNCTION = """
CREATE FUNCTION record_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF TG_LEVEL = 'ROW' THEN
    IF TG_OP <> 'INSERT' THEN
      INSERT INTO record_changes (key) VALUES ('c:' || OLD.customer_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.customer_id IS DISTINCT FROM OLD.customer_id)
    THEN
      INSERT INTO record_changes (key) VALUES ('c:' || NEW.customer_id);
    END IF;
  ELSIF TG_OP = 'TRUNCATE' THEN
    INSERT INTO record_changes (key) VALUES ('t:' || TG_TABLE_NAME);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM gone_rows) THEN
      INSERT INTO record_changes (key) VALUES ('t:' || TG_TABLE_NAME);
    END IF;
  ELSE
    IF EXISTS (SELECT 1 FROM new_rows) THEN
      INSERT INTO record_changes (key) VALUES ('t:' || TG_TABLE_NAME);
    END IF;
  END IF;
  RETURN NULL;
END
$body$
"""


# the keys a link's row moves, and a person's row (`row`: NEW or OLD)
def _link_keys(row: str, sqlite: bool = False) -> str:
    bucket = (_sqlite_bucket(f"{row}.value") if sqlite
              else f"'v:' || left(md5({row}.value), {VALUE_HEX})")
    return (f"SELECT {bucket} "
            f"UNION SELECT 'c:' || {row}.customer_id "
            f"UNION SELECT 'c:' || customer_id FROM identity_links "
            f"WHERE kind = {row}.kind AND value = {row}.value")


def _person_keys(row: str) -> str:
    return (f"SELECT 'c:' || {row}.customer_id UNION SELECT 'c:' || b.customer_id "
            f"FROM identity_links a JOIN identity_links b ON b.kind = a.kind "
            f"AND b.value = a.value WHERE a.customer_id = {row}.customer_id")


_PG_IDENTITY = {
    table: f"""
CREATE FUNCTION record_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO record_changes (key) {keys("OLD")};
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO record_changes (key) {keys("NEW")};
  END IF;
  RETURN NULL;
END
$body$
""" for table, keys in (("identity_links", _link_keys), ("customers", _person_keys))}


def _pg_triggers(table: str) -> dict[str, str]:
    run = "EXECUTE FUNCTION record_changed()"
    if table in BY_IDENTITY:
        return {
            "record_changed": f"AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
                              f"EXECUTE FUNCTION record_{table}_changed()",
            "record_truncated": f"AFTER TRUNCATE ON {table} FOR EACH STATEMENT {run}",
        }
    if table in BY_CUSTOMER:
        return {
            "record_changed": f"AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW {run}",
            "record_truncated": f"AFTER TRUNCATE ON {table} FOR EACH STATEMENT {run}",
        }
    return {
        "record_inserted": f"AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                           f"FOR EACH STATEMENT {run}",
        "record_updated": f"AFTER UPDATE ON {table} REFERENCING NEW TABLE AS new_rows "
                          f"FOR EACH STATEMENT {run}",
        "record_deleted": f"AFTER DELETE ON {table} REFERENCING OLD TABLE AS gone_rows "
                          f"FOR EACH STATEMENT {run}",
        "record_truncated": f"AFTER TRUNCATE ON {table} FOR EACH STATEMENT {run}",
    }


def _sqlite_triggers(table: str) -> dict[str, str]:
    def replaced(key: str) -> str:
        return (f"DELETE FROM record_changes WHERE key = {key}; "
                f"INSERT INTO record_changes (key) VALUES ({key});")

    def replaced_all(keys: str) -> str:
        return (f"DELETE FROM record_changes WHERE key IN ({keys}); "
                f"INSERT INTO record_changes (key) {keys};")

    if table in BY_IDENTITY:
        def keys(row: str) -> str:
            return _link_keys(row, sqlite=True) if table == "identity_links" else _person_keys(row)

        bodies = {"INSERT": replaced_all(keys("NEW")),
                  "UPDATE": replaced_all(keys("OLD")) + " " + replaced_all(keys("NEW")),
                  "DELETE": replaced_all(keys("OLD"))}
    elif table in BY_CUSTOMER:
        new, old = "'c:' || NEW.customer_id", "'c:' || OLD.customer_id"
        bodies = {"INSERT": replaced(new), "UPDATE": replaced(old) + " " + replaced(new),
                  "DELETE": replaced(old)}
    else:
        key = f"'t:{table}'"
        bodies = dict.fromkeys(("INSERT", "UPDATE", "DELETE"), replaced(key))
    return {f"record_{op.lower()}_{table}": f"AFTER {op} ON {table} FOR EACH ROW BEGIN {body} END"
            for op, body in bodies.items()}


def install(connection: Connection) -> None:
    """Make `record_changes` and the triggers of every versioned table there is, those missing
    (idempotent: a migration, and a schema made by `create_all`, call it)."""
    record_changes.create(connection, checkfirst=True)
    present = set(connection.dialect.get_table_names(connection))
    have = _triggers(connection)
    postgres = connection.dialect.name == "postgresql"
    functions = {"record_changed": _PG_FUNCTION,
                 **{f"record_{table}_changed": body for table, body in _PG_IDENTITY.items()}}
    for name, body in functions.items() if postgres else ():
        if not connection.execute(text(
                "SELECT 1 FROM pg_proc WHERE proname = :name "
                "AND pronamespace = current_schema()::regnamespace"), {"name": name}).first():
            connection.execute(text(body))
    for table in sorted(VERSIONED & present):
        wanted = _pg_triggers(table) if postgres else _sqlite_triggers(table)
        for name, body in wanted.items():
            if (table, name) not in have:
                connection.execute(text(f"CREATE TRIGGER {name} {body}"))


def installed(engine: Engine) -> str | None:
    """None when every versioned table tells its changes; else what is missing, in words."""
    with engine.connect() as connection:
        present = set(connection.dialect.get_table_names(connection))
        if "record_changes" not in present:
            return "the database has no record_changes table (run `connector migrate`)"
        have = _triggers(connection)
        postgres = connection.dialect.name == "postgresql"
    for table in sorted(VERSIONED & present):
        wanted = _pg_triggers(table) if postgres else _sqlite_triggers(table)
        missing = [name for name in wanted if (table, name) not in have]
        if missing:
            return f"table {table} lacks its change triggers ({', '.join(missing)})"
    return None


def _triggers(connection: Connection) -> set[tuple[str, str]]:
    if connection.dialect.name == "postgresql":
        rows = connection.execute(text(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"))
    else:
        rows = connection.execute(text(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
    return {(str(table), str(name)) for table, name in rows}


@event.listens_for(metadata, "after_create")
def _after_create(_target: object, connection: Connection, **_kw: Any) -> None:
    install(connection)


# -- reading versions ------------------------------------------------------------------------

class Pruner:
    """Deletes the rows older than `PRUNE_AFTER_S`, at most every `PRUNE_EVERY_S`: it notes the
    newest id at each turn and, a turn that old later, deletes up to it (by id: the primary
    key's index, no clock in the table)."""

    def __init__(self, engine: Engine, clock: Any = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        self._marks: list[tuple[float, int]] = []
        self._next = 0.0
        self._lock = threading.Lock()

    def claim(self) -> float | None:
        """The time of a turn due now, claimed for its caller (None: not due yet)."""
        with self._lock:
            now = self.clock()
            if now < self._next:
                return None
            self._next = now + PRUNE_EVERY_S
            return now

    def run(self, now: float) -> int:
        """The turn claimed at `now`: note the newest id, delete up to the marks that old;
        the rows deleted."""
        with self.engine.begin() as connection:
            newest = connection.execute(select(func.max(record_changes.c.id))).scalar()
            due = [mark for at, mark in self._marks if at <= now - PRUNE_AFTER_S]
            self._marks = [(at, mark) for at, mark in self._marks if at > now - PRUNE_AFTER_S]
            if newest is not None:
                self._marks.append((now, int(newest)))
            if not due:
                return 0
            return int(connection.execute(
                record_changes.delete().where(record_changes.c.id <= max(due))).rowcount)

    def tick(self) -> int:
        """A turn when one is due (`claim`, then `run`); the rows deleted."""
        now = self.claim()
        return 0 if now is None else self.run(now)


# -- what a page read ------------------------------------------------------------------------

@dataclass
class MadeOf:
    """What one page read (see the module's docstring); `unkept` says why it may not be kept."""

    customers: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)  # identifiers' keys (`value_key`)
    tables: set[str] = field(default_factory=set)
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> stored, fresh
    versions: dict[str, Version] = field(default_factory=dict)  # read before what they version
    unkept: str | None = None
    wrote: bool = False  # something was written meanwhile (a person learnt): made again after

    def refuse(self, why: str) -> None:
        """This page is not to be kept (the first reason stays)."""
        if self.unkept is None:
            self.unkept = why

    def keys(self) -> tuple[str, ...]:
        """The version keys the page depends on."""
        return tuple(sorted({customer_key(c) for c in self.customers}
                            | self.values
                            | {table_key(t) for t in self.tables}))

    def versioned(self) -> dict[str, Version] | None:
        """The versions of all the page read, each read before its first read (None: the page
        is not to be kept)."""
        if self.unkept is not None:
            return None
        keys = self.keys()
        if any(key not in self.versions for key in keys):
            return None
        return {key: self.versions[key] for key in keys}


_MADE_OF: ContextVar[MadeOf | None] = ContextVar("made_of", default=None)


@contextmanager
def recording() -> Iterator[MadeOf]:
    """Within it, in this thread, what is read is noted in the `MadeOf` it gives."""
    made = MadeOf()
    token = _MADE_OF.set(made)
    try:
        yield made
    finally:
        _MADE_OF.reset(token)


def cached_answer(key: str, stored_at: float | None, fresh_until: float) -> None:
    """A cached source answer a page shows (`stored_at` None: none, the source down or not
    asked). The invalidations' version must have been read first (at the page's first
    statement, which the lookup makes before it asks the sources)."""
    made = _MADE_OF.get()
    if made is None:
        return
    if stored_at is None:
        made.refuse(f"no cached answer for {key.split(':')[1] if ':' in key else key}")
    elif CACHE_KEY not in made.versions:
        made.refuse("a cached answer read before the invalidations' version")
    else:
        made.tables.add(CACHE_KEY.removeprefix("t:"))
        made.entries[key] = (stored_at, fresh_until)


def not_kept(why: str) -> None:
    """What is being made now is not to be kept (a source down, a part unread)."""
    made = _MADE_OF.get()
    if made is not None:
        made.refuse(why)


_WATCHED: weakref.WeakSet[Engine] = weakref.WeakSet()
_WATCHED_LOCK = threading.Lock()


def watch(engine: Engine) -> None:
    """Note the statements run on this engine within `recording` (once per engine). A making
    on an engine not watched notes no statement, and so is never kept (its answers' versions
    unread)."""
    with _WATCHED_LOCK:
        if engine in _WATCHED:
            return
        _WATCHED.add(engine)
    event.listen(engine, "before_cursor_execute", _noted)


@dataclass(frozen=True)
class _Statement:
    tables: frozenset[str]
    by_customer: frozenset[str]
    unkept: str | None
    write: bool = False


_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WRITES = frozenset({"insert", "update", "delete", "replace", "truncate", "create", "drop",
                     "alter"})


@functools.lru_cache(maxsize=4096)
def _statement(sql: str) -> _Statement:
    words = _WORDS.findall(sql)
    if words and words[0].lower() in _WRITES:
        return _Statement(frozenset(), frozenset(), "a write while the page was made", True)
    known = set(metadata.tables)
    tables = frozenset(word for word in words if word in known)
    unversioned = sorted(tables - VERSIONED - {"record_changes"})
    if unversioned:
        return _Statement(tables, frozenset(), f"{unversioned[0]} tells no changes")
    by_customer = frozenset(tables & (BY_CUSTOMER | BY_IDENTITY))
    for table in tables & BY_CUSTOMER:
        if not re.search(rf"\b{table}\.customer_id\s*(=|IN\b)", sql, re.IGNORECASE):
            return _Statement(tables, by_customer, f"{table} read otherwise than by customer")
    if tables & BY_IDENTITY:
        joined = _FROM.split(sql, maxsplit=1)
        if len(joined) < 2 or not _WHERE.search(joined[1]):
            return _Statement(tables, by_customer, "who is who read whole")
        filtered = {column for _, column in _COLUMNS.findall(_TAIL.split(joined[1])[0])}
        if not filtered <= IDENTITY_COLUMNS:
            return _Statement(tables, by_customer, "who is who read otherwise than by "
                                                   "identifier or person")
    return _Statement(tables, by_customer, None)


_FROM = re.compile(r"\sFROM\s", re.IGNORECASE)
_WHERE = re.compile(r"\sWHERE\s", re.IGNORECASE)
_TAIL = re.compile(r"\s(ORDER|GROUP)\s+BY\s|\sLIMIT\s", re.IGNORECASE)
_COLUMNS = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b")


def _noted(connection: Any, cursor: Any, sql: str, parameters: Any,
           context: Any, executemany: bool) -> None:
    made = _MADE_OF.get()
    if made is None:
        return
    seen = _statement(sql)
    made.wrote = made.wrote or seen.write
    if made.unkept is not None:
        return
    if seen.unkept is not None:
        made.refuse(seen.unkept)
        return
    texts = set(_texts(context, parameters, executemany)) if seen.by_customer else set()
    customers = {t for t in texts if len(t) <= ID_CHARS}
    values = ({value_key(t, connection.dialect.name) for t in texts if len(t) <= VALUE_CHARS}
              if seen.tables & BY_IDENTITY else set())
    made.tables |= seen.tables
    made.customers |= customers
    made.values |= values
    if len(made.customers) + len(made.values) + len(made.tables) > MAX_KEYS:
        made.refuse("made of too many records")
        return
    needed = ({table_key(t) for t in seen.tables} | {customer_key(c) for c in customers}
              | values)
    new = needed - made.versions.keys()
    if not new:
        return
    if not made.versions:  # the first read: every table's at once (the next ones need none)
        new |= _TABLE_KEYS
    try:  # before the statement runs, on its own connection (and transaction, if any)
        made.versions.update(_read_before(cursor, connection.dialect.paramstyle, sorted(new)))
    except Exception as exc:
        made.refuse(f"versions unread ({type(exc).__name__})")


_TABLE_KEYS = frozenset(table_key(t) for t in VERSIONED) | {CACHE_KEY}


def _read_before(cursor: Any, paramstyle: str, keys: list[str]) -> dict[str, Version]:
    """The versions of keys, read by a cursor of its own on the connection about to run the
    statement: the same snapshot when it runs in a transaction, no other connection taken from
    the pool, and within the bound `store.guard` armed for that statement."""
    own = cursor.connection.cursor()
    try:
        own.execute(_versions_sql(paramstyle, len(keys)), list(keys))
        return _versions_of(keys, own.fetchall())
    finally:
        own.close()


def read(connection: Connection, keys: Sequence[str]) -> dict[str, Version]:
    """The versions of keys as the driver is given them (no SQLAlchemy statement to build: a
    kept page's check is this one statement), bounded as any of ours (`store.guard`)."""
    sql = _versions_sql(connection.dialect.paramstyle, len(keys))
    return _versions_of(keys, connection.exec_driver_sql(sql, tuple(keys)).all())


def _versions_sql(paramstyle: str, count: int) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    return ('SELECT "key", count(*), max(id), sum(id) FROM record_changes WHERE "key" IN '
            f'({", ".join([mark] * count)}) GROUP BY "key"')


def _versions_of(keys: Sequence[str], rows: Iterable[Any]) -> dict[str, Version]:
    found: dict[str, Version] = dict.fromkeys(keys, (0, 0, 0))
    for key, count, newest, total in rows:
        found[str(key)] = (int(count), int(newest), int(total))
    return found


def changed(engine: Engine, key: str) -> None:
    """Say that what `key` versions changed (what no table's trigger sees: an invalidation of
    cached answers)."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":  # one row per key, as the triggers keep it
            connection.execute(record_changes.delete().where(record_changes.c.key == key))
        connection.execute(record_changes.insert().values(key=key))


def _texts(context: Any, parameters: Any, executemany: bool) -> Iterator[str]:
    """Every text among a statement's parameters: the customers and identifiers it may name
    (more keys than needed — a source's name, a date as SQLite is given it — cost only rows
    not found; none is missed)."""
    groups: Sequence[Any] = getattr(context, "compiled_parameters", None) or (
        parameters if executemany else [parameters])
    for group in groups:
        values = group.values() if isinstance(group, Mapping) else group or ()
        for value in values:
            for one in value if isinstance(value, list | tuple) else (value,):
                if isinstance(one, str):
                    yield one
