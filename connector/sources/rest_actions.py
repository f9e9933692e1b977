"""What a REST source declares for agents' changes: the corrections it takes (`writes:`) and
the back-office actions it runs (`actions:`), with their inputs, the reads an action sends
first and how a refusal inside a 2xx answer is found (docs/corrections.md, docs/actions.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connector.i18n import Label
from connector.sources.base import Strict
from connector.sources.mapping import compiled
from connector.sources.rest_request import RestRequest


class RestWrite(Strict):
    """How the source takes a correction of one canonical field: the request that applies it,
    filled with `{new}` and `{old}` (the value replaced, "" when none), `{external}` (the
    customer's id at this source) and `{change}` (the change's idempotency key, also sent as
    the `Idempotency-Key` header), with the source's own auth; the agents' roles that may
    ask for it (none given: every agent)."""

    request: RestRequest
    roles: list[str] | None = Field(default=None, min_length=1)


ActionTarget = Literal["orders", "store_purchases", "customer", "loyalty"]
# what a change's request is filled with: its reads (`before:`) take other names
RESERVED = frozenset({"key", "external", "inputs", "change", "new", "old", "number"})


class ActionInput(Strict):
    """What an agent fills before an action runs: a text, an amount (at most `max`), a whole
    number (points: at most `max`), or one of `choices` (value -> its label per language)."""

    label: Label
    kind: Literal["text", "amount", "integer", "choice"] = "text"
    required: bool = True
    choices: dict[str, Label] = Field(default_factory=dict)
    max: Decimal | None = Field(default=None, gt=0)
    max_length: int = Field(default=200, ge=1, le=2000)

    @model_validator(mode="after")
    def _choices(self) -> ActionInput:
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError("give `choices` with kind: choice, and only then")
        return self


class ActionCompensation(Strict):
    """An action that compensates: which of its inputs is the severity (a choice among the
    compensation grid's severities) and which the amount the grid bounds."""

    severity: str
    amount: str


class RestAction(Strict):
    """A back-office action agents run from the record (open a return, resend a voucher):
    its label, what it applies to (an order, a store purchase: by their `key` field; or the
    customer), when it is offered (`when:`, an expression over the item and the record,
    checked when the manifest loads), what the agent fills (`inputs`), the confirmation they
    read, the internal note left on the ticket once done, and the request, filled with
    `{key}`, `{external}` (the customer's id here), `{change}` (also the `Idempotency-Key`)
    and `{inputs.<name>}` (docs/actions.md)."""

    label: Label
    applies_to: ActionTarget
    key: str | None = None  # the item's field naming it: number
    when: str | None = None
    inputs: dict[str, ActionInput] = Field(default_factory=dict)
    confirm: Label
    note: Label | None = None
    request: RestRequest
    roles: list[str] | None = Field(default=None, min_length=1)  # who may (none: every agent)
    # a gesture the manifest's compensation grid bounds, shown beside it (docs/actions.md)
    compensation: ActionCompensation | None = None
    # where a 2xx answer may still say no (GraphQL's userErrors): a JMESPath over the answer;
    # anything found there refuses the action, in its words
    refused_if: str | None = None
    # reads sent first (GET, or a GraphQL query), each answer named for the request's
    # placeholders (`{tx.transactions[0].id}`): the ids a vendor's call takes that the record
    # does not hold. Only the `request` itself changes anything, once.
    before: list[RestRequest] = Field(default_factory=list, max_length=3)

    @field_validator("before")
    @classmethod
    def _reads(cls, value: list[RestRequest]) -> list[RestRequest]:
        names = [step.name for step in value]
        for step in value:
            mutation = (step.query or "").lstrip().lower().startswith("mutation")
            if (step.method != "GET" and not step.query) or mutation:
                raise ValueError(f"'{step.name}': a read (GET, or a GraphQL query), never a "
                                 "change: only the action's request changes anything")
            if step.name in RESERVED or names.count(step.name) > 1:
                raise ValueError(f"'{step.name}': name each read once, not as "
                                 f"{', '.join(sorted(RESERVED))}")
        return value

    @field_validator("refused_if")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compiled(value)
        return value

    @model_validator(mode="after")
    def _keyed(self) -> RestAction:
        if (self.applies_to == "customer") == (self.key is not None):
            raise ValueError("an action on orders, store purchases or the loyalty account names "
                             "their `key` field (key: number); one on the customer has none")
        return self

    @model_validator(mode="after")
    def _compensates(self) -> RestAction:
        if self.compensation is None:
            return self
        given = self.compensation
        for role, name, kind in (("severity", given.severity, "choice"),
                                 ("amount", given.amount, "amount")):
            found = self.inputs.get(name)
            if found is None or found.kind != kind:
                raise ValueError(f"compensation.{role}: '{name}' is not an input of kind "
                                 f"{kind} (inputs: {', '.join(self.inputs) or 'none'})")
        return self
