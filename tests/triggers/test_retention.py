"""Retention: old snapshots are emptied and old runs deleted per flow, in batches, and nothing else is touched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.db import Database
from engine.models import Cursor, IdempotencyEntry, LogEntry, Run, RunStatus, utcnow
from engine.retention import purge
from tests.triggers.conftest import make_flow

SNAPSHOT = {"input": {"billing": {"email": "a@example.com"}}, "steps": []}


async def _run(db: Database, flow_id: str | None, age_days: float, entries: int, status: str = "succeeded") -> str:
    created = utcnow() - timedelta(days=age_days)
    run = Run(flow_id=flow_id, document={}, status=status, trigger="manual", created_at=created)
    async with db.session() as session, session.begin():
        session.add(run)
        await session.flush()
        for n in range(entries):
            session.add(
                LogEntry(
                    run_id=run.id,
                    flow_id=flow_id,
                    node_id="out",
                    record_key=f"#{n}",
                    source_id=f"item:{n}",
                    status="ok",
                    message="delivered",
                    detail=SNAPSHOT,
                    created_at=created,
                )
            )
        session.add(
            IdempotencyEntry(flow_key=flow_id or "file:x", node_id="out", source_id=f"run:{run.id}", target_id="1")
        )
    return run.id


async def _state(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        runs = {r.id: r for r in (await session.execute(select(Run))).scalars()}
        entries = list((await session.execute(select(LogEntry))).scalars())
        idem = (await session.execute(select(func.count()).select_from(IdempotencyEntry))).scalar_one()
        cursors = (await session.execute(select(func.count()).select_from(Cursor))).scalar_one()
    per_run: dict[str, list[bool]] = {}
    for entry in entries:
        per_run.setdefault(entry.run_id, []).append(entry.detail is not None)
    return {"runs": set(runs), "snapshots": per_run, "idempotency": idem, "cursors": cursors}


async def test_purge_removes_exactly_what_retention_says(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    a = await make_flow(db, tmp_path, name="a")  # defaults: snapshots 14 days, runs 90 days
    b = await make_flow(db, tmp_path, name="b", settings={"retention_days": 30, "run_retention_days": 120})
    await _run(db, a.id, 100, 5)  # finished 100 days ago: deleted with its 5 entries
    old_a_running = await _run(db, a.id, 100, 1, status=RunStatus.RUNNING)
    mid_a = await _run(db, a.id, 20, 5)
    new_a = await _run(db, a.id, 5, 3)
    old_b = await _run(db, b.id, 100, 2)
    mid_b = await _run(db, b.id, 20, 2)
    file_mid = await _run(db, None, 20, 2)
    async with db.session() as session, session.begin():
        session.add(Cursor(flow_key=a.id, node_id="src", value="42"))

    report = await purge(db, batch=2)

    state = await _state(db)
    assert state["runs"] == {old_a_running, mid_a, new_a, old_b, mid_b, file_mid}
    assert report.runs == 1 and report.log_entries == 5
    assert state["snapshots"][mid_a] == [False] * 5  # older than 14 days: emptied
    assert state["snapshots"][new_a] == [True] * 3
    assert state["snapshots"][mid_b] == [True] * 2  # flow b keeps 30 days
    assert state["snapshots"][old_b] == [False] * 2  # ... but not 100
    assert state["snapshots"][file_mid] == [False] * 2  # connections-file runs: the defaults
    assert state["snapshots"][old_a_running] == [False]  # a running run keeps its lines, not old snapshots
    assert report.snapshots == 5 + 2 + 2 + 1
    assert state["idempotency"] == 7, "the idempotency map is never purged"
    assert state["cursors"] == 1

    again = await purge(db, batch=2)
    assert again.as_dict() == {"snapshots": 0, "runs": 0, "log_entries": 0, "deliveries": 0, "slots": 0}


async def test_purged_entries_keep_what_happened(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    a = await make_flow(db, tmp_path, name="a")
    run_id = await _run(db, a.id, 20, 1)
    await purge(db)
    async with db.session() as session:
        entry = (await session.execute(select(LogEntry).where(LogEntry.run_id == run_id))).scalar_one()
    assert (entry.status, entry.record_key, entry.message, entry.detail) == ("ok", "#0", "delivered", None)
