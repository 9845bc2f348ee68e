"""Compact record storage: each record is kept as JSON bytes (optionally zlib-compressed) plus a small index.

Storing bytes instead of nested dicts keeps 100,000 seeded orders affordable and lets a list page be spliced
together from stored bytes without decoding and re-encoding every record.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.http import dumps, loads

__all__ = ("Collection",)


class Collection:
    """Records by integer id: JSON bytes (``_links`` with the site placeholder) and an index dict for filtering."""

    def __init__(
        self,
        index_fn: Callable[[dict[str, Any]], dict[str, Any]],
        links_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        compress: bool = False,
    ) -> None:
        self._index_fn = index_fn
        self._links_fn = links_fn
        self.version = 0
        """Incremented on every change (list results are cached per version)."""
        self._raw: dict[int, bytes] = {}
        self.index: dict[int, dict[str, Any]] = {}
        self.compress = compress
        self._peeked: dict[int, dict[str, Any]] = {}
        self.on_put: Callable[[dict[str, Any]], None] | None = None
        """Called with every object stored (after its ``_links``), for state kept beside the records."""

    def clear(self) -> None:
        """Remove every record."""
        self._raw.clear()
        self.index.clear()
        self._peeked.clear()
        self.version += 1

    def put(self, obj: dict[str, Any]) -> None:
        """Store (or replace) ``obj`` by its ``id``; ``_links`` are (re)built with the site placeholder."""
        obj.pop("_links", None)
        if self._links_fn is not None:
            obj["_links"] = self._links_fn(obj)
        self.version += 1
        raw = dumps(obj)
        rid = int(obj["id"])
        self._peeked.pop(rid, None)
        self._raw[rid] = zlib.compress(raw, 1) if self.compress else raw
        self.index[rid] = self._index_fn(obj)
        if self.on_put is not None:
            self.on_put(obj)

    def raw(self, rid: int) -> bytes | None:
        """The stored JSON bytes of a record."""
        data = self._raw.get(rid)
        if data is not None and self.compress:
            return zlib.decompress(data)
        return data

    def get(self, rid: int) -> dict[str, Any] | None:
        """A fresh (mutable) copy of a record."""
        data = self.raw(rid)
        return None if data is None else loads(data)

    def peek(self, rid: int) -> dict[str, Any] | None:
        """A shared, cached decoded record for reading only (never mutate it)."""
        obj = self._peeked.get(rid)
        if obj is None:
            obj = self.get(rid)
            if obj is not None:
                self._peeked[rid] = obj
        return obj

    def delete(self, rid: int) -> None:
        """Remove a record."""
        self.version += 1
        self._peeked.pop(rid, None)
        self._raw.pop(rid, None)
        self.index.pop(rid, None)

    def ids(self) -> list[int]:
        """All ids."""
        return list(self._raw)

    def __contains__(self, rid: object) -> bool:
        return rid in self._raw

    def __len__(self) -> int:
        return len(self._raw)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._raw))
