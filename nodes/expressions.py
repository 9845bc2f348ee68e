"""A small, safe expression language for the map node (never ``eval``/``exec``/``compile`` of user input).

The text is parsed with ``ast.parse(mode="eval")`` and the tree is checked against a whitelist, then interpreted here
node by node. What is allowed:

- **Record fields** by name: ``billing.first_name``, ``line_items[0].name`` (dict and list lookups only, never Python
  attributes; a missing field is ``None``). ``$`` is the whole record; ``field("meta_data[key=_vat].value")`` or
  ``$("line_items[*].sku")`` reads any :mod:`nodes.paths` path (a list when the path has ``[*]``).
- **Literals**: text, numbers (always :class:`~decimal.Decimal`), ``True``/``False``/``None``, lists, dicts.
- **Operators**: ``+ - * / // % **`` on numbers (number text such as ``"12.50"`` counts as a number, except that
  ``text + text`` concatenates; ``None + text`` treats ``None`` as ``""``); ``** `` only with exponents up to 64;
  comparisons ``== != < <= > >= in not in``; ``and or not``; ``a if condition else b``.
- **Functions**: see :data:`FUNCTIONS` (text, numbers, dates, HTML, tables, ``region``).

Refused with an :class:`ExpressionError` that names the column: f-strings, lambdas, comprehensions, attribute access
on anything but record data (``().__class__``), names with ``__``, unknown functions (``open``, ``__import__``),
keyword arguments, slices, overlong text (:data:`MAX_LENGTH`), too many parts (:data:`MAX_NODES`), results over
:data:`MAX_STRING` characters and numbers outside ±10^40.
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DecimalException, localcontext
from functools import lru_cache
from typing import Any

from nodes.accounting import EU_MEMBERS, region_of
from nodes.conditions import ordered_pair, to_datetime, to_decimal, values_equal
from nodes.paths import PathError, get_value, get_values, is_many, parse_path
from nodes.texts import shown

__all__ = (
    "EU_COUNTRIES",
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "MissingMapping",
    "compile_expression",
    "evaluate",
    "region",
)

MAX_LENGTH = 2_000
MAX_NODES = 300
MAX_STRING = 100_000
MAX_LIST = 10_000
MAX_EXPONENT = 64
MAX_MAGNITUDE = 40
_DOLLAR = "ǝ"  # stands in for "$" (not a Python identifier) while parsing; refused in user text
_CONTEXT = Context(prec=34, Emax=999_999, Emin=-999_999)

EU_COUNTRIES = EU_MEMBERS
"""EU member states (ISO codes; ``EL`` counts as Greece), shared with :mod:`nodes.accounting`."""


class ExpressionError(ValueError):
    """A malformed or unsafe expression, or one that cannot be evaluated on this record.

    Attributes:
        position: 0-based character offset of the problem in the expression, when known.
    """

    def __init__(self, message: str, expression: str = "", position: int | None = None) -> None:
        self.message = message
        self.expression = expression
        self.position = position
        super().__init__(f"{message} (at column {position + 1})" if position is not None else message)


class MissingMapping(ExpressionError):
    """``lookup("<table>", key)`` found no row and no default was given: the record needs a mapping."""

    def __init__(self, table: str, key: str) -> None:
        super().__init__(f"table {shown(table)} has no row for {shown(key)}")
        self.table = table
        self.key = key


class _Fail(Exception):
    """Raised inside functions and operators; turned into an ExpressionError with the node's position."""


def region(country: Any, home: Any = "NL") -> str | None:
    """``domestic`` (the shop's country), ``eu`` (another EU member state) or ``world``; None without a country."""
    code = _text(country).strip()
    return region_of(code, _text(home) or "NL") if code else None


# ------------------------------------------------------------------------------------------------------- value rules
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal):
        number = to_decimal(value)
        return format(number, "f") if number is not None else str(value)
    if isinstance(value, list | dict):
        return _sized(json.dumps(value, default=str, ensure_ascii=False))
    return str(value)


def _sized(text: str) -> str:
    if len(text) > MAX_STRING:
        raise _Fail(f"the text would be longer than {MAX_STRING} characters")
    return text


def _number(value: Any, what: str = "value") -> Decimal:
    if value is None:
        raise _Fail(f"the {what} is empty, expected a number")
    number = to_decimal(value)
    if number is None and isinstance(value, str) and value.count(",") == 1 and "." not in value:
        number = to_decimal(value.replace(",", "."))
    if number is None:
        raise _Fail(f"cannot use {shown(value)} as a number")
    return _in_range(number)


