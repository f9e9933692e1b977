"""Check a JMESPath expression against the canonical customer before any customer is read.

The manifest's custom cards read fields by path from `CustomerProfile.model_dump(mode="json")`.
A path naming a field the model does not have (`loyalty.pointz`) or reading a field of a list
(`orders.number`) would silently show nothing; here it is refused at load with the reason.
Only what the model tells is checked: keys of a mapping (`identity.external_ids.pos`) and the
result of most functions are not known until a customer is read.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel

from connector.models import CustomerProfile, Order

Node = dict[str, Any]
Kind = Literal["model", "list", "map", "scalar", "unknown"]


@dataclass(frozen=True)
class Shape:
    """What a part of the customer JSON holds, as far as the canonical model tells."""

    kind: Kind
    name: str = ""  # how the admin's path reaches it, for messages ("identity.address")
    model: type[BaseModel] | None = None  # for kind "model"
    inner: Shape | None = None  # the item of a list, the value of a mapping


UNKNOWN = Shape("unknown")
CUSTOMER = Shape("model", model=CustomerProfile)
LITERALS = frozenset({"null", "true", "false"})  # bare, JMESPath reads them as field names


def expression_problem(expression: str) -> str | None:
    """Why a JMESPath expression does not compile, or None when it does."""
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        reason = re.sub(r"\s+", " ", str(exc).splitlines()[0])
        return f"invalid JMESPath expression '{expression}' ({reason})"
    return None


def profile_path_problems(expression: str) -> list[str]:
    """Every problem of a path over the canonical customer JSON (empty when it is usable)."""
    problem = expression_problem(expression)
    if problem is not None:
        return [problem]
    checker = PathChecker()
    checker.walk(jmespath.compile(expression).parsed, CUSTOMER)
    return list(dict.fromkeys(checker.problems))


def purchase_path_problems(expression: str) -> list[str]:
    """Every problem of a path over one purchase (an order's JSON: `number`, `store`…)."""
    problem = expression_problem(expression)
    if problem is not None:
        return [problem]
    checker = PathChecker()
    checker.walk(jmespath.compile(expression).parsed, Shape("model", "purchase", model=Order))
    return list(dict.fromkeys(checker.problems))


def shape_of(annotation: Any, name: str) -> Shape:
    """The shape of a model field's annotation (optional values are their inner type)."""
    annotation = _without_none(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return Shape("list", name, inner=shape_of(args[0], name))
    if origin is dict and len(args) == 2:
        return Shape("map", name, inner=shape_of(args[1], name))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape("model", name, model=annotation)
    return Shape("scalar", name)


def _without_none(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _joined(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class PathChecker:
    """Walks a compiled expression, following the model's shape, and collects problems."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.handlers: dict[str, Callable[[Node, Shape], Shape]] = {
            "field": self.field,
            "subexpression": self.subexpression,
            "index_expression": self.index_expression,
            "projection": self.projection,
            "filter_projection": self.filter_projection,
            "flatten": self.flatten,
            "value_projection": self.value_projection,
            "pipe": self.pipe,
            "function_expression": self.function,
            "current": lambda node, here: here,
            "identity": lambda node, here: here,
        }

    def walk(self, node: Node, here: Shape) -> Shape:
        """Check `node` read from `here`; return the shape of its result."""
        handler = self.handlers.get(node["type"])
        if handler is not None:
            return handler(node, here)
        # Comparisons, `||`, `&&`, `!`, multi-selects, literals: each part is read from here.
        for child in node.get("children", []):
            if isinstance(child, dict):
                self.walk(child, here)
        return UNKNOWN

    def field(self, node: Node, here: Shape) -> Shape:
        """A field name: it must exist in a model, and a list or a plain value has none."""
        name = str(node["value"])
        if here.kind == "map" and here.inner is not None:
            return replace(here.inner, name=_joined(here.name, name))
        if here.kind == "list":
            self.problems.append(
                f"{here.name} is a list: write {here.name}[0].{name} (the first) "
                f"or {here.name}[*].{name} (each)")
        elif here.kind == "scalar":
            self.problems.append(f"{here.name} is a single value: it has no field '{name}'")
        elif here.kind == "model" and here.model is not None:
            return self._model_field(here, here.model, name)
        return UNKNOWN

    def _model_field(self, here: Shape, model: type[BaseModel], name: str) -> Shape:
        info = model.model_fields.get(name)
        if info is not None:
            return shape_of(info.annotation, _joined(here.name, name))
        known = ", ".join(model.model_fields)
        if here.name:
            self.problems.append(f"unknown field '{name}' of {here.name} (one of: {known})")
        else:
            hint = f"; the literal {name} is written `{name}`" if name in LITERALS else ""
            self.problems.append(
                f"unknown section '{name}' of the customer (one of: {known}){hint}")
        return UNKNOWN

    def subexpression(self, node: Node, here: Shape) -> Shape:
        """`a.b.c`: each part read from the previous one."""
        for child in node["children"]:
            here = self.walk(child, here)
        return here

    def index_expression(self, node: Node, here: Shape) -> Shape:
        """`a[0]` is an item of the list; `a[1:3]` is still the list."""
        left, index = node["children"]
        shape = self.walk(left, here)
        if index["type"] == "slice":
            return shape
        return self._items(shape, "[0]")

    def projection(self, node: Node, here: Shape) -> Shape:
        """`a[*].b`: b read from each item of the list a."""
        left, right = node["children"]
        self.walk(right, self._items(self.walk(left, here), "[*]"))
        return Shape("list", inner=UNKNOWN)

    def filter_projection(self, node: Node, here: Shape) -> Shape:
        """`a[?cond].b`: the condition and b read from each item of a."""
        left, right, condition = node["children"]
        item = self._items(self.walk(left, here), "[?…]")
        self.walk(condition, item)
        self.walk(right, item)
        return Shape("list", inner=UNKNOWN)

    def flatten(self, node: Node, here: Shape) -> Shape:
        """`a[]`: the list itself (its items keep their shape)."""
        shape = self.walk(node["children"][0], here)
        self._items(shape, "[]")
        return shape if shape.kind == "list" else UNKNOWN

    def value_projection(self, node: Node, here: Shape) -> Shape:
        """`a.*.b`: b read from each value of the mapping a."""
        left, right = node["children"]
        shape = self.walk(left, here)
        value = shape.inner if shape.kind == "map" and shape.inner is not None else UNKNOWN
        self.walk(right, value)
        return Shape("list", inner=UNKNOWN)

    def pipe(self, node: Node, here: Shape) -> Shape:
        """`a | b`: b read from the result of a."""
        left, right = node["children"]
        return self.walk(right, self.walk(left, here))

    def function(self, node: Node, here: Shape) -> Shape:
        """`f(a, &b)`: arguments read from here; `&b` from the items of the first list given."""
        arguments = [child for child in node["children"] if child["type"] != "expref"]
        shapes = [self.walk(child, here) for child in arguments]
        lists = [shape for shape in shapes if shape.kind == "list" and shape.inner is not None]
        item = lists[0].inner if lists and lists[0].inner is not None else UNKNOWN
        for child in node["children"]:
            if child["type"] == "expref":
                self.walk(child["children"][0], item)
        return UNKNOWN

    def _items(self, shape: Shape, how: str) -> Shape:
        """The shape of one item of a list; a projection of anything else gives nothing."""
        if shape.kind == "list" and shape.inner is not None:
            return shape.inner
        if shape.kind in ("model", "map", "scalar") and shape.name:
            self.problems.append(f"{shape.name} is not a list: {how} gives nothing")
        return UNKNOWN
