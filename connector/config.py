"""What every manifest model shares: `Strict` (unknown keys are errors) and the brand (whose
service this is, its language, money, country and time zone), which every layer reads. The
bottom layer: nothing of ours is imported here."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Strict(BaseModel):
    """A manifest model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ISO_CODES = {
    "currency": (r"[A-Z]{3}", "must be a three-letter ISO 4217 code, e.g. EUR"),
    "default_region": (r"[A-Z]{2}", "must be a two-letter ISO 3166 country code, e.g. FR"),
}


class Brand(Strict):
    """Whose service this is, and how its numbers and dates are written."""

    name: str = "Connector"
    locale: Literal["fr", "en"] = "fr"
    currency: str = "EUR"
    default_region: str = "FR"
    timezone: str = "Europe/Paris"

    @field_validator("currency", "default_region")
    @classmethod
    def _iso_code(cls, value: str, info: ValidationInfo) -> str:
        pattern, message = ISO_CODES[info.field_name or ""]
        if not re.fullmatch(pattern, value):
            raise ValueError(message)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone, e.g. Europe/Paris") from exc
        return value
