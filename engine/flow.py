"""Flow documents: parsing into a graph and validation with precise ``{node, field, message}`` problems."""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from nodes.base import ANY, SAME, Kind, Node, NodeConfig, SourceNode, TargetNode, UpgradeFailed
from nodes.registry import get_node_type
from nodes.texts import shown

__all__ = ("FLOW_FORMAT", "FlowGraph", "FlowInvalid", "GraphNode", "Problem", "build_graph", "validate_flow")

FLOW_FORMAT = "koppel.flow/1"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow document; ``node`` and ``field`` are None when it concerns the whole flow."""

    node: str | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "field": self.field, "message": self.message}


class FlowInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems[:5]))
        self.problems = problems


@dataclass
class GraphNode:
    id: str
    cls: type[Node]
    config: NodeConfig
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    merge: bool = False
    """The step takes records from several steps (``"merge": true`` on the node); otherwise one wire comes in."""
    version: int = 1
    """The node type version the node was saved with (its config was upgraded in memory when older)."""
    outs: dict[str, list[str]] = field(default_factory=dict)
    """Output port → the steps wired to it."""
    wires_in: list[tuple[str, str]] = field(default_factory=list)
    """The wires that lead into this step, as (step, output port)."""

    @property
    def kind(self) -> Kind:
        return self.cls.kind

    @property
    def name(self) -> str:
        """How a message names the step: its label, else its type's title (never its internal id when avoidable)."""
        label = getattr(self.config, "label", None)
        if isinstance(label, str) and label:
            return label
        return getattr(self.cls, "title", "") or self.id

    @cached_property
    def port_names(self) -> list[str]:
        """The names of this step's outputs (a router's depend on its config)."""
        return [port.name for port in self.cls.output_ports(self.config)]

    @cached_property
    def default_output(self) -> str:
        """The output a wire that names none leaves by (flows saved before ports: a filter's ``kept``)."""
        return self.port_names[0] if self.port_names else "out"


@dataclass
class FlowGraph:
    """A validated flow: nodes in topological order."""

    name: str
    nodes: dict[str, GraphNode]
    order: list[str]
    settings: dict[str, Any]

    @property
    def sources(self) -> list[GraphNode]:
        return [self.nodes[n] for n in self.order if issubclass(self.nodes[n].cls, SourceNode)]

    def connection_names(self) -> set[str]:
        names: set[str] = set()
        for node in self.nodes.values():
            names.update(node.cls.connection_names(node.config))
        return names


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def build_graph(document: Any, connections: Mapping[str, str] | None = None) -> tuple[FlowGraph | None, list[Problem]]:
    """Parse and validate ``document``.

    Args:
        document: the flow document (a JSON object).
        connections: connection name → app of the connections the run will have; None skips the check that each
            named connection exists (``koppel flow validate`` without a connections file).

    Returns:
        The graph (None when there are problems) and the list of problems.
    """
    problems: list[Problem] = []
    if not isinstance(document, dict):
        return None, [Problem(None, None, "a flow document must be a JSON object")]
    if document.get("format") != FLOW_FORMAT:
        problems.append(Problem(None, "format", f"format must be {shown(FLOW_FORMAT)}"))
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(None, "name", "the flow needs a name"))
    raw_nodes = document.get("nodes")
    raw_edges = document.get("edges", [])
    if not isinstance(raw_nodes, list):
        return None, [*problems, Problem(None, "nodes", "nodes must be a list")]
    if not isinstance(raw_edges, list):
        problems.append(Problem(None, "edges", "edges must be a list"))
        raw_edges = []

    nodes: dict[str, GraphNode] = {}
    # A node whose type or config is wrong is reported once, where it is: wiring checks that would only echo it
    # ("no input", "leads nowhere") are left out. A bad config still keeps the node in the graph (unvalidated).
    broken: set[str] = set()
    unreadable = False
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"].strip():
            problems.append(Problem(None, f"nodes[{index}].id", "every node needs a non-empty string id"))
            continue
        node_id = raw["id"]
        if node_id in nodes:
            problems.append(Problem(node_id, "id", f"two nodes have the id {shown(node_id)}"))
            continue
        node_type = raw.get("type")
        cls = get_node_type(node_type) if isinstance(node_type, str) else None
        if cls is None:
            problems.append(Problem(node_id, "type", f"unknown node type {shown(node_type)}"))
            unreadable = True
            continue
        config_raw = raw.get("config", {})
        if not isinstance(config_raw, dict):
            problems.append(Problem(node_id, "config", "config must be an object"))
            unreadable = True
            continue
        merge = raw.get("merge") is True
        version = raw.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            problems.append(Problem(node_id, "version", "version must be a whole number from 1"))
            unreadable = True
            continue
        try:
            config_raw = cls.upgrade(config_raw, version)
        except UpgradeFailed as exc:
            problems.append(Problem(node_id, "version", str(exc)))
            unreadable = True
            continue
        try:
            config = cls.config_model.model_validate(config_raw)
        except ValidationError as exc:
            problems.extend(_config_problems(node_id, exc))
            broken.add(node_id)
            constructed = cls.config_model.model_construct(**config_raw)
            nodes[node_id] = GraphNode(node_id, cls, constructed, merge=merge, version=version)
            continue
        nodes[node_id] = GraphNode(node_id, cls, config, merge=merge, version=version)
        problems.extend(_connection_problems(node_id, cls, config, connections))

    known_ids = {raw.get("id") for raw in raw_nodes if isinstance(raw, dict)}
    seen_edges: set[tuple[str, str, str]] = set()
    for index, edge in enumerate(raw_edges):
        if not isinstance(edge, dict) or not isinstance(edge.get("from"), str) or not isinstance(edge.get("to"), str):
            problems.append(Problem(None, f"edges[{index}]", "an edge needs 'from' and 'to' node ids"))
            continue
        src, dst = edge["from"], edge["to"]
        dangling = [end for end in (src, dst) if end not in known_ids]
        if dangling:
            problems.append(
                Problem(None, f"edges[{index}]", f"edge {src} → {dst} points to no node {shown(dangling[0])}")
            )
            continue
        if src == dst:
            problems.append(Problem(src, None, "a node cannot be connected to itself"))
            continue
        if src not in nodes or dst not in nodes:
            continue
        port = _edge_ports(index, edge, nodes[src], nodes[dst], broken, problems)
        if port is None or (src, port, dst) in seen_edges:
            continue
        seen_edges.add((src, port, dst))
        nodes[src].outs.setdefault(port, []).append(dst)
        nodes[dst].wires_in.append((src, port))
        if dst not in nodes[src].children:
            nodes[src].children.append(dst)
            nodes[dst].parents.append(src)

    problems.extend(_document_problems(document))
    order = _topological_order(nodes, problems)
    if not raw_nodes:
        problems.append(Problem(None, "nodes", "the flow has no nodes"))
    elif order is not None and nodes and not unreadable:
        _check_shape(nodes, order, problems, broken)
    if problems or order is None:
        return None, problems
    settings = document.get("settings") if isinstance(document.get("settings"), dict) else {}
    return FlowGraph(name=str(name), nodes=nodes, order=order, settings=dict(settings or {})), []


