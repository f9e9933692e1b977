"""Segments computed from the customer's own record (management toolbox, tools 14, 17, 46):
the lifecycle stage, the lifetime value, ambassador and win-back. Pure functions of the record's
sections, the manifest's `segments:` and `now`; docs/segments.md gives the definitions and
their defaults. Segments that need the whole customer base (ABC, RFM quintiles) are not here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from pydantic import Field, model_validator

from connector.config import Strict
from connector.models import ContactEvent, CustomerProfile, Order, Review, SurveyAnswer

CENT = Decimal("0.01")
STAGES = ("prospect", "new", "active", "dormant", "lost")
Prefer = Literal["computed", "source"]


class LifecycleRules(Strict):
    """Tool 14: prospect (no purchase), new (first purchase within `new_days`), active (a
    purchase within `active_days`), dormant (the last one older, within `lost_days`), lost."""

    new_days: int = Field(default=90, ge=1, le=3650)
    active_days: int = Field(default=365, ge=1, le=3650)
    lost_days: int = Field(default=730, ge=1, le=7300)
    # "source": a lifecycle a source gives stands, the computed one fills in where none does
    prefer: Prefer = "computed"

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleRules:
        if self.new_days > self.active_days:
            raise ValueError("new_days must not exceed active_days")
        if self.active_days >= self.lost_days:
            raise ValueError("active_days must be less than lost_days")
        return self


class LifetimeValueRules(Strict):
    """Tool 17: the value the customer brought minus what they cost. By default, over their
    history: total spend × margin − acquisition − cost per order × orders − cost per contact ×
    contacts."""

    margin: Decimal = Field(default=Decimal("0.3"), ge=0, le=1)
    acquisition_cost: Decimal = Field(default=Decimal(0), ge=0)
    cost_per_order: Decimal = Field(default=Decimal(0), ge=0)
    cost_per_contact: Decimal = Field(default=Decimal(0), ge=0)
    prefer: Prefer = "computed"  # "source": a lifetime value a source gives stands


class AmbassadorRules(Strict):
    """Tool 46, within the last `within_days`: positive ratings (a review rated at least
    `positive_share` of its scale, an NPS or satisfaction answer of at least `positive_score`),
    frequent interactions (contacts) or constructive feedback (a comment with a survey answer,
    a written review that is not negative), and no negative rating."""

    within_days: int = Field(default=730, ge=1, le=7300)
    min_positive: int = Field(default=2, ge=1, le=100)
    positive_share: Decimal = Field(default=Decimal("0.8"), gt=0, le=1)
    positive_score: int = Field(default=9, ge=0, le=10)
    negative_share: Decimal = Field(default=Decimal("0.4"), ge=0, lt=1)
    negative_score: int = Field(default=6, ge=0, le=10)
    min_contacts: int = Field(default=3, ge=1, le=1000)
    min_constructive: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _apart(self) -> AmbassadorRules:
        if self.negative_share >= self.positive_share:
            raise ValueError("negative_share must be less than positive_share")
        if self.negative_score >= self.positive_score:
            raise ValueError("negative_score must be less than positive_score")
        return self


class WinBackRules(Strict):
    """Dormant but valuable: a lifecycle stage in `stages`, and a total spend of at least
    `min_total_spend`, or a lifetime value of at least `min_lifetime_value`, or an ABC class in
    `abc_classes` (given by a source)."""

    stages: list[Literal["dormant", "lost"]] = Field(default=["dormant", "lost"], min_length=1)
    min_total_spend: Decimal | None = Field(default=Decimal(1000), ge=0)
    min_lifetime_value: Decimal | None = Field(default=None, ge=0)
    abc_classes: list[str] = ["A"]

    @model_validator(mode="after")
    def _valuable(self) -> WinBackRules:
        if (self.min_total_spend is None and self.min_lifetime_value is None
                and not self.abc_classes):
            raise ValueError("set min_total_spend, min_lifetime_value or abc_classes: "
                             "nobody would be valuable")
        return self


class SegmentRules(Strict):
    """The manifest's `segments:`."""

    lifecycle: LifecycleRules = LifecycleRules()
    lifetime_value: LifetimeValueRules = LifetimeValueRules()
    ambassador: AmbassadorRules = AmbassadorRules()
    win_back: WinBackRules = WinBackRules()


class SegmentSettings(Protocol):
    """The part of the manifest segments are computed by (the manifest satisfies it)."""

    @property
    def segments(self) -> SegmentRules: ...


@dataclass(frozen=True)
class Segments:
    """What the record says of the customer, computed."""

    lifecycle: str | None
    lifetime_value: Decimal | None
    ambassador: bool
    win_back: bool


def lifecycle_stage(purchases: Sequence[Order], rules: LifecycleRules, today: dt.date, *,
                    orders_count: int | None = None,
                    last_order: dt.date | None = None) -> str | None:
    """The stage from the dated purchases (counted ones: cancellations left out by the caller),
    each duration inclusive (a first purchase exactly `new_days` ago is still new). A source's
    own figures count too: `orders_count` above the purchases read means older ones exist (the
    customer is not new; Shopify lists 60 days of orders), `last_order` may be later than
    those read. None when the customer bought but no date says when."""
    unseen = orders_count is not None and orders_count > len(purchases)
    if not purchases and not unseen:
        return "prospect"
    dates = [p.date for p in purchases if p.date is not None]
    last = max([*dates, *([last_order] if last_order else [])], default=None)
    if last is None:
        return None
    if dates and not unseen and (today - min(dates)).days <= rules.new_days:
        return "new"
    age = (today - last).days
    if age <= rules.active_days:
        return "active"
    return "dormant" if age <= rules.lost_days else "lost"


