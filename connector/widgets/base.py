"""What every sidebar block shares: its context, its spec, its view items and the templates."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from connector import i18n
from connector.customer.details import DetailOffer
from connector.customer.rules import FlagRules
from connector.models import CustomerProfile
from connector.widgets.layout import BlockEntry, Card

PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STYLESHEET = PACKAGE_DIR / "static" / "sidebar.css"
LINK_SCHEMES = frozenset({"http", "https"})
CARD_BLOCK = "card"  # the block key of every custom card (not in the registry)
# the templates' indentation before a tag: a tenth of a record's markup, and never data (a
# value's own "<" is escaped, so a "<" after a line's spaces is always ours)
INDENT = re.compile(r"\n[ \t]+(?=<)")


@dataclass(frozen=True)
class BlockAge:
    """How old the data of one block is, from the sources that fed it (see freshness.py)."""

    tone: str  # "ok", "stale" (an old copy is shown) or "down" (a source failed)
    text: str  # the quiet line in the block's header: "il y a 3 min"
    title: str  # each source, its state and age, for the tooltip


@dataclass(frozen=True)
class ChangeLine:
    """A correction or an action an agent asked for, as the record shows it: never its
    values (`what`: "email", or "Ouvrir un retour (997890)", in the page's language)."""

    kind: str  # correction, action
    what: str
    source: str
    state: str  # pending, sending, sent, confirmed, unconfirmed, done, failed
    outcome: str | None


@dataclass(frozen=True)
class ActionLink:
    """An action the record offers, as a link to its page: on an item (`key`: an order's
    number, in its section) or on the customer (no key)."""

    source: str
    name: str
    label: str  # in the page's language
    section: str  # orders, store_purchases, customer, loyalty
    key: str | None = None
    number: str | None = None  # the order's number, when its key is the source's own id


@dataclass(frozen=True)
class RenderContext:
    """What a block needs besides the customer: language, money, time."""

    locale: str  # "fr" (default) or "en"
    currency: str  # the brand's default currency, e.g. "EUR"
    now: datetime  # timezone-aware UTC, used for ages ("il y a 3 min")
    brand: str = ""
    other_locale_url: str | None = None  # same page in the other language (FR/EN switch)
    timezone: str = "Europe/Paris"  # where the agents are: moments are shown in this zone
    source_labels: Mapping[str, str] = field(default_factory=dict, hash=False)  # "pos" -> label
    # section ("orders", "loyalty"…) -> the details its items offer (buttons loaded on demand)
    details: Mapping[str, tuple[DetailOffer, ...]] = field(default_factory=dict, hash=False)
    # "/helpdesk/embed/details/{source}/{detail}?t=…&key=" : the key is appended, URL-encoded;
    # None where details cannot be asked (e.g. an HTML fragment with no script)
    detail_url: str | None = None
    nonce: str = ""  # the CSP nonce of the page's one inline script
    # "/helpdesk/embed/timeline?t=…&lang=fr": the timeline's next pages and filters (None:
    # the first page only, e.g. in an HTML fragment)
    timeline_url: str | None = None
    notes_url: str | None = None  # where the notes form posts (None: notes shown, no form)
    # the search, for an agent who finds the record is not the person they talk to (None: in
    # a fragment, whose "open the full record" leads there)
    search_url: str | None = None
    # where the record's one GET form for corrections and actions leads (its buttons name the
    # change: `do`; None: nothing can be changed here, e.g. in a fragment), the fields some
    # source takes (`writes:`), the customer's recent changes with their state, and the
    # actions the record offers now
    changes_url: str | None = None
    correctable: frozenset[str] = frozenset()
    changes: tuple[ChangeLine, ...] = ()
    actions: tuple[ActionLink, ...] = ()
    # the agent looking, as the helpdesk vouches for them: their notes are signed with it (no
    # name to type)
    agent: str | None = None
    flag_rules: FlagRules = field(default_factory=FlagRules, hash=False)  # the manifest's
    token: str = ""  # the sealed link's token, which authorises the page's forms
    repeat_window_days: int = 7  # the manifest's kpis.repeat_window_days, explained in a tooltip
    # source -> the canonical sections it declares: which sources feed which block (their ages)
    source_sections: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)
    block_age: BlockAge | None = field(default=None, hash=False)  # set per block by the page
    anchor: str = ""  # the HTML id of the block being rendered, set per block by the page
    # the manifest's sidebar.folded (block names, cards' keys): shown folded until an agent
    # opens them; `fold` is set per block by the page
    folded: frozenset[str] = frozenset()
    fold: bool = False
    # block key -> HTML id of its first block on the page (in-page links, see tabs.py)
    anchors: Mapping[str, str] = field(default_factory=dict, hash=False)
    # the manifest's sidebar.values: field -> a source's value (case-folded) -> text per language
    value_labels: Mapping[str, Mapping[str, Mapping[str, str]]] = field(
        default_factory=dict, hash=False)
    # where blocks rendered before are kept, by record version (None: each rendered anew)
    rendered: KeptBlocks | None = field(default=None, hash=False, compare=False)


