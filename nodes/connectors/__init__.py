"""Connectors: one package per application (``nodes/connectors/<app>/``), one protocol, one registry.

Each application package exports a ``CONNECTOR`` implementing :class:`~nodes.connectors.base.Connector`;
:mod:`nodes.connectors.registry` discovers them. :mod:`nodes.connectors.http` is the shared HTTP layer (retries,
``Retry-After``, concurrency, readable redacted errors). The helpers below are thin, registry-backed conveniences
for callers that hold a connection object (``{"app": ..., fields...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nodes.connectors.base import (
    ConnectionRef,
    Connector,
    Credentials,
    FieldInfo,
    InvalidConnectionSpec,
    MemoryTokenStore,
    TokenStore,
)
from nodes.connectors.http import (
    ApiClient,
    ApiError,
    AuthError,
    ConnectionTest,
    NotFound,
    Option,
    RateLimited,
    RetryPolicy,
    ServerError,
    Unreachable,
    ValidationFailed,
    is_loopback,
    redact,
)
from nodes.texts import shown

__all__ = (
    "ApiClient",
    "ApiError",
    "AuthError",
    "ConnectionRef",
    "ConnectionTest",
    "Connector",
    "Credentials",
    "FieldInfo",
    "InvalidConnectionSpec",
    "MemoryTokenStore",
    "NotFound",
    "Option",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "TokenStore",
    "Unreachable",
    "ValidationFailed",
    "is_loopback",
    "list_options",
    "make_client",
    "redact",
    "secret_fields",
    "validate_spec",
)


def secret_fields(app: str) -> tuple[str, ...]:
    """The names of the write-only fields of ``app`` (empty for an unknown app)."""
    from nodes.connectors.registry import connectors

    found = connectors().get(app)
    return found.secret_fields if found else ()


def validate_spec(app: str, spec: Mapping[str, Any]) -> list[str]:
    """Problems with a connection object of ``app``, as readable sentences (empty when it is usable)."""
    from nodes.connectors.registry import get_connector

    try:
        return get_connector(app).validate(spec)
    except InvalidConnectionSpec as exc:
        return exc.problems


def make_client(app: str, spec: Mapping[str, Any], token_store: TokenStore | None = None, **opts: Any) -> ApiClient:
    """The client of a connection object of ``app`` (tests and tools; the engine uses ``engine.connections``).

    Raises:
        InvalidConnectionSpec: (a ``ValueError``) the connection is incomplete or invalid.
    """
    from nodes.connectors.registry import get_connector

    client: ApiClient = get_connector(app).client(spec, token_store=token_store, **opts)
    return client


async def list_options(client: ApiClient, source: str) -> list[Option]:
    """The choices of a live option list ``<app>.<kind>``, e.g. ``asperion.vatcodes``.

    Raises:
        KeyError: an unknown list.
        TypeError: the client is not one of the list's application.
        ApiError: the application could not answer.
    """
    from nodes.connectors.registry import connectors

    app, _, kind = source.partition(".")
    found = connectors().get(app)
    if found is None or kind not in found.option_lists:
        raise KeyError(f"unknown option list {shown(source)}")
    return await found.options(client, kind)
