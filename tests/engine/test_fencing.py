"""Exactly-once foundations: the log writer loses no batch, writes of a worker that lost its run are refused, a
worker past its lease time sends nothing, and SQLite never answers "database is locked" to concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

import tests.engine.fakes as fakes
from engine.db import Database
from engine.lease import Lease, LeaseLost
from engine.logsink import LogSink, RecordResult
from engine.models import (
    Connection,
    Cursor,
    IdempotencyEntry,
    Intent,
    LogEntry,
    RetryRecord,
    Run,
    RunStatus,
    utcnow,
)
from engine.retryset import RetryPolicy, RetrySet
from engine.runner import ClientPool, DbCursor
from engine.service import create_run, execute_run
from nodes.base import Record
from nodes.registry import register

for _cls in (fakes.FakeSource, fakes.FakeFilter, fakes.FakeMap, fakes.FakeTarget):
    register(_cls)


def _ok(n: int) -> RecordResult:
    entry = {"node_id": "t", "record_key": f"#{n}", "source_id": f"item:{n}", "status": "ok", "message": "sent"}
    delivery = {"node_id": "t", "source_id": f"item:{n}", "target_id": f"T{n}"}
    return RecordResult(source_id=f"item:{n}", outcome="ok", entries=[entry], deliveries=[delivery])


async def _running_run(db: Database) -> Run:
    run = await create_run(db, document={"name": "fenced"}, connections={})
    async with db.writing() as conn:
        await conn.execute(
            update(Run).where(Run.id == run.id).values(status=RunStatus.RUNNING, attempt=1, heartbeat_at=utcnow())
        )
    return run


async def _count(db: Database, column: Any, *where: Any) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count(column)).where(*where))).scalar_one())


class SlowSink(LogSink):
    """A writer whose transaction takes a while: close() arrives while a batch is inside it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inside = asyncio.Event()

    async def _write(self, batch: list[RecordResult]) -> None:
        self.inside.set()
        await asyncio.sleep(0.3)
        await super()._write(batch)


async def test_closing_the_log_writer_waits_for_the_batch_in_flight(db: Database) -> None:
    run = await _running_run(db)
    sink = SlowSink(db, run.id, "flow", None, interval_s=0.01, batch_size=10_000)
    await sink.start({})
    for n in range(1, 41):
        await sink.add(_ok(n))
    await sink.inside.wait()  # the periodic flush has taken the 40 results off the queue and is writing them
    for n in range(41, 51):
        await sink.add(_ok(n))
    await sink.close()
    assert await _count(db, LogEntry.id, LogEntry.run_id == run.id) == 50
    assert await _count(db, IdempotencyEntry.source_id, IdempotencyEntry.run_id == run.id) == 50
    async with db.session() as session:
        stored = await session.get(Run, run.id)
    assert stored is not None and stored.counts()["ok"] == 50


async def test_a_worker_whose_run_was_taken_over_writes_nothing(db: Database) -> None:
    run = await _running_run(db)
    old = Lease(db, run.id, 1, stale_after_s=30)
    sink = LogSink(db, run.id, "flow", None, lease=old, interval_s=60)
    await sink.start({})
    await sink.add(_ok(1))
    await sink.flush()
    # Another worker claims the run: the attempt goes up.
    async with db.writing() as conn:
        await conn.execute(update(Run).where(Run.id == run.id).values(attempt=2))
    await sink.add(_ok(2))
    with pytest.raises(LeaseLost):
        await sink.flush()
    assert old.lost
    with pytest.raises(LeaseLost):
        await old.ensure()
    with pytest.raises(LeaseLost):
        await DbCursor(db, "flow", "src", read_only=False, lease=old).set("2027-01-01")
    assert await _count(db, LogEntry.id, LogEntry.run_id == run.id) == 1
    assert await _count(db, IdempotencyEntry.source_id) == 1
    assert await _count(db, Cursor.node_id) == 0
    async with db.session() as session:
        stored = await session.get(Run, run.id)
    assert stored is not None and stored.counts()["ok"] == 1
    await sink.close()  # nothing pending any more: closes cleanly


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_frozen_worker_sends_no_write_after_its_lease_time(db: Database) -> None:
    """SIGSTOP in miniature: the monotonic clock jumps past the lease while another worker took the run."""
    run = await _running_run(db)
    clock = Clock()
    lease = Lease(db, run.id, 1, stale_after_s=10, clock=clock)
    sent: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(201, json={"id": 1})

    from nodes.connectors.http import ApiClient

    pool = ClientPool({"api": {"app": "x"}}, lambda *_: None, lease=lease)
    client = ApiClient("http://app.test", transport=httpx.MockTransport(app))
    client.http.event_hooks["request"].append(pool._guard)
    try:
        await client.request("POST", "/things", json={})
        assert sent == ["POST"]
        clock.now += 60  # frozen for a minute: the lease time is over ...
        async with db.writing() as conn:  # ... and another worker has claimed the run
            await conn.execute(update(Run).where(Run.id == run.id).values(attempt=2))
        await client.request("GET", "/things")  # reading is harmless
        with pytest.raises(LeaseLost):
            await client.request("POST", "/things", json={})
        assert sent == ["POST", "GET"]
    finally:
        await client.aclose()