class KeptPage(Protocol):
    """One page's blocks as kept (`connector.widgets.rendered.PageBlocks`)."""

    def render(self, render: Callable[[RenderContext], str | None], spec: BlockSpec,
               ctx: RenderContext) -> str | None: ...


class KeptBlocks(Protocol):
    """Where rendered blocks are kept by record version (`connector.widgets.rendered`)."""

    def page(self, profile: CustomerProfile, ctx: RenderContext) -> KeptPage | None: ...


@dataclass(frozen=True)
class BlockSpec:
    """One entry of the manifest's sidebar layout."""

    block: str  # registry key
    sources: frozenset[str] | None = None  # only show data from these sources (None = all)
    card: Card | None = field(default=None, hash=False)  # a custom card's spec (block "card")

    @classmethod
    def of(cls, entry: BlockEntry) -> BlockSpec:
        """The spec of one entry of the manifest's `sidebar.blocks`."""
        if entry.card is not None:
            return cls(CARD_BLOCK, card=entry.card)
        return cls(entry.block or "", frozenset(entry.sources) if entry.sources else None)

    def allows(self, source: str | None) -> bool:
        """Tell whether data from `source` may be shown in this block."""
        return self.sources is None or source in self.sources


class Block(Protocol):
    """A sidebar block: turns the customer into a small piece of HTML.

    A block may also declare `moves_above: tuple[MoveAbove, ...]` (see `MoveAbove`) and
    `sections: frozenset[str]`, the canonical sections its data comes from (their sources'
    ages are shown in its header).
    """

    key: str

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the block's HTML, or None when there is nothing to show."""
        ...


Condition = Callable[[CustomerProfile, BlockSpec, RenderContext], bool]


@dataclass(frozen=True)
class MoveAbove:
    """A block's wish to be shown above another block of the layout when `when` holds."""

    other: str  # registry key of the block to go above
    when: Condition


@dataclass(frozen=True)
class Item:
    """One thing shown: a text, optionally a link, a pictogram, a colour tone and a tooltip."""

    text: str
    href: str | None = None
    icon: str = ""
    tone: str = ""
    title: str = ""
    external: bool = False  # opens in a new tab (back-office links)
    icon_only: bool = False  # a pictogram whose text is only for tooltips and screen readers
    detail: str = ""  # a line shown under it (a flag's reason)
    # a change it asks for through the record's one GET form ("correction:identity.emails",
    # "action:erp:open_return:997890"): a button, the sealed token once in the page, not per link
    do: str = ""


Value = str | Item | Sequence[Item] | None
ValueFn = Callable[[CustomerProfile, RenderContext], Value]


@dataclass(frozen=True)
class FieldDescription:
    """One labelled line of a block: its catalog label and where its value comes from."""

    key: str
    label: str  # i18n catalog key
    value_fn: ValueFn


@dataclass(frozen=True)
class Row:
    """A described field with a value: translated label and the items to show."""

    key: str
    label: str
    items: tuple[Item, ...]


Listed = TypeVar("Listed")


@dataclass(frozen=True)
class PartDescription(Generic[Listed]):
    """One part of a listed thing (a review, a campaign): its key and how it is drawn from it."""

    key: str
    value_fn: Callable[[Listed, RenderContext], Item | None]


def describe_parts(
    parts: Sequence[PartDescription[Listed]], thing: Listed, ctx: RenderContext
) -> tuple[tuple[str, Item], ...]:
    """Evaluate a table of part descriptions on one thing; parts without a value are left out."""
    return tuple(
        (part.key, item) for part in parts if (item := part.value_fn(thing, ctx)) is not None
    )


