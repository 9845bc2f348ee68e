"""Queue self-healing on real Redis + PostgreSQL: a queued run whose job Redis lost is enqueued again and
completes; ``koppel flow run --queue`` gives up with a clear message when no worker takes its run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import tests.engine.fakes as fakes
from engine.db import Database
from engine.models import RunStatus
from engine.requeue import lost_queued_runs
from engine.service import create_run
from tests.engine.test_workers import KOPPEL, ROOT, Workers, _delivered, _enqueue, _env, _wait_finished

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def healing_workers(pg_url: str, redis_url: str, pg_db: Database, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(_env(pg_url, redis_url, KOPPEL_REQUEUE_AFTER_S="1"), tmp_path)
    yield pool
    pool.stop_all()


async def test_a_queued_run_whose_job_redis_lost_is_enqueued_again_and_completes(
    healing_workers: Workers, pg_db: Database, redis_url: str, tmp_path: Path
) -> None:
    fakes.write_items(tmp_path / "in.json", 25)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    run = await create_run(pg_db, document=doc, connections={})
    await _enqueue(redis_url, run.id)
    client = redis.Redis.from_url(redis_url)
    assert client.zcard("arq:queue") == 1
    client.flushdb()  # Redis restarted without persistence: the job is gone, the run is still "queued"
    assert client.zcard("arq:queue") == 0

    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        assert await lost_queued_runs(pg_db, pool, grace_s=0) == [run.id]
    finally:
        await pool.aclose()

    healing_workers.start()
    finished = await _wait_finished(pg_db, run.id, 60)
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert finished.counts()["ok"] == 25
    assert len({line["ref"] for line in _delivered(tmp_path / "out.jsonl")}) == 25


async def test_a_queued_run_with_its_job_in_place_is_not_enqueued_twice(pg_db: Database, redis_url: str) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    run = await create_run(pg_db, document={"format": "koppel.flow/1", "nodes": [], "edges": []}, connections={})
    await _enqueue(redis_url, run.id)
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        assert await lost_queued_runs(pg_db, pool, grace_s=0) == []
    finally:
        await pool.aclose()


def test_cli_queue_gives_up_with_a_clear_message_when_no_worker_takes_the_run(
    pg_url: str, redis_url: str, pg_db: Database, tmp_path: Path
) -> None:
    fakes.write_items(tmp_path / "in.json", 3)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    (tmp_path / "flow.json").write_text(json.dumps(doc))
    (tmp_path / "conn.json").write_text("{}")
    command = [KOPPEL, "flow", "run", str(tmp_path / "flow.json"), "--connections", str(tmp_path / "conn.json")]
    result = subprocess.run(
        [*command, "--queue", "--json", "--queue-timeout", "1.5"],
        env=_env(pg_url, redis_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "without a worker making progress" in result.stderr and "koppel worker" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "queued"
    bad = subprocess.run(
        [*command, "--queue", "--queue-timeout", "0"], env=_env(pg_url, redis_url), capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--queue-timeout" in bad.stderr
