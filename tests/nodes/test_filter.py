"""The ``filter`` node: passing records go on unchanged, the others are skipped with the failing condition."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nodes.base import Kind, Record, SkipRecord
from nodes.filter import FilterConfig, FilterNode
from nodes.registry import get_node_type
from tests.nodes.fakes import FakeContext, order_record


def make_filter(config: dict[str, Any]) -> FilterNode:
    return FilterNode("filter-1", FilterConfig.model_validate(config), FakeContext())


def test_registered_as_filter_kind() -> None:
    assert get_node_type("filter") is FilterNode
    described = FilterNode.describe()
    assert described["kind"] == str(Kind.FILTER)
    assert described["version"] == 2
    assert described["outputs"] == [
        {"name": "kept", "schema": "same", "title": "kept"},
        {"name": "discarded", "schema": "same", "title": "discarded"},
    ]
    conditions = described["config_schema"]["properties"]["conditions"]
    assert conditions["ui"] == {"widget": "conditions"}


async def test_passing_record_goes_on_unchanged() -> None:
    node = make_filter({"conditions": {"all": [{"field": "status", "op": "in", "value": ["processing", "completed"]}]}})
    record = order_record()
    assert await node.process(record) is record


async def test_failing_record_is_skipped_with_the_failing_condition() -> None:
    node = make_filter(
        {
            "conditions": {
                "all": [
                    {"field": "status", "op": "equals", "value": "processing"},
                    {"field": "billing.country", "op": "equals", "value": "NL"},
                ]
            }
        }
    )
    with pytest.raises(SkipRecord) as info:
        await node.process(order_record())
    assert info.value.message == 'Billing → Country is "DE", expected "NL"'
    assert info.value.status == "skipped"
    assert info.value.detail["condition"]["field"] == "billing.country"


async def test_label_prefixes_the_reason() -> None:
    node = make_filter(
        {
            "label": "Only Dutch orders",
            "conditions": {"all": [{"field": "billing.country", "op": "equals", "value": "NL"}]},
        }
    )
    with pytest.raises(SkipRecord, match=r"^Only Dutch orders: Billing → Country is \"US\""):
        await node.process(order_record("order-example.json"))


async def test_many_valued_paths_and_nested_groups_on_real_orders() -> None:
    config = {
        "conditions": {
            "any": [
                {"field": "line_items[*].sku", "op": "starts_with", "value": "EB-"},
                {
                    "all": [
                        {"field": "billing.country", "op": "equals", "value": "US"},
                        {"field": "customer_id", "op": "equals", "value": 0},
                    ]
                },
            ]
        }
    }
    node = make_filter(config)
    b2b, guest = order_record(), order_record("order-example.json")
    assert await node.process(b2b) is b2b  # has an e-book line
    assert await node.process(guest) is guest  # a US guest order


async def test_empty_filter_passes_everything() -> None:
    node = make_filter({})
    record = order_record()
    assert await node.process(record) is record


def test_bad_config_is_reported_per_field() -> None:
    with pytest.raises(ValidationError) as info:
        FilterConfig.model_validate(
            {"conditions": {"all": [{"field": "total", "op": "bigger", "value": 1}]}, "colour": "red"}
        )
    locations = {e["loc"] for e in info.value.errors()}
    assert ("conditions", "all", 0, "condition", "op") in locations
    assert ("colour",) in locations


async def test_a_reason_of_its_own_replaces_the_rule_in_the_log() -> None:
    node = make_filter(
        {
            "label": "Paid",
            "skip_reason": "not paid yet",
            "conditions": {"all": [{"field": "date_paid", "op": "not_empty"}]},
        }
    )
    with pytest.raises(SkipRecord) as info:
        await node.process(Record(key="1", source_id="order:1", data={"date_paid": None}))
    assert info.value.message == "not paid yet"
    assert info.value.detail["rule"] == "Date paid is not set"  # the rule stays in the record's detail
