"""One scheduler for the whole cluster: two `koppel worker` processes on Redis + PostgreSQL, one run per slot."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.models import FiredSlot, Run, RunStatus
from tests.triggers.conftest import make_flow

ROOT = Path(__file__).resolve().parents[2]
KOPPEL = str(Path(sys.executable).parent / "koppel")

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def two_workers(
    pg_url: str, redis_url: str, pg_db: Database, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "KOPPEL_NODE_MODULES": "tests.engine.fakes",
        "PYTHONPATH": str(ROOT),
    }
    procs = []
    logs = [(tmp_path / f"worker{n}.log").open("wb") for n in range(2)]
    for log in logs:
        procs.append(subprocess.Popen([KOPPEL, "worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


async def test_a_schedule_fires_on_time_once_with_two_workers(
    two_workers: list[subprocess.Popen[bytes]], pg_db: Database, tmp_path: Path
) -> None:
    flow = await make_flow(pg_db, tmp_path, items=3, trigger={"type": "interval", "every_s": 3})
    async with asyncio.timeout(60):
        while True:
            async with pg_db.session() as session:
                slots = list(
                    (
                        await session.execute(
                            select(FiredSlot).where(FiredSlot.flow_id == flow.id).order_by(FiredSlot.slot_at)
                        )
                    ).scalars()
                )
                runs = list((await session.execute(select(Run).where(Run.flow_id == flow.id))).scalars())
            if len(slots) >= 4 and all(r.status in RunStatus.FINISHED for r in runs):
                break
            await asyncio.sleep(0.2)
    assert all(proc.poll() is None for proc in two_workers), "both workers kept running"
    by_id = {r.id: r for r in runs}
    assert {r.trigger for r in runs} == {"schedule"}
    fired = [s for s in slots if s.run_id]
    assert len(fired) == len(runs), "exactly one run per fired slot, never two"
    assert len({s.run_id for s in fired}) == len(fired)
    assert len(fired) >= 3
    for slot in fired:
        run = by_id[slot.run_id]  # type: ignore[index]
        delay = (run.created_at - slot.slot_at).total_seconds()
        assert 0 <= delay < 5, f"slot {slot.slot_at} started {delay:.1f} s late"
        assert run.status == RunStatus.SUCCEEDED, run.error
    delivered = (tmp_path / "test_flow.jsonl").read_text().splitlines()
    assert len(delivered) == 3, "each item delivered once, however many runs"