def as_items(value: Value) -> tuple[Item, ...]:
    """Turn what a value function returns into items, dropping empty ones."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (Item(value),) if value.strip() else ()
    if isinstance(value, Item):
        return (value,) if value.text.strip() else ()
    return tuple(item for item in value if item.text.strip())


def describe(
    fields: Sequence[FieldDescription], profile: CustomerProfile, ctx: RenderContext
) -> list[Row]:
    """Evaluate a table of field descriptions; fields without a value are left out."""
    rows = []
    for description in fields:
        items = as_items(description.value_fn(profile, ctx))
        if items:
            rows.append(Row(description.key, i18n.text(description.label, ctx.locale), items))
    return rows


def date_text(value: date | None, ctx: RenderContext) -> str | None:
    """Format an optional day in the page's locale."""
    return i18n.format_date(value, ctx.locale) if value is not None else None


def safe_url(url: str | None) -> str | None:
    """Return `url` when it is an absolute http(s) link, else None (no javascript: links)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme.lower() in LINK_SCHEMES and parts.netloc else None


def translated(prefix: str, value: str | None, locale: str) -> str | None:
    """Translate a coded value through `prefix.value` when the catalog knows it, else as-is."""
    if value is None or not value.strip():
        return None
    key = f"{prefix}.{value.strip().lower()}"
    return i18n.text(key, locale) if i18n.has_text(key, locale) else value.strip()


# a coded field (`sidebar.values`) -> the catalog prefix naming the codes the connector knows
CATALOG_PREFIXES = {"orders.status": "order_status", "contacts.status": "complaint_status"}


def value_label(name: str, value: str | None, ctx: RenderContext) -> str | None:
    """The manifest's text for a source's coded value (`sidebar.values`), in the page's
    language; None when the manifest names no text for it."""
    if value is None or not value.strip():
        return None
    label = ctx.value_labels.get(name, {}).get(value.strip().casefold())
    return i18n.label_text(label, ctx.locale) if label else None


def coded_text(name: str, value: str | None, locale: str,
               names: Mapping[str, Mapping[str, str]]) -> str | None:
    """A source's value of a coded field in `locale`: its name in `names` (the manifest's
    `sidebar.values` for that field), else the catalog's for a code the connector knows, else
    as written."""
    if value is None or not value.strip():
        return None
    label = names.get(value.strip().casefold())
    if label:
        return i18n.label_text(label, locale)
    prefix = CATALOG_PREFIXES.get(name)
    return translated(prefix, value, locale) if prefix else value.strip()


def value_text(name: str, value: str | None, ctx: RenderContext) -> str | None:
    """A source's value of a coded field as the page shows it (see `coded_text`)."""
    return coded_text(name, value, ctx.locale, ctx.value_labels.get(name, {}))


@cache
def environment() -> Environment:
    """The widgets' Jinja environment; autoescaping is always on (source data is untrusted)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> Markup:
    """The sidebar's CSS, read once, compacted (comments and runs of blank space out: a quarter
    of the first paint's weight otherwise), marked safe to inline in a <style> element."""
    return Markup(compact_css(STYLESHEET.read_text(encoding="utf-8")))


@cache
def scripts() -> dict[str, Markup]:
    """The record page's script parts (static/<name>.js: fold, older, details), read once and
    compacted, marked safe to inline in its one nonce'd <script> element."""
    return {name: Markup(compact_js((PACKAGE_DIR / "static" / f"{name}.js").read_text("utf-8")))
            for name in ("fold", "older", "details")}


def compact_js(script: str) -> str:
    """A script without its comment lines, indentation and blank lines: a fifth of the first
    paint otherwise. Only whole comment lines go (a `//` inside a line may be in a string),
    and line breaks stay, so no statement runs into the next."""
    kept = (line.strip() for line in script.splitlines())
    return "\n".join(line for line in kept if line and not line.startswith("//"))


def compact_css(css: str) -> str:
    """CSS without comments, each run of blank space one space, none around braces and
    semicolons (where it never means anything: a space before `:` may, `a :hover`)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{};])\s*", r"\1", css).strip()


def render_template(name: str, ctx: RenderContext, **values: object) -> str:
    """Render a widget template with `t` (texts in the page's locale), `locale`, `age` (the
    block's data age, or None), `anchor` (the block's HTML id, or "") and `folded` (whether
    the manifest folds it) available."""

    def t(key: str, **params: object) -> str:
        return i18n.text(key, ctx.locale, **params)

    template = environment().get_template(name)
    html = template.render(t=t, locale=i18n.normalize_locale(ctx.locale), age=ctx.block_age,
                           anchor=ctx.anchor, folded=ctx.fold, **values)
    return INDENT.sub("\n", html)
