"""Refunds as ``wc_create_refund`` makes them: negative lines, the order's refund list, status, restock."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.objects import as_bool, now_pair
from sandbox.woocommerce.stock import change_stock
from sandbox.woocommerce.totals import fmt2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("REFUND_GATEWAYS", "create_refund")

REFUND_GATEWAYS = {"paypal", "stripe", "mollie_wc_gateway_ideal", "ppcp-gateway"}
"""Gateways that refund automatically (``api_refund``); others answer an error as in WooCommerce."""


def create_refund(
    sim: WooSim,
    order: dict[str, Any],
    data: dict[str, Any],
    *,
    api: bool | None = None,
    dates: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Create a refund on ``order`` (mutated; caller saves it) and return the refund object (without links)."""
    lines = []
    shipping: list[dict[str, Any]] = []
    fees: list[dict[str, Any]] = []
    computed = Decimal(0)
    for item in data.get("line_items") or []:
        # WooCommerce refunds every kind of order item through ``line_items`` (keyed by item id): a shipping or fee
        # item becomes a line of the refund's ``shipping_lines`` / ``fee_lines``.
        other = _other_item(order, int(item.get("id") or 0))
        if other is not None:
            kind, src_item = other
            made = _refund_item(src_item, item, kind)
            computed += -Decimal(made["total"]) - Decimal(made["total_tax"])
            (shipping if kind == "shipping" else fees).append(made)
            continue
        src = next((li for li in order["line_items"] if li["id"] == int(item.get("id") or 0)), None)
        if src is None:
            continue
        refund_total = Decimal(str(item.get("refund_total") or 0))
        taxes = [
            {
                "id": int(t["id"]),
                "total": f"-{Decimal(str(t.get('refund_total') or 0)):f}",
                "subtotal": f"-{Decimal(str(t.get('refund_total') or 0)):f}",
            }
            for t in item.get("refund_tax") or []
            if Decimal(str(t.get("refund_total") or 0))
        ]
        tax_sum = sum((Decimal(str(t.get("refund_total") or 0)) for t in item.get("refund_tax") or []), Decimal(0))
        computed += refund_total + tax_sum
        lines.append(
            {
                "id": 0,
                "name": src["name"],
                "product_id": src["product_id"],
                "variation_id": src["variation_id"],
                "quantity": -int(item.get("quantity") or 0),
                "tax_class": src["tax_class"],
                "subtotal": fmt2(-refund_total),
                "subtotal_tax": fmt2(-tax_sum),
                "total": fmt2(-refund_total),
                "total_tax": fmt2(-tax_sum),
                "taxes": taxes,
                "meta_data": [
                    {
                        "id": 0,
                        "key": "_refunded_item_id",
                        "value": str(src["id"]),
                        "display_key": "_refunded_item_id",
                        "display_value": str(src["id"]),
                    }
                ],
                "sku": src.get("sku", ""),
                "price": -float(refund_total / max(int(item.get("quantity") or 1), 1)),
            }
        )
    amount = Decimal(str(data["amount"])) if data.get("amount") not in (None, "") else computed
    if amount <= 0:
        raise WooError("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400)
    already = sum((-Decimal(r["total"]) for r in order.get("refunds", [])), Decimal(0))
    if amount + already > Decimal(order["total"]):
        raise WooError("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500)
    api_refund = as_bool(data.get("api_refund", True)) if api is None else api
    if api_refund and order.get("payment_method") not in REFUND_GATEWAYS:
        raise WooError(
            "woocommerce_rest_cannot_create_order_refund",
            "The payment gateway for this order does not support automatic refunds.",
            500,
        )
    for line in [*lines, *shipping, *fees]:
        line["id"] = sim.item_id()
        line["meta_data"][0]["id"] = sim.meta_id()
    if as_bool(data.get("api_restock", True)) and order["id"] in sim.stock_reduced:
        for item in data.get("line_items") or []:
            src = next((li for li in order["line_items"] if li["id"] == int(item.get("id") or 0)), None)
            if src is not None and int(item.get("quantity") or 0) > 0:
                change_stock(sim, src, int(item["quantity"]))
    local, gmt = dates or now_pair()
    rid = sim.post_id()
    refund = {
        "id": rid,
        "date_created": local,
        "date_created_gmt": gmt,
        "amount": fmt2(amount),
        "reason": str(data.get("reason") or ""),
        "refunded_by": 1,
        "refunded_payment": bool(api_refund),
        "meta_data": [],
        "line_items": lines,
        "shipping_lines": shipping,
        "tax_lines": [],
        "fee_lines": fees,
        "_order_id": order["id"],
    }
    sim.refunds[rid] = refund
    order.setdefault("refunds", []).insert(0, {"id": rid, "reason": refund["reason"], "total": fmt2(-amount)})
    if amount + already >= Decimal(order["total"]):
        order["status"] = "refunded"
    order["date_modified"], order["date_modified_gmt"] = local, gmt
    return refund


def _other_item(order: dict[str, Any], item_id: int) -> tuple[str, dict[str, Any]] | None:
    """The order's shipping or fee item with this id, with its kind."""
    for kind, key in (("shipping", "shipping_lines"), ("fee", "fee_lines")):
        found = next((x for x in order.get(key) or [] if x["id"] == item_id), None)
        if found is not None:
            return kind, found
    return None


def _refund_item(src: dict[str, Any], item: dict[str, Any], kind: str) -> dict[str, Any]:
    """A refund's shipping or fee line (negative amounts) for a request item naming the order's ``src`` item."""
    refund_total = Decimal(str(item.get("refund_total") or 0))
    taxes: list[dict[str, Any]] = [
        {"id": int(t["id"]), "total": fmt2(-Decimal(str(t.get("refund_total") or 0))), "subtotal": ""}
        for t in item.get("refund_tax") or []
        if Decimal(str(t.get("refund_total") or 0))
    ]
    tax_sum = sum((-Decimal(str(t["total"])) for t in taxes), Decimal(0))
    made: dict[str, Any] = {
        "id": 0,
        "total": fmt2(-refund_total),
        "total_tax": fmt2(-tax_sum),
        "taxes": taxes,
        "meta_data": [
            {
                "id": 0,
                "key": "_refunded_item_id",
                "value": str(src["id"]),
                "display_key": "_refunded_item_id",
                "display_value": str(src["id"]),
            }
        ],
    }
    if kind == "shipping":
        made.update(method_title=src.get("method_title", ""), method_id=src.get("method_id", ""))
        made["instance_id"] = src.get("instance_id", "")
    else:
        made.update(name=src.get("name", ""), tax_class=src.get("tax_class", ""), tax_status=src.get("tax_status", ""))
        made["amount"] = made["total"]
    return made
