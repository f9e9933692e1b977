"""The manifest's rules for the record, as the customer package reads them: how activity
figures are computed (`kpis:`), the thresholds of the alerts (`flags:`), and `RecordSettings`,
the part of the manifest a record is assembled from (the manifest satisfies it; this package
never imports the manifest, which sits above it)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import yaml
from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connector.config import Brand, Strict
from connector.customer.expressions import Expression, ExpressionError, unwrap
from connector.customer.paths import purchase_path_problems
from connector.models import (
    Canonical,
    ContactEvent,
    CustomerProfile,
    Order,
    Review,
    SurveyAnswer,
)
from connector.sources.base import SourceConfig

PurchaseList = Literal["orders", "store_purchases"]


class DedupeRule(Strict):
    """One sale held by several sources (an in-store order in the e-shop's back office and in
    the POS export): purchases of these lists whose `key` is the same are one sale. `key` is
    a JMESPath over a purchase (`number`), or a list of them that must all match (`[number,
    store]`); a purchase without a value for it is never merged."""

    lists: list[PurchaseList] = Field(default=["orders", "store_purchases"], min_length=1)
    key: list[str] = Field(min_length=1)

    @field_validator("key", mode="before")
    @classmethod
    def _one_or_several(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("key")
    @classmethod
    def _over_a_purchase(cls, value: list[str]) -> list[str]:
        problems = [p for expression in value for p in purchase_path_problems(expression)]
        if problems:
            raise ValueError("; ".join(problems))
        return value


class KpiRules(Strict):
    """How activity figures are computed from purchases and surveys."""

    purchases: list[PurchaseList] = ["orders", "store_purchases"]
    dedupe: list[DedupeRule] = Field(default_factory=list)
    exclude_statuses: list[str] = ["cancelled", "quotation"]
    satisfaction_window: int = Field(default=5, ge=1, le=100)
    repeat_window_days: int = Field(default=7, ge=1, le=365)


KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PRESET = Path(__file__).with_name("flag_rules.yaml")
# what a rule may go `over`: the record's lists, and "contacts" the past contact events (the
# ticket being handled is never its own past)
OVER: dict[str, type[Canonical]] = {"reviews": Review, "surveys": SurveyAnswer,
                                     "contacts": ContactEvent, "orders": Order,
                                     "store_purchases": Order, "purchases": Order}
Tone = Literal["bad", "warn", "good", "vip", "info"]
Texts = dict[Literal["fr", "en"], str] | str


def _key(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"'{key}': a rule's key is lower-case letters, digits and _ (it "
                         "names the helpdesk tag: connector_<key>)")
    return key


RuleKey = Annotated[str, AfterValidator(_key)]


def preset_rules() -> dict[str, Any]:
    """The shipped rules (flag_rules.yaml), as the manifest would write them (a copy of the
    file read once)."""
    return copy.deepcopy(_preset_file())


@cache
def _preset_file() -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(PRESET.read_text(encoding="utf-8"))
    return rules


@cache
def no_rules() -> FlagRules:
    """Flag rules with none in them: what a record evaluated for something else than its
    flags (an action's `when:`, a customer type) is built with, once."""
    return FlagRules(preset="none")


def record_names(over: str | None, *, in_reason: bool = False) -> dict[str, Any]:
    """What an expression may name (name -> the model or type it stands for): the record's
    sections, `customer`, `settings`, `today`, and an `over` rule's item fields and `item`;
    a reason also `count` (how many items matched)."""
    sections = {name: unwrap(info.annotation)
                for name, info in CustomerProfile.model_fields.items()}
    names: dict[str, Any] = {**sections, "surveys": list, "customer": CustomerProfile,
                             "settings": FlagRules, "today": dt.date}
    if over is not None:
        item = OVER[over]
        names.update({name: unwrap(info.annotation)
                      for name, info in item.model_fields.items()})
        names["item"] = item
        if in_reason:
            names["count"] = int
    return names


class FlagRule(Strict):
    """One alert, as the manifest writes it (docs/flags.md): shown when `when` holds — of the
    record, or, `over` a list, of one of its items (those dated within `within_days`; only
    the newest one with `latest`; those `where` holds) — with its `reason` under the badge."""

    label: Texts
    icon: str = Field(default="⚑", min_length=1, max_length=20)
    tone: Tone = "warn"  # bad and warn are alerts; good, vip, info are not
    priority: int = Field(default=50, ge=0, le=1000)  # lower is shown first
    over: Literal["reviews", "surveys", "contacts", "orders", "store_purchases",
                  "purchases"] | None = None
    where: str | None = None
    latest: bool = False
    when: str
    min_count: int = Field(default=1, ge=1, le=1000)
    # the evidence's age limit: a number of days, or `settings.<a number of days>`
    within_days: int | str | None = None
    since: str | None = None  # without `over`: the date the flag holds since (for the window)
    reason: Texts = ""
    write_back: bool = True  # written to helpdesks as the tag connector_<key>
    enabled: bool = True
    _expressions: dict[str, Expression] = PrivateAttr(default_factory=dict)
    _reasons: dict[str, list[str | Expression]] = PrivateAttr(default_factory=dict)
    _window: int | None = PrivateAttr(default=None)

    @field_validator("where", "when", "since")
    @classmethod
    def _expression(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            Expression(value, record_names(info.data.get("over")))
        return value

    @field_validator("reason")
    @classmethod
    def _template(cls, value: Texts, info: ValidationInfo) -> Texts:
        names = record_names(info.data.get("over"), in_reason=True)
        for text in ([value] if isinstance(value, str) else value.values()):
            template(text, names)
        return value

    @field_validator("within_days")
    @classmethod
    def _days(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1 day")
        if isinstance(value, str):
            name = value.removeprefix("settings.")
            field = FlagRules.model_fields.get(name)
            if (name == value or field is None or field.annotation is not int
                    or not name.endswith("_days")):
                days = [n for n, f in FlagRules.model_fields.items()
                        if f.annotation is int and n.endswith("_days")]
                raise ValueError(f"'{value}': a number of days, or settings.<name> with one "
                                 f"of {', '.join(days)}")
        return value

    @model_validator(mode="after")
    def _compile(self) -> FlagRule:
        if self.since is not None and self.over is not None:
            raise ValueError("since is for rules without over (an over rule's evidence is "
                             "dated by its items)")
        if self.latest and self.over is None:
            raise ValueError("latest needs over (the newest item of a list)")
        names = record_names(self.over)
        for part in ("where", "when", "since"):
            text = getattr(self, part)
            if text is not None:
                self._expressions[part] = Expression(text, names)
        reasons = {"": self.reason} if isinstance(self.reason, str) else dict(self.reason)
        in_reason = record_names(self.over, in_reason=True)
        self._reasons = {locale: template(text, in_reason) for locale, text in reasons.items()}
        return self

    def resolve_window(self, settings: FlagRules) -> None:
        """The window in days, `settings.…` read from these settings."""
        days = self.within_days
        self._window = (int(getattr(settings, days.removeprefix("settings.")))
                        if isinstance(days, str) else days)

    @property
    def window_days(self) -> int | None:
        """How old the evidence may be, in days (None: any age)."""
        return self._window

    def expression(self, part: str) -> Expression | None:
        """The checked `where`, `when` or `since`."""
        return self._expressions.get(part)

    def label_in(self, locale: str) -> str:
        """The label in this language (French, then any, when it has none)."""
        if isinstance(self.label, str):
            return self.label
        return self.label.get(locale) or self.label.get("fr") or next(iter(self.label.values()))  # type: ignore[call-overload]

    def reason_in(self, locale: str) -> list[str | Expression]:
        """The reason template in this language: texts and expressions in turn."""
        return (self._reasons.get(locale) or self._reasons.get("")
                or self._reasons.get("fr") or next(iter(self._reasons.values()), []))


def template(text: str, names: dict[str, Any]) -> list[str | Expression]:
    """A reason such as "{rating}/{max_rating or 5} · {site}": its texts and its checked
    expressions in `{…}` (`{{` and `}}` are braces)."""
    parts: list[str | Expression] = []
    literal, i = "", 0
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal += text[i]
            i += 2
        elif text[i] == "{":
            end = text.find("}", i)
            if end < 0:
                raise ValueError(f"'{text}': a {{ without its }}")
            if literal:
                parts.append(literal)
                literal = ""
            try:
                parts.append(Expression(text[i + 1:end], names))
            except ExpressionError as exc:
                raise ValueError(f"in {{{text[i + 1:end]}}}: {exc}") from None
            i = end + 1
        elif text[i] == "}":
            raise ValueError(f"'{text}': a }} without its {{ (write }}}} for a brace)")
        else:
            literal += text[i]
            i += 1
    if literal:
        parts.append(literal)
    return parts


class FlagRules(Strict):
    """The alerts at the top of the record: thresholds the rules read (`settings.…` in an
    expression), the shipped preset's rules (`preset`), the manifest's own `rules` (a key of
    the preset changes that rule, a new key adds one; docs/flags.md), and how many are shown."""

    vip_segments: list[str] = ["VIP"]
    vip_tags: list[str] = ["vip"]
    negative_review_days: int = Field(default=90, ge=1)
    negative_review_max_share: Decimal = Field(default=Decimal("0.4"), ge=0, le=1)
    complaint_reasons: list[str] = ["réclamation", "plainte", "litige"]
    # first reply to a complaint within this many hours (tools 48–52: 24 h, some pages 48 h)
    complaint_reply_hours: int = Field(default=24, ge=1, le=720)
    max_shown: int = Field(default=3, ge=0, le=10)
    preset: Literal["standard", "none"] = "standard"
    rules: dict[RuleKey, FlagRule] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _over_preset(cls, data: Any) -> Any:
        """The preset's rules, each changed by the manifest's rule of the same key (its keys
        replace the preset's, `label` and `reason` merged by language), then the manifest's
        new ones."""
        if not isinstance(data, dict):
            return data
        preset = {} if data.get("preset") == "none" else preset_rules()
        given = data.get("rules") or {}
        if not isinstance(given, dict):
            return data  # refused by the field's own validation, with its path
        merged: dict[str, Any] = {}
        for key in [*preset, *(k for k in given if k not in preset)]:
            base, change = preset.get(key), given.get(key)
            if base is None or not isinstance(change, dict):
                merged[key] = change if key in given else base
                continue
            rule = {**base, **change}
            for part in ("label", "reason"):
                if isinstance(base.get(part), dict) and isinstance(change.get(part), dict):
                    rule[part] = {**base[part], **change[part]}
            merged[key] = rule
        return {**data, "rules": merged}

    @model_validator(mode="after")
    def _windows(self) -> FlagRules:
        """`within_days: settings.negative_review_days` read from these settings."""
        for rule in self.rules.values():
            rule.resolve_window(self)
        return self

    def active(self) -> list[tuple[str, FlagRule]]:
        """The enabled rules, most important first (ties in the manifest's order)."""
        enabled = [(k, r) for k, r in self.rules.items() if r.enabled]
        return sorted(enabled, key=lambda pair: pair[1].priority)


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
