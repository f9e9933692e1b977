"""How old the record's data is: the freshness block (one quiet line per source) and the age
each block shows in its header, from the sources that fed it ("Data ages", SEED-NOTES)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from connector import i18n
from connector.models import CustomerProfile, SourceState, SourceStatus
from connector.widgets.base import BlockAge, BlockSpec, RenderContext, render_template

# Source state -> (catalog key of its text, tone of its dot).
STATES: dict[SourceState, tuple[str, str]] = {
    SourceState.OK: ("source.ok", "ok"),
    SourceState.STALE: ("source.stale", "stale"),
    SourceState.ERROR: ("source.error", "down"),
    SourceState.TIMEOUT: ("source.timeout", "down"),
    SourceState.CIRCUIT_OPEN: ("source.circuit_open", "down"),
    SourceState.NOT_FOUND: ("source.not_found", "none"),
}
MAX_ERROR_CHARS = 80
# States whose data is shown (an old copy when stale), and those that left a block without theirs.
SHOWN_STATES = frozenset({SourceState.OK, SourceState.STALE})
DOWN_STATES = frozenset({SourceState.ERROR, SourceState.TIMEOUT, SourceState.CIRCUIT_OPEN})
# The canonical sections each built-in block shows (flags come from reviews, surveys, contacts;
# the computed segments from purchases too); a block may declare its own `sections` instead.
STATUS_SECTIONS = frozenset({"status", "orders", "store_purchases", "reviews", "surveys",
                             "contacts"})
BLOCK_SECTIONS: dict[str, frozenset[str]] = {
    "identity": frozenset({"identity", "consent"}),
    "badges": STATUS_SECTIONS,
    "kpis": frozenset({"kpis", "orders", "store_purchases", "surveys", "contacts"}),
    "sentiment": frozenset({"surveys"}),
    "contacts": frozenset({"contacts"}),
    "reviews": frozenset({"reviews"}),
    "orders": frozenset({"orders", "store_purchases"}),
    "loyalty": frozenset({"loyalty"}),
    "notes": frozenset({"notes"}),
    "campaigns": frozenset({"campaigns"}),
}


@dataclass(frozen=True)
class SourceLine:
    """How one source answered, ready to show."""

    name: str
    tone: str
    status: str
    age: str | None
    error: str | None


def age_seconds(status: SourceStatus, ctx: RenderContext) -> float | None:
    """Return the age of a source's data at the page's time (`age_at`)."""
    return age_at(status, ctx.now)


def age_at(status: SourceStatus, now: datetime) -> float | None:
    """Return the age of a source's data: as given, else from when it was fetched."""
    if status.age_s is not None:
        return status.age_s
    if status.fetched_at is not None and status.fetched_at.tzinfo is not None:
        return (now - status.fetched_at).total_seconds()
    return None


def age_words(status: SourceStatus, locale: str, now: datetime) -> str | None:
    """A source's age as a page words it at `now` ("il y a 3 min"; None: no age known)."""
    seconds = age_at(status, now)
    return i18n.format_age(seconds, locale) if seconds is not None else None


def short_error(status: SourceStatus) -> str | None:
    """Return the source's error text, clipped, for states other than "ok"."""
    if status.status is SourceState.OK or not status.error:
        return None
    error = " ".join(status.error.split())
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def source_line(name: str, status: SourceStatus, ctx: RenderContext) -> SourceLine:
    """Describe one source's answer in the page's locale."""
    key, tone = STATES[status.status]
    label = ctx.source_labels.get(name, name)
    return SourceLine(label, tone, i18n.text(key, ctx.locale),
                      age_words(status, ctx.locale, ctx.now), short_error(status))


