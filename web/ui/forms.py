"""From a node's config JSON Schema (with ``ui`` hints) to the widgets of its form in the side panel."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ("NO_VALUE_OPS", "OPERATORS", "OPERATOR_TAKES", "Widget", "build_widgets", "field_problems")

OPERATORS: list[tuple[str, str]] = [
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("in", "is one of"),
    ("not_in", "is none of"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("greater", "is greater than"),
    ("greater_or_equal", "is at least"),
    ("less", "is less than"),
    ("less_or_equal", "is at most"),
    ("is_set", "is set"),
    ("not_set", "is not set"),
    ("not_empty", "is not empty"),
    ("is_empty", "is empty"),
    ("matches", "matches pattern"),
    ("not_matches", "does not match pattern"),
]
NO_VALUE_OPS = {"is_set", "not_set", "not_empty", "is_empty"}
OPERATOR_TAKES: dict[str, str] = {
    "in": "takes a list",
    "not_in": "takes a list",
    "greater": "takes a number or date",
    "greater_or_equal": "takes a number or date",
    "less": "takes a number or date",
    "less_or_equal": "takes a number or date",
    "matches": "takes a pattern",
    "not_matches": "takes a pattern",
    **dict.fromkeys(NO_VALUE_OPS, "no value"),
}
"""What an operator's value box takes, said beside the operator in the filter form ("is one of — takes a list")."""


