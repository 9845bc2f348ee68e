"""Stock levels as orders change them (``wc_maybe_reduce_stock_levels`` / ``wc_maybe_increase_stock_levels``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.objects import SITE, derive_product, now_pair
from sandbox.woocommerce.webhooks import emit

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("adjust_stock", "change_stock")


_REDUCE = frozenset({"processing", "completed", "on-hold"})
_RESTORE = frozenset({"cancelled", "pending"})


def change_stock(sim: WooSim, line: dict[str, Any], delta: int) -> tuple[Any, int] | None:
    """Add ``delta`` to the stock of a line's product (or its parent when the variation says "parent").

    Returns the collection and id of the product changed, or None when its stock is not managed.
    """
    pid = int(line.get("variation_id") or line.get("product_id") or 0)
    coll = sim.variations if pid in sim.variations else sim.products
    product = coll.get(pid)
    if product is not None and product.get("manage_stock") == "parent":
        pid = int(product.get("parent_id") or 0)
        coll, product = sim.products, sim.products.get(pid)
    if product is None or product.get("manage_stock") is not True or product.get("stock_quantity") is None:
        return None
    product["stock_quantity"] = int(product["stock_quantity"]) + delta
    product["total_sales"] = max(0, int(product.get("total_sales") or 0) - delta)
    derive_product(product)
    product["date_modified"], product["date_modified_gmt"] = now_pair()
    coll.put(product)
    return coll, pid


def adjust_stock(sim: WooSim, req: Any, order: dict[str, Any]) -> None:
    """``wc_maybe_reduce_stock_levels`` / ``wc_maybe_increase_stock_levels``.

    Reaching processing, completed or on-hold reduces the stock of managed products once (line meta
    ``_reduced_stock``); going back to cancelled or pending puts it back.
    """
    reduced = order["id"] in sim.stock_reduced
    if order["status"] in _REDUCE and not reduced:
        sign = -1
        sim.stock_reduced.add(order["id"])
    elif order["status"] in _RESTORE and reduced:
        sign = 1
        sim.stock_reduced.discard(order["id"])
    else:
        return
    for line in order["line_items"]:
        qty = int(line.get("quantity") or 0)
        touched = change_stock(sim, line, sign * qty)
        if touched is None:
            continue
        coll, pid = touched
        if sign < 0:
            line["meta_data"].append(
                {
                    "id": sim.meta_id(),
                    "key": "_reduced_stock",
                    "value": str(qty),
                    "display_key": "_reduced_stock",
                    "display_value": str(qty),
                }
            )
        else:
            line["meta_data"] = [m for m in line["meta_data"] if m.get("key") != "_reduced_stock"]
        if req is not None:
            raw = coll.raw(pid) or b"{}"
            emit(sim, req, "product", "updated", pid, raw.replace(SITE.encode(), req.base_url.encode()))
