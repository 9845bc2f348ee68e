"""A generic HTTP API: any JSON API reached with a base URL and one of the usual kinds of authentication, with the
same retries, ``Retry-After`` handling and adaptive concurrency as the built-in applications."""

from __future__ import annotations

from nodes.connectors.httpapi.client import (
    AUTH_KINDS,
    PAGING_STYLES,
    ApiKeyHeader,
    ApiKeyQuery,
    ClientCredentials,
    HttpApiClient,
    Paging,
)
from nodes.connectors.httpapi.connector import CONNECTOR, HttpApiConnection, HttpApiConnector, HttpApiCredentials

__all__ = (
    "AUTH_KINDS",
    "CONNECTOR",
    "PAGING_STYLES",
    "ApiKeyHeader",
    "ApiKeyQuery",
    "ClientCredentials",
    "HttpApiClient",
    "HttpApiConnection",
    "HttpApiConnector",
    "HttpApiCredentials",
    "Paging",
)
