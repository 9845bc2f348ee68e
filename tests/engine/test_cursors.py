"""A source's cursor survives the store whole, however many overlap ids it carries, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from engine.db import Database, migrate_sync
from engine.runner import DbCursor
from nodes.sources._common import decode_cursor, encode_cursor

STAMP = "2026-11-30T14:02:11"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The test's database on SQLite and again on PostgreSQL (only PostgreSQL enforces a column's length)."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_db")  # type: ignore[no-any-return]
    return request.getfixturevalue("db")  # type: ignore[no-any-return]


async def test_a_cursor_with_80_overlap_ids_is_stored_whole(any_db: Database) -> None:
    # A bulk status change of 80 orders within the overlap: far longer than the old String(200) column.
    value = encode_cursor(STAMP, (str(12000 + i) for i in range(80)))
    assert len(value) > 200
    cursor = DbCursor(any_db, "flow-1", "source", read_only=False)
    await cursor.set(value)
    assert await cursor.get() == value
    await cursor.set(value.replace(STAMP, "2026-11-30T14:05:00"))  # the update path, not only the insert
    assert await DbCursor(any_db, "flow-1", "source", read_only=True).get() == value.replace(
        STAMP, "2026-11-30T14:05:00"
    )
    assert decode_cursor(await cursor.get())[1] == frozenset(str(12000 + i) for i in range(80))


async def test_a_position_saved_during_a_run_is_not_overwritten_by_the_run(any_db: Database) -> None:
    # The run reads the cursor, a person saves another position on the settings page, the run moves on: the
    # person's position stays, and the run leaves the cursor alone from then on.
    run = DbCursor(any_db, "flow-1", "source", read_only=False)
    assert await run.get() is None
    await run.set("2026-11-30T10:00:00")
    await DbCursor(any_db, "flow-1", "source", read_only=False).set("2026-11-01T00:00:00")  # the person's save
    await run.set("2026-11-30T11:00:00")
    await run.set("2026-11-30T12:00:00")
    assert await DbCursor(any_db, "flow-1", "source", read_only=True).get() == "2026-11-01T00:00:00"

    # a run that finds no cursor yet, while a person saves the first one, leaves it too
    fresh = DbCursor(any_db, "flow-2", "source", read_only=False)
    assert await fresh.get() is None
    await DbCursor(any_db, "flow-2", "source", read_only=False).set("2026-10-01T00:00:00")
    await fresh.set("2026-11-30T12:00:00")
    assert await DbCursor(any_db, "flow-2", "source", read_only=True).get() == "2026-10-01T00:00:00"

    # a run with nobody in between moves its cursor as before
    alone = DbCursor(any_db, "flow-3", "source", read_only=False)
    assert await alone.get() is None
    await alone.set("2026-11-30T10:00:00")
    await alone.set("2026-11-30T11:00:00")
    assert await DbCursor(any_db, "flow-3", "source", read_only=True).get() == "2026-11-30T11:00:00"


async def test_the_log_is_flushed_before_the_cursor_moves_and_only_then(db: Database) -> None:
    # The engine hands the log sink's flush to every cursor: a crash right after a cursor write must never leave
    # records behind the cursor without their log and idempotency entries.
    events: list[str] = []

    async def flush() -> None:
        stored = await DbCursor(db, "flow-1", "source", read_only=True).get()
        events.append(f"flush (cursor was {stored})")

    await DbCursor(db, "flow-1", "source", read_only=False, before_write=flush).set(STAMP)
    await DbCursor(db, "flow-1", "source", read_only=True, before_write=flush).set("2027-01-01T00:00:00")
    assert events == ["flush (cursor was None)"]  # before the write; a read-only cursor (dry run) neither
    assert await DbCursor(db, "flow-1", "source", read_only=True).get() == STAMP


def _cursor_values(url: str, rows: dict[str, str] | None = None) -> dict[str, str]:
    async def run() -> dict[str, str]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for node_id, value in (rows or {}).items():
                    await conn.execute(
                        text(
                            "INSERT INTO cursors (flow_key, node_id, value, updated_at) "
                            "VALUES ('flow-1', :node_id, :value, CURRENT_TIMESTAMP)"
                        ),
                        {"node_id": node_id, "value": value},
                    )
                result = await conn.execute(text("SELECT node_id, value FROM cursors"))
                return {row.node_id: row.value for row in result}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _downgrade_keeps_long_cursors_usable(url: str) -> None:
    migrate_sync(url)
    long_value = encode_cursor(STAMP, (str(12000 + i) for i in range(80)))
    short_value = encode_cursor(STAMP, ["12000", "12001"])
    _cursor_values(url, {"long": long_value, "short": short_value, "bare": STAMP})
    migrate_sync(url, "0002", down=True)
    # Only the long cursor loses its overlap ids; it keeps its stamp. The others are untouched.
    assert _cursor_values(url) == {"long": STAMP, "short": short_value, "bare": STAMP}
    migrate_sync(url)
    assert json.loads(_cursor_values(url)["short"])["seen"] == ["12000", "12001"]


def test_sqlite_downgrade_keeps_long_cursors_usable(tmp_path: Path) -> None:
    _downgrade_keeps_long_cursors_usable(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_downgrade_keeps_long_cursors_usable(pg_url: str) -> None:
    _downgrade_keeps_long_cursors_usable(pg_url)
