"""Bounded parameter types for the JSON API: every number has limits, every date is a date.

A number the database cannot hold (a 30-digit ``before_id``) or a page below 1 is refused with 400 and the
parameter named, instead of reaching SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from litestar.params import PathParameter, QueryParameter
from pydantic import AfterValidator

from nodes.texts import shown

__all__ = (
    "MAX_ID",
    "Days",
    "IsoDateTime",
    "Key",
    "Limit",
    "OptionalRowId",
    "Page",
    "PerPage",
    "QueryText",
    "RowId",
    "SafeText",
    "VersionNumber",
    "parse_iso",
)

MAX_ID = 2**63 - 1
"""The largest id a BIGINT column holds (SQLite and PostgreSQL alike)."""
MAX_VERSION = 2**31 - 1

RowId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="A log entry id")]
OptionalRowId = Annotated[int | None, QueryParameter(ge=0, le=MAX_ID)]
VersionNumber = Annotated[int, PathParameter(ge=1, le=MAX_VERSION)]
Page = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="1 for the first page")]
PerPage = Annotated[int, QueryParameter(ge=1, le=200)]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Days = Annotated[int, QueryParameter(ge=1, le=3650)]
Key = Annotated[str, PathParameter(min_length=1, max_length=200)]
QueryText = Annotated[str | None, QueryParameter(max_length=200)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


def parse_iso(value: str) -> str:
    """``value`` when it is an ISO date or date-time (as the sources read it); else ValueError, in plain words."""
    text = value.strip()
    if not text:
        return text
    try:
        if len(text) == 10:
            stamp = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        else:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{shown(text[:40])} is not a date: use 2026-01-31 or 2026-01-31T12:00:00Z") from None
    if stamp.year < 1970:
        raise ValueError(f"{shown(text[:40])} is before 1970")
    return text


SafeText = Annotated[str, AfterValidator(_no_nul)]
IsoDateTime = Annotated[str, AfterValidator(parse_iso)]
