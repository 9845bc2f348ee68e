"""Opening connector clients for stored and file connections: the one place that decrypts credentials, picks the
token store and closes clients.

:func:`client_for` builds every client the engine and the web app use (a run's :class:`ClientPool`, a connection
test, option lists, webhook registration, sample records); :func:`open_client` wraps it for one stored connection and
closes the client afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx
from sqlalchemy import select

from engine.crypto import get_box
from engine.models import Connection, CredentialState
from nodes.connectors.base import ConnectionRef
from nodes.connectors.http import ApiClient, AppClient
from nodes.connectors.registry import open_spec
from nodes.texts import shown

if TYPE_CHECKING:
    from engine.db import Database
    from engine.lease import Lease

ClientT = TypeVar("ClientT", bound=AppClient)

__all__ = (
    "ClientPool",
    "DbTokenStore",
    "client_for",
    "connection_specs",
    "node_connection",
    "open_client",
    "spec_of",
    "token_key",
)


def node_connection(node: dict[str, Any]) -> tuple[str, str] | None:
    """The connection a flow document's node names first and its application: the value of its first connection
    field, else that field's default (``None`` for an unknown node type or one without connections)."""
    from nodes.registry import get_node_type

    cls = get_node_type(str(node.get("type", "")))
    if cls is None or cls.config_model is None:
        return None
    config = node.get("config") or {}
    for field, app in cls.connection_fields().items():
        return str(config.get(field) or cls.config_model.model_fields[field].default or ""), app
    return None


class DbTokenStore:
    """Rotating OAuth tokens of one connection, encrypted in ``credential_state``."""

    def __init__(self, db: Database, key: str) -> None:
        self.db, self.key = db, key

    async def load(self) -> dict[str, Any] | None:
        async with self.db.session() as session:
            row = await session.get(CredentialState, self.key)
            loaded: dict[str, Any] | None = get_box().open(row.secrets) if row and row.secrets else None
            return loaded

    async def save(self, tokens: dict[str, Any]) -> None:
        sealed = get_box().seal(tokens)
        async with self.db.session() as session, session.begin():
            row = await session.get(CredentialState, self.key)
            if row is None:
                session.add(CredentialState(key=self.key, secrets=sealed))
            else:
                row.secrets = sealed


def token_key(name: str, spec: dict[str, Any], *, from_file: bool = False) -> str:
    """Where the rotated tokens of a connection live: per stored connection, or per file connection and client."""
    if from_file:
        return f"file:{name}:{spec.get('client_id', '')}"
    return f"conn:{spec.get('_id', name)}"


def spec_of(row: Connection) -> dict[str, Any]:
    """A stored connection as a connections-file object (secrets decrypted: for the engine only)."""
    return {"app": row.app, **row.settings, **get_box().open(row.secrets), "_id": row.id}


async def connection_specs(db: Database) -> dict[str, dict[str, Any]]:
    """Every stored connection as a connections-file object (secrets decrypted, for the engine only)."""
    async with db.session() as session:
        rows = (await session.execute(select(Connection))).scalars().all()
    return {row.name: spec_of(row) for row in rows}


def client_for(db: Database, name: str, spec: dict[str, Any], *, from_file: bool = False, **opts: Any) -> ApiClient:
    """The client of connection ``name`` (its token store in the database); close it with ``aclose``.

    Raises:
        InvalidConnectionSpec: unknown application, or an incomplete or invalid connection.
    """
    return open_spec(spec, token_store=DbTokenStore(db, token_key(name, spec, from_file=from_file)), **opts)


@overload
def open_client(
    db: Database, connection: ConnectionRef[ClientT], **opts: Any
) -> contextlib.AbstractAsyncContextManager[ClientT]: ...


@overload
def open_client(
    db: Database, connection: str, *, app: str | None = None, **opts: Any
) -> contextlib.AbstractAsyncContextManager[ApiClient]: ...


def open_client(
    db: Database, connection: str, *, app: str | None = None, **opts: Any
) -> contextlib.AbstractAsyncContextManager[Any]:
    """A client for the stored connection ``connection`` (id or name), closed when the block ends.

    Args:
        db: the database.
        connection: the connection's id or name; a typed reference (``WooCommerceConnection(name)``) also gives a
            typed client and requires its application.
        app: when given, the connection must belong to this application.
        **opts: client options (``transport``, ``retry``...).

    Raises:
        LookupError: no such connection (of that application).
    """
    if isinstance(connection, ConnectionRef) and connection.app:
        app = app or connection.app
    return _open(db, str(connection), app, opts)


@contextlib.asynccontextmanager
async def _open(db: Database, connection: str, app: str | None, opts: dict[str, Any]) -> AsyncIterator[ApiClient]:
    async with db.session() as session:
        row = await session.get(Connection, connection)
        if row is None:
            found = await session.execute(select(Connection).where(Connection.name == connection))
            row = found.scalar_one_or_none()
    if row is None or (app is not None and row.app != app):
        raise LookupError(f"no {app + ' ' if app else ''}connection named {shown(connection)}")
    client = client_for(db, row.name, spec_of(row), **opts)
    try:
        yield client
    finally:
        await client.aclose()


class ClientPool:
    """Connector clients of one run, created on first use from connection specs and closed at the end."""

    def __init__(
        self, db: Database, specs: dict[str, dict[str, Any]], *, from_file: bool = False, lease: Lease | None = None
    ) -> None:
        self._db = db
        self._specs = specs
        self._from_file = from_file
        self._clients: dict[str, ApiClient] = {}
        self.lease = lease
        """When set, no write request leaves a client of this run unless the run's lease is certainly still held
        (checked the moment before the request is sent, after any wait for a free connection)."""

    def scope(self, name: str) -> str:
        """Which store or administration a connection reaches (its address and tenant), for the echo guard."""
        spec = self._specs.get(name) or {}
        url = str(spec.get("url") or "").strip().rstrip("/").lower()
        tenant = spec.get("tenant_id")
        return f"{url}#{tenant}" if tenant not in (None, "") else url

    def get(self, name: str) -> ApiClient:
        """The client of connection ``name``.

        Raises:
            KeyError: the run has no connection of that name.
        """
        client = self._clients.get(name)
        if client is None:
            spec = self._specs.get(name)
            if spec is None:
                raise KeyError(f"no connection named {shown(name)}")
            client = client_for(self._db, name, spec, from_file=self._from_file)
            if self.lease is not None:
                client.http.event_hooks["request"].append(self._guard)
            self._clients[name] = client
        return client

    async def _guard(self, request: httpx.Request) -> None:
        """httpx request hook: a write leaves only while the lease is held — checked now (renewing it if its time
        is up) and again when the body is about to be written, after any wait for a connection."""
        if self.lease is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            await self.lease.ensure()
            request.stream = _FencedBody(request.stream, self.lease)

    def limit(self) -> int | None:
        """The highest number of requests in flight that one of the run's connections allows now (each adapts to
        its application's answers: nodes.connectors.limiter); None before any connection is used."""
        return max((client.limiter.current for client in self._clients.values()), default=None)

    async def close(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        self._clients.clear()


class _FencedBody(httpx.AsyncByteStream):
    """A request body that checks the lease when the transport pulls it (the server gets no complete request from
    a worker whose lease ran out between the request hook and the socket, e.g. frozen by SIGSTOP)."""

    def __init__(self, inner: Any, lease: Lease) -> None:
        self.inner, self.lease = inner, lease

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.lease.check_at_wire()
        async for chunk in self.inner:
            self.lease.check_at_wire()
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()
