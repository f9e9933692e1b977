"""The badges block: a few pictogram badges for status (segment, lifecycle, win-back, ambassador,
ABC, tags) and flags."""

from __future__ import annotations

from connector import i18n
from connector.models import CustomerProfile, Flag
from connector.widgets.base import (
    BlockSpec,
    FieldDescription,
    Item,
    RenderContext,
    Row,
    describe,
    render_template,
    translated,
    value_text,
)

HIGHLIGHTED_SEGMENTS = frozenset({"vip"})
LIFECYCLE_TONES: dict[str, str] = {"new": "info", "dormant": "warn", "lost": "warn"}

# Flag icon names (as flag rules declare them) -> pictogram; a short icon is shown as given.
FLAG_ICONS: dict[str, str] = {
    "star": "★",
    "vip": "★",
    "warning": "⚠",
    "alert": "⚠",
    "complaint": "⚠",
    "frown": "☹",
    "sad": "☹",
    "negative_review": "☹",
    "detractor": "☹",
    "smile": "☺",
    "heart": "♥",
    "ambassador": "♥",
    "megaphone": "📣",
    "winback": "↺",
    "sleep": "☾",
    "dormant": "☾",
}
FLAG_TONES: dict[str, str] = {
    "vip": "vip",
    "ambassador": "good",
    "negative_review": "bad",
    "detractor": "bad",
    "complaint": "bad",
    "past_complaint": "warn",
}
DEFAULT_FLAG_ICON = "⚑"
DEFAULT_FLAG_TONE = "warn"


def flag_icon(icon: str) -> str:
    """Return the pictogram of a flag icon name; unknown long names get a plain flag."""
    known = FLAG_ICONS.get(icon.strip().lower())
    if known:
        return known
    return icon.strip() if 0 < len(icon.strip()) <= 2 else DEFAULT_FLAG_ICON


def flag_item(flag: Flag, ctx: RenderContext) -> Item:
    """Return a flag as a badge: icon and label in its rule's tone, its reason shown under it
    (and since when, as the tooltip)."""
    title = ""
    if flag.since is not None:
        since = i18n.format_date(flag.since, ctx.locale)
        title = i18n.text("badge.flag_since", ctx.locale, reason=flag.label, date=since)
    tone = flag.tone or FLAG_TONES.get(flag.key, DEFAULT_FLAG_TONE)
    same = flag.reason.strip().casefold() == flag.label.strip().casefold()
    return Item(flag.label, icon=flag_icon(flag.icon), tone=tone, title=title,
                detail="" if same else flag.reason)


def _flagged(profile: CustomerProfile, key: str) -> bool:
    """The record carries this flag: its badge, with the reason, says it already."""
    return any(flag.key == key for flag in profile.flags)


