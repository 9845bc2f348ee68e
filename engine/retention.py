"""Data retention: old log snapshots are emptied, old runs deleted with their log, in small batches.

Per flow (``Flow.settings``): ``retention_days`` (default 14) — after that a log entry keeps its status, node,
record key and message but loses ``detail`` (the payload snapshots); ``run_retention_days`` (default 90) — after
that a finished run is deleted with all its log entries. Runs of connections-file flows (no stored flow) use the
defaults. Every batch is its own short transaction, so the purge never holds long locks; the idempotency map and
the cursors are never touched (they are what keeps records from being booked twice).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, null, select, update

from engine.models import FiredSlot, Flow, LogEntry, Run, RunStatus, WebhookDelivery, utcnow

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_RUN_RETENTION_DAYS",
    "PurgeReport",
    "purge",
    "retention_of",
)

DEFAULT_RETENTION_DAYS = 14
DEFAULT_RUN_RETENTION_DAYS = 90
BOOKKEEPING_DAYS = 30
"""Handled webhook deliveries and fired slots are kept this long (replay protection window, schedule history)."""


@dataclass
class PurgeReport:
    snapshots: int = 0
    """Log entries whose snapshots were emptied."""
    runs: int = 0
    log_entries: int = 0
    """Log entries deleted with their runs."""
    deliveries: int = 0
    slots: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _days(value: Any, default: int) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, days)


def retention_of(settings: dict[str, Any] | None) -> tuple[int, int]:
    """(snapshot days, run days) of a flow's settings."""
    settings = settings or {}
    snapshots = _days(settings.get("retention_days"), DEFAULT_RETENTION_DAYS)
    runs = _days(settings.get("run_retention_days"), DEFAULT_RUN_RETENTION_DAYS)
    return snapshots, max(snapshots, runs)


async def _empty_snapshots(db: Database, owner: ColumnElement[bool], cutoff: datetime, batch: int) -> int:
    total = 0
    while True:
        async with db.session() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(LogEntry.id)
                        .where(owner, LogEntry.created_at < cutoff, LogEntry.detail.is_not(None))
                        .order_by(LogEntry.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            if ids:
                await session.execute(update(LogEntry).where(LogEntry.id.in_(ids)).values(detail=null()))
        total += len(ids)
        if len(ids) < batch:
            return total
        await asyncio.sleep(0)


async def _delete_runs(db: Database, owner: ColumnElement[bool], cutoff: datetime, batch: int) -> tuple[int, int]:
    runs = entries = 0
    while True:
        async with db.session() as session:
            run_ids = list(
                (
                    await session.execute(
                        select(Run.id)
                        .where(owner, Run.created_at < cutoff, Run.status.in_(RunStatus.FINISHED))
                        .order_by(Run.created_at)
                        .limit(50)
                    )
                ).scalars()
            )
        if not run_ids:
            return runs, entries
        while True:
            async with db.session() as session, session.begin():
                ids = list(
                    (
                        await session.execute(select(LogEntry.id).where(LogEntry.run_id.in_(run_ids)).limit(batch))
                    ).scalars()
                )
                if ids:
                    await session.execute(delete(LogEntry).where(LogEntry.id.in_(ids)))
            entries += len(ids)
            await asyncio.sleep(0)
            if len(ids) < batch:
                break
        async with db.session() as session, session.begin():
            await session.execute(delete(Run).where(Run.id.in_(run_ids)))
        runs += len(run_ids)


async def purge(db: Database, *, now: datetime | None = None, batch: int = 500) -> PurgeReport:
    """Apply every flow's retention once (the hourly job); returns what was removed."""
    now = now or utcnow()
    report = PurgeReport()
    async with db.session() as session:
        flows = (await session.execute(select(Flow.id, Flow.settings))).all()
    owners: list[tuple[ColumnElement[bool], ColumnElement[bool], tuple[int, int]]] = [
        (LogEntry.flow_id == fid, Run.flow_id == fid, retention_of(settings)) for fid, settings in flows
    ]
    owners.append((LogEntry.flow_id.is_(None), Run.flow_id.is_(None), retention_of(None)))
    for entry_owner, run_owner, (snapshot_days, run_days) in owners:
        runs, entries = await _delete_runs(db, run_owner, now - timedelta(days=run_days), batch)
        report.runs += runs
        report.log_entries += entries
        report.snapshots += await _empty_snapshots(db, entry_owner, now - timedelta(days=snapshot_days), batch)
    old = now - timedelta(days=BOOKKEEPING_DAYS)
    async with db.session() as session, session.begin():
        result = await session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.received_at < old, WebhookDelivery.status != "pending")
        )
        report.deliveries = int(result.rowcount or 0)  # type: ignore[attr-defined]
        result = await session.execute(delete(FiredSlot).where(FiredSlot.created_at < old))
        report.slots = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return report
