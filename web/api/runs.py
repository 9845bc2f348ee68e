"""Runs: list, get, cancel, re-run, retry failed records; their per-record logs; a live SSE stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import select

from engine import store
from engine.models import LogEntry, Run, RunStatus
from engine.service import cancel_run
from nodes.texts import shown
from web.api.errors import bad_request, conflict, not_found
from web.api.params import MAX_ID, Key, Limit, OptionalRowId, Page, PerPage, QueryText, RowId
from web.streams import entry_view, follow_run, run_view

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("RunController", "query_logs", "retry_params")


async def query_logs(
    db: Database,
    run_id: str | None,
    *,
    status: str | None = None,
    node: str | None = None,
    q: str | None = None,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 100,
    flow_id: str | None = None,
    unresolved: bool = False,
) -> list[LogEntry]:
    """One page of log entries, newest first (``before_id``) or oldest first after ``after_id`` (following)."""
    stmt = select(LogEntry)
    if run_id:
        stmt = stmt.where(LogEntry.run_id == run_id)
    if flow_id:
        stmt = stmt.where(LogEntry.flow_id == flow_id)
    if status:
        stmt = stmt.where(LogEntry.status.in_(status.split(",")))
    if node:
        stmt = stmt.where(LogEntry.node_id == node)
    if q:
        stmt = stmt.where(LogEntry.record_key.like(f"%{q.strip()}%"))
    if unresolved:
        stmt = stmt.where(LogEntry.resolved.is_(False))
    if after_id is not None:
        stmt = stmt.where(LogEntry.id > after_id).order_by(LogEntry.id)
    else:
        if before_id is not None:
            stmt = stmt.where(LogEntry.id < before_id)
        stmt = stmt.order_by(LogEntry.id.desc())
    async with db.session() as session:
        return list((await session.execute(stmt.limit(max(1, min(limit, 500))))).scalars())


async def retry_params(db: Database, run_id: str, statuses: tuple[str, ...] = ("failed", "waiting")) -> list[str]:
    """Source record ids of a run's failed/waiting records (to run again)."""
    async with db.session() as session:
        ids = (
            await session.execute(
                select(LogEntry.source_id)
                .where(LogEntry.run_id == run_id, LogEntry.status.in_(statuses), LogEntry.resolved.is_(False))
                .distinct()
            )
        ).scalars()
        return [i for i in ids if i]


@dataclass
class SseEvent:
    """One server-sent event: ``entry`` (a log entry as JSON), ``run`` (the run as JSON) or ``close``."""

    event: str
    data: str
    id: str | None = None


