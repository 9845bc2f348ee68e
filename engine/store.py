"""Flows, their versions and connections: the operations the API, the pages and the jobs share."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from engine.connections import open_client
from engine.crypto import get_box
from engine.flow import Problem, validate_flow
from engine.models import Connection, Flow, FlowVersion, LogEntry, Run, RunStatus, utcnow
from engine.queue import enqueue_run
from engine.service import create_run
from nodes.connectors import secret_fields
from nodes.connectors.base import InvalidConnectionSpec
from nodes.connectors.http import ConnectionTest
from nodes.connectors.registry import connectors, get_connector
from nodes.texts import shown

if TYPE_CHECKING:
    from engine.db import Database

__all__ = (
    "FlowBusy",
    "InvalidConnection",
    "NotFound",
    "connection_apps",
    "connection_view",
    "create_flow",
    "delete_connection",
    "get_connection",
    "get_flow",
    "get_version",
    "list_connections",
    "list_runs",
    "list_versions",
    "restore_version",
    "save_connection",
    "save_version",
    "start_correction_run",
    "start_flow_run",
    "test_connection",
)


class NotFound(LookupError):
    pass


class FlowBusy(RuntimeError):
    """The flow already runs as often as its settings allow."""


class InvalidConnection(ValueError):
    """A connection's fields are wrong; ``problems`` says which."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# ---- connections -------------------------------------------------------------------------------------------


