"""Finds the node types: every :class:`~nodes.base.Node` subclass with a ``type`` in the ``nodes`` package."""

from __future__ import annotations

import importlib
import os
import pkgutil
from functools import lru_cache

import nodes
from nodes.base import Node

__all__ = ("all_node_types", "get_node_type", "register")

_SKIP = {"base", "registry"}


def _subclasses(cls: type[Node]) -> list[type[Node]]:
    found: list[type[Node]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


@lru_cache(maxsize=1)
def _registry() -> dict[str, type[Node]]:
    for info in pkgutil.walk_packages(nodes.__path__, prefix="nodes."):
        if info.name.rsplit(".", 1)[-1] not in _SKIP:
            importlib.import_module(info.name)
    # Extra node modules (plugins) named in KOPPEL_NODE_MODULES, comma-separated.
    for module in filter(None, (m.strip() for m in os.environ.get("KOPPEL_NODE_MODULES", "").split(","))):
        importlib.import_module(module)
    registry: dict[str, type[Node]] = {}
    for cls in _subclasses(Node):
        node_type = cls.__dict__.get("type")
        if isinstance(node_type, str):
            if node_type in registry and registry[node_type] is not cls:
                raise RuntimeError(f"two node classes claim type {node_type!r}")
            registry[node_type] = cls
    return registry


def register(cls: type[Node]) -> type[Node]:
    """Register a node class defined outside the ``nodes`` package (plugins, tests); usable as a decorator."""
    _registry()[cls.type] = cls
    return cls


def get_node_type(node_type: str) -> type[Node] | None:
    """The class registered for ``node_type``, or None."""
    return _registry().get(node_type)


def all_node_types() -> dict[str, type[Node]]:
    """Every node type by name, sorted."""
    return dict(sorted(_registry().items()))
