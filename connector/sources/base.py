"""What every source adapter is: its manifest model, its protocol, its results and failures."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from connector.config import Strict
from connector.i18n import Label, label_text
from connector.identifiers import IDENTIFIER_KINDS, IdentifierKind, Identifiers
from connector.models import SourceState

__all__ = ["IDENTIFIER_KINDS", "IdentifierKind", "Identifiers"]

@dataclass(frozen=True)
class SourceCandidate:
    """One of several customers a source matched for one identifier."""

    external_id: str
    name: str | None
    postcode: str | None


@dataclass
class SourceResult:
    """What one source knows about one customer, mapped into canonical sections; or, when the
    identifier matched several of its customers, those candidates and no sections."""

    found: bool
    sections: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    dropped_values: int = 0
    candidates: list[SourceCandidate] = field(default_factory=list)


QUERY_STRING = re.compile(r"\?[^\s'\")]*")
EMAIL_LIKE = re.compile(r"[^\s@'\"(),;<>]+@[^\s@'\"(),;<>]+")
NUMBER_LIKE = re.compile(r"\+?\d[\d .-]{6,}\d")


def scrub(text: str) -> str:
    """A detail fit for a log: no query string (identifiers, keys), no email, no long number."""
    text = QUERY_STRING.sub("?…", text)
    return NUMBER_LIKE.sub("…", EMAIL_LIKE.sub("…@…", text))[:300]


class SourceError(Exception):
    """A source could not answer; `public` is the short text an agent or admin may see, the
    detail (for the log) is scrubbed of identifiers and secrets where it is made."""

    state: SourceState = SourceState.ERROR

    def __init__(self, public: str, detail: str = "") -> None:
        super().__init__(scrub(detail) if detail else public)
        self.public = public


class SourceUnavailable(SourceError):
    """Down, slow, rate-limited or broken for now: retry later, serve stale meanwhile."""

    retry_after_s: float | None = None


class SourceTimeout(SourceUnavailable):
    """Did not answer within its timeout."""

    state = SourceState.TIMEOUT


# ---- deadlines: every call made for one lookup of one source ends by the same instant -------

_DEADLINE: ContextVar[float | None] = ContextVar("source_deadline", default=None)


@contextmanager
def deadline_at(due: float) -> Iterator[float]:
    """Calls to sources made inside end by `due` (time.monotonic()), or by an earlier deadline
    already set around them; yields the deadline that holds."""
    outer = _DEADLINE.get()
    held = due if outer is None else min(outer, due)
    token = _DEADLINE.set(held)
    try:
        yield held
    finally:
        _DEADLINE.reset(token)


def deadline_in(seconds: float) -> AbstractContextManager[float]:
    """Calls to sources made inside end within `seconds` from now (or by an earlier deadline)."""
    return deadline_at(time.monotonic() + seconds)


def current_deadline(default_s: float | None = None) -> float | None:
    """The deadline calls made now must meet: the one set around them, else `default_s` from
    now (None when neither)."""
    held = _DEADLINE.get()
    if default_s is None:
        return held
    own = time.monotonic() + default_s
    return own if held is None else min(held, own)


def time_left(due: float | None) -> float | None:
    """Seconds until `due` (never below 0); None when there is no deadline."""
    return None if due is None else max(due - time.monotonic(), 0.0)


class SourceMisconfigured(SourceError):
    """Rejected our request (bad path, bad query): the admin must fix the manifest."""


class SourceRefused(SourceMisconfigured):
    """Refused our credentials (401/403, a JSON-RPC access error): a new login may cure it."""


class LoginRefused(SourceRefused):
    """The login itself was refused: logging in again would only be refused again."""


class Source(Protocol):
    """A system that knows something about customers."""

    name: str
    provides: frozenset[str]

    def fetch(self, ids: Identifiers) -> SourceResult:
        """Look the customer up and map what comes back; raise SourceError on failure."""
        ...

    def detail(self, kind: str, key: str) -> dict[str, Any]:
        """One on-demand detail (tracking, a verbatim, a live balance) as field → value."""
        ...

    def write(self, field: str, values: dict[str, str]) -> Any:
        """Apply a correction of a canonical field (`writes:`); raise SourceError on failure."""
        ...

    def act(self, name: str, values: dict[str, Any]) -> Any:
        """Run a back-office action (`actions:`); raise SourceError on failure."""
        ...

    @property
    def searchable(self) -> bool:
        """Whether the source answers agents' free-text searches."""
        ...

    def search(self, query: str) -> list[SourceCandidate]:
        """Customers matching free text (a name, a postcode); [] when not searchable."""
        ...


# ---- manifest models shared by every source type -------------------------------------------


