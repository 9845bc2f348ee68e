"""JSON text for the hot paths: API responses decoded and log entries encoded, with msgspec (Litestar's own JSON
library), falling back to the standard library for what msgspec refuses.

Encoding is compact UTF-8; values JSON has no type for (``Decimal``, ``datetime``, ``date``) become strings.
Request bodies sent to an application (:func:`dumps_body`) write ``Decimal`` as a JSON number instead, so a mapped
``number(...)`` arrives as the number the API expects.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec

__all__ = ("dumps", "dumps_body", "loads")

_encoder = msgspec.json.Encoder(enc_hook=str)
_body_encoder = msgspec.json.Encoder(enc_hook=str, decimal_format="number")
_decoder = msgspec.json.Decoder()


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):  # e.g. a dict with tuple keys: the standard library copes
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def dumps_body(value: Any) -> bytes:
    """Compact UTF-8 JSON of a request body: ``Decimal`` as a JSON number (``12.50``), dates as ISO text."""
    try:
        return _body_encoder.encode(value)
    except (TypeError, ValueError, msgspec.EncodeError):  # e.g. a dict with tuple keys: the standard library copes
        return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def loads(data: bytes | str) -> Any:
    """The value of JSON ``data``.

    Raises:
        ValueError: ``data`` is not JSON.
    """
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:  # not UTF-8, NaN, or not JSON: the standard library decides
        return json.loads(data)
