"""The run queue (arq): where runs are put for any worker to take. Below the scheduler and the worker, so both (and
the flow store) can enqueue without importing each other."""

from __future__ import annotations

from arq import ArqRedis

__all__ = ("JOB_RUN_FLOW", "enqueue_run", "get_queue", "set_queue")

JOB_RUN_FLOW = "run_flow"

_queue: ArqRedis | None = None


def set_queue(queue: ArqRedis | None) -> None:
    """Make ``queue`` the process's queue (the app and the worker do at start)."""
    global _queue
    _queue = queue


def get_queue() -> ArqRedis:
    """The process's queue.

    Raises:
        RuntimeError: neither the app nor a worker has started.
    """
    if _queue is None:
        raise RuntimeError("no job queue: start the app or the worker first")
    return _queue


async def enqueue_run(run_id: str, attempt: int = 0, queue: ArqRedis | None = None) -> None:
    """Put a run on the queue (``attempt`` distinguishes a resume from the first job of the run)."""
    redis = queue or get_queue()
    await redis.enqueue_job(JOB_RUN_FLOW, run_id, _job_id=f"run:{run_id}:{attempt}")
