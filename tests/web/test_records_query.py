"""The run log's records read from the database (SQLite and PostgreSQL): a record's entries grouped into one row,
also when a step derived a record with a source id of its own; filtered by the record's outcome; paged."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from engine.db import Database
from engine.models import LogEntry, Run, utcnow
from web.ui.records import query_records


async def _seed(db: Database) -> None:
    async with db.session() as session, session.begin():
        session.add(Run(id="r1", status="succeeded", trigger="manual", params={}, document={}))
    now = utcnow()

    def entry(record: str | None, source: str, status: str, message: str, node: str = "invoice") -> dict[str, Any]:
        key = (record or source).split(":")[1] if (record or source) else ""
        return {
            "run_id": "r1",
            "node_id": node,
            "record_key": key,
            "source_id": source,
            "record_id": record,
            "status": status,
            "message": message,
            "resolved": False,
            "created_at": now,
        }

    rows = [
        entry("order:1", "order:1", "ok", "Booked as sales invoice 1"),
        entry("order:2", "order:2", "skipped", "Status is cancelled"),
        entry("order:3", "order:3", "ok", "Booked as sales invoice 2"),
        entry("order:3", "order:3:refunds:9", "ok", "Booked as credit invoice 3", node="credit"),
        entry(None, "", "failed", "WooCommerce cannot be reached", node="orders"),
        entry("order:4", "order:4", "waiting", "payment method has no payment condition yet"),
        entry("order:4", "order:4:refunds:8", "failed", "refund failed", node="credit"),
        entry(None, "order:5", "ok", "Booked as sales invoice 4"),  # written before entries named their record
    ]
    async with db.writing() as conn:
        await conn.execute(insert(LogEntry.__table__), rows)  # type: ignore[arg-type]


async def _check(db: Database) -> None:
    await _seed(db)
    records = await query_records(db, "r1")
    assert [(r.record_key, r.status, r.messages) for r in records] == [
        ("5", "ok", ["Booked as sales invoice 4"]),
        ("4", "failed", ["payment method has no payment condition yet", "refund failed"]),
        ("", "failed", ["WooCommerce cannot be reached"]),
        ("3", "ok", ["Booked as sales invoice 2", "Booked as credit invoice 3"]),
        ("2", "skipped", ["Status is cancelled"]),
        ("1", "ok", ["Booked as sales invoice 1"]),
    ]
    assert [r.record_key for r in await query_records(db, "r1", status="failed")] == ["4", ""]
    assert [r.record_key for r in await query_records(db, "r1", status="waiting")] == []
    assert [r.record_key for r in await query_records(db, "r1", node="credit")] == ["4", "3"]
    assert [r.record_key for r in await query_records(db, "r1", q="3")] == ["3"]
    first = await query_records(db, "r1", limit=2)
    rest = await query_records(db, "r1", before_id=first[-1].id)
    assert [r.record_key for r in first + rest] == ["5", "4", "", "3", "2", "1"]


async def test_records_on_sqlite(db: Database) -> None:
    await _check(db)


@pytest.mark.postgres
async def test_records_on_postgresql(pg_db: Database) -> None:
    await _check(pg_db)
