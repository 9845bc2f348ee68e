"""JSON text for the hot paths: API responses decoded and log entries encoded, with msgspec (Litestar's own JSON
library), falling back to the standard library for what msgspec refuses.

Encoding is compact UTF-8; values JSON has no type for (``Decimal``, ``datetime``, ``date``) become strings.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

__all__ = ("dumps", "loads")

_encoder = msgspec.json.Encoder(enc_hook=str)
_decoder = msgspec.json.Decoder()


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):  # e.g. a dict with tuple keys: the standard library copes
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def loads(data: bytes | str) -> Any:
    """The value of JSON ``data``.

    Raises:
        ValueError: ``data`` is not JSON.
    """
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:  # not UTF-8, NaN, or not JSON: the standard library decides
        return json.loads(data)
