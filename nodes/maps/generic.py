"""The generic ``map`` node: builds the outgoing record field by field from the user's configuration.

Each entry of ``fields`` writes one target path from one source:

- ``path``: the value at a path of the incoming record (a list when the path has ``[*]``);
- ``constant``: a fixed value;
- ``expression``: a safe expression (:mod:`nodes.expressions`), e.g. ``upper(billing.country)``;
- ``table``: the value a mapping table gives for the key read at ``key_path`` (e.g. country → VAT code).

When a source yields nothing (missing or null value, an expression giving null, a key the table lacks),
``on_missing`` decides: ``default`` writes ``default`` (and leaves the target out when there is no default),
``needs_mapping`` (tables only) parks the record as waiting until the user adds the row, ``fail`` fails the record
and ``skip`` skips it. Sources always read the incoming record, never the fields written before them.

A field with ``for_each`` (e.g. ``line_items[*]``) loops over that list: its source reads each item in turn (paths,
expressions and table keys are relative to the item) and the target, which names the output list with one ``[*]``
(e.g. ``lines[*].sku``), gets one output line per item, in order. Several fields looping over the same list fill the
same lines, so ``lines[*].sku`` and ``lines[*].qty`` build one line per line item.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from nodes.base import ANY, Kind, NeedsMapping, NodeConfig, Port, ProcessNode, Record, RecordFailed, SkipRecord
from nodes.conditions import to_decimal
from nodes.expressions import ExpressionError, MissingMapping, compile_expression
from nodes.paths import PathError, Wildcard, format_path, get_value, get_values, is_many, parse_path, set_value
from nodes.texts import shown

__all__ = ("FieldMapping", "FieldSource", "MapConfig", "MapNode")

_MISSING: Any = object()


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as is (no "Value error, " prefix)."""
    return PydanticCustomError("invalid", "{message}", {"message": message})


def _check_path(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_path(value)
        except PathError as exc:
            raise _invalid(str(exc)) from None
    return value


class FieldSource(BaseModel):
    """Where one target field's value comes from."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["path", "constant", "expression", "table"] = Field(
        title="Kind", description="Where the value comes from"
    )
    path: str | None = Field(
        None,
        title="Path",
        description="For kind path: e.g. billing.email or line_items[*].sku",
        json_schema_extra={"ui": {"widget": "field_picker"}},
    )
    value: Any = Field(None, title="Value", description="For kind constant: the value")
    expression: str | None = Field(
        None,
        title="Expression",
        description='For kind expression: e.g. concat(billing.first_name, " ", billing.last_name)',
    )
    table: dict[str, Any] | None = Field(
        None,
        title="Table",
        description="For kind table: key → value (e.g. country → VAT code)",
        json_schema_extra={"ui": {"widget": "table"}},
    )
    key_path: str | None = Field(
        None,
        title="Key",
        description="For kind table: the path of the key, e.g. billing.country",
        json_schema_extra={"ui": {"widget": "field_picker"}},
    )
    default: Any = Field(None, title="Default", description="Used when the source yields nothing (on_missing default)")
    on_missing: Literal["default", "needs_mapping", "fail", "skip"] = Field(
        "default",
        title="When missing",
        description="default: use the default; needs_mapping: wait for a table row; fail / skip the record",
    )

    _check_paths = field_validator("path", "key_path")(_check_path)

    @field_validator("expression")
    @classmethod
    def _check_expression(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_expression(value)
            except ExpressionError as exc:
                raise _invalid(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> FieldSource:
        needed = {"path": "path", "expression": "expression", "table": "table"}.get(self.kind)
        if needed and getattr(self, needed) is None:
            raise _invalid(f"{needed} is required for kind {shown(self.kind)}")
        if self.kind == "table" and self.key_path is None:
            raise _invalid("key_path is required for kind 'table'")
        if self.on_missing == "needs_mapping" and self.kind != "table":
            raise _invalid("on_missing 'needs_mapping' only applies to kind 'table'")
        return self


class FieldMapping(BaseModel):
    """One target field and its source."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(title="Target field", description="Path to write, e.g. customer.name or lines[0].amount")
    source: FieldSource = Field(title="Source")
    for_each: str | None = Field(
        None,
        title="For each item of",
        description="Repeat for each item of this list, e.g. line_items[*]; the source then reads the item and the "
        "target names the output list with [*], e.g. lines[*].sku",
        json_schema_extra={"ui": {"widget": "field_picker"}},
    )

    @field_validator("target")
    @classmethod
    def _check_target(cls, value: str) -> str:
        _check_path(value)
        if not parse_path(value):
            raise _invalid("the target must name a field, not the whole record ('$')")
        return value

    _check_for_each = field_validator("for_each")(_check_path)

    @model_validator(mode="after")
    def _check_loop(self) -> FieldMapping:
        if self.for_each is not None:
            wildcards = [step for step in parse_path(self.target) if isinstance(step, Wildcard)]
            if len(wildcards) != 1:
                raise _invalid("with for_each, the target must name the output list with one [*], e.g. lines[*].sku")
        return self


class MapConfig(NodeConfig):
    """The fields of the outgoing record."""

    fields: list[FieldMapping] = Field(
        default_factory=list, title="Fields", description="Target field ← source, applied in order"
    )
    keep_source: bool = Field(
        False,
        title="Keep incoming fields",
        description="Start from a copy of the incoming record (on) or from an empty object (off)",
    )
    tables: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        title="Lookup tables",
        description='Named tables for lookup("name", key) in expressions',
        json_schema_extra={"ui": {"widget": "table"}},
    )

    @field_validator("fields")
    @classmethod
    def _unique_targets(cls, value: list[FieldMapping]) -> list[FieldMapping]:
        seen: set[str] = set()
        for mapping in value:
            if mapping.target in seen:
                raise _invalid(f"the target {shown(mapping.target)} is mapped twice")
            seen.add(mapping.target)
        return value


