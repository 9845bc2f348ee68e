"""Field types of the map settings: codes that the canvas may store as numbers (ids picked from live lists)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ("Code", "CodeTable")


def _as_text(value: Any) -> Any:
    """Ids of ledger accounts and payment conditions are numbers in Asperion; a table keeps them as text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Code = Annotated[str, BeforeValidator(_as_text)]
"""An Asperion or WooCommerce code (``H21``, ``8000``, ``2``), accepted as text or number."""

CodeTable = dict[str, Code]
"""A mapping table: WooCommerce value → Asperion code."""
