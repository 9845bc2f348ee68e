"""Connections: list, add, edit (secrets write-only), test with a clear answer, delete."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery, Parameter

from engine import store
from nodes.connectors.registry import connectors
from web.ui.render import redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("CONNECTION_ROUTES", "form_fields")


def _apps() -> dict[str, Any]:
    return dict(connectors())


def form_fields(app: Any, form: Any) -> dict[str, Any]:
    """The connection fields of ``app`` typed into a connection form (an empty secret is left out: kept as stored)."""
    fields: dict[str, Any] = {}
    for field in app.fields:
        value = str(form.get(field.name) or "").strip()
        if field.kind == "integer" and value:
            try:
                fields[field.name] = int(value)
            except ValueError:
                fields[field.name] = value
        elif value or (not field.secret and field.required):
            fields[field.name] = value
    return fields


@get("/connections")
async def connections_page(request: Request[Any, Any, Any], db: Database) -> Response[str]:
    rows = [store.connection_view(row) for row in await store.list_connections(db)]
    return render(request, "connections.html", connections=rows, apps=_apps())


@get("/connections/new")
async def new_connection(request: Request[Any, Any, Any], db: Database, app: FromQuery[str] = "") -> Response[str]:
    apps = _apps()
    if app not in apps:
        app = next(iter(apps))
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
    fields = form_fields(app, form)
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


ASPERION_CALLBACK = "/connections/asperion/callback"


@post("/connections/{connection_id:str}/asperion/connect")
async def asperion_connect(request: Request[Any, Any, Any], db: Database, connection_id: str) -> Response[str]:
    """Send the browser to Asperion's sign-in, which comes back to the callback with a code (OAuth)."""
    import secrets

    row = await _get(db, connection_id)
    settings = row.settings
    oauth = _apps()[row.app].oauth if row.app in _apps() else None
    missing = oauth.missing_for_connect(settings) if oauth else []
    if oauth is None or missing:
        result = {
            "ok": False,
            "message": f"Fill in and save the {' and '.join(m.lower() for m in missing) or 'sign-in fields'} first.",
            "can_write": None,
        }
        return render(request, "fragments/test_result.html", result=result)
    state = secrets.token_urlsafe(24)
    request.set_session({**(request.session or {}), "asperion_oauth": {"state": state, "connection": row.id}})
    redirect_uri = str(request.base_url).rstrip("/") + ASPERION_CALLBACK
    return redirect(request, oauth.authorize_url(settings, redirect_uri, state))


@get(ASPERION_CALLBACK)
async def asperion_callback(
    request: Request[Any, Any, Any],
    db: Database,
    code: FromQuery[str] = "",
    oauth_state: Annotated[str, Parameter(query="state")] = "",  # "state" is a name Litestar reserves
    error: FromQuery[str] = "",
) -> Response[str]:
    """Asperion sent the user back: check the state, redeem the code, keep the tokens with the connection."""
    import hmac

    from engine.connections import DbTokenStore, spec_of, token_key

    pending = (request.session or {}).get("asperion_oauth") or {}
    connection_id = str(pending.get("connection", ""))
    if not connection_id or not oauth_state or not hmac.compare_digest(oauth_state, str(pending.get("state", ""))):
        return Response(
            "This sign-in link is not valid (any more). Start again from the connection page.", status_code=400
        )
    request.set_session({k: v for k, v in (request.session or {}).items() if k != "asperion_oauth"})
    if error or not code:
        return redirect(request, f"/connections/{connection_id}?oauth_error={error or 'no code'}")
    row = await _get(db, connection_id)
    oauth = _apps()[row.app].oauth if row.app in _apps() else None
    redirect_uri = str(request.base_url).rstrip("/") + ASPERION_CALLBACK
    spec = spec_of(row)
    try:
        if oauth is None:
            raise LookupError("this connection has no sign-in")
        tokens = await oauth.exchange_code(spec, code, redirect_uri)
    except Exception as exc:
        return redirect(request, f"/connections/{connection_id}?oauth_error={str(exc)[:200]}")
    await store.save_connection(
        db,
        name=row.name,
        app=row.app,
        fields={**row.settings, "refresh_token": tokens["refresh_token"]},
        connection_id=row.id,
    )
    await DbTokenStore(db, token_key(row.name, spec)).save(tokens)
    return redirect(request, f"/connections/{connection_id}?connected=1")


CONNECTION_ROUTES = [
    connections_page,
    new_connection,
    save_connection,
    edit_connection,
    test_connection,
    delete_connection,
    asperion_connect,
    asperion_callback,
]
