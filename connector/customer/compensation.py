"""The compensation grid (tool 52 of the customer-relations toolbox): for each type of customer
(strategic, important, standard… told apart by expressions over the record) and each severity
of what went wrong, the gesture an agent may make without escalation, up to an amount. Shown
beside an action that compensates; an amount beyond the grid is refused to every role but those
that may escalate (docs/actions.md, "Compensation grid")."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator
from simpleeval import InvalidExpression

from connector.config import Strict
from connector.customer.expressions import Expression, ExpressionError
from connector.customer.flags import Record
from connector.customer.refusals import ChangeRefused, may
from connector.customer.rules import no_rules, record_names
from connector.i18n import Label, label_text
from connector.models import CustomerProfile

log = logging.getLogger(__name__)
KEY = r"^[a-z][a-z0-9_]{0,39}$"


class CustomerType(Strict):
    """A type of customer in the grid: its name (the grid's rows), its label, and `when` it
    applies (an expression over the record; the last type may have none: every other
    customer)."""

    key: str = Field(pattern=KEY)
    label: Label
    when: str | None = None
    _expression: Expression | None = PrivateAttr(default=None)

    @field_validator("when")
    @classmethod
    def _checked(cls, value: str | None) -> str | None:
        if value is not None:
            Expression(value, _names())
        return value

    def holds(self, record: Record) -> bool:
        """Whether this customer is of this type (an expression that cannot read the record:
        not of it)."""
        if self.when is None:
            return True
        if self._expression is None:
            self._expression = Expression(self.when, _names())
        try:
            return bool(self._expression.run(record, record["today"]))
        except (ExpressionError, InvalidExpression, TypeError, ValueError, AttributeError,
                KeyError, ZeroDivisionError) as exc:
            log.warning("compensation type's `when` failed (%s): not of it", type(exc).__name__)
            return False


class Gesture(Strict):
    """What an agent may do for one type of customer and one severity, without escalation:
    the gesture in words, and the amount it may reach (none: no amount without escalation)."""

    gesture: Label
    up_to: Decimal | None = Field(default=None, ge=0)


class CompensationGrid(Strict):
    """The manifest's `compensation:`: customer types (a list, tried in its order: the first
    that holds), severities, the grid (type → severity → gesture) and the roles that may go
    beyond it."""

    customer_types: list[CustomerType] = Field(min_length=1)
    severities: dict[str, Label] = Field(min_length=1)
    grid: dict[str, dict[str, Gesture]]
    escalation_roles: list[str] = Field(default_factory=lambda: ["supervisor"], min_length=1)

    @field_validator("severities")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in value if not re.fullmatch(KEY, str(k))]
        if bad:
            raise ValueError(f"'{bad[0]}': a name in lower case (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> CompensationGrid:
        problems = []
        types = [kind.key for kind in self.customer_types]
        for index, kind in enumerate(self.customer_types[:-1]):
            if kind.when is None:
                problems.append(f"customer_types[{index}]: only the last type may have no "
                                "`when` (the others would never be reached)")
        twice = sorted({name for name in types if types.count(name) > 1})
        if twice:
            problems.append(f"customer_types: '{twice[0]}' named twice")
        for name, row in self.grid.items():
            if name not in types:
                problems.append(f"grid.{name}: not a customer type (one of: {', '.join(types)})")
                continue
            for severity in row:
                if severity not in self.severities:
                    problems.append(f"grid.{name}.{severity}: not a severity (one of: "
                                    f"{', '.join(self.severities)})")
        missing = [f"{t}.{s}" for t in types for s in self.severities
                   if s not in self.grid.get(t, {})]
        if missing:
            problems.append(f"grid: no gesture for {', '.join(missing)} (give one, even "
                            "\"escalate\" without up_to)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def customer_type(self, profile: CustomerProfile, today: dt.date) -> str | None:
        """The first type this customer is of, or None when none holds."""
        record = Record(profile, [], [], no_rules(), today)
        return next((kind.key for kind in self.customer_types if kind.holds(record)), None)

    def label_of(self, key: str, locale: str) -> str:
        """A customer type's label in `locale`."""
        return next(label_text(kind.label, locale) for kind in self.customer_types
                    if kind.key == key)


@dataclass(frozen=True)
class GridRow:
    """The grid's row for one customer, in one language, as an action's page and the API
    show it beside the action."""

    customer_type: str
    label: str
    # severity, its label, the gesture, the amount it may reach (None: no amount)
    cells: tuple[tuple[str, str, str, Decimal | None], ...]

    def as_json(self) -> dict[str, Any]:
        """The row for the API."""
        return {"customer_type": self.customer_type, "label": self.label,
                "gestures": [{"severity": s, "severity_label": sl, "gesture": g,
                              "up_to": _amount(u)} for s, sl, g, u in self.cells]}


def row_of(grid: CompensationGrid, profile: CustomerProfile, today: dt.date,
           locale: str) -> GridRow | None:
    """What the grid allows for this customer, in `locale` (None: of no type)."""
    kind = grid.customer_type(profile, today)
    if kind is None:
        return None
    cells = tuple((severity, label_text(label, locale),
                   label_text(grid.grid[kind][severity].gesture, locale),
                   grid.grid[kind][severity].up_to)
                  for severity, label in grid.severities.items())
    return GridRow(kind, grid.label_of(kind, locale), cells)


def within(grid: CompensationGrid, profile: CustomerProfile, today: dt.date, severity: str,
           amount: str | None, role: str | None) -> None:
    """Refuse (ChangeRefused, 403) an amount beyond what the grid allows for this customer
    and severity, unless the agent's role may escalate."""
    if amount in (None, "") or may(grid.escalation_roles, role):
        return
    kind = grid.customer_type(profile, today)
    gesture = grid.grid[kind][severity] if kind is not None and severity in grid.severities \
        else None
    allowed = gesture.up_to if gesture is not None else None
    if allowed is not None and Decimal(amount) <= allowed:
        return
    limit = f"up to {_amount(allowed)}" if allowed is not None else "no amount"
    raise ChangeRefused(f"the compensation grid allows {limit} for this customer "
                        f"({kind or 'of no type'}) and severity '{severity}': an agent of role "
                        f"{', '.join(grid.escalation_roles)} may go beyond", "beyond_grid", 403)


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _names() -> dict[str, Any]:
    return {k: v for k, v in record_names(None).items() if k != "settings"}


def action_problems(sources: dict[str, Any], grid: CompensationGrid | None) -> list[str]:
    """Actions that compensate, checked against the grid: there is one, and each choice of
    their severity input is one of its severities."""
    problems = []
    for name, config in sources.items():
        for action, spec in (getattr(config, "actions", {}) or {}).items():
            if spec.compensation is None:
                continue
            path = f"sources.{name}.actions.{action}.compensation"
            if grid is None:
                problems.append(f"{path}: no `compensation:` grid in the manifest to bound it")
                continue
            choices = spec.inputs[spec.compensation.severity].choices
            unknown = [c for c in choices if c not in grid.severities]
            if unknown:
                problems.append(f"{path}.severity: choice '{unknown[0]}' is not a severity of "
                                f"the grid (one of: {', '.join(grid.severities)})")
    return problems
