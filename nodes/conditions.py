"""Condition groups for the filter node: ``{"all" | "any": [condition | group, ...]}``, nestable.

A condition is ``{"field": <path>, "op": <operator>, "value": ..., "case_sensitive": true, "quantifier": "any"}``.

Semantics, in the user's terms:

- **Many values.** A path such as ``line_items[*].sku`` reaches several values. By default (``"quantifier": "any"``)
  a condition holds when ANY value satisfies it; ``"quantifier": "all"`` asks that every value satisfies it (and
  that there is at least one).
- **Negative operators negate their positive twin** over all values: ``not_equals`` holds when no value equals,
  ``not_in`` when no value is in the list, ``not_set`` when no value is set, ``is_empty`` when no value is
  non-empty. A field that does not exist is therefore ``not_equals`` anything, ``not_set`` and ``is_empty``.
- **Numbers.** ``greater``/``less``... compare as :class:`~decimal.Decimal` when both sides are numbers or number
  text (money such as ``"12.50"``); otherwise as dates when both sides are ISO dates/datetimes (a date alone is
  midnight; a time without zone is taken as UTC). ``equals`` compares as numbers when one side is a JSON number
  and the other a number or number text, or when both are number text without leading zeros (``"12.50"`` equals
  ``"12.5"``, postcode ``"01234"`` stays text).
- **Set / empty.** ``is_set``: the field exists and is not null. ``not_empty``: it is set and is not ``""``
  (blank text counts as empty), ``[]`` or ``{}``.
- **Text.** ``contains`` is a substring test on text, a membership test on lists (``tags contains "x"``) and a
  key test on objects; ``case_sensitive: false`` makes text operators ignore case.
- **Regex** (``matches``): compiled once at validation; patterns with nested repetition such as ``(a+)+`` are
  refused, and only the first :data:`MAX_MATCH_INPUT` characters of a value are searched, so no pattern can stall a
  run.
- **Empty groups** hold (a filter without conditions passes everything).

:meth:`ConditionGroup.evaluate` returns an :class:`Evaluation` whose ``reason`` explains the first failing condition in
plain words, e.g. ``Billing → Country is "DE", expected "NL"``.
"""

from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from nodes.paths import PathError, get_values, parse_path
from nodes.texts import friendly_path, shown

__all__ = (
    "NEGATIONS",
    "OPERATORS",
    "PASSED",
    "Condition",
    "ConditionGroup",
    "Evaluation",
    "compile_regex",
    "invalid",
    "is_empty_value",
    "ordered_pair",
    "to_datetime",
    "to_decimal",
    "values_equal",
)

MAX_MATCH_INPUT = 10_000
"""Only this many characters of a value are searched by ``matches``."""
MAX_PATTERN_LENGTH = 500

POSITIVE = (
    "equals",
    "in",
    "contains",
    "starts_with",
    "ends_with",
    "greater",
    "greater_or_equal",
    "less",
    "less_or_equal",
    "is_set",
    "not_empty",
    "matches",
)
NEGATIONS = {
    "not_equals": "equals",
    "not_in": "in",
    "not_contains": "contains",
    "not_set": "is_set",
    "is_empty": "not_empty",
    "not_matches": "matches",
}
"""Negative operator → the positive operator it negates."""
OPERATORS = (*POSITIVE, *NEGATIONS)
NO_VALUE = frozenset({"is_set", "not_set", "is_empty", "not_empty"})

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "greater": operator.gt,
    "greater_or_equal": operator.ge,
    "less": operator.lt,
    "less_or_equal": operator.le,
}