class RunController(Controller):
    path = "/api"
    tags = ["runs"]

    @get("/runs", operation_id="ListRuns")
    async def list_runs(
        self,
        db: NamedDependency[Database],
        flow_id: QueryText = None,
        status: QueryText = None,
        page: Page = 1,
        per_page: PerPage = 50,
    ) -> dict[str, Any]:
        """Runs, newest first, per flow or overall."""
        total, runs = await store.list_runs(db, flow_id=flow_id, status=status, page=page, per_page=per_page)
        return {"total": total, "page": page, "runs": [run_view(r) for r in runs]}

    @get("/runs/{run_id:str}", operation_id="GetRun")
    async def get_run(self, db: NamedDependency[Database], run_id: FromPath[str]) -> dict[str, Any]:
        async with db.session() as session:
            run = await session.get(Run, run_id)
        if run is None:
            raise not_found(f"no run {shown(run_id)}")
        return run_view(run)

    @post("/runs/{run_id:str}/cancel", operation_id="CancelRun", status_code=200)
    async def cancel(self, db: NamedDependency[Database], run_id: FromPath[str]) -> dict[str, Any]:
        run = await cancel_run(db, run_id)
        if run is None:
            raise not_found(f"no run {shown(run_id)}")
        return run_view(run)

    @post("/runs/{run_id:str}/rerun", operation_id="RerunRun", status_code=201)
    async def rerun(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], run_id: FromPath[str]
    ) -> dict[str, Any]:
        """Run the same flow again with the same parameters."""
        return await self._again(request, db, run_id, retry_only=False)

    @post("/runs/{run_id:str}/retry-failed", operation_id="RetryFailedRecords", status_code=201)
    async def retry_failed(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], run_id: FromPath[str]
    ) -> dict[str, Any]:
        """Run the flow again for the records that failed or waited for a mapping in this run."""
        return await self._again(request, db, run_id, retry_only=True)

    async def _again(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], run_id: FromPath[str], *, retry_only: bool
    ) -> dict[str, Any]:
        async with db.session() as session:
            run = await session.get(Run, run_id)
        if run is None or run.flow_id is None:
            raise not_found(f"no flow run {shown(run_id)}")
        params = {k: v for k, v in run.params.items() if k not in ("connections_sealed", "record_ids")}
        if retry_only:
            ids = await retry_params(db, run_id)
            if not ids:
                raise bad_request("this run has no failed or waiting records to retry")
            params["record_ids"] = ids
        params["retry_of"] = run_id
        user = getattr(request.scope.get("user"), "email", None)
        try:
            new = await store.start_flow_run(db, run.flow_id, trigger="retry", params=params, created_by=user)
        except store.FlowBusy as exc:
            raise conflict(str(exc)) from exc
        return run_view(new)

    @post("/logs/{entry_id:int}/book-correction", operation_id="BookCorrection", status_code=201)
    async def book_correction(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], entry_id: FromPath[int]
    ) -> dict[str, Any]:
        """ "Book the correction" of a record waiting as "changed after booking": a run for that record that credits
        the booking that stands and books the order anew."""
        user = getattr(request.scope.get("user"), "email", None)
        try:
            new = await store.start_correction_run(db, entry_id, created_by=user)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        except store.FlowBusy as exc:
            raise conflict(str(exc)) from exc
        return run_view(new)

    @get("/runs/{run_id:str}/logs", operation_id="ListRunLogs")
    async def logs(
        self,
        db: NamedDependency[Database],
        run_id: Key,
        status: QueryText = None,
        node: QueryText = None,
        q: QueryText = None,
        before_id: OptionalRowId = None,
        after_id: OptionalRowId = None,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        """Per-record log entries (filter by status, node, record key; paged by id)."""
        entries = await query_logs(
            db, run_id, status=status, node=node, q=q, before_id=before_id, after_id=after_id, limit=limit
        )
        return {"entries": [entry_view(e) for e in entries]}

    @get("/logs/{entry_id:int}", operation_id="GetLogEntry")
    async def entry(self, db: NamedDependency[Database], entry_id: RowId) -> dict[str, Any]:
        """One entry with its record's journey: source payload, each node's output, request, response, error."""
        async with db.session() as session:
            entry = await session.get(LogEntry, entry_id)
        if entry is None:
            raise not_found(f"no log entry {entry_id}")
        return entry_view(entry, with_detail=True)

    @get("/inbox", operation_id="Inbox")
    async def inbox(self, db: NamedDependency[Database], before_id: OptionalRowId = None) -> dict[str, Any]:
        """Records waiting for a mapping, and failed records no automatic retry will recover (engine.retryset),
        across flows, not yet delivered by a later run."""
        entries = await query_logs(db, None, status="waiting,failed", unresolved=True, before_id=before_id)
        return {"entries": [entry_view(e, with_detail=True) for e in entries]}

    @get(
        "/runs/{run_id:str}/events",
        operation_id="StreamRunEvents",
        responses={
            200: ResponseSpec(
                data_container=SseEvent, media_type="text/event-stream", description="The stream of server-sent events"
            )
        },
    )
    async def events(
        self, db: NamedDependency[Database], run_id: Key, after_id: Annotated[int, QueryParameter(ge=0, le=MAX_ID)] = 0
    ) -> ServerSentEvent:
        """Server-sent events: ``entry`` per log entry (JSON), ``run`` with live counts, ``close`` at the end."""
        async with db.session() as session:
            if await session.get(Run, run_id) is None:
                raise not_found(f"no run {shown(run_id)}")

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            async for run, entries in follow_run(db, run_id, after_id=after_id):
                for entry in entries:
                    yield ServerSentEventMessage(event="entry", data=json.dumps(entry_view(entry)), id=str(entry.id))
                yield ServerSentEventMessage(event="run", data=json.dumps(run_view(run)))
                if run.status in RunStatus.FINISHED and not entries:
                    break
            yield ServerSentEventMessage(event="close", data="end")

        return ServerSentEvent(stream())
