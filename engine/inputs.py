"""Checks for hostile JSON shared by the web API and the command line: nesting depth and NUL characters.

PostgreSQL cannot store a NUL character in text, and Python's JSON parser recurses once per nesting level; both are
refused before anything is parsed further or stored, with the place named.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ("MAX_DEPTH", "json_depth", "nul_location")

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (a flow document needs about 8)."""
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of the JSON text ``body``, counted without parsing it (no recursion)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def nul_location(value: Any, path: str = "") -> str | None:
    """Where the first NUL character in a parsed JSON value is (``nodes[0].config.name``); None when nowhere."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "(top level)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    return where or "(top level)"
                stack.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None
