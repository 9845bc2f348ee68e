"""Following a run's log as it grows: entries are read from the database, woken by the broadcaster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.broadcast import get_broadcaster
from engine.models import LogEntry, Run, RunStatus

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("entry_view", "follow_run", "run_view")


def entry_view(entry: LogEntry, *, with_detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": entry.id,
        "run_id": entry.run_id,
        "node": entry.node_id,
        "record_key": entry.record_key,
        "source_id": entry.source_id,
        "status": entry.status,
        "message": entry.message,
        "resolved": entry.resolved,
        "created_at": entry.created_at.isoformat(),
    }
    if with_detail:
        view["detail"] = entry.detail
    return view


def run_view(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "flow_id": run.flow_id,
        "version_id": run.version_id,
        "status": run.status,
        "trigger": run.trigger,
        "params": {k: v for k, v in run.params.items() if k != "connections_sealed"},
        "counts": run.counts(),
        "expected": run.expected_count,
        "attempt": run.attempt,
        "error": run.error,
        "created_by": run.created_by,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


async def follow_run(
    db: Database, run_id: str, *, after_id: int = 0, poll_s: float = 1.0, batch: int = 200
) -> AsyncIterator[tuple[Run, list[LogEntry]]]:
    """Yield (run, new entries) whenever the run has news, until it has finished and everything was sent."""
    last = after_id
    while True:
        async with db.session() as session:
            run = await session.get(Run, run_id)
            if run is None:
                return
            entries = list(
                (
                    await session.execute(
                        select(LogEntry)
                        .where(LogEntry.run_id == run_id, LogEntry.id > last)
                        .order_by(LogEntry.id)
                        .limit(batch)
                    )
                ).scalars()
            )
        if entries:
            last = entries[-1].id
        yield run, entries
        if run.status in RunStatus.FINISHED and len(entries) < batch:
            return
        if len(entries) < batch:
            await get_broadcaster().wait(run_id, poll_s)
