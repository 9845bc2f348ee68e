"""Asperion articles matching the store's products, so that seeded orders find their articles by SKU."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.totals import r2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("asperion_articles", "physical_stock")


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", text)).strip()


_SALES_TYPE = {"": 1, "standard": 1, "reduced-rate": 2, "zero-rate": 3}
"""WooCommerce tax class → the seeded Asperion sales type (revenue 21 % / 9 % / 0 %)."""


def physical_stock(product: dict[str, Any]) -> int | None:
    """The warehouse stock Asperion keeps for a product: None for virtual and downloadable ones (nothing to count),
    the store's own count where it manages stock, else a deterministic count from the id."""
    if product.get("virtual") or product.get("downloadable"):
        return None
    if product.get("manage_stock") and product.get("stock_quantity") is not None:
        return int(product["stock_quantity"])
    return 10 + int(product["id"]) % 41


def asperion_articles(sim: WooSim) -> list[dict[str, Any]]:
    """Asperion articles for every product and variation with a SKU: code, description, salesPrice ex VAT, ean,
    salesTypeId (by tax class)."""
    out = []
    store = sim.store
    for coll in (sim.products, sim.variations):
        for pid in coll.ids():
            p = coll.get(pid)
            if not p or not p.get("sku") or p.get("type") == "variable":
                continue
            klass = p.get("tax_class") or ""
            if klass == "parent":
                parent = sim.products.get(int(p.get("parent_id") or 0)) or {}
                klass = parent.get("tax_class") or ""
            price = Decimal(p.get("price") or "0")
            if store.prices_include_tax:
                pct = sum(
                    (Decimal(r["rate"]) for r in store.rates_for(store.base_country, "", "", "", klass)), Decimal(0)
                )
                price = price / (1 + pct / 100)
            out.append(
                {
                    "code": p["sku"],
                    "description": _plain(p.get("name", ""))[:100],
                    "salesPrice": float(r2(price)),
                    "ean": p.get("global_unique_id") or "",
                    "currentStock": physical_stock(p),
                    "salesTypeId": _SALES_TYPE.get(klass, 1),
                }
            )
    return out
