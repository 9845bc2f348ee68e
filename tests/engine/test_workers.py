"""Runs through real arq workers on Redis with PostgreSQL, including a worker killed mid-run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings

import tests.engine.fakes as fakes
from engine.db import Database
from engine.jobs import enqueue_run
from engine.models import Run, RunStatus
from engine.service import create_run

ROOT = Path(__file__).resolve().parents[2]
KOPPEL = str(Path(sys.executable).parent / "koppel")

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _env(pg_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=pg_url,
        REDIS_URL=redis_url,
        KOPPEL_NODE_MODULES="tests.engine.fakes",
        PYTHONPATH=str(ROOT),
        KOPPEL_STALE_AFTER_S="2",
        KOPPEL_HEARTBEAT_S="0.3",
        **extra,
    )
    return env


class Workers:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.procs = env, log_dir, []  # type: ignore[var-annotated]

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"worker{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([KOPPEL, "worker"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def workers(pg_url: str, redis_url: str, pg_db: Database, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(_env(pg_url, redis_url), tmp_path)
    yield pool
    pool.stop_all()


async def _wait_finished(db: Database, run_id: str, timeout: float) -> Run:
    async with asyncio.timeout(timeout):
        while True:
            async with db.session() as session:
                run = await session.get(Run, run_id)
            if run is not None and run.status in RunStatus.FINISHED:
                return run
            await asyncio.sleep(0.1)


def _delivered(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def _enqueue(redis_url: str, run_id: str) -> None:
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        await enqueue_run(run_id, queue=redis)
    finally:
        await redis.aclose()


async def test_a_run_executes_on_a_worker_process(
    workers: Workers, pg_db: Database, redis_url: str, tmp_path: Path
) -> None:
    fakes.write_items(tmp_path / "in.json", 40)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    workers.start()
    run = await create_run(pg_db, document=doc, connections={})
    await _enqueue(redis_url, run.id)
    finished = await _wait_finished(pg_db, run.id, 60)
    assert finished.status == "succeeded", finished.error
    assert finished.counts()["ok"] == 40
    assert len({line["ref"] for line in _delivered(tmp_path / "out.jsonl")}) == 40


async def test_sigkilled_worker_loses_and_duplicates_nothing(
    workers: Workers, pg_db: Database, redis_url: str, tmp_path: Path
) -> None:
    total = 300
    fakes.write_items(tmp_path / "in.json", total)
    doc = fakes.flow_document(
        tmp_path / "in.json", tmp_path / "out.jsonl", target={"delay_ms": 15}, settings={"concurrency": 4}
    )
    first = workers.start()
    run = await create_run(pg_db, document=doc, connections={})
    await _enqueue(redis_url, run.id)
    async with asyncio.timeout(60):
        while len(_delivered(tmp_path / "out.jsonl")) < 60:
            await asyncio.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = len(_delivered(tmp_path / "out.jsonl"))
    assert killed_at < total, "the run finished before the worker could be killed"
    workers.start()
    finished = await _wait_finished(pg_db, run.id, 120)
    refs = [line["ref"] for line in _delivered(tmp_path / "out.jsonl")]
    assert sorted(refs) == sorted(f"item:{i}" for i in range(1, total + 1)), "lost or duplicated deliveries"
    assert finished.status == "succeeded", finished.error
    assert finished.attempt == 2
    counts = finished.counts()
    assert counts["read"] == total and counts["ok"] + counts["skipped"] == total and counts["failed"] == 0
    assert {line["pid"] for line in _delivered(tmp_path / "out.jsonl")} >= {first.pid}


def test_cli_queue_follows_the_run_to_its_summary(
    workers: Workers, pg_url: str, redis_url: str, pg_db: Database, tmp_path: Path
) -> None:
    fakes.write_items(tmp_path / "in.json", 15)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl", target={"fail_values": [3]})
    (tmp_path / "flow.json").write_text(json.dumps(doc))
    (tmp_path / "conn.json").write_text("{}")
    workers.start()
    result = subprocess.run(
        [
            KOPPEL,
            "flow",
            "run",
            str(tmp_path / "flow.json"),
            "--connections",
            str(tmp_path / "conn.json"),
            "--queue",
            "--json",
        ],
        env=_env(pg_url, redis_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "partial"
    assert summary["counts"] == {"read": 15, "ok": 14, "skipped": 0, "waiting": 0, "failed": 1}
