"""WooCommerce: the REST API client (wc/v3) and the connector the registry finds as ``CONNECTOR``."""

from __future__ import annotations

from nodes.connectors.woocommerce.client import (
    CORE_ORDER_STATUSES,
    MAX_PER_PAGE,
    BatchItemError,
    BatchResult,
    WooCommerceClient,
)
from nodes.connectors.woocommerce.connector import (
    CONNECTOR,
    WooCommerceConnection,
    WooCommerceConnector,
    WooCommerceCredentials,
)

__all__ = (
    "CONNECTOR",
    "CORE_ORDER_STATUSES",
    "MAX_PER_PAGE",
    "BatchItemError",
    "BatchResult",
    "WooCommerceClient",
    "WooCommerceConnection",
    "WooCommerceConnector",
    "WooCommerceCredentials",
)