def _split_secrets(app: str, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    secret_names = set(secret_fields(app))
    public = {k: v for k, v in fields.items() if k not in secret_names and k not in ("app", "name")}
    hidden = {k: v for k, v in fields.items() if k in secret_names and v not in (None, "")}
    return public, hidden


def connection_view(row: Connection) -> dict[str, Any]:
    """What may be shown of a connection: never its secrets, only which ones are set."""
    secret_names = secret_fields(row.app)
    stored = get_box().open(row.secrets) if row.secrets else {}
    return {
        "id": row.id,
        "name": row.name,
        "app": row.app,
        "settings": row.settings,
        "secrets_set": {name: bool(stored.get(name)) for name in secret_names},
        "last_test_at": row.last_test_at.isoformat() if row.last_test_at else None,
        "last_test_ok": row.last_test_ok,
        "last_test_message": row.last_test_message,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def list_connections(db: Database) -> list[Connection]:
    async with db.session() as session:
        return list((await session.execute(select(Connection).order_by(Connection.name))).scalars())


async def connection_apps(db: Database) -> dict[str, str]:
    return {row.name: row.app for row in await list_connections(db)}


async def get_connection(db: Database, connection_id: str) -> Connection:
    async with db.session() as session:
        row = await session.get(Connection, connection_id)
        if row is None:
            row = (
                await session.execute(select(Connection).where(Connection.name == connection_id))
            ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no connection {shown(connection_id)}")
    return row


async def save_connection(
    db: Database, *, name: str, app: str, fields: dict[str, Any], connection_id: str | None = None
) -> Connection:
    """Create or update a connection. Secrets left empty on update keep their stored value (write-only)."""
    name = name.strip()
    problems = []
    if not name:
        problems.append("name: give the connection a name")
    if app not in connectors():
        raise InvalidConnection([f"app: must be one of {', '.join(connectors())}"])
    public, hidden = _split_secrets(app, fields)
    async with db.session() as session, session.begin():
        row = await session.get(Connection, connection_id) if connection_id else None
        if connection_id and row is None:
            raise NotFound(f"no connection {shown(connection_id)}")
        box = get_box()
        merged_secrets = {**(box.open(row.secrets) if row and row.secrets else {}), **hidden}
        problems.extend(get_connector(app).validate({"app": app, **public, **merged_secrets}))
        clash = (
            await session.execute(
                select(Connection.id).where(Connection.name == name, Connection.id != (connection_id or ""))
            )
        ).scalar_one_or_none()
        if clash:
            problems.append(f"name: a connection named {shown(name)} exists already")
        if problems:
            raise InvalidConnection(problems)
        if row is None:
            row = Connection(name=name, app=app)
            session.add(row)
        row.name, row.app, row.settings, row.secrets = name, app, public, box.seal(merged_secrets)
        row.updated_at = utcnow()
    return row


async def delete_connection(db: Database, connection_id: str) -> None:
    async with db.session() as session, session.begin():
        result = await session.execute(delete(Connection).where(Connection.id == connection_id))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"no connection {shown(connection_id)}")


async def test_connection(db: Database, connection_id: str) -> dict[str, Any]:
    """Ask the application whether the credentials work; the answer is stored with the connection."""
    row = await get_connection(db, connection_id)
    try:
        async with open_client(db, row.id) as client:
            result = await get_connector(row.app).test(client)
    except InvalidConnectionSpec as exc:
        result = ConnectionTest(False, "The connection is incomplete: " + "; ".join(exc.problems))
    async with db.session() as session, session.begin():
        stored = await session.get(Connection, row.id)
        assert stored is not None
        stored.last_test_at = utcnow()
        stored.last_test_ok = bool(result.ok)
        stored.last_test_message = result.message
    return {"ok": bool(result.ok), "message": result.message, "can_write": result.can_write, "status": result.status}


# ---- flows ---------------------------------------------------------------------------------------------------


async def get_flow(db: Database, flow_id: str) -> Flow:
    async with db.session() as session:
        flow = await session.get(Flow, flow_id)
    if flow is None:
        raise NotFound(f"no flow {shown(flow_id)}")
    return flow


async def get_version(db: Database, flow_id: str, number: int | None = None) -> FlowVersion:
    async with db.session() as session:
        flow = await session.get(Flow, flow_id)
        if flow is None:
            raise NotFound(f"no flow {shown(flow_id)}")
        version = (
            await session.execute(
                select(FlowVersion).where(
                    FlowVersion.flow_id == flow_id, FlowVersion.number == (number or flow.current_version)
                )
            )
        ).scalar_one_or_none()
    if version is None:
        raise NotFound(f"flow {shown(flow_id)} has no version {number}")
    return version


async def list_versions(db: Database, flow_id: str) -> list[FlowVersion]:
    async with db.session() as session:
        result = await session.execute(
            select(FlowVersion).where(FlowVersion.flow_id == flow_id).order_by(FlowVersion.number.desc())
        )
        return list(result.scalars())


async def create_flow(
    db: Database,
    document: dict[str, Any],
    *,
    note: str = "created",
    created_by: str | None = None,
    template: str | None = None,
) -> Flow:
    """A new flow with ``document`` as version 1 (saved even when invalid: drafts are allowed; runs are not)."""
    # A malformed trigger or settings (a string, a list) is the validator's problem to report, never a crash.
    trigger, settings = document.get("trigger"), document.get("settings")
    flow = Flow(
        name=str(document.get("name") or "Untitled flow")[:200],
        description=str(document.get("description") or ""),
        template=template,
        current_version=1,
        trigger=dict(trigger) if isinstance(trigger, dict) and trigger else {"type": "manual"},
        settings=dict(settings) if isinstance(settings, dict) else {},
        webhook_secret=get_box().seal({"secret": secrets.token_urlsafe(32)}),
    )
    async with db.session() as session, session.begin():
        session.add(flow)
        await session.flush()
        session.add(FlowVersion(flow_id=flow.id, number=1, document=document, note=note, created_by=created_by))
    return flow


async def save_version(
    db: Database, flow_id: str, document: dict[str, Any], *, note: str = "", created_by: str | None = None
) -> FlowVersion:
    """Save ``document`` as the flow's next version (versions are immutable)."""
    async with db.session() as session, session.begin():
        flow = await session.get(Flow, flow_id, with_for_update=not db.is_sqlite)
        if flow is None:
            raise NotFound(f"no flow {shown(flow_id)}")
        number = (
            int(
                (
                    await session.execute(select(func.max(FlowVersion.number)).where(FlowVersion.flow_id == flow_id))
                ).scalar()
                or 0
            )
            + 1
        )
        version = FlowVersion(flow_id=flow_id, number=number, document=document, note=note, created_by=created_by)
        session.add(version)
        flow.current_version = number
        flow.name = str(document.get("name") or flow.name)[:200]
        flow.description = str(document.get("description") or flow.description)
        flow.updated_at = utcnow()
    return version


async def restore_version(db: Database, flow_id: str, number: int, *, created_by: str | None = None) -> FlowVersion:
    old = await get_version(db, flow_id, number)
    return await save_version(db, flow_id, old.document, note=f"restored version {number}", created_by=created_by)


async def validate_flow_document(db: Database, document: dict[str, Any]) -> list[Problem]:
    return validate_flow(document, await connection_apps(db))


async def start_flow_run(
    db: Database,
    flow_id: str,
    *,
    trigger: str = "manual",
    params: dict[str, Any] | None = None,
    created_by: str | None = None,
    enqueue: bool = True,
) -> Run:
    """Queue a run of the flow's current version (refused while the flow already runs its maximum)."""
    flow = await get_flow(db, flow_id)
    max_parallel = int(flow.settings.get("max_parallel_runs", 1) or 0)
    if max_parallel and not (params or {}).get("dry_run"):
        async with db.session() as session:
            active = (
                await session.execute(
                    select(func.count(Run.id)).where(
                        Run.flow_id == flow_id,
                        Run.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
                        Run.trigger != "test",
                    )
                )
            ).scalar_one()
        if active >= max_parallel:
            raise FlowBusy(f"flow {shown(flow.name)} is already running; wait for that run to finish")
    run = await create_run(db, flow=flow, trigger=trigger, params=params, created_by=created_by)
    if enqueue:
        await enqueue_run(run.id)
    return run


async def start_correction_run(db: Database, entry_id: int, *, created_by: str | None = None) -> Run:
    """ "Book the correction" for a record waiting as "changed after booking": a run of its flow for that record
    only, allowed to credit the booking that stands and book the order anew.

    Raises:
        NotFound: the log entry does not exist, has no flow, or is not a record changed after booking.
        FlowBusy: the flow already runs as often as its settings allow.
    """
    async with db.session() as session:
        entry = await session.get(LogEntry, entry_id)
    detail = entry.detail if entry is not None and isinstance(entry.detail, dict) else {}
    if entry is None or not entry.flow_id or detail.get("action") != "book_correction" or not entry.source_id:
        raise NotFound("This record is not waiting for a correction.")
    params = {"record_ids": [entry.source_id], "book_corrections": [entry.source_id]}
    return await start_flow_run(db, entry.flow_id, trigger="retry", params=params, created_by=created_by)


# ---- runs ----------------------------------------------------------------------------------------------------


async def list_runs(
    db: Database, *, flow_id: str | None = None, status: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[int, list[Run]]:
    """How many runs there are of the flow (or all) with the status (or any), and page ``page`` of them, newest
    first."""
    stmt = select(Run)
    count = select(func.count(Run.id))
    if flow_id:
        stmt, count = stmt.where(Run.flow_id == flow_id), count.where(Run.flow_id == flow_id)
    if status:
        stmt, count = stmt.where(Run.status == status), count.where(Run.status == status)
    async with db.session() as session:
        total = int((await session.execute(count)).scalar_one())
        found = await session.execute(
            stmt.order_by(Run.created_at.desc()).offset((page - 1) * per_page).limit(per_page)
        )
        return total, list(found.scalars())
