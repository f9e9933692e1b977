"""Change feeds on a `rest` source: a paged request that takes a `{since}` cursor and answers the
items changed after it (reviews, loyalty cards), oldest first, with where the next read starts.
The jobs that keep flags fresh (`refresh_reviews`, `refresh_loyalty`) read them a page at a
time and keep the cursor themselves; this module only knows how to ask and how to read an
answer: the cursor, each item's key, whom it names, and the item mapped like its section."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from connector.config import Strict
from connector.identifiers import Identifiers, normalise
from connector.models import Canonical
from connector.sources.base import FieldMap, SectionMap
from connector.sources.mapping import Reader, compiled, map_item, search
from connector.sources.values import Mapped

FeedKind = Literal["reviews", "surveys", "loyalty"]
# how an item names its customer: an identifier, or the source's own id (`id`)
NamedBy = Literal["email", "phone", "card", "id"]


def _path_shorthand(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


class FeedCursor(Strict):
    """Where the next read starts: JMESPath over the whole answer (`answer: cursor`) or over
    its last item (`last_item: "join('|', [published_at, url])"`), exactly one of them."""

    answer: str | None = None
    last_item: str | None = None

    @field_validator("answer", "last_item")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None:
            compiled(value)
        return value

    @model_validator(mode="after")
    def _one(self) -> FeedCursor:
        if (self.answer is None) == (self.last_item is None):
            raise ValueError("give exactly one of answer (over the whole answer) or last_item "
                             "(over the last item)")
        return self


class ChangeFeed(Strict):
    """One feed: its request (declared by the source type, `rest.RestChangeFeed`; `{since}`
    fills it with the cursor kept from the last run, and a page is one call), where the next
    cursor is, each item's unique `key`, how it names its customer, and its fields (by
    default, the mapping of the source's section of the same name)."""

    cursor: FeedCursor
    key: str
    customer: dict[NamedBy, str] = Field(min_length=1)
    fields: dict[str, Annotated[FieldMap, BeforeValidator(_path_shorthand)]] | None = None
    # the cursor of the very first run: "" reads the whole history; "{now}" (ISO UTC, to the
    # second) or "{today}" starts from the first run
    start: str = ""
    max_pages: int = Field(default=20, ge=1, le=10_000)  # per run

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        compiled(value)
        return value

    @field_validator("customer")
    @classmethod
    def _customer(cls, value: dict[str, str]) -> dict[str, str]:
        for expression in value.values():
            compiled(expression)
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, FieldMap] | None) -> dict[str, FieldMap] | None:
        for spec in (value or {}).values():
            compiled(spec.path)
        return value

    def first_cursor(self, now: dt.datetime) -> str:
        """`start` with `{now}` and `{today}` filled in."""
        moment = now.astimezone(dt.UTC)
        return self.start.replace("{now}", moment.strftime("%Y-%m-%dT%H:%M:%SZ")).replace(
            "{today}", moment.date().isoformat())


class ChangeFeeds(Strict):
    """The change feeds a source declares (`changes:`), by what they carry."""

    reviews: ChangeFeed | None = None
    surveys: ChangeFeed | None = None  # survey answers: a detractor is noticed like a review
    loyalty: ChangeFeed | None = None


def feed_problems(feeds: ChangeFeeds, sections: dict[str, SectionMap]) -> list[str]:
    """The feeds without fields whose source has no section of their name to map them."""
    return [f"changes.{kind}: give its fields, or a `{kind}` section whose mapping its items "
            "take" for kind in ("reviews", "surveys", "loyalty")
            if (feed := getattr(feeds, kind)) is not None and feed.fields is None
            and kind not in sections]


def request_problem(request: Any) -> str | None:
    """What is wrong with a feed's request (a `RestRequest`): it must take the cursor, and
    pages by it alone."""
    texts = [request.path, *request.params.values(), repr(request.body)]
    if not any("{since" in text for text in texts):
        return "must use {since} (in its path, params or body): the cursor the job keeps"
    if request.paginate is not None:
        return "a feed pages by its cursor alone: remove paginate"
    return None


@dataclass(frozen=True)
class Change:
    """One changed item: its key, whom it names, and the item mapped like its section (None
    when it could not be read)."""

    key: str
    ids: Identifiers
    own_id: str | None
    item: Canonical | None


@dataclass(frozen=True)
class ChangePage:
    """One page of a feed: its items, and where the next read starts."""

    changes: list[Change]
    cursor: str
    unreadable: int = 0  # items without a key or anyone they name
    dropped: list[str] = field(default_factory=list)  # values the mapping dropped (paths)


def read_page(answer: Any, items: str, feed: ChangeFeed, kind: FeedKind, source: str,
              section: SectionMap | None, since: str, region: str, reader: Reader
              ) -> ChangePage:
    """The items of one answer read (`items`: where they are), and the next cursor (the one
    given back when the answer says none)."""
    raw = search(items, answer) if answer is not None else None
    batch = raw if isinstance(raw, list) else []
    spec = SectionMap(fields=feed.fields) if feed.fields is not None else section
    mapped = Mapped(sections={})
    changes: list[Change] = []
    unreadable = 0
    for n, entry in enumerate(batch):
        key = search(feed.key, entry)
        ids, own_id = _named(entry, feed, source, region)
        if key in (None, "") or (not ids.pairs()):
            unreadable += 1
            continue
        item = None
        if spec is not None:
            item = map_item(entry, spec, kind, f"changes.{kind}[{n}]", source, reader,
                            mapped)
        changes.append(Change(str(key), ids, own_id, item))
    expression = feed.cursor.answer or feed.cursor.last_item or ""
    over = answer if feed.cursor.answer else (batch[-1] if batch else None)
    found = search(expression, over) if over is not None else None
    cursor = str(found) if found not in (None, "") else since
    return ChangePage(changes, cursor, unreadable, mapped.problems)


def _named(entry: Any, feed: ChangeFeed, source: str, region: str
           ) -> tuple[Identifiers, str | None]:
    """The identifiers an item names its customer by (normalised), and the source's own id."""
    values: dict[str, list[str]] = {"email": [], "phone": [], "card": []}
    own_id = None
    for kind, expression in feed.customer.items():
        raw = search(expression, entry)
        if raw in (None, ""):
            continue
        if kind == "id":
            own_id = str(raw)
            continue
        value = normalise(kind, str(raw), region)
        if value:
            values[kind].append(value)
    externals = ((source, own_id),) if own_id else ()
    return Identifiers(emails=tuple(values["email"]), phones=tuple(values["phone"]),
                       cards=tuple(values["card"]), externals=externals), own_id