def _in_range(number: Decimal) -> Decimal:
    if not number.is_finite() or (number and abs(number.adjusted()) > MAX_MAGNITUDE):
        raise _Fail("the number is out of range")
    return number


def _literal(segment: str | None) -> Decimal | None:
    try:
        return Decimal(segment.replace("_", "")) if segment else None
    except DecimalException:
        return None


def _integer(value: Any, what: str) -> int:
    number = _number(value, what)
    if number != number.to_integral_value():
        raise _Fail(f"the {what} must be a whole number, not {shown(value)}")
    return int(number)


def _truthy(value: Any) -> bool:
    if isinstance(value, Decimal | int | float):
        return value != 0
    return bool(value)


def _is_blank(value: Any) -> bool:
    return value is None or value == ""


def _many(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


# --------------------------------------------------------------------------------------------------------- functions
def _round(value: Any, digits: Any = 0) -> Decimal:
    places = _integer(digits, "number of decimals")
    if not 0 <= places <= 10:
        raise _Fail("round() keeps 0 to 10 decimals")
    return _number(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _number_fn(value: Any, *default: Any) -> Any:
    try:
        return _number(value)
    except _Fail:
        if default:
            return default[0]
        raise


def _replace(value: Any, old: Any, new: Any) -> str:
    text, old_text, new_text = _text(value), _text(old), _text(new)
    count = text.count(old_text) if old_text else len(text) + 1
    if len(text) + count * len(new_text) > MAX_STRING:
        raise _Fail(f"the text would be longer than {MAX_STRING} characters")
    return text.replace(old_text, new_text)


def _substr(value: Any, start: Any, length: Any = None) -> str:
    text, begin = _text(value), _integer(start, "start")
    if begin < 0:
        begin = max(len(text) + begin, 0)
    return text[begin:] if length is None else text[begin : begin + max(_integer(length, "length"), 0)]


def _slice(value: Any, start: Any, end: Any = None) -> str:
    text = _text(value)
    return text[_integer(start, "start") :] if end is None else text[_integer(start, "start") : _integer(end, "end")]


def _len(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, str | list | dict):
        return Decimal(len(value))
    raise _Fail(f"len() needs text or a list, not {shown(value)}")


def _join(values: Any, separator: Any = ", ") -> str:
    parts = [_text(v) for v in _many(values) if not _is_blank(v)]
    return _sized(_text(separator).join(parts))


def _concat(*values: Any) -> str:
    parts = [_text(v) for v in values]
    return _sized("".join(parts))


def _format_date(value: Any, fmt: Any = "%Y-%m-%d") -> str | None:
    if _is_blank(value):
        return None
    moment = to_datetime(value)
    if moment is None:
        raise _Fail(f"{shown(value)} is not a date (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)")
    pattern = _text(fmt)
    if len(pattern) > 100:
        raise _Fail("the date format is longer than 100 characters")
    return moment.strftime(pattern)


def _sum(*values: Any) -> Decimal:
    items = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
    return _in_range(sum((_number(v) for v in items if not _is_blank(v)), Decimal(0)))


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def run(*values: Any) -> Any:
        items = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
        numbers = [_number(v) for v in items if not _is_blank(v)]
        return pick(numbers) if numbers else None

    return run


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return next((v for v in value if v is not None), None)
    return value


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not _is_blank(v)), None)


def _split(value: Any, separator: Any = ",") -> list[str]:
    if _is_blank(value):
        return []
    sep = _text(separator)
    if not sep:
        raise _Fail("split() needs a non-empty separator")
    return [part.strip() for part in _text(value).split(sep)][:MAX_LIST]


_TAGS = re.compile(r"<[^>]*>")

FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any] | None]] = {
    "upper": (1, 1, lambda v: _text(v).upper()),
    "lower": (1, 1, lambda v: _text(v).lower()),
    "trim": (1, 1, lambda v: _text(v).strip()),
    "concat": (1, None, _concat),
    "join": (1, 2, _join),
    "replace": (3, 3, _replace),
    "substr": (2, 3, _substr),
    "slice": (2, 3, _slice),
    "split": (1, 2, _split),
    "len": (1, 1, _len),
    "round": (1, 2, _round),
    "number": (1, 2, _number_fn),
    "text": (1, 1, _text),
    "coalesce": (1, None, _coalesce),
    "default": (2, 2, _coalesce),
    "format_date": (1, 2, _format_date),
    "strip_html": (1, 1, lambda v: _TAGS.sub("", _text(v)).strip()),
    "html_unescape": (1, 1, lambda v: html.unescape(_text(v))),
    "region": (1, 2, region),
    "sum": (1, None, _sum),
    "min": (1, None, _extreme(min)),
    "max": (1, None, _extreme(max)),
    "abs": (1, 1, lambda v: abs(_number(v))),
    "first": (1, 1, _first),
    "lookup": (2, 3, None),  # needs the run's tables: handled by the interpreter
    "field": (1, 1, None),  # needs the record: handled by the interpreter
}
"""Function name → (fewest arguments, most arguments or None, implementation).

``field(path)`` (also ``$(path)``) reads a path; ``lookup(table, key[, default])`` reads a table given as a dict or
by the name of one of the map node's tables (a miss without default raises :class:`MissingMapping`).
"""

_REFUSED = {
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed; use concat()",
    ast.NamedExpr: "assignments (:=) are not allowed",
    ast.Slice: "slices are not allowed; use substr() or slice()",
    ast.Starred: "* arguments are not allowed",
    ast.Await: "await is not allowed",
    ast.Set: "sets are not allowed; use a list [...]",
}
_ALLOWED = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Call,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.List,
    ast.Tuple,
    ast.Dict,
)
_BINARY: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_LITERALS = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)


def _offset(source: str, node: Any, lead: int) -> int | None:
    """The character offset of ``node`` in the user's text (``source`` is one line, ``lead`` spaces stripped)."""
    col = getattr(node, "col_offset", None)
    return None if col is None else lead + len(source.encode()[:col].decode(errors="ignore"))


