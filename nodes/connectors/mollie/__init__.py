"""Mollie: the API v2 client, the shapes it reads (payments, refunds, chargebacks, settlements) and the connector
the registry finds as ``CONNECTOR``."""

from __future__ import annotations

from nodes.connectors.mollie.client import API_URL, KEY_PREFIXES, BearerKey, MollieClient
from nodes.connectors.mollie.connector import CONNECTOR, MollieConnection, MollieConnector, MollieCredentials
from nodes.connectors.mollie.shapes import SettlementTotals, money, order_id_of, settlement_totals

__all__ = (
    "API_URL",
    "CONNECTOR",
    "KEY_PREFIXES",
    "BearerKey",
    "MollieClient",
    "MollieConnection",
    "MollieConnector",
    "MollieCredentials",
    "SettlementTotals",
    "money",
    "order_id_of",
    "settlement_totals",
)
