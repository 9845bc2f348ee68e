"""The Mollie connector: the API v2 client and the shapes it reads (payments, refunds, chargebacks, settlements).

Registration beside WooCommerce and Asperion is one spot in :mod:`nodes.connectors` (``APPS["mollie"]`` and the
client factory); everything Mollie-specific lives in this package.
"""

from __future__ import annotations

from nodes.connectors.mollie.client import API_URL, KEY_PREFIXES, MollieClient
from nodes.connectors.mollie.shapes import SettlementTotals, money, order_id_of, settlement_totals

__all__ = (
    "API_URL",
    "KEY_PREFIXES",
    "MollieClient",
    "SettlementTotals",
    "money",
    "order_id_of",
    "settlement_totals",
)
