"""Flows: create, update (a new version each time), versions, validate, delete, start runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select

from engine import store
from engine.models import Flow, Run
from nodes.texts import shown
from web.api.errors import bad_request, conflict, not_found
from web.api.params import Days, IsoDateTime, Key, SafeText, VersionNumber
from web.streams import run_view

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("FlowController", "flow_view")


class FlowDocument(BaseModel):
    """A koppel.flow/1 document. Only its outline is checked here (so a draft with problems can still be saved and
    fixed); nodes, edges and settings are checked by the flow validator, which answers with ``problems``."""

    model_config = ConfigDict(extra="allow")

    format: str | None = Field(default=None, description='"koppel.flow/1"')
    name: SafeText | None = Field(default=None, max_length=200)
    description: SafeText | None = Field(default=None, max_length=10_000)
    trigger: dict[str, Any] | None = Field(default=None, description='e.g. {"type": "manual"}')
    settings: dict[str, Any] | None = Field(default=None, description='e.g. {"concurrency": 8}')
    nodes: list[Any] | None = None
    edges: list[Any] | None = None

    def as_document(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class FlowIn(BaseModel):
    document: FlowDocument | None = Field(default=None, description="A koppel.flow/1 document")
    template: SafeText | None = Field(
        default=None, max_length=100, description="Start from this template instead of a document"
    )
    name: SafeText | None = Field(default=None, max_length=200)
    connections: dict[str, SafeText] = Field(
        default_factory=dict, description="For a template: its connection name → one of your connections"
    )
    note: SafeText = Field(default="", max_length=2000)


class VersionIn(BaseModel):
    document: FlowDocument
    note: SafeText = Field(default="", max_length=2000)


class SettingsIn(BaseModel):
    trigger: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    active: bool | None = None


class RunIn(BaseModel):
    dry_run: bool = False
    limit: int | None = Field(default=None, ge=1, le=10_000_000)
    record_ids: list[SafeText] | None = Field(default=None, max_length=10_000)
    modified_after: IsoDateTime | None = Field(default=None, description="ISO date or date-time (UTC)")
    modified_before: IsoDateTime | None = Field(default=None, description="ISO date or date-time (UTC)")


def flow_view(flow: Flow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "name": flow.name,
        "description": flow.description,
        "template": flow.template,
        "current_version": flow.current_version,
        "active": flow.active,
        "trigger": flow.trigger,
        "settings": flow.settings,
        "created_at": flow.created_at.isoformat(),
        "updated_at": flow.updated_at.isoformat(),
    }


def _user_email(request: Request[Any, Any, Any]) -> str | None:
    user = request.scope.get("user")
    return getattr(user, "email", None)


def rename_connections(document: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """A copy of ``document`` whose nodes use the chosen connections instead of the template's names."""
    nodes = []
    for node in document.get("nodes", []):
        config = dict(node.get("config", {}))
        if config.get("connection") in mapping:
            config["connection"] = mapping[config["connection"]]
        nodes.append({**node, "config": config})
    return {**document, "nodes": nodes}


