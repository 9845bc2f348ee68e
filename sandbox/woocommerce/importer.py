"""``POST /_sandbox/import``: real WooCommerce payloads stored verbatim, as if they already were in the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.objects import now_pair
from sandbox.woocommerce.totals import D, fmt2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("import_payloads",)


def import_payloads(
    sim: WooSim, orders: list[dict[str, Any]], customers: list[dict[str, Any]], products: list[dict[str, Any]]
) -> dict[str, int]:
    """Store the payloads as given (ids, totals and all; ``_links`` are regenerated on output).

    Products with ``type: "variation"`` (and a ``parent_id``) are stored as variations of that parent. Refund
    summaries inside orders (``refunds: [{id, reason, total}]``) become refund objects so that
    ``/orders/<id>/refunds`` lists them.
    """
    counts = {"orders": 0, "customers": 0, "products": 0, "variations": 0}
    for c in customers:
        if not isinstance(c, dict) or not c.get("id"):
            raise ValueError("every customer needs an id")
        sim.customers.put(dict(c))
        counts["customers"] += 1
    for p in products:
        if not isinstance(p, dict) or not p.get("id"):
            raise ValueError("every product needs an id")
        p = dict(p)
        if p.get("type") == "variation" or (p.get("parent_id") and "attributes" in p and "variations" not in p):
            p.setdefault("type", "variation")
            sim.variations.put(p)
            parent = sim.products.get(int(p.get("parent_id") or 0))
            if parent is not None and p["id"] not in parent.get("variations", []):
                parent.setdefault("variations", []).append(p["id"])
                sim.products.put(parent)
            counts["variations"] += 1
        else:
            sim.products.put(p)
            counts["products"] += 1
    for o in orders:
        if not isinstance(o, dict) or not o.get("id"):
            raise ValueError("every order needs an id")
        o = dict(o)
        for key in ("line_items", "tax_lines", "shipping_lines", "fee_lines", "coupon_lines"):
            for item in o.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    sim.next_item_id = max(sim.next_item_id, item["id"] + 1)
        sim.orders.put(o)
        for r in o.get("refunds") or []:
            if not isinstance(r, dict) or not r.get("id"):
                continue
            local, gmt = o.get("date_modified") or now_pair()[0], o.get("date_modified_gmt") or now_pair()[1]
            sim.refunds[int(r["id"])] = {
                "id": int(r["id"]),
                "date_created": local,
                "date_created_gmt": gmt,
                "amount": fmt2(-D(str(r.get("total") or "0"))),
                "reason": r.get("reason", ""),
                "refunded_by": 1,
                "refunded_payment": False,
                "meta_data": [],
                "line_items": [],
                "shipping_lines": [],
                "tax_lines": [],
                "fee_lines": [],
                "_order_id": int(o["id"]),
            }
        counts["orders"] += 1
    sim.bump_ids()
    return counts
