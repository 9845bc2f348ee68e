"""Paths over nested WooCommerce records: reading, writing, malformed paths and the field picker's list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nodes.paths import PathError, format_path, get_value, get_values, is_many, list_paths, parse_path, set_value

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(name="order")
def fx_order() -> dict[str, Any]:
    return json.loads((FIXTURES / "order-b2b-de.json").read_text())


def test_dotted_path_reads_nested_field(order: dict[str, Any]) -> None:
    assert get_value(order, "billing.country") == "DE"
    assert get_values(order, "billing.country") == ["DE"]


def test_wildcard_reads_every_item(order: dict[str, Any]) -> None:
    assert get_values(order, "line_items[*].sku") == ["KM-CL/INOX 01", "EB-ESP-DE"]
    assert get_values(order, "line_items[*].taxes[*].total") == ["17.1", "1.26"]


def test_key_on_a_list_reads_every_item(order: dict[str, Any]) -> None:
    assert get_values(order, "line_items.sku") == ["KM-CL/INOX 01", "EB-ESP-DE"]


def test_indexes_positive_negative_and_digit_keys(order: dict[str, Any]) -> None:
    assert get_value(order, "line_items[0].name").startswith("Kaffeem")
    assert get_value(order, "line_items[-1].sku") == "EB-ESP-DE"
    assert get_value(order, "line_items.1.sku") == "EB-ESP-DE"
    assert get_values(order, "line_items[5].sku") == []


def test_select_list_items_by_field_value(order: dict[str, Any]) -> None:
    assert get_value(order, "meta_data[key=_billing_vat_number].value") == "DE123456789"
    assert get_value(order, "meta_data[id=90412].value") == "DE123456789"  # numbers compare as text
    assert get_values(order, "meta_data[key=nope].value") == []


def test_quoted_keys_and_selector_values() -> None:
    data = {"first name": "Ann", "a.b": {"x": 1}, "items": [{"k": "x y", "v": 2}]}
    assert get_value(data, '"first name"') == "Ann"
    assert get_value(data, '["first name"]') == "Ann"
    assert get_value(data, "'a.b'.x") == 1
    assert get_value(data, 'items[k="x y"].v') == 2
    assert get_value(data, r'"say \"hi\""', "none") == "none"


def test_missing_path_gives_default_not_error(order: dict[str, Any]) -> None:
    assert get_value(order, "billing.nothing.deeper", "n/a") == "n/a"
    assert get_values(order, "billing.country.code") == []
    assert get_value(order, "date_paid", "x") is None  # present but null is a value


def test_dollar_is_the_record() -> None:
    data = {"a": 1}
    assert get_value(data, "$") == data
    assert get_value(data, "$.a") == 1
    assert parse_path("$.a") == parse_path("a")


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("", "empty"),
        ("a..b", "position 3"),
        ("a[", "expected an index"),
        ("a[0", "expected ']'"),
        ("a[x]", "needs '='"),
        ('a."b', "unclosed quote"),
        ("a b", 'separated by "."'),
        ("a[k=]", "a value after '='"),
        ("x" * 600, "longer than"),
    ],
)
def test_malformed_paths_raise_clear_errors(path: str, fragment: str) -> None:
    with pytest.raises(PathError) as info:
        parse_path(path)
    assert fragment in str(info.value)


def test_format_round_trips() -> None:
    for path in ["billing.country", "line_items[*].sku", "meta_data[key=_vat].value", 'a["b c"][0]', "x[-1]"]:
        assert format_path(parse_path(path)) == path
    assert format_path(()) == "$"


def test_is_many() -> None:
    assert is_many("line_items[*].sku")
    assert not is_many("meta_data[key=x].value")


def test_set_value_creates_dicts_and_lists() -> None:
    data: dict[str, Any] = {}
    set_value(data, "customer.address.city", "Utrecht")
    set_value(data, "lines[1].amount", "9.95")
    set_value(data, "meta[key=vat].value", "NL1")
    set_value(data, "meta[key=vat].value", "NL2")  # the matching item is updated, not appended
    assert data == {
        "customer": {"address": {"city": "Utrecht"}},
        "lines": [None, {"amount": "9.95"}],
        "meta": [{"key": "vat", "value": "NL2"}],
    }


def test_set_value_wildcard_writes_every_item() -> None:
    data: dict[str, Any] = {"lines": [{"a": 1}, {"a": 2}]}
    set_value(data, "lines[*].b", 0)
    assert data == {"lines": [{"a": 1, "b": 0}, {"a": 2, "b": 0}]}


def test_set_value_refuses_to_cross_a_scalar() -> None:
    data: dict[str, Any] = {"name": "x"}
    with pytest.raises(PathError, match='cannot write field "first"'):
        set_value(data, "name.first", "y")
    with pytest.raises(PathError, match="whole record"):
        set_value(data, "$", 1)


def test_list_paths_for_the_field_picker(order: dict[str, Any]) -> None:
    paths = list_paths(order)
    assert "billing.country" in paths
    assert "line_items[*].sku" in paths
    assert "line_items[*].taxes[*].total" in paths
    assert "meta_data[key=_billing_vat_number].value" in paths
    assert not any("[0]" in p or "[1]" in p for p in paths)
    assert paths == sorted(set(paths))
    # every listed path reads something from the sample
    assert all(get_values(order, p) for p in paths)