def lifetime_value(total_spend: Decimal | None, orders: int, contacts: int,
                   rules: LifetimeValueRules) -> Decimal | None:
    """total spend × margin − acquisition − cost per order × orders − cost per contact ×
    contacts, to the cent; None for a customer who never bought."""
    if not orders and total_spend is None:
        return None
    value = ((total_spend or Decimal(0)) * rules.margin - rules.acquisition_cost
             - rules.cost_per_order * orders - rules.cost_per_contact * contacts)
    return value.quantize(CENT, ROUND_HALF_UP)


def _share(review: Review) -> Decimal | None:
    if review.rating is None:
        return None
    scale = review.max_rating or Decimal(5)
    return review.rating / scale if scale else None


def is_ambassador(reviews: Sequence[Review], surveys: Sequence[SurveyAnswer],
                  contacts: Sequence[ContactEvent], rules: AmbassadorRules,
                  today: dt.date) -> bool:
    """Positive ratings, and frequent contacts or constructive feedback, none negative, all
    within `rules.within_days` (undated ones do not count)."""
    since = today - dt.timedelta(days=rules.within_days)
    recent_reviews = [r for r in reviews if r.date is not None and r.date >= since]
    rated = [s for s in surveys if s.kind in ("nps", "csat")
             and s.date is not None and s.date >= since]
    shares = [share for r in recent_reviews if (share := _share(r)) is not None]
    if any(s <= rules.negative_share for s in shares) or any(
            s.score <= rules.negative_score for s in rated):
        return False
    positive = (sum(s >= rules.positive_share for s in shares)
                + sum(s.score >= rules.positive_score for s in rated))
    if positive < rules.min_positive:
        return False
    frequent = sum(c.date is not None and c.date.date() >= since
                   for c in contacts) >= rules.min_contacts
    constructive = (sum(bool((s.comment or "").strip()) for s in rated)
                    + sum(bool((r.excerpt or r.title or "").strip()) for r in recent_reviews))
    return frequent or constructive >= rules.min_constructive


def is_win_back(lifecycle: str | None, total_spend: Decimal | None, value: Decimal | None,
                abc_class: str | None, rules: WinBackRules) -> bool:
    """Dormant (or lost, if the manifest says so) and valuable."""
    if lifecycle not in rules.stages:
        return False
    return ((rules.min_total_spend is not None and total_spend is not None
             and total_spend >= rules.min_total_spend)
            or (rules.min_lifetime_value is not None and value is not None
                and value >= rules.min_lifetime_value)
            or (abc_class is not None and abc_class in rules.abc_classes))


def compute_segments(profile: CustomerProfile, purchases: Sequence[Order],
                     surveys: Sequence[SurveyAnswer], contacts: Sequence[ContactEvent],
                     rules: SegmentRules, now: dt.datetime, *,
                     purchases_complete: bool = True) -> Segments:
    """The customer's segments: `profile` is the assembled record (its KPIs and what sources
    gave), `purchases` those its KPIs count, `surveys` and `contacts` its input sections.
    `purchases_complete` is False when a source of purchases did not answer: "prospect" is then
    not known (None); the other stages stand on what was read, the block's age says the rest."""
    today = now.date()
    given = profile.status.lifecycle
    kpis = profile.kpis
    stage = (given if rules.lifecycle.prefer == "source" and given
             else lifecycle_stage(purchases, rules.lifecycle, today,
                                  orders_count=kpis.orders_count,
                                  last_order=kpis.last_order_date))
    if stage == "prospect" and not purchases_complete and not given:
        stage = None
    value = (kpis.lifetime_value if rules.lifetime_value.prefer == "source"
             and kpis.lifetime_value is not None
             else lifetime_value(kpis.total_spend, kpis.orders_count or 0,
                                 profile.contacts.count, rules.lifetime_value))
    return Segments(
        lifecycle=stage,
        lifetime_value=value,
        ambassador=profile.status.ambassador or is_ambassador(
            profile.reviews, surveys, contacts, rules.ambassador, today),
        win_back=profile.status.win_back or is_win_back(
            stage, kpis.total_spend, value, profile.status.abc_class, rules.win_back),
    )


def apply_segments(profile: CustomerProfile, purchases: Sequence[Order],
                   surveys: Sequence[SurveyAnswer], contacts: Sequence[ContactEvent],
                   rules: SegmentRules, now: dt.datetime, *,
                   purchases_complete: bool = True) -> None:
    """Set the record's `status.lifecycle`, `status.ambassador`, `status.win_back` and
    `kpis.lifetime_value` to its computed segments."""
    found = compute_segments(profile, purchases, surveys, contacts, rules, now,
                             purchases_complete=purchases_complete)
    profile.status.lifecycle = found.lifecycle
    profile.status.ambassador = found.ambassador
    profile.status.win_back = found.win_back
    profile.kpis.lifetime_value = found.lifetime_value