@dataclass
class Widget:
    """One field of the form: ``widget`` picks the template macro."""

    name: str
    title: str
    description: str
    widget: str
    value: Any
    required: bool = False
    nullable: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    options_from: str | None = None
    key_options_from: str | None = None
    value_options_from: str | None = None
    value_type: str = "string"
    errors: list[str] = field(default_factory=list)
    connection: str | None = None
    key_connection: str | None = None
    value_connection: str | None = None


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.split("/")[-1], {})
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _non_null(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its ``null`` alternative, and whether it was nullable."""
    variants = schema.get("anyOf")
    if isinstance(variants, list):
        rest = [v for v in variants if v.get("type") != "null"]
        nullable = len(rest) < len(variants)
        if len(rest) == 1:
            merged = {**_resolve(rest[0], defs), **{k: v for k, v in schema.items() if k != "anyOf"}}
            return merged, nullable
        return {**schema, "type": "mixed"}, nullable
    return schema, False


def _app_connection(app: str, config: dict[str, Any], node_app: str | None, apps: dict[str, str]) -> str | None:
    """The connection to read options of ``app`` from: the node's own, a ``<app>_connection`` field, or any."""
    own = config.get("connection")
    if isinstance(own, str) and apps.get(own) == app:
        return own
    other = config.get(f"{app}_connection")
    if isinstance(other, str) and apps.get(other) == app:
        return other
    for name, kind in apps.items():
        if kind == app:
            return name
    return None


def _conn_for(kind: str | None, config: dict[str, Any], node_app: str | None, apps: dict[str, str]) -> str | None:
    if not kind:
        return None
    return _app_connection(kind.split(".", 1)[0], config, node_app, apps)


def build_widgets(
    schema: dict[str, Any],
    config: dict[str, Any],
    *,
    node_app: str | None,
    connections: dict[str, str],
    problems: list[dict[str, Any]] | None = None,
) -> list[Widget]:
    """The widgets of a node's form, in the schema's order, holding the node's current values."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    errors = field_problems(problems or [])
    widgets: list[Widget] = []
    for name, raw in (schema.get("properties") or {}).items():
        prop, nullable = _non_null(_resolve(raw, defs), defs)
        ui = prop.get("ui") or raw.get("ui") or {}
        value = config.get(name, prop.get("default"))
        kind = prop.get("type")
        w = Widget(
            name=name,
            title=str(prop.get("title") or name.replace("_", " ").capitalize()),
            description=str(prop.get("description") or ""),
            widget="text",
            value=value,
            required=name in required,
            nullable=nullable,
            errors=errors.get(name, []),
        )
        widget = ui.get("widget")
        if name == "connection" or name.endswith("_connection"):
            app = node_app if name == "connection" else name.removesuffix("_connection")
            w.widget = "select"
            w.options = [(n, n) for n, a in connections.items() if app is None or a == app]
            if isinstance(value, str) and value and value not in dict(w.options):
                w.options.insert(0, (value, value))
        elif widget == "conditions":
            w.widget = "conditions"
            w.value = value if isinstance(value, dict) else {"all": []}
        elif widget == "routes":
            w.widget = "routes"
            w.value = _route_rows(name, value, problems or [])
            w.errors = [str(p.get("message") or "") for p in problems or [] if p.get("field") == name]
        elif widget == "table" or (kind == "object" and isinstance(prop.get("additionalProperties"), dict)):
            w.widget = "table"
            w.value = value if isinstance(value, dict) else {}
            w.key_options_from = ui.get("key_options_from")
            w.value_options_from = ui.get("value_options_from")
            w.key_connection = _conn_for(w.key_options_from, config, node_app, connections)
            w.value_connection = _conn_for(w.value_options_from, config, node_app, connections)
        elif widget == "select" and ui.get("options_from"):
            w.widget = "multiselect" if kind == "array" else "select"
            w.options_from = ui["options_from"]
            w.connection = _conn_for(w.options_from, config, node_app, connections)
        elif widget == "field_picker":
            w.widget = "field"
        elif "enum" in prop:
            w.widget = "enum"
            w.options = [(str(v), str(v).replace("_", " ")) for v in prop["enum"]]
        elif kind == "boolean":
            w.widget = "checkbox"
        elif kind in ("integer", "number"):
            w.widget = "number"
            w.value_type = kind
        elif kind == "array" and {"target", "source"} <= set(_item_properties(prop, defs)):
            w.widget = "fieldmap"
            w.value = [_fieldmap_row(item) for item in value] if isinstance(value, list) else []
        elif kind == "array" and _resolve(prop.get("items") or {}, defs).get("type") == "string":
            items = _resolve(prop.get("items") or {}, defs)
            if "enum" in items:
                w.widget = "multiselect"
                w.options = [(str(v), str(v).replace("_", " ")) for v in items["enum"]]
            else:
                w.widget = "lines"
                w.value = value if isinstance(value, list) else []
        elif kind == "string":
            w.widget = "text"
        elif kind == "mixed" and all(
            v.get("type") in ("number", "string", "integer") for v in (prop.get("anyOf") or [])
        ):
            w.widget = "text"
            w.value = "" if value is None else str(value)
        else:
            w.widget = "json"
            w.value = json.dumps(value, indent=2, ensure_ascii=False) if value is not None else ""
        widgets.append(w)
    return widgets


def _route_rows(name: str, value: Any, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A router's outputs for the form: each one's name, conditions and the problems of that output."""
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(value if isinstance(value, list) else []):
        item = item if isinstance(item, dict) else {}
        conditions = item.get("conditions")
        prefix = f"{name}[{index}]"
        errors = [
            str(p.get("message") or "")
            for p in problems
            if str(p.get("field") or "") == prefix or str(p.get("field") or "").startswith((f"{prefix}.", f"{prefix}["))
        ]
        rows.append(
            {
                "output": str(item.get("output") or ""),
                "conditions": conditions if isinstance(conditions, dict) else {"all": []},
                "errors": errors,
            }
        )
    return rows


def _item_properties(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    properties = _resolve(prop.get("items") or {}, defs).get("properties")
    return properties if isinstance(properties, dict) else {}


def _fieldmap_row(item: Any) -> dict[str, Any]:
    """One row of the generic map's field list, flattened for the form."""
    item = item if isinstance(item, dict) else {}
    raw_source = item.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    kind = str(source.get("kind") or "path")
    if kind == "constant":
        text = "" if source.get("value") is None else str(source.get("value"))
    elif kind == "expression":
        text = str(source.get("expression") or "")
    elif kind == "table":
        text = str(source.get("key_path") or "")
    else:
        text = str(source.get("path") or "")
    raw_table = source.get("table")
    table: dict[str, Any] = raw_table if isinstance(raw_table, dict) else {}
    return {
        "target": str(item.get("target") or ""),
        "kind": kind,
        "text": text,
        "table": "\n".join(f"{k} = {v}" for k, v in table.items()),
        "default": "" if source.get("default") is None else str(source.get("default")),
        "on_missing": str(source.get("on_missing") or "default"),
    }


def field_problems(problems: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Validation problems of one node by top-level config field (``conditions.all[0].field`` → ``conditions``)."""
    out: dict[str, list[str]] = {}
    for problem in problems:
        path = str(problem.get("field") or "")
        top = path.split(".", 1)[0].split("[", 1)[0] or "_node"
        if top == "config":
            rest = path.split(".", 2)
            top = rest[1].split("[", 1)[0] if len(rest) > 1 else "_node"
        out.setdefault(top, []).append(str(problem.get("message") or ""))
    return out