def _prepare(source: str) -> str:
    """Replace ``$`` outside text literals by a placeholder name and drop ``[*]``, for Python's parser."""
    if _DOLLAR in source:
        raise ExpressionError(f"the character {shown(_DOLLAR)} is not allowed", source, source.index(_DOLLAR))
    out, i, quote = [], 0, ""
    while i < len(source):
        char = source[i]
        if quote:
            if char == "\\":
                out.append(source[i : i + 2])
                i += 2
                continue
            if source.startswith(quote, i):
                out.append(quote)
                i += len(quote)
                quote = ""
                continue
        elif char in "'\"":
            quote = char * 3 if source.startswith(char * 3, i) else char
            out.append(quote)
            i += len(quote)
            continue
        elif char == "$":
            char = _DOLLAR
        elif char in "\r\n\t":
            char = " "  # one line, so that an expression may be spread over lines in the editor
        elif source.startswith("[*]", i):
            # line_items[*].sku reads like a path; a field of a list already reads every item, so drop the [*]
            # (three spaces keep the columns of later errors right).
            out.append("   ")
            i += 3
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _check(source: str, tree: ast.Expression, lead: int) -> None:
    count = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr):
            continue
        count += 1

        def fail(message: str, at: ast.AST = node) -> ExpressionError:
            return ExpressionError(message, source, _offset(source, at, lead))

        if count > MAX_NODES:
            raise fail(f"the expression is too complex (more than {MAX_NODES} parts)")
        for refused, message in _REFUSED.items():
            if isinstance(node, refused):
                raise fail(message)
        if not isinstance(node, _ALLOWED):
            raise fail(f"{type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | int | float | bool | type(None)):
            raise fail(f"{type(node.value).__name__} values are not allowed")
        if isinstance(node, ast.Name) and _DOLLAR in node.id and node.id != _DOLLAR:
            raise fail('\'$\' stands alone: use $.field, $("path") or $["key"]')
        if isinstance(node, ast.Attribute) and _DOLLAR in node.attr:
            raise fail("'$' cannot follow a '.'")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise fail(f"names starting with '__' are not allowed ({node.id})")
        if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.value, _LITERALS):
            raise fail("fields can only be read from record data, e.g. billing.country")
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            raise fail(f"names starting with '__' are not allowed ({node.attr})")
        if isinstance(node, ast.BinOp) and type(node.op) not in _BINARY:
            raise fail(f"the operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            raise fail("the operator ~ is not allowed")
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            raise fail("'is' is not allowed; use == or !=")
        if isinstance(node, ast.Call):
            _check_call(node, fail)


def _check_call(node: ast.Call, fail: Callable[..., ExpressionError]) -> None:
    if not isinstance(node.func, ast.Name):
        raise fail("only the functions of the expression language can be called", node.func)
    name = "field" if node.func.id == _DOLLAR else node.func.id
    if name not in FUNCTIONS:
        raise fail(f"unknown function {shown(name)}; available: {', '.join(sorted(FUNCTIONS))}", node.func)
    if node.keywords:
        raise fail(f"{name}() takes no keyword arguments", node.keywords[0].value)
    low, high, _ = FUNCTIONS[name]
    if len(node.args) < low or (high is not None and len(node.args) > high):
        wanted = f"at least {low}" if high is None else str(low) if high == low else f"{low} to {high}"
        raise fail(f"{name}() takes {wanted} argument(s), got {len(node.args)}")
    if name == "field" and isinstance(node.args[0], ast.Constant):
        try:
            parse_path(str(node.args[0].value))
        except PathError as exc:
            raise fail(f"field(): {exc}", node.args[0]) from None


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked expression, ready to evaluate on many records."""

    source: str
    tree: ast.Expression
    prepared: str
    """The parsed text: ``source`` on one line, stripped, ``$`` replaced by a placeholder, ``[*]`` dropped."""
    lead: int
    """How many characters were stripped from the front (to report columns in the user's text)."""

    def evaluate(self, data: Any, *, tables: dict[str, dict[str, Any]] | None = None) -> Any:
        """The value of the expression for ``data`` (a record's payload).

        Args:
            data: the record data that names and ``$`` read.
            tables: named tables for ``lookup("<name>", key)``.

        Raises:
            MissingMapping: ``lookup`` on a named table missed and had no default.
            ExpressionError: the expression cannot be evaluated on this data (message with the column).
        """
        with localcontext(_CONTEXT):
            return _Interpreter(self.prepared, self.lead, data, tables or {}).run(self.tree.body)


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> Expression:
    """Parse and check ``source`` once (cached).

    Raises:
        ExpressionError: the expression is malformed, too long or uses something not allowed.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters", source)
    one_line = _prepare(source)
    prepared = one_line.strip(" ")
    lead = len(one_line) - len(one_line.lstrip(" "))
    try:
        tree = ast.parse(prepared, mode="eval")
    except SyntaxError as exc:
        position = lead + min(max((exc.offset or 1) - 1, 0), len(prepared))
        raise ExpressionError(f"syntax error: {exc.msg}", source, position) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the expression is nested too deeply", source) from None
    _check(prepared, tree, lead)
    return Expression(source, tree, prepared, lead)


def evaluate(source: str, data: Any, *, tables: dict[str, dict[str, Any]] | None = None) -> Any:
    """Compile (cached) and evaluate ``source`` on ``data``; see :meth:`Expression.evaluate`."""
    return compile_expression(source).evaluate(data, tables=tables)


class _Interpreter:
    def __init__(self, source: str, lead: int, data: Any, tables: dict[str, dict[str, Any]]) -> None:
        self.source = source
        self.lead = lead
        self.data = data
        self.tables = tables

    def error(self, message: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(message, self.source, _offset(self.source, node, self.lead))

    def run(self, node: ast.expr) -> Any:
        try:
            return self.eval(node)
        except _Fail as exc:
            raise self.error(str(exc), node) from None

    def eval(self, node: ast.expr) -> Any:
        handler = getattr(self, f"_{type(node).__name__}")
        try:
            return handler(node)
        except _Fail as exc:
            raise self.error(str(exc), node) from None
        except DecimalException:
            raise self.error("the calculation is not possible", node) from None

    def _Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            # Read a float's digits from the text so that 12.50 keeps its two decimals (repr would give 12.5).
            segment = ast.get_source_segment(self.source, node) if isinstance(value, float) else None
            number = _literal(segment) or to_decimal(value)
            if number is None:
                raise _Fail("the number is out of range")
            return _in_range(number)
        return value

    def _Name(self, node: ast.Name) -> Any:
        if node.id == _DOLLAR:
            return self.data
        return self.data.get(node.id) if isinstance(self.data, dict) else None

    def _member(self, base: Any, key: Any) -> Any:
        if base is None:
            return None
        if isinstance(base, dict):
            return base.get(_text(key))
        if isinstance(base, list):
            if isinstance(key, Decimal | int):
                index = _integer(key, "index")
                return base[index] if -len(base) <= index < len(base) else None
            return [item.get(key) for item in base if isinstance(item, dict) and key in item]
        raise _Fail(f"cannot read {shown(key)} of {shown(_text(base)[:40])} (not a record object or list)")

    def _Attribute(self, node: ast.Attribute) -> Any:
        return self._member(self.eval(node.value), node.attr)

    def _Subscript(self, node: ast.Subscript) -> Any:
        return self._member(self.eval(node.value), self.eval(node.slice))

    def _List(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [self.eval(item) for item in node.elts]

    _Tuple = _List

    def _Dict(self, node: ast.Dict) -> dict[str, Any]:
        if any(key is None for key in node.keys):
            raise _Fail("** in a dict is not allowed")
        pairs = zip(node.keys, node.values, strict=True)
        return {_text(self.eval(key)): self.eval(value) for key, value in pairs if key is not None}

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if _truthy(self.eval(node.test)) else self.eval(node.orelse)

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if _truthy(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not _truthy(value)
        number = _number(value, "operand")
        return -number if isinstance(node.op, ast.USub) else +number

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        symbol = _BINARY[type(node.op)]
        if symbol == "+":
            if isinstance(left, str | type(None)) and isinstance(right, str | type(None)):
                return _sized(_text(left) + _text(right))
            if isinstance(left, list) and isinstance(right, list):
                if len(left) + len(right) > MAX_LIST:
                    raise _Fail(f"the list would have more than {MAX_LIST} items")
                return left + right
            numeric = to_decimal(left) is not None and to_decimal(right) is not None
            if isinstance(left, str) != isinstance(right, str) and not numeric:
                raise _Fail("cannot add text and a number; use concat() or text()")
        a, b = _number(left, "left side"), _number(right, "right side")
        if symbol in ("/", "//", "%") and b == 0:
            raise _Fail("division by zero")
        if symbol == "**":
            if b != b.to_integral_value() or abs(b) > MAX_EXPONENT:
                raise _Fail(f"the exponent must be a whole number from -{MAX_EXPONENT} to {MAX_EXPONENT}")
            return _in_range(a ** int(b))
        results: dict[str, Callable[[], Decimal]] = {
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "/": lambda: a / b,
            "//": lambda: a // b,
            "%": lambda: a % b,
        }
        return _in_range(results[symbol]())

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not self._compare(op, left, right):
                return False
            left = right
        return True

    def _compare(self, op: ast.cmpop, left: Any, right: Any) -> bool:
        if isinstance(op, ast.Eq | ast.NotEq):
            return values_equal(left, right) == isinstance(op, ast.Eq)
        if isinstance(op, ast.In | ast.NotIn):
            if isinstance(right, list):
                found = any(values_equal(left, item) for item in right)
            elif isinstance(right, dict):
                found = _text(left) in right
            else:
                found = right is not None and _text(left) in _text(right)
            return found == isinstance(op, ast.In)
        pair = ordered_pair(left, right)
        if pair is None:
            if not (isinstance(left, str) and isinstance(right, str)):
                raise _Fail(f"cannot compare {shown(left)} with {shown(right)}")
            pair = (left, right)
        a, b = pair
        checks = {ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b}
        return checks[type(op)]

    def _Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # guaranteed by _check_call
        name = "field" if node.func.id == _DOLLAR else node.func.id
        args = [self.eval(arg) for arg in node.args]
        if name == "field":
            return self._field(args[0])
        if name == "lookup":
            return self._lookup(*args)
        function = FUNCTIONS[name][2]
        assert function is not None  # only field and lookup lack one
        return function(*args)

    def _field(self, path: Any) -> Any:
        if not isinstance(path, str):
            raise _Fail("field() needs a path as text")
        try:
            return get_values(self.data, path) if is_many(path) else get_value(self.data, path)
        except PathError as exc:
            raise _Fail(str(exc)) from None

    def _lookup(self, table: Any, key: Any, *default: Any) -> Any:
        name = None
        if isinstance(table, str):
            name = table
            if name not in self.tables:
                known = ", ".join(sorted(self.tables)) or "none"
                raise _Fail(f"there is no table named {shown(name)} (tables: {known})")
            table = self.tables[name]
        if not isinstance(table, dict):
            raise _Fail("lookup() needs a table name or a {key: value} dict")
        text = _text(key)
        number = to_decimal(key)
        for candidate in (text, format(number.normalize(), "f") if number is not None else None):
            if candidate is not None and candidate in table:
                return table[candidate]
        if default:
            return default[0]
        if name is not None:
            raise MissingMapping(name, text)
        return None