def _path_shorthand(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


class FieldMap(Strict):
    """Where a canonical field's value is in the source's answer, and how to read it."""

    path: str
    map: dict[str, str] | None = None
    scale: int = Field(default=0, ge=-12, le=12)  # a number times 10**scale: -2 reads cents


class SectionMap(Strict):
    """How one canonical section is read from the source's answer (JMESPath expressions)."""

    path: str | None = None
    items: str | None = None
    fields: dict[str, Annotated[FieldMap, BeforeValidator(_path_shorthand)]]


class CircuitConfig(Strict):
    """After `failures` failures in a row, stop calling the source for `cooldown_s` seconds."""

    failures: int = Field(default=5, ge=1, le=1000)
    cooldown_s: float = Field(default=30.0, ge=1, le=3600)


DetailFormat = Literal["auto", "text", "number", "money", "date", "datetime"]
# the canonical fields whose values sources write as codes or in their own language ("Or",
# "en_attente", a segment "Professionnel", a tag "litige"): the manifest names them per
# language (`sidebar.values`), and a detail field holding such a value says which one it is
# (`values: loyalty.tier`)
CODED_FIELDS = ("loyalty.tier", "orders.status", "contacts.status", "status.segment",
                "status.tags")


def coded_field(name: str) -> str:
    """Refuse a field whose values the sidebar does not name."""
    if name not in CODED_FIELDS:
        raise ValueError(f"'{name}' has no coded values to name: give one of "
                         f"{', '.join(CODED_FIELDS)}")
    return name


class DetailField(Strict):
    """One line of a detail: where its value is in the answer, its label (the field's name
    when none) and how its value is written (`auto`: numbers and ISO dates as such; with
    `values`, by the name the manifest or the catalog gives that canonical field's code)."""

    path: str
    label: Label | None = None
    format: DetailFormat = "auto"
    # the canonical coded field its values are, e.g. loyalty.tier
    values: Annotated[str, AfterValidator(coded_field)] | None = None

    @model_validator(mode="after")
    def _named_not_formatted(self) -> DetailField:
        if self.values and self.format not in ("auto", "text"):
            raise ValueError(f"a field with values ({self.values}) is written by their names: "
                             f"leave out format ({self.format})")
        return self


class DetailSpec(Strict):
    """An on-demand detail: fetched only when the agent asks, for one item of a section."""

    label: Label | None = None
    of: str | None = None
    key: str | None = None
    ttl_s: int = Field(default=60, ge=0)
    fields: dict[str, Annotated[DetailField, BeforeValidator(_path_shorthand)]] = Field(
        min_length=1)


class CandidatesMap(Strict):
    """Where a source's answer lists every customer that matched (JMESPath), and how to tell
    them apart; more than one means the identifier is shared and nothing is guessed."""

    items: str
    id: str
    name: str | None = None
    postcode: str | None = None


def _date_format(value: str) -> str:
    """A strptime format that reads back a date it wrote (`%d/%m/%Y`, not `dd/mm/yyyy`)."""
    if "%" not in value:
        raise ValueError(f"'{value}' has no % directive: write e.g. %d/%m/%Y (31/01/2024) or "
                         "%d.%m.%Y %H:%M")
    sample = dt.datetime(2024, 1, 31, 13, 45, 30)
    try:
        dt.datetime.strptime(sample.strftime(value), value)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a date format ({exc}): see Python's strptime "
                         "directives, e.g. %d/%m/%Y") from exc
    return value


class SourceConfig(Strict):
    """Settings every source type has."""

    type: str
    preset: str | None = None
    label: Label | None = None  # its name for agents: a text, or {fr: …, en: …}
    # one deadline for a whole lookup of this source: every call of it (logins, pages, each
    # identifier tried), connect to the last byte; past it, the stale copy stands in
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    ttl_s: int = Field(default=300, ge=0)
    stale_ttl_s: int = Field(default=86400, ge=0)
    revalidate_s: int = Field(default=60, ge=0)
    max_concurrency: int = Field(default=8, ge=1, le=256)  # and its own threads, as many
    circuit: CircuitConfig = CircuitConfig()
    id: str | None = None
    candidates: CandidatesMap | None = None
    decimal_comma: bool = False
    date_formats: list[Annotated[str, AfterValidator(_date_format)]] = Field(
        default_factory=list)
    # how the source stores international email domains: `ascii` (xn--…, IDNA 2008) or
    # `unicode` (straße.de); it is asked with that form
    email_domains: Literal["ascii", "unicode"] = "ascii"
    sections: dict[str, SectionMap] = Field(min_length=1)

    def label_in(self, locale: str) -> str | None:
        """Its label in this language (None when the manifest gives none)."""
        return label_text(self.label, locale) if self.label else None


@dataclass(frozen=True)
class Purchase:
    """One order or receipt of a source's listing: whose (the source's own customer id),
    when, and how much (in the brand's currency)."""

    customer_id: str
    at: dt.date
    amount: Decimal


@dataclass(frozen=True)
class ListedAnswer:
    """One survey answer of a source's listing: whose (as the source names them), when, its
    kind as the source writes it (`nps`, `csat`…) and its score, unchecked (the reader knows
    each kind's scale)."""

    customer_id: str
    at: dt.date
    kind: str
    score: Decimal


@dataclass(frozen=True)
class BuildContext:
    """What building a source from its manifest entry may need."""

    manifest_dir: Path
    default_region: str = "FR"