def _edge_ports(
    index: int, edge: dict[str, Any], src: GraphNode, dst: GraphNode, broken: set[str], problems: list[Problem]
) -> str | None:
    """The output port a wire leaves ``src`` by; None when a port is not named by text. A port the step does not
    have is a problem on the step; the wire still counts for the rest of the checks (no echo of that problem).

    A wire saved before ports (no ``from_port``/``to_port``) leaves by the step's first output and enters its input.
    The ports of a step whose config is wrong are not known: its wires are taken as they are (the config problem is
    reported, not an echo of it).
    """
    for key in ("from_port", "to_port"):
        if key in edge and (not isinstance(edge[key], str) or not edge[key]):
            problems.append(Problem(None, f"edges[{index}].{key}", "a port is named by a non-empty text"))
            return None
    port = edge.get("from_port") or src.default_output
    if src.id not in broken and port not in src.port_names:
        names = ", ".join(src.port_names) or "none"
        message = (
            f"the wire to {dst.name} leaves by an output {shown(port)} this step does not have (its outputs: {names})"
        )
        problems.append(Problem(src.id, None, message))
    inputs = [p.name for p in dst.cls.inputs]
    wanted = edge.get("to_port")
    if wanted is not None and inputs and wanted not in inputs:
        message = f"the wire from {src.name} enters by an input {shown(wanted)} this step does not have (its input: "
        problems.append(Problem(dst.id, None, message + ", ".join(inputs) + ")"))
    return port


MAX_CONCURRENCY = 64
"""Most records a run may have in flight at once (``settings.concurrency``)."""
DEFAULT_CONCURRENCY = 8
"""Records in flight before the run's connections have learnt how many requests their applications take (without
``settings.concurrency`` the number then follows the connections' adaptive limits)."""