class FlowController(Controller):
    path = "/api/flows"
    tags = ["flows"]

    @get("/", operation_id="ListFlows")
    async def list_flows(self, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        async with db.session() as session:
            flows = (await session.execute(select(Flow).order_by(Flow.name))).scalars().all()
        return [flow_view(f) for f in flows]

    @post("/", operation_id="CreateFlow")
    async def create_flow(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], data: FlowIn
    ) -> dict[str, Any]:
        """Create a flow from a document or from a template (version 1)."""
        document = data.document.as_document() if data.document else None
        if data.template:
            from engine.templates import get_template

            try:
                document = rename_connections(get_template(data.template), data.connections)
            except KeyError as exc:
                raise bad_request(f"no template named {shown(data.template)}") from exc
        if document is None:
            raise bad_request("send a document or a template name")
        if data.name:
            document = {**document, "name": data.name}
        flow = await store.create_flow(
            db, document, note=data.note or "created", created_by=_user_email(request), template=data.template
        )
        problems = await store.validate_flow_document(db, document)
        return {**flow_view(flow), "problems": [p.as_dict() for p in problems]}

    @post("/validate", operation_id="ValidateFlow", status_code=200)
    async def validate(self, db: NamedDependency[Database], data: dict[str, Any]) -> dict[str, Any]:
        """Problems of a flow document, as a list of {node, field, message}."""
        problems = await store.validate_flow_document(db, data)
        return {"valid": not problems, "problems": [p.as_dict() for p in problems]}

    @get("/{flow_id:str}", operation_id="GetFlow")
    async def get_flow(self, db: NamedDependency[Database], flow_id: Key) -> dict[str, Any]:
        try:
            flow = await store.get_flow(db, flow_id)
            version = await store.get_version(db, flow_id)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        return {**flow_view(flow), "document": version.document}

    @put("/{flow_id:str}", operation_id="UpdateFlow")
    async def update_flow(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], flow_id: Key, data: VersionIn
    ) -> dict[str, Any]:
        """Save a new version of the flow."""
        document = data.document.as_document()
        try:
            version = await store.save_version(db, flow_id, document, note=data.note, created_by=_user_email(request))
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        problems = await store.validate_flow_document(db, document)
        return {"version": version.number, "problems": [p.as_dict() for p in problems]}

    @put("/{flow_id:str}/settings", operation_id="UpdateFlowSettings")
    async def update_settings(self, db: NamedDependency[Database], flow_id: Key, data: SettingsIn) -> dict[str, Any]:
        """Trigger, schedule, run settings and whether the flow is active (the automation API's rules apply)."""
        from engine.automation import SETTING_KEYS, apply_automation, validate_automation

        settings = data.settings or {}
        unknown = sorted(set(settings) - set(SETTING_KEYS))
        if unknown:
            raise bad_request(f"unknown settings: {', '.join(unknown)} (known: {', '.join(SETTING_KEYS)})")
        change, problems = validate_automation({"trigger": data.trigger, "active": data.active, **settings})
        if problems:
            raise bad_request("the settings are not valid", problems)
        flow = await apply_automation(db, flow_id, change)
        if flow is None:
            raise not_found(f"no flow {shown(flow_id)}")
        return flow_view(flow)

    @delete("/{flow_id:str}", operation_id="DeleteFlow", status_code=204)
    async def delete_flow(self, db: NamedDependency[Database], flow_id: Key) -> None:
        async with db.session() as session, session.begin():
            result = await session.execute(sql_delete(Flow).where(Flow.id == flow_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise not_found(f"no flow {shown(flow_id)}")

    @get("/{flow_id:str}/versions", operation_id="ListFlowVersions")
    async def versions(self, db: NamedDependency[Database], flow_id: Key) -> list[dict[str, Any]]:
        return [
            {"number": v.number, "note": v.note, "created_by": v.created_by, "created_at": v.created_at.isoformat()}
            for v in await store.list_versions(db, flow_id)
        ]

    @get("/{flow_id:str}/versions/{number:int}", operation_id="GetFlowVersion")
    async def version(self, db: NamedDependency[Database], flow_id: Key, number: VersionNumber) -> dict[str, Any]:
        try:
            v = await store.get_version(db, flow_id, number)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        return {"number": v.number, "note": v.note, "document": v.document, "created_at": v.created_at.isoformat()}

    @post("/{flow_id:str}/versions/{number:int}/restore", operation_id="RestoreFlowVersion", status_code=200)
    async def restore(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        flow_id: Key,
        number: VersionNumber,
    ) -> dict[str, Any]:
        """Make an old version current again (as a new version)."""
        try:
            v = await store.restore_version(db, flow_id, number, created_by=_user_email(request))
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        return {"version": v.number}

    @post("/{flow_id:str}/runs", operation_id="StartRun", status_code=201)
    async def start_run(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        flow_id: Key,
        data: RunIn | None = None,
    ) -> dict[str, Any]:
        """Run the flow's current version (``dry_run``: write nothing; ``limit``: first N records)."""
        data = data or RunIn()
        try:
            version = await store.get_version(db, flow_id)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        problems = await store.validate_flow_document(db, version.document)
        if problems:
            raise bad_request("the flow is not valid; fix it before running", [p.as_dict() for p in problems])
        params = data.model_dump(exclude_none=True, exclude_defaults=True)
        try:
            run = await store.start_flow_run(
                db,
                flow_id,
                trigger="test" if data.dry_run else "manual",
                params=params,
                created_by=_user_email(request),
            )
        except store.FlowBusy as exc:
            raise conflict(str(exc)) from exc
        return run_view(run)

    @get("/{flow_id:str}/stats", operation_id="FlowStats")
    async def stats(self, db: NamedDependency[Database], flow_id: Key, days: Days = 30) -> dict[str, Any]:
        async with db.session() as session:
            row = (
                await session.execute(
                    select(func.count(Run.id), func.sum(Run.ok_count), func.sum(Run.failed_count)).where(
                        Run.flow_id == flow_id
                    )
                )
            ).one()
        return {"runs": row[0] or 0, "ok": int(row[1] or 0), "failed": int(row[2] or 0), "days": days}
