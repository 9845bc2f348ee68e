"""Live option lists for form fields, fetched from a connection (cached briefly per connection)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engine import store
from engine.crypto import get_box

if TYPE_CHECKING:
    from engine.db import Database

__all__ = ("OPTION_METHODS", "load_options")

# option list name → (app, client method)
OPTION_METHODS: dict[str, tuple[str, str]] = {
    "asperion.vatcodes": ("asperion", "vat_codes"),
    "asperion.ledgeraccounts": ("asperion", "ledger_accounts"),
    "asperion.paymentconditions": ("asperion", "payment_conditions"),
    "asperion.articles": ("asperion", "articles"),
    "asperion.debtorkinds": ("asperion", "debtor_kinds"),
    "asperion.journals": ("asperion", "journals"),
    "woocommerce.order_statuses": ("woocommerce", "order_statuses"),
    "woocommerce.payment_gateways": ("woocommerce", "payment_gateways"),
    "woocommerce.shipping_methods": ("woocommerce", "shipping_methods"),
    "woocommerce.tax_classes": ("woocommerce", "tax_classes"),
    "woocommerce.countries": ("woocommerce", "countries"),
}
_CACHE: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
TTL_S = 60.0


def _normalise(items: Any) -> list[dict[str, Any]]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            value = item.get("value", item.get("id", item.get("code", item.get("slug"))))
            label = item.get("label") or item.get("description") or item.get("title") or item.get("name") or value
            out.append({"value": str(value), "label": str(label)})
        else:
            out.append({"value": str(item), "label": str(item)})
    return out


async def load_options(db: Database, connection_id: str, kind: str) -> list[dict[str, Any]]:
    """The choices of option list ``kind`` from connection ``connection_id`` (id or name)."""
    from engine.service import DbTokenStore
    from nodes.connectors import make_client

    app, method = OPTION_METHODS[kind]
    row = await store.get_connection(db, connection_id)
    if row.app != app:
        raise KeyError(kind)
    cached = _CACHE.get((row.id, kind))
    if cached and time.monotonic() - cached[0] < TTL_S:
        return cached[1]
    spec = {"app": row.app, **row.settings, **get_box().open(row.secrets)}
    client = make_client(row.app, spec, token_store=DbTokenStore(db, f"conn:{row.id}"))
    try:
        options = _normalise(await getattr(client, method)())
    finally:
        await client.aclose()
    _CACHE[(row.id, kind)] = (time.monotonic(), options)
    return options