_PLAIN_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as is (no "Value error, " prefix)."""
    return PydanticCustomError("invalid", "{message}", {"message": message})


# ---------------------------------------------------------------------------------------------------- value helpers
def to_decimal(value: Any) -> Decimal | None:
    """``value`` as a Decimal when it is a number or number text (``"12.50"``), else None. Booleans are not numbers."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str) and len(value) <= 60 and _NUMBER.fullmatch(value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def to_datetime(value: Any) -> datetime | None:
    """``value`` as an aware datetime when it is an ISO date/datetime (text, date or datetime), else None.

    A date alone is midnight; a datetime without zone is taken as UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_empty_value(value: Any) -> bool:
    """None, blank text, ``[]`` and ``{}`` are empty."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _text(value: Any, case_sensitive: bool) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = ""
    elif isinstance(value, float | Decimal):
        number = to_decimal(value)
        text = format(number.normalize(), "f") if number is not None else str(value)
    else:
        text = str(value)
    return text if case_sensitive else text.casefold()


def values_equal(actual: Any, expected: Any, case_sensitive: bool = True) -> bool:
    """Equality as ``equals`` sees it: numbers and money text compare as numbers, text as text."""
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, bool) or isinstance(expected, bool):
        return _text(actual, False) == _text(expected, False)
    numeric_type = isinstance(actual, int | float | Decimal) or isinstance(expected, int | float | Decimal)
    both_plain = all(isinstance(v, str) and _PLAIN_NUMBER.fullmatch(v) for v in (actual, expected))
    if numeric_type or both_plain:
        left, right = to_decimal(actual), to_decimal(expected)
        if left is not None and right is not None:
            return left == right
    if isinstance(actual, list | dict) or isinstance(expected, list | dict):
        return bool(actual == expected)
    return _text(actual, case_sensitive) == _text(expected, case_sensitive)