def segment(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the marketing segment, named in the page's language (`sidebar.values`); a VIP
    segment (as the source wrote it) stands out."""
    value = (profile.status.segment or "").strip()
    shown = value_text("status.segment", value, ctx)
    if not shown:
        return None
    title = i18n.text("badge.segment", ctx.locale)
    if value.lower() in HIGHLIGHTED_SEGMENTS:
        return Item(shown, icon="★", tone="vip", title=title)
    return Item(shown, tone="neutral", title=title)


def lifecycle(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the lifecycle stage, translated when it is one of the known stages."""
    stage = translated("lifecycle", profile.status.lifecycle, ctx.locale)
    if stage is None:
        return None
    tone = LIFECYCLE_TONES.get((profile.status.lifecycle or "").strip().lower(), "neutral")
    return Item(stage, tone=tone, title=i18n.text("badge.lifecycle", ctx.locale))


def ambassador(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the ambassador badge when the record makes the customer one (docs/segments.md)."""
    if not profile.status.ambassador or _flagged(profile, "ambassador"):
        return None
    return Item(i18n.text("badge.ambassador", ctx.locale), icon="♥", tone="good",
                title=i18n.text("badge.ambassador_title", ctx.locale))


def win_back(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the win-back badge (valuable, no longer ordering), with the last order's date."""
    if not profile.status.win_back or _flagged(profile, "win_back"):
        return None
    last = profile.kpis.last_order_date
    title = (i18n.text("badge.win_back_title", ctx.locale,
                       date=i18n.format_date(last, ctx.locale))
             if last is not None else i18n.text("badge.win_back_undated", ctx.locale))
    return Item(i18n.text("badge.win_back", ctx.locale), icon="↺", tone="warn", title=title)


def abc_class(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the ABC class ("Classe A"), with when the `segments` job computed it."""
    value = (profile.status.abc_class or "").strip()
    if not value:
        return None
    label = i18n.text("badge.abc", ctx.locale, value=value)
    if profile.status.abc_overridden:  # an admin's tag or list, not the job's computation
        return Item(label, tone="neutral", title=i18n.text("badge.abc_overridden", ctx.locale))
    return Item(label, tone="neutral",
                title=_computed(i18n.text("badge.abc_title", ctx.locale), profile, ctx))


def rfm(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the RFM scores ("RFM 5-4-5"): recency, frequency, monetary, 1 to 5 each."""
    scores = profile.status.rfm
    if scores is None:
        return None
    title = i18n.text("badge.rfm_title", ctx.locale, r=scores.r, f=scores.f, m=scores.m)
    return Item(f"RFM {scores.r}-{scores.f}-{scores.m}", tone="neutral",
                title=_computed(title, profile, ctx))


def _computed(title: str, profile: CustomerProfile, ctx: RenderContext) -> str:
    """The title, and the date the `segments` job computed the classes (they age)."""
    at = profile.status.classes_at
    if at is None:
        return title
    return i18n.text("badge.computed_at", ctx.locale, title=title,
                     date=i18n.format_date(at.date(), ctx.locale))


def tags(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """Return the status tags (subscriber, professional, key account…), named in the page's
    language (`sidebar.values`)."""
    title = i18n.text("badge.tag", ctx.locale)
    shown = (value_text("status.tags", tag, ctx) for tag in profile.status.tags)
    return [Item(text, tone="neutral", title=title) for text in shown if text]


def flags(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """The flags the record carries, in its order (the record holds the first
    `flags.max_shown`: the manifest, not this block, says how many are shown)."""
    return [flag_item(flag, ctx) for flag in profile.flags]


BADGE_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription("segment", "badge.segment", segment),
    FieldDescription("lifecycle", "badge.lifecycle", lifecycle),
    FieldDescription("win_back", "badge.win_back", win_back),
    FieldDescription("ambassador", "badge.ambassador", ambassador),
    FieldDescription("abc_class", "badge.abc_title", abc_class),
    FieldDescription("rfm", "badge.rfm", rfm),
    FieldDescription("tags", "badge.tag", tags),
    FieldDescription("flags", "badge.flags", flags),
)


def without_repeats(rows: list[Row]) -> list[Row]:
    """Drop badges whose text another already shows: a flag (which says why) over a status
    badge (a "VIP" segment and a VIP flag), else the first."""
    seen = {item.text.casefold() for row in rows if row.key == "flags" for item in row.items}
    kept = []
    for row in rows:
        if row.key == "flags":
            kept.append(row)
            continue
        items = tuple(item for item in row.items if item.text.casefold() not in seen)
        seen.update(item.text.casefold() for item in items)
        if items:
            kept.append(Row(row.key, row.label, items))
    return kept


class BadgesBlock:
    """What the customer represents, as a short line of badges, then their flags."""

    key = "badges"
    fields = BADGE_FIELDS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the badges, or None when the customer has no status and no flag."""
        rows = without_repeats(describe(self.fields, profile, ctx))
        if not rows:
            return None
        return render_template("badges.html", ctx, block=self.key, rows=rows)
