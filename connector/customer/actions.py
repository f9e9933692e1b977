"""Back-office actions agents run from the record (open a return, resend a voucher): which the
record offers, on which items (`when:` over the item and the record), and an action asked for,
checked before anything is kept: an offer of this record, inputs within their bounds."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from simpleeval import InvalidExpression

from connector.customer.compensation import CompensationGrid, within
from connector.customer.expressions import Evaluator, Expression, ExpressionError, unwrap
from connector.customer.flags import Names, Record
from connector.customer.refusals import ChangeRefused, InvalidChange, may
from connector.customer.rules import no_rules, record_names
from connector.i18n import label_text
from connector.models import Canonical, CustomerProfile, Loyalty, Order

log = logging.getLogger(__name__)
TARGETS: dict[str, type[Canonical]] = {"orders": Order, "store_purchases": Order,
                                        "loyalty": Loyalty}
PLACEHOLDER = re.compile(r"{([^{}]*)}")


class InvalidAction(InvalidChange):
    """An action that cannot be asked for as given (HTTP 400); `reason`: `action.error.*`."""


class ActionRefused(ChangeRefused):
    """An action this record does not offer now (HTTP `status`: 404, 409, 503)."""


@dataclass(frozen=True)
class Offer:
    """One action the record offers: on one item (its key), or on the customer (no key)."""

    source: str
    name: str
    spec: Any  # the source's RestAction
    key: str | None = None
    number: str | None = None  # the order's number, as agents know it (its key may be an id)


@dataclass(frozen=True)
class CheckedAction:
    """An action ready to keep: what the request is filled with, and its texts' values."""

    source: str
    name: str
    key: str | None
    inputs: dict[str, str] = field(default_factory=dict)
    external: str = ""
    number: str | None = None  # the order's number, as agents know it

    @property
    def shown(self) -> str | None:
        """The item as the record and its change lines name it."""
        return self.number or self.key

    def values(self) -> dict[str, Any]:
        """What the source's request is filled with (`{change}` is added by the outbox)."""
        return {"key": self.key or "", "external": self.external, "inputs": dict(self.inputs)}

    def kept(self, spec: Any, locale: str) -> dict[str, Any]:
        """What the outbox keeps: the request's values and the note the ticket gets once the
        action is done (in the brand's `locale`), if the action has one."""
        note = (text_of(spec.note, locale, self.key, self.inputs, spec, self.number)
                if spec.note else None)
        return {**self.values(), "note": note}


def action_names(applies_to: str) -> dict[str, Any]:
    """What an action's `when:` may name: the record's sections, `customer`, `today`, and on
    orders or store purchases the item's fields and `item`."""
    names = {k: v for k, v in record_names(None).items() if k != "settings"}
    item = TARGETS.get(applies_to)
    if item is not None:
        names.update({n: unwrap(info.annotation) for n, info in item.model_fields.items()})
        names["item"] = item
    return names


def when_expression(spec: Any) -> Expression | None:
    """An action's `when:`, checked (ExpressionError for a typo, with what is known); parsed
    once, not on every record the action is offered on."""
    return _compiled(spec.when, spec.applies_to) if spec.when else None


@lru_cache(maxsize=256)
def _compiled(text: str, applies_to: str) -> Expression:
    return Expression(text, action_names(applies_to))


def offers(profile: CustomerProfile, sources: Mapping[str, Any], today: dt.date,
           role: str | None = None, checked: bool = False) -> list[Offer]:
    """Every action the record offers now: for each source that knows the customer, each of
    its actions, on each of that source's items its `when:` holds for (or on the customer, or
    on their loyalty account when its `key` field is known); with `checked`, only those an
    agent of `role` may run."""
    found: list[Offer] = []
    record = Record(profile, [], [], no_rules(), today)
    evaluators: list[Evaluator] = []  # made at the first `when:`, then run for every other

    def holds(expression: Expression | None, names: Mapping[str, Any], source: str,
              name: str) -> bool:
        if expression is None:
            return True
        if not evaluators:
            evaluators.append(Evaluator(today))
        return _holds(expression, names, source, name, evaluators[0])

    for source, config in sources.items():
        actions = getattr(config, "actions", {}) or {}
        if not actions or not profile.identity.external_ids.get(source):
            continue
        for name, spec in actions.items():
            if checked and not may(spec.roles, role):
                continue
            expression = when_expression(spec)
            if spec.applies_to == "customer":
                if holds(expression, record, source, name):
                    found.append(Offer(source, name, spec))
                continue
            if spec.applies_to == "loyalty":  # one account; its key names it at the source
                key = getattr(profile.loyalty, spec.key, None)
                if key not in (None, "") and holds(expression, Names(record, profile.loyalty),
                                                   source, name):
                    found.append(Offer(source, name, spec, str(key)))
                continue
            for item in getattr(profile, spec.applies_to):
                key = getattr(item, spec.key, None)
                if key in (None, "") or item.source != source:
                    continue
                if holds(expression, Names(record, item), source, name):
                    found.append(Offer(source, name, spec, str(key), item.number))
    return found


def number_of(profile: CustomerProfile, spec: Any, key: str | None) -> str | None:
    """The number agents know the order `key` names by (its key may be the source's id)."""
    if key is None or spec.applies_to not in ("orders", "store_purchases"):
        return None
    return next((item.number for item in getattr(profile, spec.applies_to)
                 if str(getattr(item, spec.key, None)) == key), None)