class FreshnessBlock:
    """Where the record came from: name, a coloured dot, status, age and a short error."""

    key = "freshness"
    sections: frozenset[str] = frozenset()  # it lists every source's age itself

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return one line per source, or None when no source is recorded."""
        lines = [
            source_line(name, status, ctx)
            for name, status in profile.sources.items()
            if spec.allows(name)
        ]
        if not lines:
            return None
        return render_template("freshness.html", ctx, block=self.key, lines=lines)


# What each part of the canonical customer is made from, for cards that read it by path.
PATH_SECTIONS: dict[str, frozenset[str]] = {
    "flags": BLOCK_SECTIONS["badges"], "kpis": BLOCK_SECTIONS["kpis"],
    "sentiment": frozenset({"surveys"}), "identity": frozenset({"identity"}),
    "status": STATUS_SECTIONS, "contacts": frozenset({"contacts"}),
    "orders": frozenset({"orders"}), "store_purchases": frozenset({"store_purchases"}),
    "loyalty": frozenset({"loyalty"}), "reviews": frozenset({"reviews"}),
    "campaigns": frozenset({"campaigns"}), "notes": frozenset({"notes"}),
    "consent": frozenset({"consent"}),
}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def block_sections(block: object, spec: BlockSpec | None = None) -> frozenset[str] | None:
    """The sections a block shows: a card's, from the parts of the customer its paths read;
    a block's own `sections`; else the table's (None: unknown)."""
    card = getattr(spec, "card", None)
    if card is not None:
        names = {name for field in card.fields for name in NAME.findall(field.path)}
        return frozenset().union(*(PATH_SECTIONS[n] for n in names if n in PATH_SECTIONS))
    declared = getattr(block, "sections", None)
    return declared if declared is not None else BLOCK_SECTIONS.get(getattr(block, "key", ""))


def feeding_sources(sections: frozenset[str] | None, profile: CustomerProfile, spec: BlockSpec,
                    ctx: RenderContext) -> list[str]:
    """The sources whose data a block may show: they declare one of its sections and its spec
    allows them; a block that declares no sections is fed by its spec's sources, if named."""
    if sections is None:
        return [name for name in profile.sources if spec.sources and name in spec.sources]
    return [name for name in profile.sources
            if spec.allows(name) and ctx.source_sections.get(name, frozenset()) & sections]


def source_state(name: str, status: SourceStatus, ctx: RenderContext, *, age: bool = True) -> str:
    """One source's answer in a few words: "ERP : à jour · il y a 3 min"."""
    line = source_line(name, status, ctx)
    text = i18n.text("freshness.source_state", ctx.locale, name=line.name, status=line.status)
    return f"{text} · {line.age}" if age and line.age else text


def block_age(sections: frozenset[str] | None, profile: CustomerProfile, spec: BlockSpec,
              ctx: RenderContext) -> BlockAge | None:
    """The age of what a block shows: its oldest source's age, an old copy or a failed source
    said quietly; None when no source with a status fed it."""
    fed = [(n, profile.sources[n]) for n in feeding_sources(sections, profile, spec, ctx)]
    fed = [(n, s) for n, s in fed if s.status in SHOWN_STATES | DOWN_STATES]
    if not fed:
        return None
    shown = [s for _, s in fed if s.status in SHOWN_STATES]
    down = [(n, s) for n, s in fed if s.status in DOWN_STATES]
    stale = any(s.status is SourceState.STALE for s in shown)
    ages = [age for s in shown if (age := age_seconds(s, ctx)) is not None]
    parts = [i18n.text("source.stale", ctx.locale)] if stale else []
    parts += [i18n.format_age(max(ages), ctx.locale)] if ages else []
    parts += [source_state(n, s, ctx, age=False) for n, s in down]
    if not parts:
        return None
    tone = "down" if down else "stale" if stale else "ok"
    return BlockAge(tone, " · ".join(parts), "\n".join(source_state(n, s, ctx) for n, s in fed))


def source_note(sources: Iterable[str | None], profile: CustomerProfile,
                ctx: RenderContext) -> str:
    """Where values came from and how old they are, for a tooltip ("" when unknown)."""
    names = dict.fromkeys(n for n in sources if n and n in profile.sources)
    return "\n".join(source_state(n, profile.sources[n], ctx) for n in names)
