"""The manifest's `jobs:` section: when each scheduled job runs and how long what it purges is
kept, validated at the door, and the APScheduler 3 triggers the schedules become.

Interval schedules are aligned on a fixed origin (midnight of a Monday in 2000, brand time),
so every process computes the same fire times: that is what lets the database tell "this slot
was already run by another process" apart from "due now" (see `connector.jobs.runner`).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import Field, field_validator, model_validator

from connector.config import Strict
from connector.customer.ranking import AbcOverride

INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_S = 10
ORIGIN = dt.datetime(2000, 1, 3)  # a Monday, midnight: where interval slots are counted from


def interval_s(text: str) -> int:
    """Seconds in `30m`, `6h`, `1d`, `90s`; ValueError saying how to write one."""
    match = INTERVAL.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not an interval: a number and a unit (s, m, h, d), "
                         "e.g. 30m, 6h, 1d")
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if seconds < MIN_INTERVAL_S:
        raise ValueError(f"must be at least {MIN_INTERVAL_S}s")
    return seconds


def cron_trigger(text: str, timezone: str = "UTC") -> CronTrigger:
    """The trigger of a standard five-field crontab line; ValueError saying what is wrong."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"'{text}' is not a cron expression: five fields (minute hour "
                         "day-of-month month day-of-week), e.g. \"30 3 * * *\"")
    if re.search(r"(^|[,-])\d", fields[4]):
        # APScheduler 3 reads 0 as Monday, cron as Sunday: names leave no doubt
        raise ValueError(f"'{text}': write days of the week as names (mon-fri, sun), "
                         "not numbers")
    try:
        return CronTrigger.from_crontab(text, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a valid cron expression ({exc})") from exc


class Schedule(Strict):
    """When a job runs: `every: 6h` or `cron: "30 3 * * *"` (brand time zone), whether it
    runs at all, and how long a run may hold the job's cluster-wide lock."""

    DEFAULT_EVERY: ClassVar[str | None] = None
    DEFAULT_CRON: ClassVar[str | None] = None

    enabled: bool = True
    every: str | None = None
    cron: str | None = None
    # a process that died mid-run holds the lock until then; a run stops taking new work
    # before (so it never outlives its lease)
    lease_s: int = Field(default=3600, ge=60, le=86400)

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None:
            interval_s(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_trigger(value)
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Schedule:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        return self

    def describe(self) -> str:
        """The schedule as the admin wrote it (or its default): `every 6h`, `cron 30 3 * * *`."""
        cron = self.cron or (None if self.every else self.DEFAULT_CRON)
        return f"cron {cron}" if cron else f"every {self.every or self.DEFAULT_EVERY}"

    def trigger(self, timezone: str) -> BaseTrigger:
        """The APScheduler trigger, in the brand's time zone."""
        cron = self.cron or (None if self.every else self.DEFAULT_CRON)
        if cron:
            return cron_trigger(cron, timezone)
        zone = ZoneInfo(timezone)
        return IntervalTrigger(seconds=interval_s(self.every or self.DEFAULT_EVERY or "6h"),
                               start_date=ORIGIN.replace(tzinfo=zone), timezone=zone)


class RefreshFlagsJob(Schedule):
    """Look again at the people helpdesks asked about lately and write their flags back."""

    DEFAULT_EVERY = "6h"

    seen_days: int = Field(default=30, ge=1, le=365)  # people seen within this many days
    max_people: int = Field(default=500, ge=1, le=100_000)  # per run, most recently seen first
    pause_s: float = Field(default=0.5, ge=0, le=60)  # between two people: sources are shared


class PurgeJob(Schedule):
    """Delete what is older than its retention (data minimisation, SEED-NOTES "Privacy")."""

    DEFAULT_CRON = "30 3 * * *"

    contacts_days: int = Field(default=730, ge=1)  # requests recorded from helpdesk events
    events_days: int = Field(default=30, ge=1)  # worked or failed webhook events (ids only)
    failed_writebacks_days: int = Field(default=30, ge=1)  # write-backs given up on
    requesters_days: int = Field(default=365, ge=1)  # helpdesk person ids not seen since
    job_runs_days: int = Field(default=90, ge=1)  # the history of these jobs' runs
    # a person's links, name and refusals once no source confirmed them and no helpdesk asked
    # about them for this long (the CNIL's 3 years after the last contact, docs/jobs.md)
    people_days: int = Field(default=1095, ge=1)
    # agents' notes, after their last edit or the person's last contact, whichever is later
    notes_days: int = Field(default=1095, ge=1)
    # the audit trail (ids and counts only; the CNIL's logging guideline: 6 months to 1 year)
    audit_days: int = Field(default=365, ge=1)


class SegmentsJob(Schedule):
    """Classes that need the whole base (ABC, RFM), over the purchases of every source that
    declares a `purchases` listing."""

    DEFAULT_CRON = "0 4 * * *"

    window_days: int = Field(default=365, ge=1, le=3650)  # the purchases counted
    # the share of revenue of classes A, B and C, in percent
    abc_split: list[Decimal] = Field(default_factory=lambda: [Decimal(80), Decimal(15),
                                                              Decimal(5)])

    # fixed RFM cut points instead of the base's quintiles: four ascending numbers for any of
    # recency_days, frequency, monetary
    rfm_bins: dict[Literal["recency_days", "frequency", "monetary"], list[float]] = Field(
        default_factory=dict)
    # an admin's classes over the computed ones, by status tag or by customer (docs/segments.md)
    abc_override: AbcOverride = AbcOverride()

    @field_validator("rfm_bins")
    @classmethod
    def _bins(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, cuts in value.items():
            if len(cuts) != 4 or sorted(cuts) != cuts or len(set(cuts)) != 4:
                raise ValueError(f"{name}: four ascending cut points (scores 1 to 5 between "
                                 "them), e.g. [30, 90, 180, 365]")
        return value

    @field_validator("abc_split")
    @classmethod
    def _split(cls, value: list[Decimal]) -> list[Decimal]:
        if len(value) != 3 or sum(value) != 100 or any(share <= 0 for share in value):
            raise ValueError("three positive percentages (A, B, C) adding up to 100, "
                             "e.g. [80, 15, 5]")
        return value


class RefreshReviewsJob(Schedule):
    """Read the reviews published since the last run (every source's `changes.reviews`), look
    their known authors up again, write their flags back and note an alert on their ticket."""

    DEFAULT_EVERY = "15m"

    lease_s: int = Field(default=600, ge=60, le=86400)
    max_reviews: int = Field(default=500, ge=1, le=100_000)  # per run; the rest next run
    # a flag among these, dated the review's day, puts a note on the person's latest ticket;
    # `ticket`: the same, and without a recent ticket a new one is opened (helpdesks that can)
    alert: Literal["note", "ticket", "off"] = "note"
    alert_flags: list[str] = Field(default_factory=lambda: ["negative_review", "detractor",
                                                            "negative_survey"])
    # the ticket noted: the person's most recent one seen within this many days (ticket status
    # is not tracked)
    ticket_days: int = Field(default=14, ge=1, le=365)


class RefreshLoyaltyJob(Schedule):
    """Read the loyalty cards changed since the last run (every source's `changes.loyalty`),
    keep each known customer's tier, and write back the flags of those whose tier changed."""

    DEFAULT_EVERY = "1h"

    lease_s: int = Field(default=900, ge=60, le=86400)
    max_cards: int = Field(default=2000, ge=1, le=100_000)  # per run; the rest next run


class Jobs(Strict):
    """Every scheduled job, each with its defaults when the manifest does not name it."""

    refresh_flags: RefreshFlagsJob = RefreshFlagsJob()
    purge: PurgeJob = PurgeJob()
    segments: SegmentsJob = SegmentsJob()
    refresh_reviews: RefreshReviewsJob = RefreshReviewsJob()
    refresh_loyalty: RefreshLoyaltyJob = RefreshLoyaltyJob()

    def schedules(self) -> dict[str, Schedule]:
        """Job name → its settings, in the order jobs are listed."""
        return {"refresh_flags": self.refresh_flags, "purge": self.purge,
                "segments": self.segments, "refresh_reviews": self.refresh_reviews,
                "refresh_loyalty": self.refresh_loyalty}
