"""Records from JSON that an application sent or answered (the HTTP request source and the webhook payload)."""

from __future__ import annotations

from typing import Any

from nodes.base import Record
from nodes.paths import get_value, get_values

__all__ = ("items_of", "record_of")


def items_of(document: Any, path: str, *, whole: bool) -> list[Any]:
    """The items a JSON document holds for records.

    Args:
        document: the parsed JSON.
        path: where the items are (the one list found there is unpacked); empty: the document itself.
        whole: without a path, a document that is not a list is one item (else it holds none).
    """
    if path:
        values = get_values(document, path)
        return list(values[0]) if len(values) == 1 and isinstance(values[0], list) else values
    if isinstance(document, list):
        return list(document)
    return [document] if whole else []


def record_of(item: Any, key_path: str, fallback_key: str, origin: str) -> Record:
    """The record of one item: an object as it is, any other value as ``{"value": ...}``.

    Args:
        item: the item.
        key_path: where the item's own key is; empty or without a value there: ``fallback_key``.
        fallback_key: the key of an item that has none.
        origin: the source id's prefix (``http`` gives ``http:<key>``).
    """
    data = item if isinstance(item, dict) else {"value": item}
    own = get_value(data, key_path) if key_path else None
    key = str(own) if own not in (None, "") else fallback_key
    return Record(key=key, source_id=f"{origin}:{key}", data=data)
