"""The sentiment block: last satisfaction as a face, its trend as a sparkline, NPS and CES.

Pictograms are inline SVG, not emoji: emoji fonts are missing on many agents' machines (Debian's
Chromium shows empty boxes). The face's mouth and colour say the level of the four-level
satisfaction scale (tool 9); the score stays written beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connector import i18n
from connector.models import CustomerProfile, Sentiment
from connector.widgets.base import (
    BlockSpec,
    FieldDescription,
    Item,
    RenderContext,
    date_text,
    describe,
    render_template,
)

SCALE = Decimal(10)  # satisfaction scores are on 0–10


@dataclass(frozen=True)
class Mood:
    """A satisfaction level: the lowest score /10 it starts at, its name, colour and mouth."""

    min_score: Decimal
    key: str  # i18n "mood.<key>"
    tone: str
    mouth: str  # SVG path of the face's mouth in a 24 × 24 box


MOODS: tuple[Mood, ...] = (
    Mood(Decimal(8), "very_satisfied", "good", "M7 13.5 Q12 20 17 13.5"),
    Mood(Decimal(6), "satisfied", "good", "M8 15 Q12 18 16 15"),
    Mood(Decimal(4), "dissatisfied", "warn", "M8 17 Q12 14 16 17"),
    Mood(Decimal(0), "very_dissatisfied", "bad", "M7 18 Q12 11.5 17 18"),
)


@dataclass(frozen=True)
class Direction:
    """Where the trend goes: its word, arrow and colour."""

    key: str  # i18n "trend.<key>"
    arrow: str
    tone: str


# Sign of (last score − first score), outside a dead band of FLAT_BAND -> direction.
DIRECTIONS: dict[int, Direction] = {
    1: Direction("up", "↗", "good"),
    0: Direction("flat", "→", "muted"),
    -1: Direction("down", "↘", "bad"),
}
FLAT_BAND = Decimal("0.5")

NPS_TONES: dict[str, str] = {"promoter": "good", "passive": "warn", "detractor": "bad"}
# CES on 1–5, lower is better: (highest score, tone), the first that holds wins.
CES_TONES: tuple[tuple[Decimal, str], ...] = (
    (Decimal(2), "good"),
    (Decimal("3.5"), "warn"),
    (Decimal(5), "bad"),
)
CES_SCALE = 5
MIN_TREND = 3  # scores before a sparkline says where satisfaction goes

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 72, 20, 2


@dataclass(frozen=True)
class Face:
    """The last satisfaction, ready to draw."""

    mood: Mood
    label: str
    score: str


@dataclass(frozen=True)
class Sparkline:
    """The satisfaction trend, ready to draw as an inline SVG polyline."""

    points: str
    last: tuple[str, str]
    label: str
    direction: Direction
    word: str
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def last_score(sentiment: Sentiment) -> Decimal | None:
    """Return the last satisfaction score, else the trend's last point."""
    if sentiment.last_satisfaction is not None:
        return sentiment.last_satisfaction
    return sentiment.trend[-1].score if sentiment.trend else None


def mood_of(score: Decimal) -> Mood:
    """Return the satisfaction level of a score /10."""
    return next((mood for mood in MOODS if score >= mood.min_score), MOODS[-1])


def face(profile: CustomerProfile, ctx: RenderContext) -> Face | None:
    """Return the face of the last satisfaction, or None when no survey was answered."""
    score = last_score(profile.sentiment)
    if score is None:
        return None
    mood = mood_of(score)
    shown = f"{i18n.format_number(score, ctx.locale)}/10"
    return Face(mood, i18n.text(f"mood.{mood.key}", ctx.locale), shown)


def spark_point(index: int, count: int, score: Decimal) -> tuple[str, str]:
    """Return the SVG coordinates of the trend's `index`-th score out of `count`."""
    span_x, span_y = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD
    bounded = min(max(score, Decimal(0)), SCALE)
    x = SPARK_PAD + span_x * index / (count - 1)
    y = SPARK_PAD + float(span_y * (SCALE - bounded) / SCALE)
    return f"{x:.1f}", f"{y:.1f}"


def sparkline(profile: CustomerProfile, ctx: RenderContext) -> Sparkline | None:
    """Return the trend as a sparkline, oldest first, from `MIN_TREND` scores (two points
    draw a line, not a trend)."""
    trend = profile.sentiment.trend
    if len(trend) < MIN_TREND:
        return None
    points = [spark_point(i, len(trend), point.score) for i, point in enumerate(trend)]
    values = ", ".join(i18n.format_number(point.score, ctx.locale) for point in trend)
    change = trend[-1].score - trend[0].score
    sign = 0 if abs(change) < FLAT_BAND else (1 if change > 0 else -1)
    direction = DIRECTIONS[sign]
    return Sparkline(
        points=" ".join(f"{x},{y}" for x, y in points),
        last=points[-1],
        label=i18n.text("sentiment.trend_label", ctx.locale, values=values),
        direction=direction,
        word=i18n.text(f"trend.{direction.key}", ctx.locale),
    )


def nps(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the last NPS answer with its category, coloured."""
    answer = profile.sentiment.nps
    if answer is None:
        return None
    category = i18n.text(f"nps.{answer.category}", ctx.locale)
    title = i18n.text("sentiment.nps_title", ctx.locale)
    answered = date_text(answer.date, ctx)
    if answered:
        title = f"{title} · {i18n.text('sentiment.answered', ctx.locale, date=answered)}"
    text = f"{answer.score}/10 · {category}"
    return Item(text, tone=NPS_TONES[answer.category], title=title)


def ces(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the mean effort score on 1–5, coloured (lower is better)."""
    score = profile.sentiment.ces
    if score is None:
        return None
    tone = next((tone for top, tone in CES_TONES if score <= top), CES_TONES[-1][1])
    text = i18n.text("sentiment.ces_value", ctx.locale,
                     score=f"{i18n.format_number(score, ctx.locale)}/{CES_SCALE}")
    return Item(text, tone=tone, title=i18n.text("sentiment.ces_title", ctx.locale))


SENTIMENT_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription("nps", "sentiment.nps", nps),
    FieldDescription("ces", "sentiment.ces", ces),
)


class SentimentBlock:
    """How the customer feels: a face and score, the trend, their NPS answer and effort score."""

    key = "sentiment"
    fields = SENTIMENT_FIELDS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the sentiment lines, or None when the customer answered no survey."""
        shown_face = face(profile, ctx)
        spark = sparkline(profile, ctx)
        rows = describe(self.fields, profile, ctx)
        if shown_face is None and spark is None and not rows:
            return None
        return render_template(
            "sentiment.html", ctx, block=self.key, face=shown_face, spark=spark, rows=rows
        )