def _holds(expression: Expression, names: Mapping[str, Any], source: str, name: str,
           evaluator: Evaluator) -> bool:
    try:
        return bool(evaluator.run(expression, names))
    except (ExpressionError, InvalidExpression, TypeError, ValueError, AttributeError,
            KeyError, ZeroDivisionError) as exc:  # an item the expression cannot read
        log.warning("actions.%s of %s: `when` failed (%s): not offered", name, source,
                    type(exc).__name__)
        return False


def check(profile: CustomerProfile, sources: Mapping[str, Any], source: str, name: str,
          key: str | None, given: Mapping[str, Any], today: dt.date,
          role: str | None = None, grid: CompensationGrid | None = None) -> CheckedAction:
    """An action of this record, checked: declared, offered for this item now, its inputs
    within bounds, a compensation within the `grid` unless the role may escalate
    (InvalidAction, ActionRefused)."""
    spec = (getattr(sources.get(source), "actions", {}) or {}).get(name)
    if spec is None:
        raise ActionRefused(f"no action '{name}' at source '{source}'", "unknown", 404)
    if not may(spec.roles, role):
        raise ActionRefused(f"an agent of role '{role or 'none'}' may not run '{name}' (roles: "
                            f"{', '.join(spec.roles)})", "role", 403)
    offered = [o for o in offers(profile, {source: sources[source]}, today)
               if o.name == name and o.key == (key or None)]
    if not offered:
        raise ActionRefused(f"'{name}' is not offered for this {'item' if key else 'customer'} "
                            "now (its `when:` does not hold, or the source does not know them)",
                            "not_offered")
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        raise InvalidAction(f"unknown input '{unknown[0]}' (inputs: "
                            f"{', '.join(spec.inputs) or 'none'})")
    inputs = {n: _input(n, spec.inputs[n], given.get(n)) for n in spec.inputs}
    if spec.compensation is not None and grid is not None:
        severity = inputs[spec.compensation.severity]
        try:
            within(grid, profile, today, severity or "", inputs[spec.compensation.amount], role)
        except ChangeRefused as exc:
            raise ActionRefused(str(exc), exc.reason, exc.status) from exc
    return CheckedAction(source, name, key or None,
                         {n: v or "" for n, v in inputs.items()},  # an optional one: ""
                         profile.identity.external_ids[source], offered[0].number)


def _input(name: str, spec: Any, raw: Any) -> str | None:
    """One input as the request receives it (None when optional and not given)."""
    text = raw.strip() if isinstance(raw, str) else "" if raw is None else str(raw)
    if not text:
        if spec.required:
            raise InvalidAction(f"{name}: required", "required")
        return None
    if spec.kind == "choice":
        if text not in spec.choices:
            raise InvalidAction(f"{name}: one of {', '.join(spec.choices)}", "choice")
        return text
    if spec.kind == "amount":
        try:
            amount = Decimal(text.replace(",", ".").replace("\u202f", "").replace(" ", ""))
        except InvalidOperation as exc:
            raise InvalidAction(f"{name}: an amount", "amount") from exc
        if not amount.is_finite() or amount < 0 or (spec.max is not None and amount > spec.max):
            raise InvalidAction(f"{name}: an amount from 0 to {spec.max}", "amount")
        return str(amount.quantize(Decimal("0.01")))
    if spec.kind == "integer":
        if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1 or (
                spec.max is not None and int(text) > spec.max):
            raise InvalidAction(f"{name}: a whole number from 1 to {spec.max}", "integer")
        return str(int(text))
    if len(text) > spec.max_length:
        raise InvalidAction(f"{name}: at most {spec.max_length} characters", "too_long")
    return text


def input_views(spec: Any, locale: str,
                given: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """An action's inputs as its page and the API show them, in one language (with the values
    an agent gave, on a page shown again)."""
    return [{"name": name, "label": label_text(field.label, locale), "kind": field.kind,
             "required": field.required, "max": str(field.max) if field.max else None,
             "max_length": field.max_length, "value": (given or {}).get(name, ""),
             "choices": [(v, label_text(c, locale)) for v, c in field.choices.items()]}
            for name, field in spec.inputs.items()]


def text_of(label: Any, locale: str, key: str | None, inputs: Mapping[str, str],
            spec: Any, number: str | None = None) -> str:
    """An action's confirmation or note in a language: `{key}`, `{number}` (an order's
    number, as agents know it) and `{inputs.<name>}` filled (a choice by its label)."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "key":
            return key or ""
        if name == "number":
            return number or key or ""
        given = inputs.get(name.removeprefix("inputs."), "")
        choice = spec.inputs.get(name.removeprefix("inputs."))
        if choice is not None and choice.kind == "choice" and given in choice.choices:
            return label_text(choice.choices[given], locale)
        return given
    return PLACEHOLDER.sub(value, label_text(label, locale))


def placeholder_problems(label: Any, spec: Any) -> list[str]:
    """Placeholders of a confirmation or note that name nothing (`{key}` on the customer, an
    input not declared)."""
    texts = [label] if isinstance(label, str) else list((label or {}).values())
    problems = []
    for text in texts:
        for name in PLACEHOLDER.findall(text):
            name = name.strip()
            if name == "key" and spec.applies_to != "customer":
                continue
            if name == "number" and spec.applies_to in ("orders", "store_purchases"):
                continue
            if name.startswith("inputs.") and name.removeprefix("inputs.") in spec.inputs:
                continue
            problems.append(f"'{{{name}}}' names nothing (give {{key}}, {{number}} on an "
                            f"order, or {{inputs.<one of: {', '.join(spec.inputs) or 'none'}>}})")
    return list(dict.fromkeys(problems))  # the same text in both languages: said once
