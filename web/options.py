"""Live option lists for form fields, fetched from a connection (cached briefly per connection)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engine import store
from engine.connections import open_client
from nodes.connectors.registry import connectors

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("load_options",)

_CACHE: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
TTL_S = 60.0


async def load_options(db: Database, connection_id: str, kind: str) -> list[dict[str, Any]]:
    """The choices of option list ``kind`` (``<app>.<list>``) from connection ``connection_id`` (id or name).

    Raises:
        KeyError: an unknown list, or the connection belongs to another application.
    """
    app, _, name = kind.partition(".")
    connector = connectors().get(app)
    if connector is None or name not in connector.option_lists:
        raise KeyError(kind)
    row = await store.get_connection(db, connection_id)
    if row.app != app:
        raise KeyError(kind)
    cached = _CACHE.get((row.id, kind))
    if cached and time.monotonic() - cached[0] < TTL_S:
        return cached[1]
    async with open_client(db, row.id) as client:
        options = [{"value": str(o["value"]), "label": str(o["label"])} for o in await connector.options(client, name)]
    _CACHE[(row.id, kind)] = (time.monotonic(), options)
    return options
