"""Managing flows from the UI: rename, duplicate, delete (its runs kept or removed), export and import as JSON."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from sqlalchemy import delete, update

from engine import store
from engine.flow import FLOW_FORMAT
from engine.models import Flow, LogEntry, Run
from web.ui.render import current_user, html, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("FLOW_ROUTES",)

MAX_IMPORT_BYTES = 2_000_000


def _email(request: Request[Any, Any, Any]) -> str | None:
    return getattr(current_user(request), "email", None)


async def _document(db: Database, flow_id: str) -> dict[str, Any]:
    try:
        return copy.deepcopy((await store.get_version(db, flow_id)).document)
    except store.NotFound as exc:
        raise NotFoundException("This flow does not exist.") from exc


def _error(request: Request[Any, Any, Any], message: str) -> Response[str]:
    return render(request, "fragments/alert.html", kind="error", message=message)


@post("/flows/{flow_id:str}/rename")
async def rename_flow(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """A new name, saved as a new version of the flow."""
    form = await request.form()
    name = str(form.get("name", "")).strip()[:200]
    if not name:
        return _error(request, "Give the flow a name.")
    document = await _document(db, flow_id)
    document["name"] = name
    await store.save_version(db, flow_id, document, note="renamed", created_by=_email(request))
    return redirect(request, f"/flows/{flow_id}")


@post("/flows/{flow_id:str}/duplicate")
async def duplicate_flow(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """A copy of the flow's current version as a new flow (inactive, with its own webhook secret)."""
    document = await _document(db, flow_id)
    document["name"] = f"{document.get('name') or 'Flow'} (copy)"[:200]
    flow = await store.create_flow(db, document, note="duplicated", created_by=_email(request))
    return redirect(request, f"/flows/{flow.id}")


@post("/flows/{flow_id:str}/delete")
async def delete_flow(request: Request[Any, Any, Any], db: Database, flow_id: str) -> Response[str]:
    """Delete the flow; its runs and their logs are kept (without the flow) or removed, as the person chose."""
    form = await request.form()
    runs = str(form.get("runs", ""))
    if runs not in ("keep", "remove"):
        return _error(request, "Choose whether the flow's runs are kept or removed.")
    async with db.session() as session, session.begin():
        if await session.get(Flow, flow_id) is None:
            raise NotFoundException("This flow does not exist.")
        if runs == "keep":
            await session.execute(update(Run).where(Run.flow_id == flow_id).values(flow_id=None))
            # nothing of a deleted flow can be retried: its records leave the inbox
            await session.execute(
                update(LogEntry)
                .where(LogEntry.flow_id == flow_id, LogEntry.status.in_(("waiting", "failed")))
                .values(resolved=True)
            )
        else:
            await session.execute(delete(LogEntry).where(LogEntry.flow_id == flow_id))
            await session.execute(delete(Run).where(Run.flow_id == flow_id))
        await session.execute(delete(Flow).where(Flow.id == flow_id))
    return redirect(request, "/?deleted=1")


@get("/flows/{flow_id:str}/download")
async def download_flow(db: Database, flow_id: str) -> Response[str]:
    """The flow's current version as a JSON file."""
    document = await _document(db, flow_id)
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(document.get("name") or "flow"))[:60]
    return html(
        json.dumps(document, indent=2, ensure_ascii=False),
        headers={"Content-Type": "application/json", "Content-Disposition": f'attachment; filename="{name}.json"'},
    )


@post("/flows/import")
async def import_flow(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """A flow document (an exported file, or pasted JSON) becomes a new flow; problems are shown on its canvas."""
    form = await request.form()
    upload = form.get("file")
    text = str(form.get("document", "") or "")
    if isinstance(upload, UploadFile):
        raw = await upload.read()
        if len(raw) > MAX_IMPORT_BYTES:
            return _error(request, "This file is too large for a flow.")
        text = raw.decode("utf-8", errors="replace") or text
    try:
        document = json.loads(text)
    except ValueError:
        return _error(request, "This is not a flow file: it is not valid JSON.")
    if not isinstance(document, dict) or document.get("format") != FLOW_FORMAT or "nodes" not in document:
        return _error(request, "This is not a Koppel flow (it has no koppel.flow/1 format or no steps).")
    document["name"] = str(document.get("name") or "Imported flow")[:200]
    flow = await store.create_flow(db, document, note="imported", created_by=_email(request))
    return redirect(request, f"/flows/{flow.id}")


FLOW_ROUTES = [rename_flow, duplicate_flow, delete_flow, download_flow, import_flow]
