"""Which payload a map node works on: the record's data when it still has the source's shape, else the source.

Filters and lookups before a map leave the data in the source's shape (a lookup may add a field), and a generic
``map`` may correct it; both are honoured. After a node that changed the shape, the original source payload is used.
"""

from __future__ import annotations

from typing import Any

from nodes.base import Record

__all__ = ("source_payload",)


def source_payload(record: Record, *markers: str) -> dict[str, Any]:
    """``record.data`` when it has every field in ``markers`` (e.g. ``line_items``), else ``record.source``."""
    data = record.data
    if isinstance(data, dict) and all(marker in data for marker in markers):
        return data
    return record.source
