"""What a mapped answer keeps and drops. The scales of the canonical scores are checked where
a source's answer is mapped: a value off its scale (an NPS of 11, a CSAT on 0–100 with no
`scale: -1`), a label where a number is expected ("non concerné"), a value its field refuses,
is dropped there with a log line naming the source and the field (never the value), so no
consumer of the record ever meets it, and the rest of the answer stands."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

ZERO, TEN = Decimal(0), Decimal(10)
# survey kind -> (lowest, highest, whole numbers only): NPS 0–10 (tool 35; the buckets start
# at 0), satisfaction on 0–10 as the record shows it, effort 1–5 (tool 36)
SURVEY_SCALES: dict[str, tuple[Decimal, Decimal, bool]] = {
    "nps": (ZERO, TEN, True),
    "csat": (ZERO, TEN, False),
    "ces": (Decimal(1), Decimal(5), False),
}
# other scores of the sections a source fills: section -> field -> (lowest, highest)
FIELD_SCALES: dict[str, dict[str, tuple[Decimal, Decimal]]] = {
    "kpis": {"satisfaction": (ZERO, TEN)},
}


def in_survey_scale(kind: str, score: Decimal) -> bool:
    """Whether a survey answer's score is on its kind's scale (an unknown kind: any number)."""
    scale = SURVEY_SCALES.get(kind)
    if scale is None:
        return score.is_finite()
    low, high, whole = scale
    whole_enough = not whole or score == score.to_integral_value()
    return score.is_finite() and low <= score <= high and whole_enough


def off_scale(section: str, values: dict[str, Any]) -> list[str]:
    """The fields of one mapped item whose number is off its scale (dotted names)."""
    bad = [name for name, (low, high) in FIELD_SCALES.get(section, {}).items()
           if isinstance(values.get(name), Decimal) and not low <= values[name] <= high]
    score = values.get("score")
    if section == "surveys" and isinstance(score, Decimal) and not in_survey_scale(
            str(values.get("kind") or "csat"), score):
        bad.append("score")
    if section == "reviews" and isinstance(values.get("rating"), Decimal):
        top = values.get("max_rating")
        top = top if isinstance(top, Decimal) and top > 0 else Decimal(5)
        if not ZERO <= values["rating"] <= top:
            bad.append("rating")
    return bad


@dataclass
class Mapped:
    """The canonical sections read from one answer, and what had to be dropped from it: one
    line per value or item, naming where it was ("surveys[2].score: off its scale"), never
    the value itself."""

    sections: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """How many values or items were dropped."""
        return len(self.problems)

    def drop(self, source: str, where: str, why: str) -> None:
        """Note a value or an item dropped, and log it by source and field (not its value)."""
        log.warning("source %s: dropped %s (%s)", source, where, why)
        self.problems.append(f"{where}: {why}")


@dataclass(frozen=True)
class Place:
    """Where a mapped item is: its section, its path in the answer, and the source."""

    section: str
    where: str
    source: str


def validated(model: type[BaseModel], values: dict[str, Any], place: Place,
              out: Mapped) -> BaseModel | None:
    """The item, its invalid values dropped; None (the item dropped) when it cannot stand
    without them."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        bad = sorted({_loc(e["loc"]) for e in exc.errors()})
    for dotted in bad:
        _pop_dotted(values, dotted)
    try:
        item = model.model_validate(values)
    except ValidationError as exc:
        missing = sorted({_loc(e["loc"]) for e in exc.errors()})
        out.drop(place.source, place.where, f"the item, without a valid {', '.join(missing)}")
        return None
    for dotted in bad:
        out.drop(place.source, f"{place.where}.{dotted}", "invalid")
    return item


def _loc(loc: tuple[int | str, ...]) -> str:
    """A validation error's location as a dotted field name (up to any list index)."""
    parts = []
    for part in loc:
        if not isinstance(part, str):
            break
        parts.append(part)
    return ".".join(parts)


def _pop_dotted(target: dict[str, Any], dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        inner = target.get(part)
        if not isinstance(inner, dict):
            return
        target = inner
    target.pop(leaf, None)
