"""The manifest's `sidebar:` section: which blocks the sidebar shows, in order, each fed by
some sources only, or a custom card an admin declares: a title and fields read by path.

A card is data, not code: each field is a label, a JMESPath expression over the canonical
customer JSON (`CustomerProfile.model_dump(mode="json")`) and a format. Paths are checked
against the canonical model when the manifest is loaded (see `profile_paths`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from connector.config import Strict
from connector.customer.paths import profile_path_problems
from connector.i18n import Label
from connector.sources.base import CODED_FIELDS, coded_field

# The summary strip first (who, value, mood, alerts: the badges' content and more), then the
# counts that lead to the lists, then the blocks an agent reads on demand.
DEFAULT_BLOCKS = [
    "summary", "tabs", "identity", "kpis", "sentiment", "reviews", "orders", "timeline",
    "contacts", "loyalty", "notes", "campaigns", "complaints", "freshness",
]
CARD_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
CardFormat = Literal["text", "number", "money", "date", "datetime", "boolean", "list"]


class CardField(Strict):
    """One line of a card: its label, where its value is read, and how it is written."""

    label: Label
    path: str
    format: CardFormat = "text"

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        problems = profile_path_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


class Card(Strict):
    """A custom card: an optional key (its HTML id is `card-<key>`), a title and its fields."""

    key: str | None = None
    title: Label
    fields: list[CardField]

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not CARD_KEY.match(value):
            raise ValueError("lower case letters, digits, - and _, starting with a letter "
                             "(max 40)")
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[CardField]) -> list[CardField]:
        if not value:
            raise ValueError("a card needs at least one field")
        return value


def _block_shorthand(value: Any) -> Any:
    return {"block": value} if isinstance(value, str) else value


class BlockEntry(Strict):
    """One block of the sidebar, optionally fed by some sources only, or a custom card."""

    block: str | None = None
    card: Card | None = None
    sources: list[str] | None = None

    @model_validator(mode="after")
    def _block_or_card(self) -> BlockEntry:
        if (self.block is None) == (self.card is None):
            raise ValueError("give either a block name (block: orders) or a card (card: …)")
        return self


# the canonical fields whose coded values the sidebar names through `sidebar.values`
# (orders.status: every row of the orders table, store purchases included, and the timeline's
# orders and store visits; contacts.status: the requests' status, in the complaints block and
# the timeline; status.segment and status.tags: the badges block and the summary strip, the
# rules still comparing the values as written); a detail field names its values through one of
# them too (`values:`)
VALUE_FIELDS = CODED_FIELDS


Entries = list[Annotated[BlockEntry, BeforeValidator(_block_shorthand)]]


class Sidebar(Strict):
    """Which blocks the sidebar shows, in order (per helpdesk if need be), which are folded
    until an agent opens them, and how it writes the sources' coded values."""

    blocks: Entries = Field(
        default_factory=lambda: [BlockEntry(block=b) for b in DEFAULT_BLOCKS], min_length=1
    )
    # helpdesk kind -> its own blocks and order (Help Scout's narrow panel: fewer blocks)
    helpdesks: dict[str, Annotated[Entries, Field(min_length=1)]] = Field(default_factory=dict)
    # blocks (by name, cards by key) shown folded until an agent opens them; each agent's
    # browser then remembers what they opened or folded
    folded: list[str] = Field(default_factory=list)
    # canonical field -> a source's value -> its text per language, e.g.
    # {loyalty.tier: {Or: {fr: Or, en: Gold}}}; a value not listed is shown as written
    values: dict[str, dict[str, Label]] = Field(default_factory=dict)

    @field_validator("values")
    @classmethod
    def _values(cls, value: dict[str, dict[str, dict[str, str]]]
                ) -> dict[str, dict[str, dict[str, str]]]:
        for name in value:
            coded_field(name)
        return {name: {raw.strip().casefold(): label for raw, label in labels.items()}
                for name, labels in value.items()}

    def blocks_for(self, helpdesk: str | None) -> list[BlockEntry]:
        """The blocks a helpdesk's agents see: its own list if the manifest gives one."""
        return self.helpdesks.get(helpdesk or "", self.blocks)