def _document_problems(document: dict[str, Any]) -> list[Problem]:
    """The flow-level ``trigger`` and ``settings`` objects: their shape, and the settings the runner reads."""
    problems: list[Problem] = []
    trigger = document.get("trigger")
    if trigger is not None and not isinstance(trigger, dict):
        problems.append(Problem(None, "trigger", 'trigger must be an object, e.g. {"type": "manual"}'))
    settings = document.get("settings")
    if settings is None:
        return problems
    if not isinstance(settings, dict):
        return [*problems, Problem(None, "settings", "settings must be an object")]
    concurrency = settings.get("concurrency")
    if concurrency is not None and (
        not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        problems.append(Problem(None, "settings.concurrency", f"must be a whole number from 1 to {MAX_CONCURRENCY}"))
    return problems


def _config_problems(node_id: str, exc: ValidationError) -> list[Problem]:
    """One problem per field (a union of shapes reports each shape it tried; the first says it)."""
    out: list[Problem] = []
    seen: set[str | None] = set()
    for error in exc.errors():
        where = _loc(tuple(error["loc"])) or None
        if where in seen:
            continue
        seen.add(where)
        out.append(Problem(node_id, where, error["msg"]))
    return out


def _connection_problems(
    node_id: str, cls: type[Node], config: NodeConfig, connections: Mapping[str, str] | None
) -> list[Problem]:
    """Each connection field must name a connection, and (when the run's connections are known) one that exists
    and belongs to the field's application."""
    problems = []
    for field_name, name, app in cls.connections(config):
        if not name:
            problems.append(Problem(node_id, field_name, f"choose the {app} connection this node uses"))
        elif connections is None:
            continue
        elif name not in connections:
            problems.append(Problem(node_id, field_name, f"the flow has no connection named {shown(name)}"))
        elif connections[name] != app:
            problems.append(
                Problem(node_id, field_name, f"connection {shown(name)} is a {connections[name]} connection, not {app}")
            )
    return problems


def _topological_order(nodes: dict[str, GraphNode], problems: list[Problem]) -> list[str] | None:
    # Of the nodes ready to run, the one listed first in the document goes first: a record walks a branch to its
    # end before the next branch starts, so a branch that needs another's booking (refunds credit the invoice the
    # first branch booked a moment ago) is simply listed after it.
    position = {nid: index for index, nid in enumerate(nodes)}
    indegree = {nid: len(node.parents) for nid, node in nodes.items()}
    ready = [(position[nid], nid) for nid, deg in indegree.items() if deg == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, nid = heapq.heappop(ready)
        order.append(nid)
        for child in nodes[nid].children:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (position[child], child))
    if len(order) < len(nodes):
        cyclic = sorted(nid for nid, deg in indegree.items() if deg > 0)
        problems.append(Problem(cyclic[0], None, f"the flow has a cycle through {', '.join(cyclic)}"))
        return None
    return order


def _check_shape(nodes: dict[str, GraphNode], order: list[str], problems: list[Problem], broken: set[str]) -> None:
    sources = [nid for nid in order if issubclass(nodes[nid].cls, SourceNode)]
    if not sources:
        problems.append(Problem(None, None, "the flow has no source node"))
    reachable: set[str] = set()
    stack = list(sources)
    while stack:
        nid = stack.pop()
        if nid not in reachable:
            reachable.add(nid)
            stack.extend(nodes[nid].children)
    out_schema: dict[str, str] = {}
    for nid in order:
        node = nodes[nid]
        if nid in broken:
            out_schema[nid] = ANY
            continue
        is_source = issubclass(node.cls, SourceNode)
        if len(node.wires_in) > 1 and not node.merge:
            names = ", ".join(_wire_name(nodes[p], port) for p, port in node.wires_in)
            message = f"more than one wire leads into this step (from {names}): remove one, or let it merge"
            problems.append(Problem(nid, None, message))
        if is_source and node.parents:
            problems.append(Problem(nid, None, "a source node cannot have incoming connections"))
        if not is_source and not node.parents:
            problems.append(Problem(nid, None, "this node has no input: connect it after a source"))
        elif not is_source and nid not in reachable:
            problems.append(Problem(nid, None, "no source reaches this node"))
        if not node.children and not issubclass(node.cls, TargetNode):
            problems.append(Problem(nid, None, "this node leads nowhere: connect it to a target"))
        in_schema = node.cls.inputs[0].schema if node.cls.inputs else ANY
        for parent in node.parents:
            produced = out_schema.get(parent, ANY)
            if ANY not in (produced, in_schema) and produced != in_schema:
                problems.append(
                    Problem(nid, None, f"{parent} produces {produced} records but this node expects {in_schema}")
                )
        declared = node.cls.outputs[0].schema if node.cls.outputs else ANY
        if declared == SAME:
            parents_out = {out_schema.get(p, ANY) for p in node.parents}
            declared = parents_out.pop() if len(parents_out) == 1 else ANY
        out_schema[nid] = declared


def _wire_name(node: GraphNode, port: str) -> str:
    """A wire's start as a message names it: the step, and its output when it has several (``check (discarded)``)."""
    return f"{node.id} ({port})" if len(node.port_names) > 1 else node.id


def validate_flow(document: Any, connections: Mapping[str, str] | None = None) -> list[Problem]:
    """Only the problems of ``document`` (empty when it is valid)."""
    return build_graph(document, connections)[1]
