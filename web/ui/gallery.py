"""Templates gallery: every template with its description; "Use this template" asks which connections to use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from engine import store
from nodes.registry import get_node_type
from web.api.flows import rename_connections
from web.ui.render import current_user, redirect, render

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("GALLERY_ROUTES", "connection_slots", "use_connections")


def _templates() -> list[dict[str, Any]]:
    try:
        from engine.templates import TEMPLATE_INFO, get_template, list_templates
    except ImportError:
        return []
    out = []
    for name in list_templates():
        info = dict(TEMPLATE_INFO.get(name, {}))
        try:
            document = get_template(name)
        except (KeyError, ValueError):
            continue
        out.append(
            {
                "name": name,
                "title": info.get("title") or document.get("name") or name,
                "description": info.get("description") or document.get("description") or "",
                "document": document,
                "info": info,
            }
        )
    return out


def connection_slots(document: dict[str, Any]) -> dict[str, str]:
    """The template's connection names → the application each must be (from the nodes using them)."""
    slots: dict[str, str] = {}
    for node in document.get("nodes", []):
        cls = get_node_type(str(node.get("type", "")))
        if cls is None:
            continue
        config = node.get("config") or {}
        for key, app in cls.connection_fields().items():
            value = config.get(key) or cls.config_model.model_fields[key].default
            if isinstance(value, str) and value:
                slots.setdefault(value, app)
    return slots


def use_connections(document: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """``document`` with the chosen connections (``connection`` and every ``*_connection`` field)."""
    renamed = rename_connections(document, mapping)
    nodes = []
    for node in renamed.get("nodes", []):
        config = {
            k: (mapping.get(v, v) if k.endswith("_connection") and isinstance(v, str) else v)
            for k, v in (node.get("config") or {}).items()
        }
        nodes.append({**node, "config": config})
    return {**renamed, "nodes": nodes}


def _find(name: str) -> dict[str, Any]:
    for template in _templates():
        if template["name"] == name:
            return template
    raise NotFoundException("This template does not exist.")


@get("/templates")
async def gallery(request: Request[Any, Any, Any]) -> Response[str]:
    from nodes.registry import all_node_types

    titles = {name: cls.title for name, cls in all_node_types().items()}
    return render(request, "templates.html", templates=_templates(), titles=titles)


@get("/templates/{name:str}/use")
async def use_form(request: Request[Any, Any, Any], db: Database, name: str) -> Response[str]:
    template = _find(name)
    connections = await store.list_connections(db)
    slots = connection_slots(template["document"])
    preferred = {slot: _preferred(connections, app, slot) for slot, app in slots.items()}
    return render(
        request,
        "template_use.html",
        template=template,
        slots=slots,
        connections=connections,
        preferred=preferred,
        error=None,
    )


def _preferred(connections: list[Any], app: str, slot: str) -> str:
    """The connection to offer first: the last one of this app that passed its test, else the template's name."""
    tested = [c for c in connections if c.app == app and c.last_test_ok and c.last_test_at is not None]
    if tested:
        return str(max(tested, key=lambda c: c.last_test_at).name)
    return slot


@post("/templates/{name:str}/use")
async def use_template(request: Request[Any, Any, Any], db: Database, name: str) -> Response[str]:
    """Create the flow from the template with the chosen connections and open it in the editor."""
    template = _find(name)
    form = await request.form()
    slots = connection_slots(template["document"])
    mapping = {slot: str(form.get(f"conn_{slot}", slot)) for slot in slots}
    document = use_connections(template["document"], mapping)
    flow_name = str(form.get("flow_name", "")).strip()
    if flow_name:
        document = {**document, "name": flow_name}
    user = current_user(request)
    flow = await store.create_flow(
        db, document, note="created from template", created_by=getattr(user, "email", None), template=name
    )
    return redirect(request, f"/flows/{flow.id}")


GALLERY_ROUTES = [gallery, use_form, use_template]
