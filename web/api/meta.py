"""Node types (the palette) and templates."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import FromPath

from nodes.registry import all_node_types
from nodes.texts import shown
from web.api.errors import not_found

__all__ = ("MetaController",)


class MetaController(Controller):
    path = "/api"
    tags = ["meta"]

    @get("/node-types", operation_id="ListNodeTypes", sync_to_thread=False)
    def node_types(self) -> list[dict[str, Any]]:
        """Every node type with its ports and config JSON Schema."""
        return [cls.describe() for cls in all_node_types().values()]

    @get("/templates", operation_id="ListTemplates", sync_to_thread=False)
    def templates(self) -> list[dict[str, Any]]:
        from engine.templates import TEMPLATE_INFO, list_templates

        return [{"name": name, **TEMPLATE_INFO.get(name, {})} for name in list_templates()]

    @get("/templates/{name:str}", operation_id="GetTemplate", sync_to_thread=False)
    def template(self, name: FromPath[str]) -> dict[str, Any]:
        from engine.templates import get_template

        try:
            return get_template(name)
        except KeyError as exc:
            raise not_found(f"no template named {shown(name)}") from exc
