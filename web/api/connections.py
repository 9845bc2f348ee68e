"""Connections: create, update, test, delete. Secrets are write-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BaseModel, Field, JsonValue, field_validator
from pydantic_core import PydanticCustomError

from engine import store
from nodes.connectors.registry import connectors
from nodes.texts import shown
from web.api.errors import bad_request, not_found
from web.api.params import SafeText

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("ConnectionController",)


def _known_apps() -> list[JsonValue]:
    return list(connectors())


class ConnectionIn(BaseModel):
    name: SafeText = Field(max_length=200, description="How flows refer to the connection, e.g. 'woocommerce'")
    app: SafeText = Field(  # the registered applications, as the API is assembled (plugins included)
        max_length=50,
        description="The application, one of the registered connectors: " + ", ".join(connectors()),
        json_schema_extra={"enum": _known_apps()},
    )
    fields: dict[str, Any] = Field(default_factory=dict, description="url, keys, secrets… (secrets are write-only)")

    @field_validator("app")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in connectors():
            raise PydanticCustomError(
                "unknown_app",
                "app: must be one of {known}; '{value}' is not one of them",
                {"known": ", ".join(connectors()), "value": value},
            )
        return value


class ConnectionController(Controller):
    path = "/api/connections"
    tags = ["connections"]

    @get("/", operation_id="ListConnections")
    async def list_connections(self, db: NamedDependency[Database]) -> list[dict[str, Any]]:
        """Every connection, without secrets."""
        return [store.connection_view(row) for row in await store.list_connections(db)]

    @post("/", operation_id="CreateConnection")
    async def create_connection(self, db: NamedDependency[Database], data: ConnectionIn) -> dict[str, Any]:
        """Add a connection."""
        try:
            row = await store.save_connection(db, name=data.name, app=data.app, fields=data.fields)
        except store.InvalidConnection as exc:
            raise bad_request("the connection is not valid", exc.problems) from exc
        return store.connection_view(row)

    @get("/{connection_id:str}", operation_id="GetConnection")
    async def get_connection(self, db: NamedDependency[Database], connection_id: FromPath[str]) -> dict[str, Any]:
        try:
            return store.connection_view(await store.get_connection(db, connection_id))
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc

    @put("/{connection_id:str}", operation_id="UpdateConnection")
    async def update_connection(
        self, db: NamedDependency[Database], connection_id: FromPath[str], data: ConnectionIn
    ) -> dict[str, Any]:
        """Change a connection; a secret left empty keeps its stored value."""
        try:
            row = await store.save_connection(
                db, name=data.name, app=data.app, fields=data.fields, connection_id=connection_id
            )
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        except store.InvalidConnection as exc:
            raise bad_request("the connection is not valid", exc.problems) from exc
        return store.connection_view(row)

    @delete("/{connection_id:str}", operation_id="DeleteConnection", status_code=204)
    async def delete_connection(self, db: NamedDependency[Database], connection_id: FromPath[str]) -> None:
        try:
            await store.delete_connection(db, connection_id)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc

    @post("/{connection_id:str}/test", operation_id="TestConnection", status_code=200)
    async def test_connection(self, db: NamedDependency[Database], connection_id: FromPath[str]) -> dict[str, Any]:
        """Ask the application whether the credentials work (wrong secret, unreachable, no write permission)."""
        try:
            return await store.test_connection(db, connection_id)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc

    @get("/{connection_id:str}/options/{kind:str}", operation_id="ConnectionOptions")
    async def options(
        self, db: NamedDependency[Database], connection_id: FromPath[str], kind: FromPath[str]
    ) -> list[dict[str, Any]]:
        """Live choices for a form field (VAT codes, ledger accounts, payment gateways, …)."""
        from web.options import load_options

        try:
            return await load_options(db, connection_id, kind)
        except store.NotFound as exc:
            raise not_found(str(exc)) from exc
        except KeyError as exc:
            raise bad_request(f"unknown option list {shown(kind)}") from exc
