"""Building and updating orders the way the wc/v3 orders controller does (shape, validation, totals)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.errors import WooError, invalid_id, invalid_param
from sandbox.woocommerce.objects import REST_SITE, SITE, billing_address, now_pair, shipping_address
from sandbox.woocommerce.totals import calculate_totals, fmt2, r2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = (
    "CURRENCY_SYMBOLS",
    "ORDER_STATUSES",
    "apply_order_update",
    "build_order",
    "find_product",
    "finish_order",
    "order_links",
    "order_or_404",
)

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft")
CURRENCY_SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "CHF": "CHF",
    "HRK": "kn",
    "SEK": "kr",
    "DKK": "kr",
    "PLN": "zł",
}
WC_VERSION = "9.8.5"


def find_product(sim: WooSim, pid: int) -> dict[str, Any] | None:
    """A product or variation by id (a shared cached copy: read it, do not change it)."""
    return sim.products.peek(pid) or sim.variations.peek(pid)


def order_links(order: dict[str, Any], base: str = REST_SITE) -> dict[str, Any]:
    """``_links`` of an order."""
    links: dict[str, Any] = {
        "self": [{"href": f"{base}/orders/{order['id']}"}],
        "collection": [{"href": f"{base}/orders"}],
    }
    if order.get("customer_id"):
        links["customer"] = [{"href": f"{base}/customers/{order['customer_id']}"}]
    if order.get("parent_id"):
        links["up"] = [{"href": f"{base}/orders/{order['parent_id']}"}]
    return links


def _meta(
    sim: WooSim,
    items: list[dict[str, Any]] | None,
    existing: list[dict[str, Any]] | None = None,
    *,
    display: bool = False,
) -> list[dict[str, Any]]:
    """Merge ``items`` into ``existing`` meta (by id, else by key); order item meta carries display_key/value."""
    out = list(existing or [])
    for m in items or []:
        if not isinstance(m, dict) or "key" not in m:
            continue
        target = None
        if m.get("id"):
            target = next((e for e in out if e.get("id") == m["id"]), None)
        if target is None:
            target = next((e for e in out if e.get("key") == m["key"]), None) if not m.get("id") else None
        if target is None:
            target = {"id": sim.meta_id(), "key": m["key"], "value": m.get("value", "")}
            out.append(target)
        else:
            target["key"], target["value"] = m["key"], m.get("value", "")
        if display:
            target["display_key"] = m.get("display_key") or m["key"]
            target["display_value"] = m.get("display_value", target["value"])
    return out


def _price_ex_tax(sim: WooSim, product: dict[str, Any], tax_class: str) -> Decimal:
    """``wc_get_price_excluding_tax``: strip the shop base location's taxes when prices include tax."""
    price = Decimal(str(product.get("price") or "0"))
    if not sim.store.prices_include_tax or product.get("tax_status", "taxable") != "taxable":
        return price
    rates = sim.store.rates_for(sim.store.base_country, "", "", "", tax_class)
    pct = sum((Decimal(r["rate"]) for r in rates if not r.get("compound")), Decimal(0))
    return price / (1 + pct / 100)


