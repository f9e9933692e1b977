"""What the jobs over change feeds share (`refresh_reviews`, `refresh_loyalty`): which sources
declare a feed, the cursor each feed is read from (table `feed_cursors`, advanced only once a
page is handled: a run that dies reads that page again, never skips it), who an item names
among the people we know (never a new person), and that person's flags, looked up fresh and
queued for every helpdesk that takes write-backs and has seen them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Engine, and_, select, update

from connector.customer.profile import Lookup
from connector.customer.resolver import Resolver
from connector.events.worker import EventWorker, flag_write_back
from connector.identifiers import Identifiers
from connector.jobs.history import Counts
from connector.models import SourceState
from connector.sources.base import SourceError
from connector.sources.rest_changes import ChangeFeed, ChangePage, FeedKind
from connector.store.engine import create_tables, insert_ignoring
from connector.store.schema import feed_cursors

log = logging.getLogger(__name__)
# a source that answered with another state may be missing a flag's evidence: writing that
# back would remove a tag that still holds
TRUSTED = {SourceState.OK, SourceState.NOT_FOUND}


class FeedSource(Protocol):
    """A source that declares change feeds (`changes:` on a rest source)."""

    @property
    def config(self) -> Any: ...  # its manifest entry, with `changes`

    def changes(self, kind: FeedKind, since: str, region: str) -> ChangePage: ...


def feed_sources(sources: Mapping[str, object], kind: FeedKind) -> dict[str, FeedSource]:
    """The sources whose manifest entry declares this feed."""
    return {name: source for name, source in sources.items()  # type: ignore[misc]
            if getattr(getattr(getattr(source, "config", None), "changes", None), kind, None)
            is not None and callable(getattr(source, "changes", None))}


class FeedCursors:
    """Where each source's feed is read from next."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine, [feed_cursors])

    def get(self, source: str, feed: str) -> str | None:
        """The cursor kept, None before the first run."""
        with self.engine.connect() as connection:
            return connection.execute(select(feed_cursors.c.cursor).where(
                self._key(source, feed))).scalar()

    def save(self, source: str, feed: str, cursor: str) -> None:
        """Keep the cursor the next read starts from."""
        values = {"cursor": cursor[:1000], "updated_at": dt.datetime.now(dt.UTC)}
        with self.engine.begin() as connection:
            if not connection.execute(update(feed_cursors).where(
                    self._key(source, feed)).values(**values)).rowcount:
                connection.execute(insert_ignoring(connection, feed_cursors).values(
                    source=source, feed=feed, **values))

    @staticmethod
    def _key(source: str, feed: str) -> ColumnElement[bool]:
        return and_(feed_cursors.c.source == source, feed_cursors.c.feed == feed)


def pages_of(source: FeedSource, name: str, kind: FeedKind, cursors: FeedCursors,
             now: dt.datetime, region: str, max_items: int, counts: Counts
             ) -> Iterator[ChangePage]:
    """The feed's pages from the kept cursor (the feed's `start` on the first run); the cursor is
    advanced when the caller asks for the next page, i.e. once it handled this one. A page
    that cannot be read ends the run (counted in `errors`), the cursor where it was."""
    since = cursors.get(name, kind)
    if since is None:
        feed: ChangeFeed = getattr(source.config.changes, kind)
        since = feed.first_cursor(now)
    read = 0
    while read < max_items:
        try:
            page = source.changes(kind, since, region)
        except SourceError as exc:
            log.warning("%s feed of %s not read: %s", kind, name, exc.public)
            counts["errors"] += 1
            return
        counts["errors"] += page.unreadable
        if page.unreadable or page.dropped:
            log.info("%s feed of %s: %d items unreadable, %d values dropped", kind, name,
                     page.unreadable, len(page.dropped))
        yield page
        read += len(page.changes) + page.unreadable
        cursors.save(name, kind, page.cursor)  # handled; the first run pins its start too
        if page.cursor == since or not (page.changes or page.unreadable):
            return
        since = page.cursor


def known_customer(resolver: Resolver, ids: Identifiers) -> str | None:
    """The one person we know by these identifiers; None for nobody, or several."""
    return resolver.resolve(ids).customer_id


def fresh_lookup(worker: EventWorker, customer_id: str) -> tuple[Lookup | None, bool]:
    """The person as the sources describe them now (their cached answers dropped first), and
    whether every source answered."""
    assembler = worker.assembler
    ids = assembler.resolver.person(customer_id).identifiers
    if not ids.pairs():  # forgotten or merged into another record since
        return None, False
    assembler.invalidate(ids)
    found = assembler.lookup(ids, customer_id=customer_id)
    complete = all(status.status in TRUSTED for status in found.sources.values())
    return found, complete


def writing_helpdesks(worker: EventWorker) -> list[str]:
    """The helpdesks that take write-backs."""
    return sorted(kind for kind, config in worker.configs.items()
                  if config.write_back.enabled and kind in worker.writers)


def queue_flags(worker: EventWorker, found: Lookup, requesters: list[tuple[str, str]]) -> int:
    """Queue the person's flags (every one) to each helpdesk person they are; how many."""
    queued = 0
    assert found.profile is not None
    for helpdesk, requester_id in requesters:
        change = flag_write_back(worker.configs[helpdesk].write_back, helpdesk, found.profile,
                                 found.flags, requester_id=requester_id, ticket_id=None,
                                 new_ticket=False)
        if change is not None:
            worker.queue.enqueue(change)
            queued += 1
    return queued
