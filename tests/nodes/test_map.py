"""The generic ``map`` node: every source kind, missing values, tables that need a mapping, and config validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from nodes.base import Kind, NeedsMapping, Record, RecordFailed, SkipRecord
from nodes.maps.generic import MapConfig, MapNode
from nodes.registry import get_node_type
from tests.nodes.fakes import FakeContext, order_record


def make_map(fields: list[dict[str, Any]], **options: Any) -> MapNode:
    return MapNode("map-1", MapConfig.model_validate({"fields": fields, **options}), FakeContext())


VAT_CODES = {"NL": "hoog", "BE": "oss-be-21"}


def test_registered_as_map_kind() -> None:
    assert get_node_type("map") is MapNode
    described = MapNode.describe()
    assert described["kind"] == str(Kind.MAP)
    assert "fields" in described["config_schema"]["properties"]


async def test_every_source_kind() -> None:
    node = make_map(
        [
            {"target": "customer.email", "source": {"kind": "path", "path": "billing.email"}},
            {"target": "skus", "source": {"kind": "path", "path": "line_items[*].sku"}},
            {"target": "vat_number", "source": {"kind": "path", "path": "meta_data[key=_billing_vat_number].value"}},
            {"target": "journal", "source": {"kind": "constant", "value": "70"}},
            {"target": "flags", "source": {"kind": "constant", "value": {"export": False}}},
            {
                "target": "customer.name",
                "source": {"kind": "expression", "expression": 'billing.first_name + " " + billing.last_name'},
            },
            {"target": "total", "source": {"kind": "expression", "expression": "round(number(total), 1)"}},
            {"target": "region", "source": {"kind": "expression", "expression": "region(billing.country)"}},
            {
                "target": "vat_code",
                "source": {"kind": "table", "table": {"DE": "oss-de-19", **VAT_CODES}, "key_path": "billing.country"},
            },
            {"target": "lines[0].description", "source": {"kind": "path", "path": "line_items[0].name"}},
        ]
    )
    record = order_record()
    result = await node.process(record)
    assert result.data == {
        "customer": {"email": "einkauf@mueller-soehne.example", "name": "Jürgen Müller"},
        "skus": ["KM-CL/INOX 01", "EB-ESP-DE"],
        "vat_number": "DE123456789",
        "journal": "70",
        "flags": {"export": False},
        "total": Decimal("134.6"),
        "region": "eu",
        "vat_code": "oss-de-19",
        "lines": [{"description": "Kaffeemühle „Classic“ – Edelstahl"}],
    }
    assert result.source is record.source and result.source_id == "order:5012" and result.key == "5012"
    assert record.data["billing"]["country"] == "DE"  # the incoming record is untouched


async def test_keep_source_starts_from_a_copy() -> None:
    record = order_record()
    node = make_map([{"target": "billing.country", "source": {"kind": "constant", "value": "AT"}}], keep_source=True)
    result = await node.process(record)
    assert result.data["billing"]["country"] == "AT"
    assert result.data["line_items"] == record.data["line_items"]
    assert record.data["billing"]["country"] == "DE"


async def test_table_miss_needs_mapping_with_target_and_key() -> None:
    node = make_map(
        [
            {
                "target": "vat_code",
                "source": {
                    "kind": "table",
                    "table": VAT_CODES,
                    "key_path": "billing.country",
                    "on_missing": "needs_mapping",
                },
            }
        ]
    )
    with pytest.raises(NeedsMapping) as info:
        await node.process(order_record())
    assert (info.value.table, info.value.key) == ("vat_code", "DE")
    assert info.value.status == "waiting"
    assert info.value.detail == {"missing": {"table": "vat_code", "key": "DE"}}


async def test_table_with_missing_key_fails_instead_of_waiting() -> None:
    source = {"kind": "table", "table": VAT_CODES, "key_path": "billing.vat_country", "on_missing": "needs_mapping"}
    node = make_map([{"target": "vat_code", "source": source}])
    with pytest.raises(RecordFailed, match=r"vat_code: billing\.vat_country is not set"):
        await node.process(order_record())


async def test_table_miss_uses_the_default() -> None:
    source = {"kind": "table", "table": VAT_CODES, "key_path": "billing.country", "default": "geen"}
    result = await make_map([{"target": "vat_code", "source": source}]).process(order_record())
    assert result.data == {"vat_code": "geen"}


async def test_table_keys_from_numbers() -> None:
    record = Record(key="1", source_id="order:1", data={"rate": 21.0, "qty": 2})
    node = make_map(
        [
            {"target": "code", "source": {"kind": "table", "table": {"21": "hoog"}, "key_path": "rate"}},
            {"target": "label", "source": {"kind": "table", "table": {"2": "two"}, "key_path": "qty"}},
        ]
    )
    assert (await node.process(record)).data == {"code": "hoog", "label": "two"}


async def test_missing_path_default_leaves_target_out_without_default() -> None:
    node = make_map(
        [
            {"target": "paid", "source": {"kind": "path", "path": "date_paid"}},
            {"target": "paid_or_created", "source": {"kind": "path", "path": "date_paid", "default": "never"}},
            {"target": "empty_expr", "source": {"kind": "expression", "expression": "coalesce(date_paid, None)"}},
        ]
    )
    assert (await node.process(order_record())).data == {"paid_or_created": "never"}


async def test_missing_value_fail_and_skip() -> None:
    fail = make_map([{"target": "paid", "source": {"kind": "path", "path": "date_paid", "on_missing": "fail"}}])
    with pytest.raises(RecordFailed, match="paid: date_paid is not set"):
        await fail.process(order_record())
    skip = make_map(
        [
            {
                "target": "vat",
                "source": {"kind": "table", "table": {}, "key_path": "billing.country", "on_missing": "skip"},
            }
        ]
    )
    with pytest.raises(SkipRecord, match=r"vat: the table has no row for \"DE\" \(from billing.country\)"):
        await skip.process(order_record())


async def test_expression_lookup_on_named_table() -> None:
    tables = {"vat": {"DE": "oss-de-19"}}
    node = make_map(
        [{"target": "vat", "source": {"kind": "expression", "expression": 'lookup("vat", billing.country)'}}],
        tables=tables,
    )
    assert (await node.process(order_record())).data == {"vat": "oss-de-19"}
    with pytest.raises(NeedsMapping) as info:
        await node.process(order_record("order-example.json"))
    assert (info.value.table, info.value.key) == ("tables.vat", "US")


async def test_expression_error_fails_the_record_with_target() -> None:
    node = make_map([{"target": "amount", "source": {"kind": "expression", "expression": "number(billing.city)"}}])
    with pytest.raises(RecordFailed, match=r"^amount: cannot use \"München\" as a number \(at column 1\)"):
        await node.process(order_record())


async def test_constant_values_are_not_shared_between_records() -> None:
    node = make_map([{"target": "tags", "source": {"kind": "constant", "value": ["woo"]}}])
    first = await node.process(order_record())
    first.data["tags"].append("changed")
    second = await node.process(order_record())
    assert second.data["tags"] == ["woo"]


def validation_errors(fields: list[dict[str, Any]], **options: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        MapConfig.model_validate({"fields": fields, **options})
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_bad_expression_is_reported_at_its_field() -> None:
    [(loc, msg)] = validation_errors([{"target": "x", "source": {"kind": "expression", "expression": "open('f')"}}])
    assert loc == ("fields", 0, "source", "expression")
    assert 'unknown function "open"' in msg and "column 1" in msg


def test_bad_paths_are_reported_at_their_field() -> None:
    [(loc, msg)] = validation_errors([{"target": "x", "source": {"kind": "path", "path": "billing..email"}}])
    assert loc == ("fields", 0, "source", "path")
    [(loc, msg)] = validation_errors([{"target": "a[", "source": {"kind": "constant", "value": 1}}])
    assert loc == ("fields", 0, "target")
    [(loc, msg)] = validation_errors([{"target": "$", "source": {"kind": "constant", "value": 1}}])
    assert "not the whole record" in msg


def test_kind_needs_its_settings() -> None:
    assert "path is required" in validation_errors([{"target": "x", "source": {"kind": "path"}}])[0][1]
    assert "expression is required" in validation_errors([{"target": "x", "source": {"kind": "expression"}}])[0][1]
    assert (
        "key_path is required" in validation_errors([{"target": "x", "source": {"kind": "table", "table": {}}}])[0][1]
    )
    [(_, msg)] = validation_errors(
        [{"target": "x", "source": {"kind": "path", "path": "a", "on_missing": "needs_mapping"}}]
    )
    assert "only applies to kind 'table'" in msg
    [(loc, _)] = validation_errors([{"target": "x", "source": {"kind": "nope"}}])
    assert loc == ("fields", 0, "source", "kind")


def test_duplicate_targets_and_unknown_keys() -> None:
    field_spec = {"target": "x", "source": {"kind": "constant", "value": 1}}
    assert "mapped twice" in validation_errors([field_spec, field_spec])[0][1]
    [(loc, _)] = validation_errors([{**field_spec, "sourc": 1}])
    assert loc == ("fields", 0, "sourc")


async def test_for_each_gives_one_output_line_per_line_item() -> None:
    record = order_record()
    items = record.data["line_items"]
    node = make_map(
        [
            {"target": "number", "source": {"kind": "path", "path": "number"}},
            {"target": "lines[*].sku", "for_each": "line_items[*]", "source": {"kind": "path", "path": "sku"}},
            {
                "target": "lines[*].amount",
                "for_each": "line_items",
                "source": {"kind": "expression", "expression": "number(total)"},
            },
            {
                "target": "lines[*].unit",
                "for_each": "line_items[*]",
                "source": {"kind": "constant", "value": "pcs"},
            },
        ]
    )
    result = await node.process(record)
    assert len(items) == 2
    assert result.data["lines"] == [
        {"sku": item["sku"], "amount": Decimal(str(item["total"])), "unit": "pcs"} for item in items
    ]


async def test_for_each_missing_value_keeps_the_line_and_fail_fails_the_record() -> None:
    data = {"line_items": [{"sku": "A"}, {"name": "no sku"}]}
    node = make_map([{"target": "lines[*].sku", "for_each": "line_items", "source": {"kind": "path", "path": "sku"}}])
    result = await node.process(Record(key="o-1", source_id="o-1", data=data))
    assert result.data == {"lines": [{"sku": "A"}, {}]}
    strict = make_map(
        [
            {
                "target": "lines[*].sku",
                "for_each": "line_items",
                "source": {"kind": "path", "path": "sku", "on_missing": "fail"},
            }
        ]
    )
    with pytest.raises(RecordFailed, match="sku is not set"):
        await strict.process(Record(key="o-1", source_id="o-1", data=data))
    empty = await node.process(Record(key="o-1", source_id="o-1", data={"line_items": []}))
    assert empty.data == {"lines": []}


def test_for_each_needs_one_wildcard_in_the_target() -> None:
    with pytest.raises(ValidationError, match=r"one \[\*\]"):
        MapConfig.model_validate(
            {"fields": [{"target": "lines.sku", "for_each": "line_items", "source": {"kind": "path", "path": "sku"}}]}
        )
    with pytest.raises(ValidationError, match="position"):
        MapConfig.model_validate(
            {"fields": [{"target": "l[*].s", "for_each": "line_items[", "source": {"kind": "path", "path": "sku"}}]}
        )
