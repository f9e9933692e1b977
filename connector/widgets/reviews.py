"""The reviews block: each review's site, rating, date and title; the verbatim behind a click.

A recent negative review is marked, and the block then asks to be placed above the orders:
"much more useful than two years of order detail" (SEED-NOTES, sentiment). Its thresholds are
the defaults of the manifest's negative-review flag (`flags.negative_review_*`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from connector import i18n
from connector.customer.flags import is_recent_negative
from connector.models import CustomerProfile, Review
from connector.widgets.base import (
    BlockSpec,
    Item,
    MoveAbove,
    PartDescription,
    RenderContext,
    date_text,
    describe_parts,
    render_template,
    safe_url,
)
from connector.widgets.freshness import source_note

MAX_REVIEWS = 5
DEFAULT_MAX_RATING = Decimal(5)
# Share of the maximum rating -> colour of the stars; the first bound at or above the share wins.
RATING_TONES: tuple[tuple[Decimal, str], ...] = (
    (Decimal("0.4"), "bad"),
    (Decimal("0.7"), "warn"),
    (Decimal(1), "good"),
)
STAR = "★"

@dataclass(frozen=True)
class ReviewView:
    """One review, ready to show."""

    meta: tuple[tuple[str, Item], ...]
    title: str | None
    excerpt: str | None
    url: str | None
    negative: bool


def max_rating(review: Review) -> Decimal:
    """Return the review's rating scale (5 when the site does not say)."""
    return review.max_rating or DEFAULT_MAX_RATING


def recent_negative(review: Review, ctx: RenderContext) -> bool:
    """Tell whether a review is recent and negative, by the manifest's flag rule."""
    today = ctx.now.astimezone(ZoneInfo(ctx.timezone)).date()
    return is_recent_negative(review, ctx.flag_rules, today)


def visible_reviews(profile: CustomerProfile, spec: BlockSpec) -> list[Review]:
    """Return the reviews allowed by the spec, newest first."""
    allowed = [review for review in profile.reviews if spec.allows(review.source)]
    return sorted(allowed, key=lambda review: review.date or date.min, reverse=True)


def has_recent_negative_review(
    profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext
) -> bool:
    """Tell whether the block shows a recent negative review (it then goes above the orders)."""
    return any(recent_negative(review, ctx) for review in visible_reviews(profile, spec))


def site(review: Review, ctx: RenderContext) -> Item | None:
    """Return the review site, else the label of the source it came from."""
    name = review.site or (ctx.source_labels.get(review.source, review.source) if review.source
                           else None)
    return Item(name) if name else None


def stars(review: Review, ctx: RenderContext) -> Item | None:
    """Return the rating as text ("2/5") with a star, coloured by its share of the scale."""
    if review.rating is None:
        return None
    top = max_rating(review)
    rating, scale = (i18n.format_number(value, ctx.locale) for value in (review.rating, top))
    share = review.rating / top if top else Decimal(0)
    tone = next((tone for bound, tone in RATING_TONES if share <= bound), RATING_TONES[-1][1])
    title = i18n.text("review.rating_title", ctx.locale, rating=rating, max=scale)
    return Item(f"{rating}/{scale}", icon=STAR, tone=tone, title=title)


def day(review: Review, ctx: RenderContext) -> Item | None:
    """Return the day the review was left."""
    shown = date_text(review.date, ctx)
    return Item(shown) if shown else None


# The parts of a review's first line.
REVIEW_PARTS: tuple[PartDescription[Review], ...] = (
    PartDescription("site", site),
    PartDescription("rating", stars),
    PartDescription("date", day),
)


def review_view(
    review: Review, parts: Sequence[PartDescription[Review]], ctx: RenderContext
) -> ReviewView:
    """Describe one review with the table of its first line's parts."""
    meta = describe_parts(parts, review, ctx)
    title = (review.title or "").strip() or None
    excerpt = (review.excerpt or "").strip() or None
    return ReviewView(meta, title, excerpt, safe_url(review.url), recent_negative(review, ctx))


class ReviewsBlock:
    """The reviews the customer left, newest first; a recent negative one goes above the orders."""

    key = "reviews"
    parts = REVIEW_PARTS
    max_reviews = MAX_REVIEWS
    moves_above = (MoveAbove("orders", has_recent_negative_review),)

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the latest reviews, or None when the customer left none."""
        reviews = visible_reviews(profile, spec)
        if not reviews:
            return None
        views = [review_view(review, self.parts, ctx) for review in reviews[: self.max_reviews]]
        hidden = len(reviews) - len(views)
        more = i18n.plural_text("review.more", hidden, ctx.locale) if hidden > 0 else None
        origins = [source_note([review.source], profile, ctx) for review in reviews[: len(views)]]
        return render_template("reviews.html", ctx, block=self.key, reviews=views, more=more,
                               origins=origins)
