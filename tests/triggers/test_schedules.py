"""Schedules: slots are computed right, fire once however many schedulers race, and respect busy flows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from engine.db import Database
from engine.models import FiredSlot, Run, RunStatus
from engine.schedules import Schedule, fire_due, next_fire_times, schedules_of
from tests.triggers.conftest import fake_queue, make_flow

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def test_slots_of_intervals_and_cron() -> None:
    every = Schedule("schedule", every_s=900)
    assert every.latest_slot(T0 + timedelta(minutes=14)) == T0
    assert every.next_slot(T0 + timedelta(minutes=14)) == T0 + timedelta(minutes=15)
    nightly = Schedule("schedule", cron="0 2 * * *")
    assert nightly.latest_slot(T0) == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert nightly.latest_slot(datetime(2026, 11, 27, 2, 0, tzinfo=UTC)) == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert nightly.next_slot(T0) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_triggers_define_their_series() -> None:
    assert schedules_of({"type": "manual"}) == []
    assert schedules_of({"type": "interval", "every_minutes": 5}) == [Schedule("schedule", every_s=300)]
    assert schedules_of({"type": "cron", "cron": "not a cron"}) == []
    assert schedules_of({"type": "webhook"}) == [Schedule("catch_up", every_s=900)]
    assert schedules_of({"type": "webhook", "catch_up_every_s": 0}) == []
    assert next_fire_times({"type": "cron", "cron": "*/10 * * * *"}, T0 + timedelta(minutes=1)) == {
        "schedule": (T0 + timedelta(minutes=10)).isoformat()
    }


async def _runs(db: Database) -> list[Run]:
    async with db.session() as session:
        return list((await session.execute(select(Run).order_by(Run.created_at))).scalars())


async def _finish_all(db: Database) -> None:
    async with db.session() as session, session.begin():
        await session.execute(update(Run).values(status=RunStatus.SUCCEEDED))


async def test_racing_schedulers_start_one_run_per_slot(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    flow = await make_flow(db, tmp_path, trigger={"type": "interval", "every_s": 60})
    queue = fake_queue()
    now = T0 + timedelta(seconds=3)
    started = await asyncio.gather(*(fire_due(db, now=now, queue=queue) for _ in range(4)))
    assert sum(len(ids) for ids in started) == 1
    runs = await _runs(db)
    assert [(r.flow_id, r.trigger) for r in runs] == [(flow.id, "schedule")]
    assert await queue.zcard("arq:queue") == 1  # enqueued for a worker
    # the same slot seen again later fires nothing; once the run is done, the next slot fires once
    assert await fire_due(db, now=now + timedelta(seconds=30), queue=queue) == []
    await _finish_all(db)
    assert len(await fire_due(db, now=now + timedelta(seconds=60), queue=queue)) == 1


async def test_inactive_flows_and_stale_slots_do_not_fire(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    await make_flow(db, tmp_path, name="off", trigger={"type": "interval", "every_s": 60}, active=False)
    await make_flow(db, tmp_path, name="nightly", trigger={"type": "cron", "cron": "0 2 * * *"})
    # switched on at 10:00: the 02:00 slot is eight hours old and must not fire now
    assert await fire_due(db, now=T0, queue=fake_queue()) == []
    # at 02:00:05 next night it fires
    assert len(await fire_due(db, now=datetime(2026, 11, 28, 2, 0, 5, tzinfo=UTC), queue=fake_queue())) == 1


async def test_a_busy_flow_skips_the_slot_and_says_so(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    await make_flow(db, tmp_path, trigger={"type": "interval", "every_s": 60})
    queue = fake_queue()
    assert len(await fire_due(db, now=T0, queue=queue)) == 1  # queued, not finished: the flow is busy
    assert await fire_due(db, now=T0 + timedelta(seconds=60), queue=queue) == []
    async with db.session() as session:
        slots = list((await session.execute(select(FiredSlot).order_by(FiredSlot.slot_at))).scalars())
    assert [s.run_id is not None for s in slots] == [True, False]
    assert slots[1].info == {"skipped": "the flow was still running"}
    assert len(await _runs(db)) == 1


async def test_webhook_flows_get_catch_up_runs(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    await make_flow(db, tmp_path, trigger={"type": "webhook", "catch_up_every_s": 300})
    ids = await fire_due(db, now=T0 + timedelta(seconds=1), queue=fake_queue())
    assert len(ids) == 1
    assert [r.trigger for r in await _runs(db)] == ["catch_up"]
