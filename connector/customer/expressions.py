"""The manifest's small expression language over the canonical customer (flag rules, and any
rule an admin writes): Python expressions run by `simpleeval` (never `eval`), checked when the
manifest loads — syntax, names, and every field path against the canonical models — so a typo
is refused with its path, not found one ticket at a time.

What an expression sees: the record's sections by name (`status.segment`, `kpis.total_spend`,
`loyalty.tier`, `reviews`, `surveys`…), `customer` (the same, when an item's own field hides
a section), `settings` (the manifest's `flags:` thresholds), `today`, the functions in
`FUNCTIONS`, and, in a rule `over:` a list, the item's own fields by name (`rating`, `date`).
Numbers are plain floats, dates `datetime.date`, absent values `None`.
"""

from __future__ import annotations

import ast
import datetime as dt
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from simpleeval import DEFAULT_OPERATORS, EvalWithCompoundTypes

MAX_LENGTH = 500  # characters in one expression


def _days_since(value: dt.date | dt.datetime | None, today: dt.date) -> int | None:
    if value is None:
        return None
    day = value.date() if isinstance(value, dt.datetime) else value
    return (today - day).days


def _contains_any(text: str | None, words: Iterable[str] | None) -> bool:
    folded = (text or "").casefold()
    return bool(folded) and any(word.casefold() in folded for word in words or ())


def _common(left: Iterable[Any] | None, right: Iterable[Any] | None) -> list[Any]:
    wanted = {str(x).casefold() for x in right or ()}
    return [x for x in left or () if str(x).casefold() in wanted]


def _join(values: Iterable[Any] | None, separator: str = ", ") -> str:
    return separator.join(str(v) for v in values or () if v not in (None, ""))


def _hours_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        return None
    return (end - start).total_seconds() / 3600


# name -> (function, its one-line help for `connector check` and docs/flags.md); `today` is
# passed by the evaluator where a function needs it
FUNCTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "len": (lambda x: len(x or ()), "len(list or text): how many (0 for none)"),
    "any": (any, "any(list): one is true"),
    "all": (all, "all(list): every one is true"),
    "min": (min, "min(a, b, …) or min(list)"),
    "max": (max, "max(a, b, …) or max(list)"),
    "abs": (abs, "abs(number)"),
    "round": (round, "round(number, digits)"),
    "lower": (lambda s: (s or "").casefold(), "lower(text): folded for comparison"),
    "contains_any": (_contains_any, "contains_any(text, words): one of the words is in the "
                                    "text, any case"),
    "common": (_common, "common(list, list): the values of the first also in the second"),
    "join": (_join, "join(list, separator): the values as one text"),
    "hours_between": (_hours_between, "hours_between(start, end): hours from one time to "
                                      "another"),
}
TODAY_FUNCTIONS = {"days_since": (_days_since, "days_since(date): days from that date to "
                                               "today")}


class ExpressionError(ValueError):
    """An expression that cannot be run: bad syntax, an unknown name or field."""


class View:
    """A canonical model as an expression sees it: fields by name, numbers as floats, lists of
    views; read-only."""

    __slots__ = ("_model",)

    def __init__(self, model: BaseModel) -> None:
        object.__setattr__(self, "_model", model)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in type(self._model).model_fields:
            raise AttributeError(name)
        return plain(getattr(self._model, name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("read-only")

    def __bool__(self) -> bool:
        return True


def plain(value: Any) -> Any:
    """A value as expressions see it."""
    if isinstance(value, BaseModel):
        return View(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


class Expression:
    """One checked expression, parsed once; `run(names)` gives its value."""

    def __init__(self, text: str, known: Mapping[str, Any]) -> None:
        self.text = text
        tree = parse(text)
        check(tree, known)
        self.tree = tree

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def run(self, names: Mapping[str, Any], today: dt.date) -> Any:
        """The value, with these names (simpleeval's errors as they come: the caller decides
        what a failing expression means)."""
        return Evaluator(today).run(self, names)


class Evaluator:
    """Runs checked expressions for one day, one evaluator for many runs (building one is
    most of the cost of a short expression)."""

    def __init__(self, today: dt.date) -> None:
        functions = {name: fn for name, (fn, _) in FUNCTIONS.items()}
        functions.update({name: (lambda *a, _fn=fn: _fn(*a, today))
                          for name, (fn, _) in TODAY_FUNCTIONS.items()})
        self._simple = EvalWithCompoundTypes(operators=DEFAULT_OPERATORS, functions=functions)

    def run(self, expression: Expression, names: Mapping[str, Any]) -> Any:
        """The expression's value with these names (a mapping may compute them on demand)."""
        self._simple.names = names  # type: ignore[assignment]
        return self._simple.eval(expression.text, previously_parsed=expression.tree)


def parse(text: str) -> ast.AST:
    """The expression's tree; ExpressionError saying what is wrong."""
    if not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"'{text}' is not a valid expression ({exc.msg}, column "
                              f"{exc.offset})") from None


def check(tree: ast.AST, known: Mapping[str, Any]) -> None:
    """Refuse names that are not in `known` (name -> the model class, type or value it
    stands for) and field paths the canonical models do not have."""
    functions = set(FUNCTIONS) | set(TODAY_FUNCTIONS)
    bound: set[str] = set()
    for node in ast.walk(tree):  # comprehension variables are names too
        if isinstance(node, ast.comprehension):
            bound.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in functions:
                name = ast.unparse(node.func)
                raise ExpressionError(f"'{name}' is not a function here; the functions are "
                                      f"{', '.join(sorted(functions))}")
        elif isinstance(node, ast.Name) and node.id not in bound and node.id not in functions:
            if node.id not in known and node.id not in ("True", "False", "None"):
                raise ExpressionError(f"unknown name '{node.id}'; known: "
                                      f"{', '.join(sorted(known))}")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise ExpressionError(f"'.{node.attr}': names starting with _ are not "
                                      "allowed")
            _check_path(node, known, bound)
        elif isinstance(node, ast.Lambda | ast.NamedExpr):
            raise ExpressionError("assignments and lambdas are not allowed")


def _check_path(node: ast.Attribute, known: Mapping[str, Any], bound: set[str]) -> None:
    """`a.b.c` where `a` is a model: each step must be one of its fields."""
    chain: list[str] = []
    base: ast.AST = node
    while isinstance(base, ast.Attribute):
        chain.insert(0, base.attr)
        base = base.value
    if not isinstance(base, ast.Name) or base.id in bound or base.id not in known:
        return  # a subscript, a call or a comprehension variable: checked when run
    kind: Any = known[base.id]
    walked = base.id
    for attr in chain:
        fields = _fields_of(kind)
        if fields is None:
            return  # a list, a mapping or a plain value: nothing known to check against
        if attr not in fields:
            raise ExpressionError(f"'{walked}' has no field '{attr}'; its fields: "
                                  f"{', '.join(sorted(fields))}")
        kind = fields[attr]
        walked = f"{walked}.{attr}"


def _fields_of(kind: Any) -> dict[str, Any] | None:
    """The fields of a model class (name -> its type without Optional), or None."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {name: unwrap(info.annotation) for name, info in kind.model_fields.items()}
    if isinstance(kind, dict):
        return kind
    return None


def unwrap(annotation: Any) -> Any:
    """X from `X | None`; other annotations as they are."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def help_lines() -> list[str]:
    """Each function and what it does, for the docs and `connector check` messages."""
    return [text for _, text in (*FUNCTIONS.values(), *TODAY_FUNCTIONS.values())]
