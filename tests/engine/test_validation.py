"""Flow validation reports precise {node, field, message} problems."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import tests.engine.fakes as fakes
from engine.flow import build_graph, validate_flow
from engine.templates import get_template
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.registry import register

for _cls in (fakes.FakeSource, fakes.FakeFilter, fakes.FakeMap, fakes.FakeTarget):
    register(_cls)


@pytest.fixture
def doc(tmp_path: Path) -> dict[str, Any]:
    return fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")


def problems(document: Any, connections: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [p.as_dict() for p in validate_flow(document, connections)]


def test_a_valid_flow_has_no_problems_and_a_topological_order(doc: dict[str, Any]) -> None:
    graph, found = build_graph(doc)
    assert found == []
    assert graph is not None
    assert graph.order == ["src", "keep", "map", "out"]


def test_not_an_object_and_wrong_format() -> None:
    assert problems([]) == [{"node": None, "field": None, "message": "a flow document must be a JSON object"}]
    found = problems({"format": "other", "name": "x", "nodes": []})
    assert {"node": None, "field": "format", "message": 'format must be "koppel.flow/1"'} in found


def test_unknown_node_type(doc: dict[str, Any]) -> None:
    doc["nodes"][1]["type"] = "no.such.type"
    assert {"node": "keep", "field": "type", "message": 'unknown node type "no.such.type"'} in problems(doc)


def test_bad_config_names_the_field(doc: dict[str, Any]) -> None:
    doc["nodes"][0]["config"]["page_size"] = "many"
    doc["nodes"][3]["config"]["surprise"] = 1
    found = problems(doc)
    assert any(p["node"] == "src" and p["field"] == "page_size" for p in found)
    assert any(p["node"] == "out" and p["field"] == "surprise" for p in found)


def test_dangling_edge(doc: dict[str, Any]) -> None:
    doc["edges"].append({"from": "map", "to": "ghost"})
    assert any('points to no node "ghost"' in p["message"] for p in problems(doc))


def test_cycle(doc: dict[str, Any]) -> None:
    doc["edges"].append({"from": "map", "to": "keep"})
    found = problems(doc)
    assert any("cycle" in p["message"] for p in found)


def test_no_source(doc: dict[str, Any]) -> None:
    doc["nodes"] = doc["nodes"][1:]
    doc["edges"] = doc["edges"][1:]
    assert any(p["message"] == "the flow has no source node" for p in problems(doc))


def test_target_unreachable_from_a_source(doc: dict[str, Any]) -> None:
    doc["edges"] = [e for e in doc["edges"] if e["to"] != "out"]
    found = problems(doc)
    assert {"node": "out", "field": None, "message": "this node has no input: connect it after a source"} in found
    assert any(p["node"] == "map" and "leads nowhere" in p["message"] for p in found)


def test_port_type_mismatch(doc: dict[str, Any]) -> None:
    doc["edges"] = [{"from": "src", "to": "out"}, {"from": "src", "to": "keep"}, {"from": "keep", "to": "map"}]
    doc["edges"].append({"from": "map", "to": "out"})
    found = problems(doc)
    assert {
        "node": "out",
        "field": None,
        "message": "src produces test.item records but this node expects test.doc",
    } in found


def test_missing_connection_is_reported_when_connections_are_known(doc: dict[str, Any]) -> None:
    from nodes.base import Kind, Node

    class NeedsShop(fakes.FakeFilter):
        type = "test.needs_shop"
        app = "woocommerce"

        class config_model(fakes.NodeConfig):
            connection: WooCommerceConnection = WooCommerceConnection("")

    register(NeedsShop)
    assert issubclass(NeedsShop, Node) and NeedsShop.kind is Kind.FILTER
    doc = copy.deepcopy(doc)
    doc["nodes"][1] = {"id": "keep", "type": "test.needs_shop", "config": {}}
    assert {"node": "keep", "field": "connection", "message": "choose the woocommerce connection this node uses"} in (
        problems(doc)
    )
    doc["nodes"][1]["config"] = {"connection": "shop"}
    assert problems(doc) == []
    assert {"node": "keep", "field": "connection", "message": 'the flow has no connection named "shop"'} in problems(
        doc, {}
    )
    assert {
        "node": "keep",
        "field": "connection",
        "message": 'connection "shop" is a asperion connection, not woocommerce',
    } in problems(doc, {"shop": "asperion"})


def _template_with(node_type: str) -> dict[str, Any]:
    for name in ("orders-to-sales-invoices", "asperion-orders-to-woocommerce"):
        document = get_template(name)
        if any(n["type"] == node_type for n in document["nodes"]):
            return document
    raise AssertionError(f"no template uses {node_type}")


@pytest.mark.parametrize(
    ("node_type", "field", "app"),
    [
        ("asperion.sales_invoice", "connection", "asperion"),  # one connection
        ("map.order_to_credit_invoices", "connection", "asperion"),  # two connections: the Asperion one
        ("map.order_to_credit_invoices", "woocommerce_connection", "woocommerce"),  # … and the WooCommerce one
        ("map.asperion_order_to_woocommerce", "connection", "asperion"),
        ("map.asperion_order_to_woocommerce", "woocommerce_connection", "woocommerce"),
    ],
)
def test_missing_or_wrong_application_connections_fail_validation(node_type: str, field: str, app: str) -> None:
    document = copy.deepcopy(_template_with(node_type))
    node = next(n for n in document["nodes"] if n["type"] == node_type)
    node["config"] = {**node.get("config", {}), field: "elsewhere"}
    names = {"woocommerce": "woocommerce", "asperion": "asperion"}
    assert [p for p in problems(document, names) if p["node"] == node["id"]] == [
        {"node": node["id"], "field": field, "message": 'the flow has no connection named "elsewhere"'}
    ]
    other = "woocommerce" if app == "asperion" else "asperion"
    wrong = [p for p in problems(document, {**names, "elsewhere": other}) if p["node"] == node["id"]]
    assert wrong == [
        {"node": node["id"], "field": field, "message": f'connection "elsewhere" is a {other} connection, not {app}'}
    ]
    assert [p for p in problems(document, {**names, "elsewhere": app}) if p["node"] == node["id"]] == []


def test_an_empty_flow_and_a_flow_of_unknown_nodes_say_different_things() -> None:
    empty = {"format": "koppel.flow/1", "name": "x", "nodes": [], "edges": []}
    assert problems(empty) == [{"node": None, "field": "nodes", "message": "the flow has no nodes"}]
    unknown = {**empty, "nodes": [{"id": "a", "type": "nope"}]}
    assert problems(unknown) == [{"node": "a", "field": "type", "message": 'unknown node type "nope"'}]


def test_two_wires_into_one_step_are_refused_unless_it_merges(doc: dict[str, Any]) -> None:
    doc["edges"].append({"from": "src", "to": "map"})  # a bypass beside the filter
    found = problems(doc)
    assert found == [
        {
            "node": "map",
            "field": None,
            "message": "more than one wire leads into this step (from keep, src): remove one, or let it merge",
        }
    ]
    doc["nodes"][2]["merge"] = True
    assert problems(doc) == []


def test_a_config_error_is_reported_once_without_wiring_echoes(doc: dict[str, Any]) -> None:
    doc["nodes"][1]["config"] = {"surprise": "tien euro"}  # the filter's config is wrong, its wires are intact
    found = problems(doc)
    assert found == [{"node": "keep", "field": "surprise", "message": "Extra inputs are not permitted"}]


def test_a_real_wiring_problem_beside_a_config_error_is_still_reported(doc: dict[str, Any]) -> None:
    doc["nodes"][1]["config"] = {"surprise": 1}
    doc["edges"] = [e for e in doc["edges"] if e["to"] != "out"]
    found = problems(doc)
    assert {"node": "out", "field": None, "message": "this node has no input: connect it after a source"} in found
    assert [p for p in found if p["node"] == "keep"] == [
        {"node": "keep", "field": "surprise", "message": "Extra inputs are not permitted"}
    ]
