"""Queue self-healing: a run that is ``queued`` in the database but has no job in Redis is put on the queue again.

The runs table is the queue's truth; Redis only carries the jobs. When Redis loses them (restarted without
persistence, flushed), a queued run would wait for ever: every scheduled slot of its flow is skipped as "still
running" and a manual start is refused. The periodic check of :mod:`engine.jobs` calls :func:`requeue_lost_runs`,
which looks for queued runs older than a short grace period (the time between creating a run and enqueueing it)
whose job is in neither the queue nor in progress, and enqueues them again. A worker claims a run with a
conditional update, so a run enqueued twice by accident still executes once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from arq.constants import default_queue_name, in_progress_key_prefix
from sqlalchemy import select

from engine.models import Run, RunStatus, utcnow
from engine.queue import enqueue_run

if TYPE_CHECKING:
    from arq import ArqRedis

    from engine.db import Database

__all__ = ("REQUEUE_GRACE_S", "lost_queued_runs", "requeue_lost_runs")

log = logging.getLogger("koppel.requeue")

REQUEUE_GRACE_S = 20.0
"""A queued run younger than this is left alone: its job may be on its way to Redis."""
JOB_PREFIX = "run:"
"""Job ids of runs are ``run:<run id>:<attempt>`` (:func:`engine.jobs.enqueue_run`)."""


def _run_of(job_id: bytes | str) -> str | None:
    text = job_id.decode() if isinstance(job_id, bytes) else job_id
    if not text.startswith(JOB_PREFIX):
        return None
    return text[len(JOB_PREFIX) :].split(":", 1)[0]


async def _runs_with_jobs(redis: ArqRedis) -> set[str]:
    """Run ids that have a job waiting in the queue or being executed."""
    ids = {_run_of(job) for job in await redis.zrange(default_queue_name, 0, -1)}
    async for key in redis.scan_iter(match=f"{in_progress_key_prefix}{JOB_PREFIX}*", count=500):
        text = key.decode() if isinstance(key, bytes) else key
        ids.add(_run_of(text[len(in_progress_key_prefix) :]))
    ids.discard(None)
    return {i for i in ids if i}


async def lost_queued_runs(db: Database, redis: ArqRedis, *, grace_s: float = REQUEUE_GRACE_S) -> list[str]:
    """Queued runs (older than ``grace_s``) that no job in Redis will ever execute."""
    limit = utcnow() - timedelta(seconds=grace_s)
    async with db.session() as session:
        queued = list(
            (
                await session.execute(
                    select(Run.id)
                    .where(Run.status == RunStatus.QUEUED, Run.created_at < limit)
                    .order_by(Run.created_at)
                    .limit(500)
                )
            ).scalars()
        )
    if not queued:
        return []
    present = await _runs_with_jobs(redis)
    return [run_id for run_id in queued if run_id not in present]


async def requeue_lost_runs(db: Database, redis: ArqRedis, *, grace_s: float = REQUEUE_GRACE_S) -> list[str]:
    """Enqueue every queued run whose job Redis lost; returns their ids."""
    lost = await lost_queued_runs(db, redis, grace_s=grace_s)
    for run_id in lost:
        log.warning("run %s was queued but its job is gone (Redis restarted or flushed?); enqueueing it again", run_id)
        await enqueue_run(run_id, attempt=int(utcnow().timestamp() * 1000), queue=redis)
    return lost