def _line_item(sim: WooSim, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A new line item from a request item; returns it and whether its product is taxable."""
    pid = int(data.get("product_id") or 0)
    vid = int(data.get("variation_id") or 0)
    sku = data.get("sku")
    if not pid and not vid and sku:
        match = next((i for i, x in sim.products.index.items() if x["sku"] == sku), None)
        match = match or next((i for i, x in sim.variations.index.items() if x["sku"] == sku), None)
        if match is None:
            raise WooError("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400)
        pid = match
    if not pid and not vid:
        raise WooError("woocommerce_rest_required_product_reference", "Product ID or SKU is required.", 400)
    product = find_product(sim, vid or pid)
    if product is None:
        raise WooError("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400)
    parent = None
    if product.get("type") == "variation":
        vid, pid = product["id"], int(product.get("parent_id") or pid)
        parent = sim.products.peek(pid)
    tax_class = product.get("tax_class", "")
    if tax_class == "parent" and parent:
        tax_class = parent.get("tax_class", "")
    qty = int(data.get("quantity") or 1)
    if data.get("subtotal") not in (None, ""):
        subtotal = Decimal(str(data["subtotal"]))
    else:
        subtotal = r2(_price_ex_tax(sim, product, tax_class) * qty)
    total = Decimal(str(data["total"])) if data.get("total") not in (None, "") else subtotal
    meta = [
        {
            "id": sim.meta_id(),
            "key": f"pa_{a['name'].lower()}" if a.get("id") else a["name"].lower(),
            "value": a["option"].lower().replace(" ", "-") if a.get("id") else a["option"],
            "display_key": a["name"],
            "display_value": a["option"],
        }
        for a in (product.get("attributes") or [])
        if product.get("type") == "variation"
    ]
    for m in data.get("meta_data") or []:
        meta.append(
            {
                "id": sim.meta_id(),
                "key": m.get("key", ""),
                "value": m.get("value", ""),
                "display_key": m.get("key", ""),
                "display_value": m.get("value", ""),
            }
        )
    image = product.get("image") or (product.get("images") or [None])[0]
    line = {
        "id": sim.item_id(),
        "name": data.get("name") or product.get("name", ""),
        "product_id": pid,
        "variation_id": vid,
        "quantity": qty,
        "tax_class": tax_class,
        "subtotal": fmt2(subtotal),
        "subtotal_tax": "0.00",
        "total": fmt2(total),
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": meta,
        "sku": product.get("sku") or "",
        "price": 0,
        "image": {"id": image["id"], "src": image["src"]} if image else {"id": "", "src": ""},
        "parent_name": parent.get("name") if parent else None,
    }
    return line, product.get("tax_status", "taxable") == "taxable"


def _shipping_line(sim: WooSim, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sim.item_id(),
        "method_title": data.get("method_title", ""),
        "method_id": data.get("method_id", ""),
        "instance_id": str(data.get("instance_id", "") or ""),
        "total": str(data.get("total") or "0"),
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": _meta(sim, data.get("meta_data"), display=True),
    }


def _fee_line(sim: WooSim, data: dict[str, Any]) -> dict[str, Any]:
    total = str(data.get("total") if data.get("total") not in (None, "") else data.get("amount") or "0")
    return {
        "id": sim.item_id(),
        "name": data.get("name", ""),
        "tax_class": data.get("tax_class", ""),
        "tax_status": data.get("tax_status", "taxable"),
        "amount": str(data.get("amount") if data.get("amount") not in (None, "") else total),
        "total": total,
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": _meta(sim, data.get("meta_data"), display=True),
    }


def _coupon(sim: WooSim, code: str) -> dict[str, Any]:
    wanted = code.strip().lower()
    for c in sim.coupons.values():
        if c["code"].lower() == wanted and c.get("status", "publish") == "publish":
            return c
    raise WooError("woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!', 400)


def _coupon_line(sim: WooSim, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not data.get("code"):
        raise WooError("woocommerce_rest_invalid_coupon", "Coupon code is required.", 400)
    coupon = _coupon(sim, str(data["code"]))
    line = {
        "id": sim.item_id(),
        "code": coupon["code"],
        "discount": "0.00",
        "discount_tax": "0.00",
        "discount_type": coupon["discount_type"],
        "nominal_amount": 0,
        "free_shipping": coupon.get("free_shipping", False),
        "meta_data": _meta(sim, data.get("meta_data"), display=True),
    }
    return line, coupon


def _validate_status(status: Any) -> str:
    if status not in ORDER_STATUSES:
        raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.", "rest_not_in_enum")
    return str(status)


def _gateway_title(sim: WooSim, method: str) -> str:
    return next((g["title"] for g in sim.store.gateways if g["id"] == method), "")


def _status_dates(order: dict[str, Any], old_status: str | None, when: tuple[str, str] | None = None) -> None:
    status = order["status"]
    local, gmt = when or now_pair()
    if status in ("processing", "completed") and not order.get("date_paid"):
        order["date_paid"], order["date_paid_gmt"] = local, gmt
    if status == "completed" and old_status != "completed":
        order["date_completed"], order["date_completed_gmt"] = local, gmt


def finish_order(order: dict[str, Any]) -> None:
    """Flags WooCommerce derives from status and total."""
    status = order["status"]
    order["is_editable"] = status in ("pending", "on-hold", "auto-draft", "checkout-draft")
    order["needs_payment"] = status in ("pending", "failed") and Decimal(order["total"]) > 0
    order["needs_processing"] = bool(order.get("line_items"))


def build_order(
    sim: WooSim, data: dict[str, Any], *, dates: tuple[str, str] | None = None, created_via: str = "rest-api"
) -> dict[str, Any]:
    """A new order from a create body, with its totals computed (not stored)."""
    customer_id = int(data.get("customer_id") or 0)
    if customer_id and customer_id not in sim.customers:
        raise WooError("woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400)
    status = _validate_status(data.get("status", "pending"))
    local, gmt = dates or now_pair()
    oid = int(data["id"]) if data.get("id") and created_via == "import" else sim.post_id()
    currency = data.get("currency") or sim.store.currency
    payment_method = data.get("payment_method", "")
    order: dict[str, Any] = {
        "id": oid,
        "parent_id": int(data.get("parent_id") or 0),
        "status": status,
        "currency": currency,
        "version": WC_VERSION,
        "prices_include_tax": sim.store.prices_include_tax,
        "date_created": local,
        "date_modified": local,
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": "0.00",
        "total_tax": "0.00",
        "customer_id": customer_id,
        "order_key": "wc_order_" + secrets.token_urlsafe(10).replace("-", "x").replace("_", "y")[:13],
        "billing": billing_address(data.get("billing")),
        "shipping": shipping_address(data.get("shipping")),
        "payment_method": payment_method,
        "payment_method_title": data.get("payment_method_title") or _gateway_title(sim, payment_method),
        "transaction_id": data.get("transaction_id", ""),
        "customer_ip_address": data.get("customer_ip_address", ""),
        "customer_user_agent": data.get("customer_user_agent", ""),
        "created_via": data.get("created_via") or created_via,
        "customer_note": data.get("customer_note", ""),
        "date_completed": None,
        "date_paid": None,
        "cart_hash": "",
        "number": str(oid),
        "meta_data": _meta(sim, data.get("meta_data")),
        "line_items": [],
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "payment_url": "",
        "is_editable": False,
        "needs_payment": False,
        "needs_processing": False,
        "date_created_gmt": gmt,
        "date_modified_gmt": gmt,
        "date_completed_gmt": None,
        "date_paid_gmt": None,
        "currency_symbol": CURRENCY_SYMBOLS.get(currency, currency),
    }
    order["payment_url"] = f"{SITE}/checkout/order-pay/{oid}/?pay_for_order=true&key={order['order_key']}"
    untaxed: set[int] = set()
    for item in data.get("line_items") or []:
        line, taxable = _line_item(sim, item)
        order["line_items"].append(line)
        if not taxable:
            untaxed.add(line["id"])
    order["shipping_lines"] = [_shipping_line(sim, s) for s in data.get("shipping_lines") or []]
    order["fee_lines"] = [_fee_line(sim, f) for f in data.get("fee_lines") or []]
    coupons = []
    for c in data.get("coupon_lines") or []:
        line, coupon = _coupon_line(sim, c)
        order["coupon_lines"].append(line)
        coupons.append(coupon)
    calculate_totals(order, sim.store, coupons=coupons or None, untaxed=untaxed, next_item_id=sim.item_id)
    if data.get("set_paid") in (True, "true", 1, "1") and status == "pending":
        order["status"] = "processing"
    _status_dates(order, None, (local, gmt))
    if data.get("set_paid") in (True, "true", 1, "1"):
        order["date_paid"], order["date_paid_gmt"] = local, gmt
    finish_order(order)
    return order


def _merge_lines(
    sim: WooSim, current: list[dict[str, Any]], items: list[dict[str, Any]], make: Any
) -> list[dict[str, Any]]:
    out = list(current)
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("id"):
            existing = next((x for x in out if x["id"] == int(item["id"])), None)
            if existing is None:
                raise WooError(
                    "woocommerce_rest_invalid_item_id", "Order item ID provided is not associated with order.", 400
                )
            nulled = any(k in item and item[k] is None for k in ("product_id", "method_id", "name", "code"))
            if item.get("quantity") == 0 or nulled:
                out.remove(existing)
                continue
            for key, value in item.items():
                if key in ("id", "meta_data", "taxes"):
                    continue
                existing[key] = value if key not in ("total", "subtotal") else str(value)
            if "quantity" in item and "subtotal" not in item and existing.get("product_id"):
                product = find_product(sim, int(existing.get("variation_id") or existing["product_id"]))
                if product:
                    existing["subtotal"] = fmt2(
                        _price_ex_tax(sim, product, existing.get("tax_class", "")) * int(item["quantity"])
                    )
                    if "total" not in item:
                        existing["total"] = existing["subtotal"]
            if item.get("meta_data"):
                existing["meta_data"] = _meta(sim, item["meta_data"], existing.get("meta_data"), display=True)
        else:
            made = make(sim, item)
            out.append(made[0] if isinstance(made, tuple) else made)
    return out


def apply_order_update(sim: WooSim, order: dict[str, Any], data: dict[str, Any]) -> None:
    """Apply an update body to ``order`` (status last, totals recalculated when items or addresses change)."""
    old_status = order["status"]
    recalc = False
    for key in ("billing", "shipping"):
        if isinstance(data.get(key), dict):
            order[key] = (billing_address if key == "billing" else shipping_address)({**order[key], **data[key]})
            recalc = True
    if "customer_id" in data:
        cid = int(data["customer_id"] or 0)
        if cid and cid not in sim.customers:
            raise WooError("woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400)
        order["customer_id"] = cid
    for key in (
        "payment_method",
        "payment_method_title",
        "transaction_id",
        "customer_note",
        "currency",
        "customer_ip_address",
        "customer_user_agent",
        "parent_id",
    ):
        if key in data:
            order[key] = data[key]
    if "payment_method" in data and "payment_method_title" not in data:
        order["payment_method_title"] = _gateway_title(sim, data["payment_method"])
    if "meta_data" in data:
        order["meta_data"] = _meta(sim, data["meta_data"], order["meta_data"])
    if "line_items" in data:
        order["line_items"] = _merge_lines(sim, order["line_items"], data["line_items"] or [], _line_item)
        recalc = True
    if "shipping_lines" in data:
        order["shipping_lines"] = _merge_lines(
            sim, order["shipping_lines"], data["shipping_lines"] or [], _shipping_line
        )
        recalc = True
    if "fee_lines" in data:
        order["fee_lines"] = _merge_lines(sim, order["fee_lines"], data["fee_lines"] or [], _fee_line)
        recalc = True
    coupons = None
    if "coupon_lines" in data:
        lines, coupons = [], []
        for c in data["coupon_lines"] or []:
            if c.get("id") and not c.get("code"):
                continue
            line, coupon = _coupon_line(sim, c)
            lines.append(line)
            coupons.append(coupon)
        order["coupon_lines"] = lines
        recalc = True
    if recalc:
        untaxed = set()
        for line in order["line_items"]:
            product = find_product(sim, int(line.get("variation_id") or line.get("product_id") or 0))
            if product and product.get("tax_status", "taxable") != "taxable":
                untaxed.add(line["id"])
        if coupons is None and order["coupon_lines"]:
            coupons = []
            for cl in order["coupon_lines"]:
                try:
                    coupons.append(_coupon(sim, cl["code"]))
                except WooError:
                    continue
        calculate_totals(
            order, sim.store, coupons=coupons if coupons else None, untaxed=untaxed, next_item_id=sim.item_id
        )
    if data.get("set_paid") in (True, "true", 1, "1"):
        local, gmt = now_pair()
        order["date_paid"], order["date_paid_gmt"] = local, gmt
        if order["status"] in ("pending", "failed", "on-hold"):
            order["status"] = "processing"
    if "status" in data:
        order["status"] = _validate_status(data["status"])
    _status_dates(order, old_status)
    order["date_modified"], order["date_modified_gmt"] = now_pair()
    finish_order(order)


def order_or_404(sim: WooSim, oid: int, status: int = 404) -> dict[str, Any]:
    """The order, or ``woocommerce_rest_shop_order_invalid_id``."""
    order = sim.orders.get(oid)
    if order is None:
        raise invalid_id("shop_order", status)
    return order
