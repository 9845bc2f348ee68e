"""A flow's source opened outside a run, read-only: sample records for the field picker, and what a start date
would select (the setup wizard's count preview and proposed start date)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from nodes.base import Record, SourceNode
from nodes.registry import get_node_type

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("RECENT_DAYS", "opened_source", "propose_start", "sample_records", "would_read")

RECENT_DAYS = 30
"""A proposed start date lies this many days before the newest record (or today, when that finds records)."""


@contextlib.asynccontextmanager
async def opened_source(
    db: Database, node: dict[str, Any], *, params: dict[str, Any] | None = None
) -> AsyncIterator[SourceNode]:
    """The source ``node`` (a flow document's node) opened on the stored connections, as a dry run with a cursor of
    its own (so an earlier run's position never narrows what it sees), closed afterwards.

    Raises:
        ValueError: ``node`` is no source.
    """
    from engine.connections import ClientPool, connection_specs
    from engine.runner import RunContext

    cls = get_node_type(str(node.get("type")))
    if cls is None or not issubclass(cls, SourceNode) or cls.config_model is None:
        raise ValueError("this step is no source")
    pool = ClientPool(db, await connection_specs(db))
    ctx = RunContext(flow_key=f"preview:{uuid.uuid4().hex}", run_id="preview", db=db, clients=pool, dry_run=True)
    ctx.params = dict(params or {})
    try:
        source = cls(str(node.get("id")), cls.config_model.model_validate(node.get("config") or {}), ctx)
        assert isinstance(source, SourceNode)
        await source.open()
        try:
            yield source
        finally:
            await source.close()
    finally:
        await pool.close()


async def sample_records(db: Database, node: dict[str, Any], limit: int = 3) -> list[Record]:
    """The first ``limit`` records the source ``node`` reads (nothing written, no cursor moved)."""
    records: list[Record] = []
    async with opened_source(db, node, params={"limit": limit}) as source:
        async for page in source.read():
            records.extend(page)
            if len(records) >= limit:
                break
    return records[:limit]


def _with(node: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    return {**node, "config": {**(node.get("config") or {}), field: value}}


async def would_read(db: Database, node: dict[str, Any], field: str, start: date | None) -> int | None:
    """How many records the source ``node`` selects with its date field ``field`` set to ``start`` (None: the
    application cannot tell cheaply)."""
    async with opened_source(db, _with(node, field, start.isoformat() if start else None)) as source:
        return await source.expected()


async def propose_start(db: Database, node: dict[str, Any], field: str) -> date:
    """A start date that finds records: :data:`RECENT_DAYS` back from today when that selects any, else that many
    days before the newest record the source selects (a shop that sold nothing lately still shows its orders)."""
    today = datetime.now(UTC).date()
    recent = today - timedelta(days=RECENT_DAYS)
    if await would_read(db, node, field, recent):
        return recent
    async with opened_source(db, _with(node, field, None)) as source:
        newest = await source.newest()
    return newest - timedelta(days=RECENT_DAYS) if newest is not None and newest < recent else recent
