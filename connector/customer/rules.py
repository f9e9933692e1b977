"""The manifest's rules for the record, as the customer package reads them: how activity
figures are computed (`kpis:`), the thresholds of the alerts (`flags:`), and `RecordSettings`,
the part of the manifest a record is assembled from (the manifest satisfies it; this package
never imports the manifest, which sits above it)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal, Protocol

from pydantic import Field

from connector.config import Brand, Strict
from connector.sources.base import SourceConfig


class KpiRules(Strict):
    """How activity figures are computed from purchases and surveys."""

    purchases: list[Literal["orders", "store_purchases"]] = ["orders", "store_purchases"]
    exclude_statuses: list[str] = ["cancelled", "quotation"]
    satisfaction_window: int = Field(default=5, ge=1, le=100)
    repeat_window_days: int = Field(default=7, ge=1, le=365)


class FlagRules(Strict):
    """Thresholds of the few alerts shown at the top of the record."""

    vip_segments: list[str] = ["VIP"]
    vip_tags: list[str] = ["vip"]
    negative_review_days: int = Field(default=90, ge=1)
    negative_review_max_share: Decimal = Field(default=Decimal("0.4"), ge=0, le=1)
    complaint_reasons: list[str] = ["réclamation", "plainte", "litige"]
    # first reply to a complaint within this many hours (tools 48–52: 24 h, some pages 48 h)
    complaint_reply_hours: int = Field(default=24, ge=1, le=720)
    max_shown: int = Field(default=3, ge=0, le=10)


class RecordSettings(Protocol):
    """What the record is assembled by: the brand, the sources in the manifest's order, the
    KPI and flag rules."""

    @property
    def brand(self) -> Brand: ...

    @property
    def sources(self) -> Mapping[str, SourceConfig]: ...

    @property
    def kpis(self) -> KpiRules: ...

    @property
    def flags(self) -> FlagRules: ...