def ordered_pair(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Both values as Decimals, else both as aware datetimes, else None (they cannot be ordered)."""
    left, right = to_decimal(actual), to_decimal(expected)
    if left is not None and right is not None:
        return left, right
    left_date, right_date = to_datetime(actual), to_datetime(expected)
    if left_date is not None and right_date is not None:
        return left_date, right_date
    return None


# ------------------------------------------------------------------------------------------------------------ regex
def _ambiguous(branches: Any, constants: Any) -> bool:
    """Whether two alternatives are equal or one is a literal prefix of another (``a|a``, ``a|aa``)."""
    shapes = [str(list(branch)) for branch in branches]
    if len(shapes) != len(set(shapes)):
        return True
    literals = [
        "".join(chr(arg) for _, arg in branch)
        for branch in branches
        if all(op == constants.LITERAL for op, _ in branch)
    ]
    return any(a != b and b.startswith(a) for a in literals for b in literals)


def _nested_repeat(items: Any, inside_repeat: bool, parser: Any) -> bool:
    """Whether a parsed pattern repeats something that itself repeats unboundedly (catastrophic backtracking).

    ``inside_repeat`` is true within a repetition of more than one (``+``, ``*``, ``{2,}``, ``{20}``), where an
    unbounded repetition or an ambiguous alternation can be matched in exponentially many ways.
    """
    constants = parser._constants if hasattr(parser, "_constants") else parser
    repeats = {constants.MAX_REPEAT, constants.MIN_REPEAT, getattr(constants, "POSSESSIVE_REPEAT", None)}
    for op, arg in items:
        if op in repeats:
            _low, high, sub = arg
            unbounded = high == constants.MAXREPEAT or high > 100
            if unbounded and inside_repeat:
                return True
            if _nested_repeat(sub, inside_repeat or high > 1, parser):
                return True
        elif op == constants.SUBPATTERN:
            if _nested_repeat(arg[-1], inside_repeat, parser):
                return True
        elif op == constants.BRANCH:
            branches = arg[1]
            if inside_repeat and _ambiguous(branches, constants):
                return True
            if any(_nested_repeat(b, inside_repeat, parser) for b in branches):
                return True
        elif op in (constants.ASSERT, constants.ASSERT_NOT) and _nested_repeat(arg[1], inside_repeat, parser):
            return True
    return False


@lru_cache(maxsize=1024)
def compile_regex(pattern: str, case_sensitive: bool = True) -> re.Pattern[str]:
    """Compile a user's pattern once, refusing invalid, overlong and catastrophic-backtracking ones.

    Raises:
        ValueError: with a message for the user.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        where = f" at position {exc.pos + 1}" if exc.pos is not None else ""
        raise ValueError(f"the pattern does not compile: {exc.msg}{where}") from None
    parser = importlib.import_module("re._parser")
    if _nested_repeat(list(parser.parse(pattern)), False, parser):
        raise ValueError(
            "the pattern repeats a repetition (like (a+)+, (.*a){20} or (a|aa)*), which can take forever; simplify it"
        )
    return compiled


# -------------------------------------------------------------------------------------------------------- operators
def _holds(op: str, actual: Any, cond: Condition) -> bool:
    expected, case = cond.value, cond.case_sensitive
    if op == "equals":
        return values_equal(actual, expected, case)
    if op == "in":
        return any(values_equal(actual, item, case) for item in expected)
    if op == "is_set":
        return actual is not None
    if op == "not_empty":
        return not is_empty_value(actual)
    if actual is None:
        return False
    if op == "contains":
        if isinstance(actual, list):
            return any(values_equal(item, expected, case) for item in actual)
        if isinstance(actual, dict):
            return any(values_equal(key, expected, case) for key in actual)
        return _text(expected, case) in _text(actual, case)
    if op == "starts_with":
        return _text(actual, case).startswith(_text(expected, case))
    if op == "ends_with":
        return _text(actual, case).endswith(_text(expected, case))
    if op == "matches":
        return cond.regex().search(_text(actual, True)[:MAX_MATCH_INPUT]) is not None
    pair = ordered_pair(actual, expected)
    if pair is None:
        return False
    return _ORDERINGS[op](*pair)


_EXPECTED = {
    "equals": "expected {value}",
    "in": "expected one of {value}",
    "contains": "expected it to contain {value}",
    "starts_with": "expected it to start with {value}",
    "ends_with": "expected it to end with {value}",
    "greater": "expected more than {value}",
    "greater_or_equal": "expected at least {value}",
    "less": "expected less than {value}",
    "less_or_equal": "expected at most {value}",
    "matches": "expected it to match {value}",
    "not_equals": "expected anything but {value}",
    "not_in": "expected none of {value}",
    "not_contains": "expected it not to contain {value}",
    "not_matches": "expected it not to match {value}",
}
"""Plain words for what an operator wanted (each a catalogue text, so the reason reads in Dutch too)."""


@dataclass(frozen=True)
class Evaluation:
    """The outcome of a condition or group: truthy when it holds; ``reason`` explains the first failing condition."""

    passed: bool
    reason: str = ""
    condition: Condition | None = None
    """The condition that failed first (None when passed, or when an ``any`` group failed as a whole)."""

    def __bool__(self) -> bool:
        return self.passed

    @property
    def detail(self) -> dict[str, Any]:
        """What the log keeps of a failure: the condition that failed first (empty when none is known)."""
        return {"condition": self.condition.dumped()} if self.condition is not None else {}


PASSED = Evaluation(True)


class Condition(BaseModel):
    """One test on one field of the record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(
        title="Field",
        description="Path into the record, e.g. billing.country or line_items[*].sku",
        json_schema_extra={"ui": {"widget": "field_picker"}},
    )
    op: str = Field(
        title="Operator",
        description="One of: " + ", ".join(OPERATORS),
        json_schema_extra={"enum": list(OPERATORS)},
    )
    value: Any = Field(None, title="Value", description="What to compare with (a list for in / not_in)")
    case_sensitive: bool = Field(True, title="Case sensitive", description="Text operators respect upper/lower case")
    quantifier: Literal["any", "all"] = Field(
        "any", title="For many values", description="any: one value must match; all: every value must match"
    )

    @field_validator("field")
    @classmethod
    def _check_field(cls, value: str) -> str:
        try:
            parse_path(value)
        except PathError as exc:
            raise invalid(str(exc)) from None
        return value

    @field_validator("op")
    @classmethod
    def _check_op(cls, value: str) -> str:
        if value not in OPERATORS:
            raise invalid(f"unknown operator {shown(value)}; use one of: {', '.join(OPERATORS)}")
        return value

    @model_validator(mode="after")
    def _check_value(self) -> Condition:
        op = self.op
        if op in NO_VALUE:
            return self
        if self.value is None or (isinstance(self.value, str) and not self.value and op != "equals"):
            raise invalid(f"operator {shown(op)} needs a value")
        base = NEGATIONS.get(op, op)
        if base == "in":
            if isinstance(self.value, str):
                object.__setattr__(self, "value", [part.strip() for part in self.value.split(",")])
            elif not isinstance(self.value, list):
                raise invalid(f"operator {shown(op)} needs a list of values")
        elif isinstance(self.value, list | dict) and base != "equals":
            raise invalid(f"operator {shown(op)} needs a single value, not a list")
        if base == "matches":
            if not isinstance(self.value, str):
                raise invalid("a regex pattern must be text")
            try:
                compile_regex(self.value, self.case_sensitive)
            except ValueError as exc:
                raise invalid(str(exc)) from None
        if base.startswith(("greater", "less")) and ordered_pair(self.value, self.value) is None:
            raise invalid(f"operator {shown(op)} needs a number or an ISO date (YYYY-MM-DD), got {shown(self.value)}")
        return self

    def regex(self) -> re.Pattern[str]:
        """The compiled pattern of a ``matches`` condition (cached)."""
        return compile_regex(str(self.value), self.case_sensitive)

    def _plan(self) -> _Plan:
        """What this condition works out once rather than per record (kept on the instance, made again when a copy
        changed its settings)."""
        plan: _Plan | None = self.__dict__.get("_plan_made")
        if plan is None or not plan.made_for(self):
            plan = _Plan.of(self)
            self.__dict__["_plan_made"] = plan
        return plan

    def evaluate(self, data: Any) -> Evaluation:
        """Test the condition on ``data`` (see the module docstring for the rules)."""
        values = get_values(data, self.field)
        plan = self._plan()
        positive = plan.positive
        texts = plan.texts

        def test(actual: Any) -> bool:
            if texts is not None and type(actual) is str:
                return plan.equals_text(actual)
            return _holds(positive, actual, self)

        if self.quantifier == "all":
            holds = bool(values) and all(test(v) for v in values)
        else:
            holds = any(test(v) for v in values)
        if positive != self.op:
            holds = not holds
        return PASSED if holds else Evaluation(False, self.explain(values), self)

    def dumped(self) -> dict[str, Any]:
        """``model_dump()``, a fresh copy each time (the dump itself is made once)."""
        dump: dict[str, Any] = _copy_json(self._plan().dump)
        return dump

    def explain(self, values: list[Any]) -> str:
        """Plain words for why the condition does not hold for ``values`` ("Status is "cancelled", expected one of
        "processing", "completed""); no Python repr, the field by its friendly name."""
        plan = self._plan()
        name = plan.name
        if not values or all(v is None for v in values):
            return f"{name} is not set" if self.op != "not_set" else f"{name} is set"
        if self.op in NO_VALUE:
            return f"{name} is empty" if self.op in ("not_empty", "is_set") else f"{name} is not empty"
        found = shown(values[0]) if len(values) == 1 else shown(values, 120)
        expected = plan.expected
        if self.quantifier == "all" and len(values) != 1:
            return f"{name} is {found}, {expected} (every value)"
        if not self.case_sensitive:
            return f"{name} is {found}, {expected} (ignoring case)"
        return f"{name} is {found}, {expected}"


@dataclass(frozen=True)
class _Plan:
    """A condition's per-record work done once: the field's friendly name, the words of what was expected, the
    dump for the log and, for ``equals``/``in`` with text values, those texts to test a text value against."""

    settings: tuple[Any, ...]
    """(field, op, value, case_sensitive) of the condition the plan was made for."""
    positive: str
    name: str
    expected: str
    dump: dict[str, Any]
    texts: frozenset[str] | None
    """The text values (casefolded when case does not matter); None when the operator or a value is not text."""
    numbers: frozenset[Decimal]
    """The values that are plain number text (``"12.50"``), as numbers: plain number text equals by number."""

    @classmethod
    def of(cls, cond: Condition) -> _Plan:
        positive = NEGATIONS.get(cond.op, cond.op)
        expected = cond.value if positive == "in" else [cond.value]
        texts: frozenset[str] | None = None
        numbers: frozenset[Decimal] = frozenset()
        if positive in ("equals", "in") and isinstance(expected, list) and all(type(v) is str for v in expected):
            texts = frozenset(v if cond.case_sensitive else v.casefold() for v in expected)
            numbers = frozenset(number for v in expected if (number := _plain_number(v)) is not None)
        return cls(
            settings=(cond.field, cond.op, cond.value, cond.case_sensitive),
            positive=positive,
            name=friendly_path(cond.field) or cond.field,
            expected=_EXPECTED.get(cond.op, "expected {value}").format(value=shown(cond.value)),
            dump=cond.model_dump(),
            texts=texts,
            numbers=numbers,
        )

    def made_for(self, cond: Condition) -> bool:
        field, op, value, case_sensitive = self.settings
        return field is cond.field and op is cond.op and value is cond.value and case_sensitive == cond.case_sensitive

    def equals_text(self, actual: str) -> bool:
        """:func:`values_equal` of a text value with any of the text values: the same text (ignoring case when so
        set), or both plain number text of the same number."""
        assert self.texts is not None
        if (actual if self.settings[3] else actual.casefold()) in self.texts:
            return True
        if not self.numbers:
            return False
        number = _plain_number(actual)
        return number is not None and number in self.numbers


def _plain_number(text: str) -> Decimal | None:
    """A plain number text (``"12.50"``, no leading zeros) as :func:`values_equal` compares it by number, else None."""
    return to_decimal(text) if _PLAIN_NUMBER.fullmatch(text) else None


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _discriminate(value: Any) -> str:
    if isinstance(value, dict):
        return "group" if ("all" in value or "any" in value) and "field" not in value else "condition"
    return "group" if isinstance(value, ConditionGroup) else "condition"


Item = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated["ConditionGroup", Tag("group")],
    Discriminator(_discriminate),
]


class ConditionGroup(BaseModel):
    """``{"all": [...]}`` holds when every item holds; ``{"any": [...]}`` when at least one does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: list[Item] | None = Field(None, title="All of")
    any: list[Item] | None = Field(None, title="Any of")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"all": data}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> ConditionGroup:
        if (self.all is None) == (self.any is None):
            raise invalid('a group has exactly one of "all" or "any"')
        return self

    @property
    def mode(self) -> str:
        """``all`` or ``any``."""
        return "all" if self.all is not None else "any"

    @property
    def items(self) -> list[Condition | ConditionGroup]:
        """The conditions and subgroups."""
        return list(self.all if self.all is not None else self.any or [])

    def evaluate(self, data: Any) -> Evaluation:
        """Test the group on ``data``; the result's reason explains the first failing condition."""
        items = self.all if self.all is not None else self.any
        if not items:
            return PASSED
        if self.all is not None:
            for item in items:
                result = item.evaluate(data)
                if not result:
                    return result
            return PASSED
        failures = []
        for item in items:
            result = item.evaluate(data)
            if result:
                return result
            failures.append(result)
        if len(failures) == 1:
            return failures[0]
        reason = f"none of {len(failures)} alternatives holds; first: {failures[0].reason}"
        return Evaluation(False, reason, failures[0].condition)


ConditionGroup.model_rebuild()
