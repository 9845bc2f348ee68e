"""Paths over nested JSON records: ``billing.country``, ``line_items[*].sku``, ``meta_data[key=vat].value``.

Grammar (whitespace is not significant around ``.``, ``[`` and ``]``)::

    path     := ["$" ["."]] step ("." key | "[" selector "]")*
    key      := name | quoted            name: letters, digits, "_", "-" (anything but . [ ] = quotes space)
    selector := "*"                      every item of a list
              | integer                  one item (negative counts from the end)
              | quoted                   a key that needs quoting: ["first name"]
              | name "=" (name | quoted) the items of a list whose field equals the value (compared as text)
    quoted   := '"' ... '"' | "'" ... "'"   (backslash escapes the quote and itself)

Reading is forgiving: a key applied to a list reads that key of every item (``line_items.sku`` is
``line_items[*].sku``), a digit-only key applied to a list is an index, and a path that does not exist yields no
values rather than an error. Only a malformed path raises :class:`PathError`, with the position of the problem,
so the flow validator can show it to the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nodes.texts import shown

__all__ = (
    "Index",
    "Key",
    "PathError",
    "Select",
    "Step",
    "Wildcard",
    "checked_path",
    "format_path",
    "get_value",
    "get_values",
    "is_many",
    "list_paths",
    "parse_path",
    "set_value",
)

MAX_PATH_LENGTH = 500
_NAME = re.compile(r"[^.\[\]=\"'\s]+")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_INTEGER = re.compile(r"-?\d+")


class PathError(ValueError):
    """A malformed path (or a path that cannot be written), with the 0-based position of the problem."""

    def __init__(self, message: str, path: str = "", position: int | None = None) -> None:
        self.message = message
        self.path = path
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where} in path {shown(path)}" if path else message)


@dataclass(frozen=True)
class Key:
    """A dict key."""

    name: str


@dataclass(frozen=True)
class Index:
    """A list index (negative counts from the end)."""

    index: int


@dataclass(frozen=True)
class Wildcard:
    """Every item of a list (``[*]``)."""


@dataclass(frozen=True)
class Select:
    """The list items whose ``field`` equals ``value`` when both are compared as text (``[key=_vat]``)."""

    field: str
    value: str


Step = Key | Index | Wildcard | Select


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, position: int | None = None) -> PathError:
        return PathError(message, self.text, self.pos if position is None else position)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def quoted(self) -> str:
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error(f"unclosed quote {quote}", start)

    def name(self, what: str) -> str:
        self.skip_space()
        if self.peek() in ("'", '"'):
            return self.quoted()
        match = _NAME.match(self.text, self.pos)
        if not match:
            found = shown(self.peek()) if self.peek() else "the end"
            raise self.error(f"expected {what}, found {found}")
        self.pos = match.end()
        return match.group()

    def selector(self) -> Step:
        self.skip_space()
        start = self.pos
        if self.peek() == "*":
            self.pos += 1
            step: Step = Wildcard()
        elif self.peek() in ("'", '"'):
            step = Key(self.quoted())
        else:
            match = _INTEGER.match(self.text, self.pos)
            if match and not _NAME.match(self.text, match.end()):
                self.pos = match.end()
                step = Index(int(match.group()))
            else:
                field = self.name("an index, '*' or field=value")
                self.skip_space()
                if self.peek() != "=":
                    raise self.error("a selector needs '=' (e.g. [key=value]); use [\"...\"] for a quoted key", start)
                self.pos += 1
                step = Select(field, self.name("a value after '='"))
        self.skip_space()
        if self.peek() != "]":
            raise self.error("expected ']'")
        self.pos += 1
        return step

    def parse(self) -> tuple[Step, ...]:
        if not self.text.strip():
            raise PathError("the path is empty", self.text, 0)
        if len(self.text) > MAX_PATH_LENGTH:
            raise PathError(f"the path is longer than {MAX_PATH_LENGTH} characters", self.text)
        steps: list[Step] = []
        self.skip_space()
        if self.peek() == "$":
            self.pos += 1
            self.skip_space()
            if self.peek() == ".":
                self.pos += 1
            elif self.peek() not in ("[", ""):
                raise self.error("expected '.' or '[' after '$'")
        self.skip_space()
        if self.peek() == "[":
            self.pos += 1
            steps.append(self.selector())
        elif self.peek():
            steps.append(Key(self.name("a field name")))
        while True:
            self.skip_space()
            char = self.peek()
            if not char:
                return tuple(steps)
            self.pos += 1
            if char == ".":
                steps.append(Key(self.name("a field name after '.'")))
            elif char == "[":
                steps.append(self.selector())
            else:
                raise self.error(f'unexpected {shown(char)}; fields are separated by "."', self.pos - 1)


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[Step, ...]:
    """Parse ``path`` into steps (cached). ``"$"`` alone is the record itself (no steps).

    Raises:
        PathError: the path is malformed; the message says where and why.
    """
    if not isinstance(path, str):
        raise PathError(f"a path must be text, not {type(path).__name__}")
    return _Parser(path).parse()


def checked_path(value: str) -> str:
    """A config validator's check of an optional path: empty passes, else it must parse (its problem, plainly)."""
    if value:
        try:
            parse_path(value)
        except PathError as exc:
            raise ValueError(str(exc)) from None
    return value


