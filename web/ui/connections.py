"""Connections: list, add, edit (secrets write-only), test with a clear answer, delete."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery

from engine import store
from web.ui.render import redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("CONNECTION_ROUTES",)


def _apps() -> dict[str, Any]:
    from nodes.connectors import APPS

    return APPS


@get("/connections")
async def connections_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    rows = [store.connection_view(row) for row in await store.list_connections(db)]
    return render(request, "connections.html", connections=rows, apps=_apps())


@get("/connections/new")
async def new_connection(
    request: Request[Any, Any, Any], db: Database, app: FromQuery[str] = "woocommerce"
) -> Response[str]:
    apps = _apps()
    if app not in apps:
        app = "woocommerce"
    taken = {row.name for row in await store.list_connections(db)}
    name, n = app, 2
    while name in taken:
        name, n = f"{app}-{n}", n + 1
    return render(request, "connection_form.html", conn=None, app=apps[app], values={}, problems=[], name=name)


@get("/connections/{connection_id:str}")
async def edit_connection(request: Request[Any, Any, Any], db: Database, connection_id: str) -> Response[str]:
    view = store.connection_view(await _get(db, connection_id))
    return render(
        request,
        "connection_form.html",
        conn=view,
        app=_apps()[view["app"]],
        values=view["settings"],
        problems=[],
        name=view["name"],
    )


async def _get(db: Database, connection_id: str) -> Any:
    from litestar.exceptions import NotFoundException

    try:
        return await store.get_connection(db, connection_id)
    except store.NotFound as exc:
        raise NotFoundException("This connection does not exist.") from exc


@post("/connections/save")
async def save_connection(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    """Create or update; an empty secret keeps the stored one."""
    form = await request.form()
    apps = _apps()
    app_name = str(form.get("app", ""))
    app = apps.get(app_name)
    if app is None:
        return render(request, "fragments/alert.html", kind="error", message="Unknown application.", status_code=400)
    connection_id = str(form.get("id", "")) or None
    fields: dict[str, Any] = {}
    for field in app.fields:
        value = str(form.get(field.name, "")).strip()
        if field.kind == "integer" and value:
            try:
                fields[field.name] = int(value)
            except ValueError:
                fields[field.name] = value
        elif value or (not field.secret and field.required):
            fields[field.name] = value
    name = str(form.get("name", "")).strip()
    try:
        row = await store.save_connection(db, name=name, app=app_name, fields=fields, connection_id=connection_id)
    except store.InvalidConnection as exc:
        conn = store.connection_view(await _get(db, connection_id)) if connection_id else None
        values = {k: v for k, v in fields.items() if k not in app.secret_fields}
        return render(
            request,
            "connection_form.html",
            conn=conn,
            app=app,
            values=values,
            problems=exc.problems,
            name=name,
            status_code=200,
            headers={"HX-Retarget": "#main-form", "HX-Reswap": "outerHTML", "HX-Reselect": "#main-form"},
        )
    return redirect(request, f"/connections/{row.id}?saved=1")


@post("/connections/{connection_id:str}/test")
async def test_connection(request: Request[Any, Any, Any], db: Database, connection_id: str) -> Response[str]:
    """Ask the application whether the credentials work, and say so plainly."""
    await _get(db, connection_id)
    try:
        result = await store.test_connection(db, connection_id)
    except Exception as exc:
        result = {"ok": False, "message": str(exc) or type(exc).__name__, "can_write": None}
    return render(request, "fragments/test_result.html", result=result)


@post("/connections/{connection_id:str}/delete")
async def delete_connection(request: Request[Any, Any, Any], db: Database, connection_id: str) -> Response[str]:
    with contextlib.suppress(store.NotFound):
        await store.delete_connection(db, connection_id)
    return redirect(request, "/connections")


CONNECTION_ROUTES = [
    connections_page,
    new_connection,
    save_connection,
    edit_connection,
    test_connection,
    delete_connection,
]
