"""The freshness block: one quiet line per source saying how it answered and how old its data is."""

from __future__ import annotations

from dataclasses import dataclass

from connector import i18n
from connector.models import CustomerProfile, SourceState, SourceStatus
from connector.widgets.base import BlockSpec, RenderContext, render_template

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


@dataclass(frozen=True)
class SourceLine:
    """How one source answered, ready to show."""

    name: str
    tone: str
    status: str
    age: str | None
    error: str | None


def age_seconds(status: SourceStatus, ctx: RenderContext) -> float | None:
    """Return the age of a source's data: as given, else from when it was fetched."""
    if status.age_s is not None:
        return status.age_s
    if status.fetched_at is not None and status.fetched_at.tzinfo is not None:
        return (ctx.now - status.fetched_at).total_seconds()
    return None


def short_error(status: SourceStatus) -> str | None:
    """Return the source's error text, clipped, for states other than "ok"."""
    if status.status is SourceState.OK or not status.error:
        return None
    error = " ".join(status.error.split())
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def source_line(name: str, status: SourceStatus, ctx: RenderContext) -> SourceLine:
    """Describe one source's answer in the page's locale."""
    key, tone = STATES[status.status]
    seconds = age_seconds(status, ctx)
    age = i18n.format_age(seconds, ctx.locale) if seconds is not None else None
    label = ctx.source_labels.get(name, name)
    return SourceLine(label, tone, i18n.text(key, ctx.locale), age, short_error(status))


class FreshnessBlock:
    """Where the record came from: name, a coloured dot, status, age and a short error."""

    key = "freshness"

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
