"""Run lifecycle: create, claim (a lease, so one worker runs a run), execute, finish, cancel, resume."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import DBAPIError

from engine.connections import ClientPool, DbTokenStore, connection_specs
from engine.crypto import get_box
from engine.db import process_name, session_name
from engine.flow import FlowInvalid, build_graph
from engine.lease import Lease, LeaseLost
from engine.logsink import LogSink
from engine.models import Flow, FlowVersion, Run, RunStatus, utcnow
from engine.retryset import open_retry_set
from engine.runner import RunCancelled, RunContext, execute_graph
from engine.settings import Settings, get_settings

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "DbTokenStore",
    "cancel_run",
    "connection_specs",
    "create_run",
    "execute_run",
    "final_status",
    "flow_key_for_document",
    "stale_runs",
)

log = logging.getLogger("koppel.service")
WORKER_NAME = process_name()


def flow_key_for_document(document: dict[str, Any]) -> str:
    """The idempotency/cursor key of a flow run from a file: stable across runs of the same named flow."""
    return f"file:{document.get('name', '')}"[:200]


async def create_run(
    db: Database,
    *,
    flow: Flow | None = None,
    document: dict[str, Any] | None = None,
    trigger: str = "manual",
    params: dict[str, Any] | None = None,
    connections: dict[str, dict[str, Any]] | None = None,
    created_by: str | None = None,
) -> Run:
    """Store a queued run of ``flow`` (its current version) or of a bare ``document`` with file ``connections``."""
    params = dict(params or {})
    version_id = None
    if flow is not None:
        async with db.session() as session:
            version = (
                await session.execute(
                    select(FlowVersion).where(
                        FlowVersion.flow_id == flow.id, FlowVersion.number == flow.current_version
                    )
                )
            ).scalar_one()
        document, version_id = version.document, version.id
    if document is None:
        raise ValueError("a run needs a flow or a document")
    if connections is not None:
        params["connections_sealed"] = get_box().seal(connections)
    run = Run(
        flow_id=flow.id if flow else None,
        version_id=version_id,
        document=document,
        trigger=trigger,
        params=params,
        created_by=created_by,
    )
    async with db.session() as session, session.begin():
        session.add(run)
    return run


async def _claim(db: Database, run_id: str, settings: Settings) -> tuple[Run, Lease] | None:
    """Take the run (queued, or running with a stale heartbeat): its attempt goes up by one and is this worker's
    fencing token (:mod:`engine.lease`)."""
    stale = utcnow() - timedelta(seconds=settings.stale_after_s)
    claimed_at = time.monotonic()
    try:
        async with db.writing() as conn:
            if not db.is_sqlite:
                # A frozen worker may hold the run's row (PostgreSQL does not end a session that waits for the rest
                # of a pipelined statement): give up quickly instead of waiting for ever, and end its sessions below.
                await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            result = await conn.execute(
                update(Run)
                .where(
                    Run.id == run_id,
                    or_(
                        Run.status == RunStatus.QUEUED,
                        (Run.status == RunStatus.RUNNING) & (Run.heartbeat_at < stale),
                    ),
                )
                .values(
                    status=RunStatus.RUNNING,
                    attempt=Run.attempt + 1,
                    worker=WORKER_NAME,
                    heartbeat_at=utcnow(),
                    started_at=utcnow(),
                )
            )
            if result.rowcount != 1:
                return None
    except DBAPIError as exc:
        if db.is_sqlite or "lock timeout" not in str(exc):
            raise
        await _end_stale_sessions(db, run_id, stale)
        return None  # the stale-run check enqueues it again; the next claim finds the row free
    async with db.session() as session:
        run = await session.get(Run, run_id)
    if run is None:
        return None
    lease = Lease(db, run_id, run.attempt, stale_after_s=settings.stale_after_s, claimed_at=claimed_at)
    return run, lease


async def _end_stale_sessions(db: Database, run_id: str, stale: datetime) -> None:
    """End the database sessions of the worker that holds a stale run's row (frozen, or cut off from the network):
    that worker lost its lease, and its open transaction must not keep the run from being taken over."""
    async with db.session() as session:
        run = await session.get(Run, run_id)
        if run is None or run.worker is None or run.heartbeat_at is None or run.heartbeat_at >= stale:
            return
        ended = await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database() AND pid <> pg_backend_pid() "
                "AND xact_start IS NOT NULL"
            ),
            {"name": session_name(run.worker)},
        )
        log.warning("run %s: ended %d database sessions of its stale worker %s", run_id, len(ended.all()), run.worker)


def final_status(run: Run, *, cancelled: bool = False, error: str | None = None) -> str:
    if cancelled:
        return RunStatus.CANCELLED
    if error is not None:
        return RunStatus.FAILED
    if run.failed_count:
        return RunStatus.PARTIAL if (run.ok_count or run.skipped_count or run.waiting_count) else RunStatus.FAILED
    return RunStatus.SUCCEEDED


async def _specs_for(db: Database, run: Run) -> tuple[dict[str, dict[str, Any]], bool]:
    sealed = run.params.get("connections_sealed")
    if sealed:
        return get_box().open(sealed), True
    return await connection_specs(db), False


async def execute_run(db: Database, run_id: str, settings: Settings | None = None) -> Run | None:
    """Claim and execute one run to its end. Returns None when another worker holds it (or took it over)."""
    settings = settings or get_settings()
    claimed = await _claim(db, run_id, settings)
    if claimed is None:
        log.info("run %s is not claimable (finished or held by a live worker)", run_id)
        return None
    run, lease = claimed
    flow_key = run.flow_id or flow_key_for_document(run.document)
    error: str | None = None
    cancelled = False
    specs, from_file = await _specs_for(db, run)

    clients = ClientPool(db, specs, from_file=from_file, lease=lease)
    params = {k: v for k, v in run.params.items() if k != "connections_sealed"}
    ctx = RunContext(
        flow_key=flow_key,
        run_id=run.id,
        db=db,
        clients=clients,
        dry_run=bool(params.get("dry_run")),
        params=params,
        lease=lease,
    )
    sink = LogSink(db, run.id, flow_key, run.flow_id, lease=lease)
    await sink.start(run.counts())
    cancel_event = asyncio.Event()
    heartbeat = asyncio.create_task(_heartbeat(lease, settings, cancel_event))

    async def on_expected(total: int) -> None:
        async with db.writing() as conn:
            await lease.hold(conn, expected_count=total)

    try:
        graph, problems = build_graph(run.document, {name: spec["app"] for name, spec in specs.items()})
        if graph is None:
            raise FlowInvalid(problems)
        fixed = graph.settings.get("concurrency")  # None: records in flight follow the connections' limits
        concurrency = int(fixed) if fixed is not None else None
        ctx.retry_set = await open_retry_set(db, graph, flow_key, run.id, params, trigger=run.trigger, lease=lease)
        await execute_graph(
            graph,
            ctx,
            sink,
            concurrency=concurrency,
            resumed=run.attempt > 1,
            cancelled=lambda: cancel_event.is_set() or lease.lost,
            on_expected=on_expected,
        )
    except LeaseLost:
        lease.lose()
    except RunCancelled:
        cancelled = True
    except FlowInvalid as exc:
        error = "invalid flow: " + "; ".join(
            f"{p.node + ': ' if p.node else ''}{p.field + ': ' if p.field else ''}{p.message}" for p in exc.problems
        )
    except Exception as exc:
        if lease.lost:
            log.info("run %s stopped after losing its lease (%s)", run_id, exc)
        else:
            log.exception("run %s failed", run_id)
            error = f"{type(exc).__name__}: {exc}"
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        try:
            await sink.close()
        except LeaseLost:
            lease.lose()
        await clients.close()
        if ctx.retry_set is not None and not lease.lost:
            try:
                await ctx.retry_set.finish(complete=error is None and not cancelled and not params.get("limit"))
            except LeaseLost:
                lease.lose()
            except Exception:  # the set stays as it was: the records are retried (and settled) again next time
                log.exception("run %s could not update its flow's retry set", run_id)
    if lease.lost:
        log.warning("run %s: attempt %s stopped; another worker holds the run", run_id, lease.token)
        return None
    try:
        return await _finish(db, lease, cancelled=cancelled, error=error)
    except LeaseLost:
        return None


async def _finish(db: Database, lease: Lease, *, cancelled: bool, error: str | None) -> Run:
    async with db.writing() as conn:
        await lease.hold(conn)  # first: the run row is locked for this transaction (and still ours)
        row = (await conn.execute(select(Run.__table__).where(Run.id == lease.run_id))).one()
        run = Run(**row._asdict())
        status = final_status(run, cancelled=cancelled or run.cancel_requested, error=error)
        await conn.execute(
            update(Run).where(Run.id == lease.run_id).values(status=status, error=error, finished_at=utcnow())
        )
    async with db.session() as session:
        finished = await session.get(Run, lease.run_id)
    assert finished is not None
    from engine.broadcast import get_broadcaster

    await get_broadcaster().notify(lease.run_id)
    return finished


async def _heartbeat(lease: Lease, settings: Settings, cancel_event: asyncio.Event) -> None:
    interval = max(0.05, min(settings.heartbeat_s, settings.stale_after_s / 3))
    while True:
        await asyncio.sleep(interval)
        try:
            await lease.renew(force=True)
            async with lease.db.session() as session:
                requested = (await session.execute(select(Run.cancel_requested).where(Run.id == lease.run_id))).scalar()
            if requested:
                cancel_event.set()
        except LeaseLost:
            cancel_event.set()
            return
        except Exception:  # a missed heartbeat is retried at the next beat
            log.warning("heartbeat of run %s failed", lease.run_id, exc_info=True)


async def cancel_run(db: Database, run_id: str) -> Run | None:
    """Ask a run to stop; a queued run is cancelled at once, a running one at its next record."""
    async with db.session() as session, session.begin():
        run = await session.get(Run, run_id)
        if run is None:
            return None
        if run.status == RunStatus.QUEUED:
            run.status = RunStatus.CANCELLED
            run.finished_at = utcnow()
        elif run.status == RunStatus.RUNNING:
            run.cancel_requested = True
        return run


async def stale_runs(db: Database, settings: Settings | None = None) -> list[str]:
    """Runs whose worker stopped beating: they are to be resumed by another worker."""
    settings = settings or get_settings()
    limit: datetime = utcnow() - timedelta(seconds=settings.stale_after_s)
    async with db.session() as session:
        result = await session.execute(
            select(Run.id).where(Run.status == RunStatus.RUNNING, Run.heartbeat_at < limit).limit(100)
        )
        return list(result.scalars())