class MapNode(ProcessNode):
    """Build a new record from paths, constants, safe expressions and lookup tables."""

    type = "map"
    kind = Kind.MAP
    title = "Map fields"
    description = "Set target fields from record fields, constants, expressions or lookup tables (with defaults)."
    config_model = MapConfig
    inputs = (Port("in", ANY),)
    outputs = (Port("out", ANY),)

    async def process(self, record: Record) -> Record:
        """The record carrying the mapped data.

        Raises:
            NeedsMapping: a table lacks the key and the field says needs_mapping (or ``lookup`` on a named table
                missed without default).
            RecordFailed: a value is missing and the field says fail, or an expression cannot be evaluated.
            SkipRecord: a value is missing and the field says skip.
        """
        config = self.config
        assert isinstance(config, MapConfig)
        data = record.data
        out: dict[str, Any] = copy.deepcopy(data) if config.keep_source else {}
        for mapping in config.fields:
            try:
                if mapping.for_each is not None:
                    items = _items(data, mapping.for_each)
                    values = [self._value(mapping, item, config.tables) for item in items]
                    _set_each(out, mapping.target, values)
                    continue
                value = self._value(mapping, data, config.tables)
                if value is not _MISSING:
                    set_value(out, mapping.target, value)
            except PathError as exc:
                raise RecordFailed(f"{mapping.target}: {exc.message}") from None
        return record.derive(out)

    def _value(self, mapping: FieldMapping, data: Any, tables: dict[str, dict[str, Any]]) -> Any:
        source = mapping.source
        key: Any = None
        if source.kind == "constant":
            return copy.deepcopy(source.value)
        if source.kind == "path":
            assert source.path is not None
            value = get_values(data, source.path) if is_many(source.path) else get_value(data, source.path)
        elif source.kind == "expression":
            assert source.expression is not None
            try:
                value = compile_expression(source.expression).evaluate(data, tables=tables)
            except MissingMapping as exc:
                raise NeedsMapping(f"tables.{exc.table}", exc.key) from None
            except ExpressionError as exc:
                raise RecordFailed(f"{mapping.target}: {exc}") from None
        else:
            assert source.key_path is not None and source.table is not None
            key = _key_text(get_value(data, source.key_path))
            value = source.table.get(key, _MISSING)
            number = to_decimal(key)
            if value is _MISSING and number is not None:
                value = source.table.get(format(number.normalize(), "f"), _MISSING)
        if value is None or value is _MISSING:
            return self._missing(mapping, key)
        return value

    @staticmethod
    def _missing(mapping: FieldMapping, key: str | None) -> Any:
        source = mapping.source
        what = {
            "path": f"{source.path} is not set",
            "expression": "the expression gave no value",
            "table": f"the table has no row for {shown(key)} (from {source.key_path})",
        }.get(source.kind, "no value")
        if source.on_missing == "needs_mapping":
            if not key:
                # No row can be added for a key the record lacks: that is the record's problem, not the table's.
                raise RecordFailed(f"{mapping.target}: {source.key_path} is not set, so the table cannot be used")
            raise NeedsMapping(mapping.target, key)
        if source.on_missing == "fail":
            raise RecordFailed(f"{mapping.target}: {what}")
        if source.on_missing == "skip":
            raise SkipRecord(f"{mapping.target}: {what}")
        return _MISSING if source.default is None else copy.deepcopy(source.default)


def _items(data: dict[str, Any], path: str) -> list[Any]:
    """The items ``for_each`` loops over: ``line_items`` and ``line_items[*]`` both give the list's items."""
    values = get_values(data, path)
    if len(values) == 1 and isinstance(values[0], list) and not is_many(path):
        return list(values[0])
    return values


def _set_each(out: dict[str, Any], target: str, values: list[Any]) -> None:
    """Write ``values[i]`` into line ``i`` of the list the target's ``[*]`` names, creating the lines as needed.

    A value that is missing (``_MISSING``) leaves that line's field out, but the line itself still exists.

    Raises:
        PathError: the target crosses a value that is not a container.
    """
    steps = parse_path(target)
    at = next(i for i, step in enumerate(steps) if isinstance(step, Wildcard))
    head, rest = steps[:at], steps[at + 1 :]
    lines = get_value(out, format_path(head)) if head else None
    if not isinstance(lines, list):
        if lines is not None:
            raise PathError(f"{format_path(head)} is not a list", target)
        lines = []
        set_value(out, format_path(head), lines)
    while len(lines) < len(values):
        lines.append({} if rest else None)
    for i, value in enumerate(values):
        if not rest:
            if value is not _MISSING:
                lines[i] = value
            continue
        if lines[i] is None:
            lines[i] = {}
        if not isinstance(lines[i], dict):
            raise PathError(f"line {i + 1} of {format_path(head)} is not an object", target)
        if value is not _MISSING:
            set_value(lines[i], format_path(rest), value)


def _key_text(value: Any) -> str:
    """A table key as text: booleans as true/false, null as "" (a number with zero decimals also tries "21")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