async def test_a_lease_past_its_time_but_still_held_is_renewed(db: Database) -> None:
    run = await _running_run(db)
    clock = Clock()
    lease = Lease(db, run.id, 1, stale_after_s=10, clock=clock)
    clock.now += 60  # paused, but nobody claimed the run meanwhile
    await lease.ensure()
    assert not lease.lost and not lease.expired()


async def test_only_a_committed_heartbeat_extends_the_lease(db: Database) -> None:
    """Until its transaction commits, a worker's new heartbeat keeps nobody away (another worker sees the one before
    it): a fenced write still open, or rolled back, must not give the worker more time to send."""
    run = await _running_run(db)
    clock = Clock()
    lease = Lease(db, run.id, 1, stale_after_s=9, clock=clock)  # certain for 6 s after each committed heartbeat
    clock.now += 5
    with pytest.raises(RuntimeError):
        async with db.writing() as conn:
            await lease.hold(conn)
            assert clock.now + 2 >= lease.valid_until  # not yet committed: still the claim's 6 s
            raise RuntimeError("the batch failed")
    clock.now += 2
    assert lease.expired()  # the rolled-back heartbeat did not count
    async with db.writing() as conn:
        started = await lease.hold(conn)
    lease.held(started)
    clock.now += 5
    assert not lease.expired()


async def test_a_second_claim_fences_out_the_first_worker(db: Database, tmp_path: Path) -> None:
    """A run whose worker went silent is claimed again; the first attempt's lease then writes nothing."""
    fakes.write_items(tmp_path / "in.json", 5)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    run = await create_run(db, document=doc, connections={})
    async with db.writing() as conn:
        old_beat = utcnow() - timedelta(hours=1)
        await conn.execute(
            update(Run).where(Run.id == run.id).values(status=RunStatus.RUNNING, attempt=1, heartbeat_at=old_beat)
        )
    first = Lease(db, run.id, 1, stale_after_s=30)
    finished = await execute_run(db, run.id)  # stale (no heartbeat): claimed as attempt 2
    assert finished is not None and finished.attempt == 2 and finished.status == "succeeded"
    async with db.writing() as conn:
        with pytest.raises(LeaseLost):
            await first.hold(conn)


async def test_sqlite_concurrent_writers_never_lock(db: Database) -> None:
    """Run data (log batches, heartbeats, cursors, intents) and web-style writes, all at once, on one file."""
    run = await _running_run(db)
    lease = Lease(db, run.id, 1, stale_after_s=30)
    sink = LogSink(db, run.id, "flow", None, lease=lease, interval_s=0.005, batch_size=50)
    await sink.start({})

    async def records() -> None:
        for n in range(3000):
            await sink.add(_ok(n))

    async def heartbeats() -> None:
        for _ in range(200):
            await lease.renew(force=True)

    async def cursors() -> None:
        for n in range(200):
            await DbCursor(db, "flow", "src", read_only=False, lease=lease).set(str(n))

    async def web(n: int) -> None:  # what pages and the API do: ORM sessions of their own
        for i in range(60):
            async with db.session() as session, session.begin():
                session.add(Connection(name=f"c{n}-{i}", app="woocommerce", settings={}, secrets=""))
            async with db.session() as session, session.begin():
                session.add(Intent(flow_key="web", node_id=str(n), source_id=str(i), run_id=run.id))

    await asyncio.gather(records(), heartbeats(), cursors(), *(web(n) for n in range(4)))
    await sink.close()
    assert await _count(db, LogEntry.id, LogEntry.run_id == run.id) == 3000
    assert await _count(db, Connection.id) == 240
    assert await _count(db, Intent.source_id) == 240


def _transient_failure(n: int) -> tuple[Record, RecordResult]:
    record = Record(key=f"#{n}", source_id=f"item:{n}", data={"value": n})
    entry = {
        "node_id": "t",
        "record_key": f"#{n}",
        "source_id": f"item:{n}",
        "status": "failed",
        "message": "The application answered 503",
        "detail": {"error": {"type": "ServerError", "message": "503", "transient": True}},
    }
    return record, RecordResult(source_id=f"item:{n}", outcome="failed", entries=[entry])


async def test_a_worker_whose_run_was_taken_over_writes_nothing_to_the_retry_set(db: Database) -> None:
    run = await _running_run(db)
    old = Lease(db, run.id, 1, stale_after_s=30)
    retry_set = RetrySet(db, "flow", run.id, RetryPolicy(), by_id=["src"], read_due=True, lease=old)
    await retry_set.load()
    first, failed_first = _transient_failure(1)
    await retry_set.observe("src", first, failed_first)
    assert await _count(db, RetryRecord.source_id) == 1
    async with db.writing() as conn:  # another worker claims the run
        await conn.execute(update(Run).where(Run.id == run.id).values(attempt=2))

    second, failed_second = _transient_failure(2)
    with pytest.raises(LeaseLost):
        await retry_set.observe("src", second, failed_second)
    assert "will be retried" not in failed_second.entries[0]["message"], "no promise the set does not keep"
    # The new holder settles record 1 in its own run; the old worker must not drop or change the set.
    retry_set.stats.settled.add(("src", "item:1"))
    with pytest.raises(LeaseLost):
        await retry_set.finish()
    async with db.session() as session:
        rows = list((await session.execute(select(RetryRecord))).scalars())
        stored = await session.get(Run, run.id)
    assert [(r.source_id, r.attempts) for r in rows] == [("item:1", 1)]
    assert stored is not None and "retries" not in (stored.params or {})