def _format_key(name: str) -> str:
    if _PLAIN_KEY.fullmatch(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_path(steps: tuple[Step, ...] | list[Step]) -> str:
    """The canonical text of ``steps`` (inverse of :func:`parse_path`)."""
    out = ""
    for step in steps:
        if isinstance(step, Key):
            key = _format_key(step.name)
            out += ("." if out else "") + key if key[0] != '"' else f"[{key}]"
        elif isinstance(step, Index):
            out += f"[{step.index}]"
        elif isinstance(step, Wildcard):
            out += "[*]"
        else:
            out += f"[{_format_key(step.field)}={_format_key(step.value)}]"
    return out or "$"


def is_many(path: str) -> bool:
    """Whether ``path`` can reach several values (it has a ``[*]``)."""
    return any(isinstance(step, Wildcard) for step in parse_path(path))


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _step(values: list[Any], step: Step) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(step, Key):
            if isinstance(value, dict):
                if step.name in value:
                    out.append(value[step.name])
            elif isinstance(value, list):
                if step.name.isdigit():
                    if int(step.name) < len(value):
                        out.append(value[int(step.name)])
                else:
                    out.extend(_step(value, step))
        elif isinstance(value, list):
            if isinstance(step, Index):
                if -len(value) <= step.index < len(value):
                    out.append(value[step.index])
            elif isinstance(step, Wildcard):
                out.extend(value)
            else:
                out.extend(
                    item
                    for item in value
                    if isinstance(item, dict) and step.field in item and _as_text(item[step.field]) == step.value
                )
    return out


def get_values(data: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``data`` (empty when the path does not exist).

    Raises:
        PathError: the path is malformed.
    """
    steps = parse_path(path)
    if len(steps) == 1 and isinstance(data, dict) and isinstance(steps[0], Key):  # one field of an object
        name = steps[0].name
        return [data[name]] if name in data else []
    values = [data]
    for step in steps:
        values = _step(values, step)
        if not values:
            break
    return values


def get_value(data: Any, path: str, default: Any = None) -> Any:
    """The first value ``path`` reaches in ``data``, or ``default`` when there is none.

    Raises:
        PathError: the path is malformed.
    """
    values = get_values(data, path)
    return values[0] if values else default


def _container_for(step: Step) -> Any:
    return [] if isinstance(step, Index | Wildcard | Select) else {}


def _child(container: Any, step: Step, next_step: Step | None, path: str) -> list[Any]:
    """The containers ``step`` leads to inside ``container``, created where missing (``next_step`` says what kind)."""
    make = (lambda: _container_for(next_step)) if next_step is not None else (lambda: None)
    if isinstance(step, Key):
        if isinstance(container, dict):
            if container.get(step.name) is None:
                container[step.name] = make()
            return [(container, step.name)]
        if isinstance(container, list) and step.name.isdigit():
            return _child(container, Index(int(step.name)), next_step, path)
        raise PathError(f"cannot write field {shown(step.name)} into a {type(container).__name__} value", path)
    if not isinstance(container, list):
        raise PathError(f"cannot use [...] on a {type(container).__name__} value", path)
    if isinstance(step, Index):
        index = step.index
        if index < 0:
            if -index > len(container):
                raise PathError(f"index {index} is out of range (the list has {len(container)} items)", path)
            index += len(container)
        while len(container) <= index:
            container.append(None)
        if container[index] is None:
            container[index] = make()
        return [(container, index)]
    if isinstance(step, Wildcard):
        return [(container, i) for i in range(len(container))]
    matches = [
        (container, i)
        for i, item in enumerate(container)
        if isinstance(item, dict) and _as_text(item.get(step.field)) == step.value and step.field in item
    ]
    if not matches:
        container.append({step.field: step.value})
        matches = [(container, len(container) - 1)]
    return matches


def set_value(data: dict[str, Any], path: str, value: Any) -> None:
    """Write ``value`` at ``path`` inside ``data``, creating the dicts and lists on the way.

    ``[*]`` writes into every existing item; ``[field=value]`` writes into the matching items and appends a new
    ``{field: value}`` item when none matches; an index past the end pads the list with ``None``.

    Raises:
        PathError: the path is malformed, is ``$``, or crosses a value that is not a container.
    """
    steps = parse_path(path)
    if not steps:
        raise PathError("cannot replace the whole record ('$'); name a field", path)
    if len(steps) == 1 and isinstance(data, dict) and isinstance(steps[0], Key):  # one field: no way to walk
        data[steps[0].name] = value
        return
    slots: list[tuple[Any, Any]] = []
    containers: list[Any] = [data]
    for i, step in enumerate(steps):
        next_step = steps[i + 1] if i + 1 < len(steps) else None
        slots = [slot for container in containers for slot in _child(container, step, next_step, path)]
        containers = [parent[where] for parent, where in slots]
    for parent, where in slots:
        parent[where] = value


def _walk(value: Any, prefix: list[Step], out: dict[str, None], depth: int) -> None:
    if depth > 20:
        return
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _walk(item, [*prefix, Key(str(key))], out, depth + 1)
        return
    if isinstance(value, list) and value:
        for item in value:
            _walk(item, [*prefix, Wildcard()], out, depth + 1)
        # WooCommerce-style meta lists: offer meta_data[key=<key>].value for each key seen in the sample.
        if all(isinstance(item, dict) and "key" in item and "value" in item for item in value):
            for item in value:
                selected = [*prefix, Select("key", _as_text(item["key"]))]
                _walk(item["value"], [*selected, Key("value")], out, depth + 1)
        return
    if prefix:
        out[format_path(prefix)] = None


def list_paths(sample: Any) -> list[str]:
    """The paths to every leaf of ``sample`` for the canvas' field picker, list indexes collapsed to ``[*]``.

    Empty lists and dicts are listed as leaves; lists of ``{"key", "value"}`` items (WooCommerce ``meta_data``)
    also get one ``[key=...].value`` path per key.
    """
    out: dict[str, None] = {}
    _walk(sample, [], out, 0)
    return sorted(out)
