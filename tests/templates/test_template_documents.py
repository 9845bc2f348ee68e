"""The template documents: names of the contract, valid flows, connections named alike, readable layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.flow import validate_flow
from engine.templates import TEMPLATE_INFO, get_template, list_templates, questions
from nodes.registry import get_node_type

CONTRACT = [
    "orders-to-sales-invoices",
    "orders-to-sales-orders",
    "payments-to-financial-mutations",
    "customers-to-debtors",
    "products-to-articles",
    "stock-to-woocommerce",
    "asperion-orders-to-woocommerce",
    "mollie-settlements-to-bank",
]
CONNECTIONS = {"woocommerce": "woocommerce", "asperion": "asperion", "mollie": "mollie"}


def test_the_contract_names_in_order() -> None:
    assert list_templates() == CONTRACT
    assert set(TEMPLATE_INFO) == set(CONTRACT)
    assert all(info["title"] and len(info["description"]) > 100 for info in TEMPLATE_INFO.values())
    with pytest.raises(KeyError):
        get_template("nope")


@pytest.mark.parametrize("name", CONTRACT)
def test_template_is_a_valid_flow_with_connections_named_after_their_application(name: str) -> None:
    document = get_template(name)
    assert document["format"] == "koppel.flow/1" and document["name"] == name
    assert validate_flow(document, CONNECTIONS) == []
    used = {
        value
        for node in document["nodes"]
        for key, value in node["config"].items()
        if key == "connection" or key.endswith("_connection")
    }
    assert used <= set(CONNECTIONS)
    kinds = {str(get_node_type(node["type"]).kind) for node in document["nodes"]}  # type: ignore[union-attr]
    assert {"source", "map", "target"} <= kinds


@pytest.mark.parametrize("name", CONTRACT)
def test_layout_runs_left_to_right_without_overlap(name: str) -> None:
    document = get_template(name)
    where = {node["id"]: tuple(node["position"]) for node in document["nodes"]}
    assert len(set(where.values())) == len(where)
    for edge in document["edges"]:
        assert where[edge["from"]][0] < where[edge["to"]][0]


def test_map_settings_are_the_accounting_defaults() -> None:
    for name in CONTRACT:
        for node in get_template(name)["nodes"]:
            cls = get_node_type(node["type"])
            assert cls is not None
            if node["type"].startswith("map."):
                default = cls.config_model().model_dump(mode="json")
                changed = {k for k, v in node["config"].items() if default.get(k) != v}
                assert changed <= {"output"}, (name, node["id"], changed)


def test_get_template_returns_a_copy() -> None:
    document = get_template("orders-to-sales-invoices")
    document["nodes"].clear()
    assert get_template("orders-to-sales-invoices")["nodes"]


@pytest.mark.parametrize("name", CONTRACT)
def test_wizard_questions_name_fields_of_the_template(name: str) -> None:
    document = get_template(name)
    nodes = {node["id"]: node for node in document["nodes"]}
    for question in questions(name):
        targets = [nodes[node_id] for node_id in question["nodes"] if node_id in nodes]
        assert targets, question
        for node in targets:
            cls = get_node_type(node["type"])
            assert cls is not None and question["field"] in cls.config_model.model_fields


def test_every_domain_map_describes_itself_for_the_palette() -> None:
    types = [
        "map.order_to_invoice", "map.order_to_sales_order", "map.order_to_credit_invoices", "map.payment_to_mutation",
        "map.customer_to_debtor", "map.product_to_article", "map.article_to_stock", "map.asperion_order_to_woocommerce",
        "map.mollie_settlement_to_mutation",
    ]  # fmt: skip
    for name in types:
        cls = get_node_type(name)
        assert cls is not None, name
        described = json.loads(json.dumps(cls.describe()))
        assert described["kind"] == "map" and described["title"] and described["description"]
        tables = [
            p for p in described["config_schema"]["properties"].values() if p.get("ui", {}).get("widget") == "table"
        ]
        assert all(p.get("type") == "object" for p in tables), name


def test_a_template_is_found_from_its_own_two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import templates

    for path in templates.TEMPLATE_DIR.glob("stock-to-woocommerce.*"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "aa-first.json").write_text(json.dumps(get_template("stock-to-woocommerce")), encoding="utf-8")
    (tmp_path / "aa-first.toml").write_text(
        'title = "First"\nposition = 1\ndescription = "Shown first."\n\n'
        '[[questions]]\nnodes = ["stock"]\nfield = "formula"\nquestion = "Which stock?"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(templates, "TEMPLATE_DIR", tmp_path)
    info = templates._all_info()
    assert list(info) == ["aa-first", "stock-to-woocommerce"]
    assert info["aa-first"]["questions"] == [{"nodes": ["stock"], "field": "formula", "question": "Which stock?"}]
    assert info["stock-to-woocommerce"] == TEMPLATE_INFO["stock-to-woocommerce"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('description = "x"\n', "title is missing or empty"),
        ('title = "T"\ndescription = "x"\n[[questions]]\nfield = "a"\n', "question 1 needs nodes, field and question"),
        ('title = "T"\ndescription = "x"\ncolour = "red"\n', "unknown keys ['colour']"),
        ('title = "T\n', "not valid TOML"),
    ],
)
def test_a_broken_template_description_is_refused_by_name(tmp_path: Path, text: str, problem: str) -> None:
    from engine.templates import TemplateInfoError, _read_info

    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateInfoError, match=r"broken\.toml") as info:
        _read_info(path)
    assert problem in str(info.value)
