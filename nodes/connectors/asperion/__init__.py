"""Asperion: the API client (OAuth with rotating refresh tokens) and the connector the registry finds."""

from __future__ import annotations

from nodes.connectors.asperion.client import (
    ARTICLES,
    DEBTORS,
    JOURNAL_ENTRIES,
    NOT_CONNECTED,
    OAUTH_SCOPE,
    SALES_INVOICES,
    SALES_ORDERS,
    AsperionAuth,
    AsperionClient,
    MemoryTokenStore,
    TokenStore,
    authorize_url,
    exchange_code,
    lines_of,
    wrap_lines,
)
from nodes.connectors.asperion.connector import (
    CONNECTOR,
    AsperionConnection,
    AsperionConnector,
    AsperionCredentials,
    AsperionOAuth,
)

__all__ = (
    "ARTICLES",
    "CONNECTOR",
    "DEBTORS",
    "JOURNAL_ENTRIES",
    "NOT_CONNECTED",
    "OAUTH_SCOPE",
    "SALES_INVOICES",
    "SALES_ORDERS",
    "AsperionAuth",
    "AsperionClient",
    "AsperionConnection",
    "AsperionConnector",
    "AsperionCredentials",
    "AsperionOAuth",
    "MemoryTokenStore",
    "TokenStore",
    "authorize_url",
    "exchange_code",
    "lines_of",
    "wrap_lines",
)
