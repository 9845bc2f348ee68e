"""Wires name their ports: a filter's kept/discarded and a router's outputs route records; old flows keep running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tests.engine.fakes as fakes
from engine.db import Database
from engine.flow import build_graph, validate_flow
from tests.engine.test_runner import delivered, entries, run_document


def _cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"all": [{"field": field, "op": op, "value": value}]}


def _branch(doc: dict[str, Any], name: str, out: Path) -> None:
    """A map → target branch named ``name`` (its map is ``name``_map, its target ``name``)."""
    doc["nodes"] += [
        {"id": f"{name}_map", "type": "test.map", "config": {"table": {"plain": name}}},
        {"id": name, "type": "test.target", "config": {"path": str(out)}},
    ]
    doc["edges"].append({"from": f"{name}_map", "to": name})


def filter_flow(tmp_path: Path, *, discarded: bool) -> dict[str, Any]:
    """source → filter (value > 5) → kept: map → out; discarded (if wired): map → low."""
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    conditions = _cond("value", "greater", 5)
    doc["nodes"][1] = {"id": "keep", "type": "filter", "version": 2, "config": {"conditions": conditions}}
    doc["edges"] = [
        {"from": "src", "from_port": "out", "to": "keep", "to_port": "in"},
        {"from": "keep", "from_port": "kept", "to": "map", "to_port": "in"},
        {"from": "map", "to": "out"},
    ]
    if discarded:
        _branch(doc, "low", tmp_path / "low.jsonl")
        doc["edges"].append({"from": "keep", "from_port": "discarded", "to": "low_map", "to_port": "in"})
    return doc


async def test_a_filter_sends_what_fails_down_discarded_when_it_is_wired(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 10)
    run = await run_document(db, filter_flow(tmp_path, discarded=True))
    assert run.status == "succeeded"
    assert run.counts() == {"read": 10, "ok": 10, "skipped": 0, "waiting": 0, "failed": 0}
    assert sorted(line["value"] for line in delivered(tmp_path / "out.jsonl")) == [6, 7, 8, 9, 10]
    low = delivered(tmp_path / "low.jsonl")
    assert sorted(line["value"] for line in low) == [1, 2, 3, 4, 5] and {line["label"] for line in low} == {"low"}
    by_key = {e.record_key: e for e in await entries(db, run.id)}
    steps = by_key["#2"].detail["steps"]
    assert [s["node"] for s in steps] == ["src", "keep", "low_map"]
    assert steps[1]["port"] == "discarded" and by_key["#8"].detail["steps"][1]["port"] == "kept"


async def test_without_a_discarded_wire_the_filter_skips_with_its_plain_reason(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 7)
    run = await run_document(db, filter_flow(tmp_path, discarded=False))
    assert run.counts() == {"read": 7, "ok": 2, "skipped": 5, "waiting": 0, "failed": 0}
    by_key = {e.record_key: e for e in await entries(db, run.id)}
    assert by_key["#3"].status == "skipped" and by_key["#3"].node_id == "keep"
    assert by_key["#3"].message == "Value is 3, expected more than 5"
    assert by_key["#3"].detail["condition"]["field"] == "value"


def router_flow(tmp_path: Path, *, otherwise: bool) -> dict[str, Any]:
    """source → router (small: value < 4, even: value is even) → one target per output (+ otherwise)."""
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    routes = [
        {"output": "small", "conditions": _cond("value", "less", 4)},
        {"output": "even", "conditions": _cond("value", "in", [2, 4, 6, 8, 10, 12])},
    ]
    doc["nodes"] = [doc["nodes"][0], {"id": "route", "type": "router", "config": {"routes": routes}}]
    doc["edges"] = [{"from": "src", "to": "route"}]
    for name in ("small", "even", *(["rest"] if otherwise else [])):
        _branch(doc, name, tmp_path / f"{name}.jsonl")
        port = "otherwise" if name == "rest" else name
        doc["edges"].append({"from": "route", "from_port": port, "to": f"{name}_map", "to_port": "in"})
    return doc


async def test_a_router_sends_each_record_down_the_first_output_that_matches(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 9)
    run = await run_document(db, router_flow(tmp_path, otherwise=True))
    assert run.status == "succeeded" and run.counts()["ok"] == 9

    def values(name: str) -> list[int]:
        return sorted(line["value"] for line in delivered(tmp_path / f"{name}.jsonl"))

    assert values("small") == [1, 2, 3]  # 2 is also even: the first output that matches takes it
    assert values("even") == [4, 6, 8]
    assert values("rest") == [5, 7, 9]
    by_key = {e.record_key: e for e in await entries(db, run.id)}
    assert by_key["#6"].detail["steps"][1] == {"node": "route", "unchanged": True, "port": "even"}


async def test_a_router_without_an_otherwise_wire_skips_with_the_reason(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 5)
    run = await run_document(db, router_flow(tmp_path, otherwise=False))
    assert run.counts() == {"read": 5, "ok": 4, "skipped": 1, "waiting": 0, "failed": 0}
    skipped = [e for e in await entries(db, run.id) if e.status == "skipped"]
    assert [(e.record_key, e.node_id) for e in skipped] == [("#5", "route")]
    assert skipped[0].message == "no output of the router matched (first: Value is 5, expected less than 4)"


async def test_an_old_saved_filter_without_version_or_ports_still_runs_unchanged(db: Database, tmp_path: Path) -> None:
    """A flow saved before ports and versions: the filter is version 1 (conditions as a bare list, its shorthand),
    its wires name no port. It runs as it did: what passes goes on, the rest is skipped with the same reason."""
    fakes.write_items(tmp_path / "in.json", 7)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    doc["nodes"][1] = {
        "id": "keep",
        "type": "filter",
        "config": {"conditions": [{"field": "value", "op": "greater", "value": 5}], "label": "Big ones"},
    }
    assert all("from_port" not in e and "to_port" not in e for e in doc["edges"])
    graph, problems = build_graph(doc)
    assert problems == [] and graph is not None
    assert graph.nodes["keep"].version == 1 and graph.nodes["keep"].outs == {"kept": ["map"]}
    assert graph.nodes["keep"].config.model_dump()["conditions"]["all"][0]["field"] == "value"
    run = await run_document(db, doc)
    assert run.counts() == {"read": 7, "ok": 2, "skipped": 5, "waiting": 0, "failed": 0}
    assert sorted(line["value"] for line in delivered(tmp_path / "out.jsonl")) == [6, 7]
    by_key = {e.record_key: e for e in await entries(db, run.id)}
    assert by_key["#1"].message == "Big ones: Value is 1, expected more than 5"
    # the same list saved as version 2 is refused: version 2 stores a group
    doc["nodes"][1]["version"] = 2
    assert [(p.node, p.field) for p in validate_flow(doc)] == [("keep", "conditions")]


def test_a_node_saved_by_a_newer_version_is_refused_plainly(tmp_path: Path) -> None:
    doc = filter_flow(tmp_path, discarded=False)
    doc["nodes"][1]["version"] = 7
    problems = validate_flow(doc)
    assert [(p.node, p.field) for p in problems] == [("keep", "version")]
    assert "newer Koppel (version 7)" in problems[0].message and "up to version 2" in problems[0].message


def test_a_wire_naming_a_missing_port_is_a_problem_on_its_step(tmp_path: Path) -> None:
    doc = filter_flow(tmp_path, discarded=False)
    doc["edges"][1]["from_port"] = "rejected"
    problems = validate_flow(doc)
    assert [p.as_dict() for p in problems] == [
        {
            "node": "keep",
            "field": None,
            "message": 'the wire to Test map leaves by an output "rejected" this step does not have '
            "(its outputs: kept, discarded)",
        }
    ]
    doc = filter_flow(tmp_path, discarded=False)
    doc["edges"][1]["to_port"] = "second"
    assert [(p.node, p.message) for p in validate_flow(doc)] == [
        ("map", 'the wire from Filter enters by an input "second" this step does not have (its input: in)')
    ]
    doc = router_flow(tmp_path, otherwise=True)
    next(e for e in doc["edges"] if e.get("from_port") == "small")["from_port"] = "large"
    assert [p.node for p in validate_flow(doc)] == ["route"]
    assert "(its outputs: small, even, otherwise)" in validate_flow(doc)[0].message


def test_two_outputs_of_one_step_into_one_step_need_a_merge(tmp_path: Path) -> None:
    doc = filter_flow(tmp_path, discarded=False)
    doc["edges"].append({"from": "keep", "from_port": "discarded", "to": "map", "to_port": "in"})
    assert [(p.node, p.message) for p in validate_flow(doc)] == [
        (
            "map",
            "more than one wire leads into this step (from keep (kept), keep (discarded)): remove one, or let it merge",
        )
    ]
    doc["nodes"][2]["merge"] = True
    assert validate_flow(doc) == []


def test_a_router_with_a_config_error_reports_only_that(tmp_path: Path) -> None:
    """Its outputs are unknown while its rules are wrong: its wires are not blamed for it."""
    doc = router_flow(tmp_path, otherwise=True)
    doc["nodes"][1]["config"]["routes"][1]["output"] = "small"
    problems = validate_flow(doc)
    assert [(p.node, p.field) for p in problems] == [("route", "routes")]
    assert problems[0].message == 'two outputs are named "small": give each output its own name'
    doc["nodes"][1]["config"]["routes"][1] = {"output": "even", "conditions": {"all": []}}
    assert [(p.node, p.field, p.message) for p in validate_flow(doc)] == [
        ("route", "routes[1].conditions", "add a condition to this output: without one it would take every record")
    ]
