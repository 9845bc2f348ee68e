"""Order totals computed the way WooCommerce does (``WC_Abstract_Order::calculate_totals``).

- Line ``subtotal``/``total`` are ex-tax whatever ``prices_include_tax`` says; ``total`` = subtotal − discounts.
- Coupons (``WC_Discounts``): percent, fixed_cart, fixed_product, computed in cents on the line price (gross when
  prices include tax), floors per line and the remaining cents spread one by one; with prices including tax the
  ex-tax part of a discount is what leaves the line total.
- Taxes per rate from the store's rates by location (shipping address, else billing, else the shop) and tax class;
  item taxes are kept unrounded (6 dp) on the line and rounded per line when summed into the tax lines.
- Shipping tax uses the "inherit" class rule; fees are taxed by their own class when ``tax_status`` is taxable.
- total = Σline.total + shipping_total + Σfee.total + total_tax; total_tax = cart_tax + shipping_tax.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.woocommerce.store import StoreConfig

__all__ = ("D", "calculate_totals", "fmt2", "fmt_num", "fmt_raw", "r2", "tax_location")

D = Decimal
_CENT = Decimal("0.01")
_MICRO = Decimal("0.000001")
_ZERO = Decimal(0)


def r2(x: Decimal) -> Decimal:
    """Round half away from zero to cents (PHP ``round``)."""
    return x.quantize(_CENT, ROUND_HALF_UP)


def fmt2(x: Decimal) -> str:
    """A money string with two decimals (``wc_format_decimal($x, 2)``)."""
    q = r2(x)
    return "0.00" if q == 0 else f"{q:f}"


def fmt_raw(x: Decimal) -> str:
    """An unrounded tax amount as WooCommerce prints it: up to 6 decimals, trailing zeros trimmed."""
    q = x.quantize(_MICRO, ROUND_HALF_UP)
    s = f"{q:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def fmt_num(x: Decimal) -> int | float:
    """A JSON number as PHP encodes a float: integral values without a fraction."""
    q = x.quantize(_MICRO, ROUND_HALF_UP)
    return int(q) if q == q.to_integral_value() else float(q)


def _dec(value: Any) -> Decimal:
    if value in (None, ""):
        return _ZERO
    return Decimal(str(value))


def tax_location(order: dict[str, Any], store: StoreConfig) -> tuple[str, str, str, str]:
    """``(country, state, postcode, city)`` that taxes are based on."""
    based_on = store.option("woocommerce_tax_based_on") or "shipping"
    shipping, billing = order.get("shipping") or {}, order.get("billing") or {}
    addr: dict[str, Any] | None = None
    if based_on == "shipping" and shipping.get("country"):
        addr = shipping
    elif based_on in ("shipping", "billing") and billing.get("country"):
        addr = billing
    if addr is None:
        return store.base_country, "", str(store.option("woocommerce_store_postcode") or ""), ""
    return addr.get("country", ""), addr.get("state", ""), addr.get("postcode", ""), addr.get("city", "")


def _calc(amount: Decimal, rates: list[dict[str, Any]], inclusive: bool = False) -> dict[int, Decimal]:
    """``WC_Tax::calc_tax``: taxes per rate id, unrounded."""
    out: dict[int, Decimal] = {}
    if not rates:
        return out
    if inclusive:
        total_pct = sum((_dec(r["rate"]) for r in rates), _ZERO)
        base = amount / (1 + total_pct / 100)
        for r in rates:
            out[int(r["id"])] = (base * _dec(r["rate"]) / 100).quantize(_MICRO, ROUND_HALF_UP)
        return out
    running = amount
    for r in rates:
        if not r.get("compound"):
            out[int(r["id"])] = (amount * _dec(r["rate"]) / 100).quantize(_MICRO, ROUND_HALF_UP)
    running += sum(out.values(), _ZERO)
    for r in rates:
        if r.get("compound"):
            tax = (running * _dec(r["rate"]) / 100).quantize(_MICRO, ROUND_HALF_UP)
            out[int(r["id"])] = tax
            running += tax
    return out


def _spread(prices: list[int], discounts: list[int], target: int) -> list[int]:
    """Spread the cents still missing to ``target`` one by one over lines that can take them."""
    remaining = target - sum(discounts)
    while remaining > 0:
        moved = False
        for i, price in enumerate(prices):
            if remaining <= 0:
                break
            if discounts[i] < price:
                discounts[i] += 1
                remaining -= 1
                moved = True
        if not moved:
            break
    return discounts


def _coupon_discounts(coupon: dict[str, Any], prices: list[int], qtys: list[int]) -> list[int]:
    """``WC_Discounts::apply_coupon_*`` in cents for each line (capped at the line price)."""
    kind = coupon.get("discount_type") or "fixed_cart"
    amount = _dec(coupon.get("amount", coupon.get("nominal_amount", 0)))
    if kind == "percent":
        per = [int((Decimal(p) * amount / 100).to_integral_value(ROUND_DOWN)) for p in prices]
        target = int(r2(Decimal(sum(prices)) * amount / 100 / 100) * 100)
        return _spread(prices, per, min(target, sum(prices)))
    if kind == "fixed_product":
        cents = int(amount * 100)
        return [min(p, cents * q) for p, q in zip(prices, qtys, strict=True)]
    total = sum(prices)
    cents = min(int(amount * 100), total)
    if total <= 0:
        return [0] * len(prices)
    per = [int((Decimal(p) * cents / total).to_integral_value(ROUND_DOWN)) for p in prices]
    return _spread(prices, per, cents)


def _shipping_class(store: StoreConfig, item_classes: list[str]) -> str | None:
    option = store.option("woocommerce_shipping_tax_class")
    if option != "inherit":
        return str(option or "")
    found = [c for c in ["", *store.class_slugs()] if c in item_classes or (c == "standard" and "" in item_classes)]
    return found[0] if found else None


def calculate_totals(
    order: dict[str, Any],
    store: StoreConfig,
    *,
    coupons: list[dict[str, Any]] | None = None,
    untaxed: set[int] | frozenset[int] = frozenset(),
    next_item_id: Callable[[], int] | None = None,
) -> None:
    """Recompute every derived amount of ``order`` in place.

    Args:
        order: The order; its line ``subtotal`` (ex tax), shipping and fee ``total`` are the inputs.
        store: Store configuration (rates, settings).
        coupons: Coupon definitions (``code``, ``discount_type``, ``amount``) to (re)apply; None keeps the
            line totals as they are.
        untaxed: Line item ids whose product is not taxable.
        next_item_id: Allocator for new tax line ids.
    """
    country, state, postcode, city = tax_location(order, store)
    exempt = any(m.get("key") == "is_vat_exempt" and m.get("value") == "yes" for m in order.get("meta_data", []))
    incl = bool(order.get("prices_include_tax"))

    def rates(klass: str) -> list[dict[str, Any]]:
        return [] if exempt else store.rates_for(country, state, postcode, city, klass)

    lines = order.get("line_items", [])
    line_rates = [[] if line.get("id") in untaxed else rates(line.get("tax_class", "")) for line in lines]
    subtotals = [_dec(line.get("subtotal")) for line in lines]
    sub_taxes = [_calc(s, lr) for s, lr in zip(subtotals, line_rates, strict=True)]
    totals = [_dec(line.get("total", line.get("subtotal"))) for line in lines]

    if coupons is not None:
        totals = list(subtotals)
        for cline in order.get("coupon_lines", []):
            cline["discount"], cline["discount_tax"] = "0.00", "0.00"
        prices = []
        for s, st in zip(subtotals, sub_taxes, strict=True):
            gross = s + (r2(sum(st.values(), _ZERO)) if incl else _ZERO)
            prices.append(int(r2(gross) * 100))
        qtys = [int(line.get("quantity") or 0) for line in lines]
        for coupon in coupons:
            cents = _coupon_discounts(coupon, prices, qtys)
            disc, disc_tax = _ZERO, _ZERO
            for i, c in enumerate(cents):
                gross = Decimal(c) / 100
                if incl and line_rates[i]:
                    ex = gross - sum(_calc(gross, line_rates[i], inclusive=True).values(), _ZERO)
                else:
                    ex = gross
                ex = min(r2(ex), totals[i])
                totals[i] -= ex
                disc += ex
                disc_tax += sum(_calc(ex, line_rates[i]).values(), _ZERO)
            for cline in order.get("coupon_lines", []):
                if cline.get("code", "").lower() == str(coupon.get("code", "")).lower():
                    cline["discount"], cline["discount_tax"] = fmt2(disc), fmt2(disc_tax)
                    cline["discount_type"] = coupon.get("discount_type", "fixed_cart")
                    cline["nominal_amount"] = fmt_num(_dec(coupon.get("amount", 0)))
                    cline["free_shipping"] = bool(coupon.get("free_shipping", False))

    cart_taxes: dict[int, Decimal] = {}
    ship_taxes: dict[int, Decimal] = {}
    cart_subtotal_tax = cart_total_tax = _ZERO
    for line, s, st, t, lr in zip(lines, subtotals, sub_taxes, totals, line_rates, strict=True):
        tt = _calc(t, lr)
        line["subtotal"], line["total"] = fmt2(s), fmt2(t)
        line["subtotal_tax"] = fmt2(sum(st.values(), _ZERO))
        line["total_tax"] = fmt2(sum(tt.values(), _ZERO))
        line["taxes"] = [{"id": rid, "total": fmt_raw(tt[rid]), "subtotal": fmt_raw(st.get(rid, _ZERO))} for rid in tt]
        qty = int(line.get("quantity") or 0)
        line["price"] = fmt_num(t / qty) if qty else 0
        cart_subtotal_tax += sum((r2(v) for v in st.values()), _ZERO)
        cart_total_tax += sum((r2(v) for v in tt.values()), _ZERO)
        for rid, v in tt.items():
            cart_taxes[rid] = cart_taxes.get(rid, _ZERO) + r2(v)

    fee_total = _ZERO
    for fee in order.get("fee_lines", []):
        total = _dec(fee.get("total", fee.get("amount")))
        ft = _calc(total, rates(fee.get("tax_class", ""))) if fee.get("tax_status", "taxable") == "taxable" else {}
        fee["total"], fee["total_tax"] = fmt2(total), fmt2(sum(ft.values(), _ZERO))
        if fee.get("amount") in (None, ""):
            fee["amount"] = fmt_raw(total)
        fee["taxes"] = [{"id": rid, "total": fmt_raw(v), "subtotal": ""} for rid, v in ft.items()]
        fee_total += r2(total)
        for rid, v in ft.items():
            cart_taxes[rid] = cart_taxes.get(rid, _ZERO) + r2(v)

    ship_class = _shipping_class(store, [line.get("tax_class", "") for line in lines])
    ship_total = _ZERO
    for ship in order.get("shipping_lines", []):
        total = _dec(ship.get("total"))
        srates = [r for r in rates(ship_class) if r.get("shipping")] if ship_class is not None else []
        stx = _calc(total, srates)
        ship["total"], ship["total_tax"] = fmt2(total), fmt2(sum(stx.values(), _ZERO))
        ship["taxes"] = [{"id": rid, "total": fmt_raw(v), "subtotal": ""} for rid, v in stx.items()]
        ship_total += r2(total)
        for rid, v in stx.items():
            ship_taxes[rid] = ship_taxes.get(rid, _ZERO) + r2(v)

    old = {int(t.get("rate_id", 0)): t for t in order.get("tax_lines", [])}
    tax_lines = []
    for rid in sorted(set(cart_taxes) | set(ship_taxes)):
        rate = store.tax_rates.get(rid)
        prev = old.get(rid, {})
        if rate is None and not prev:
            continue
        line = {
            "id": prev.get("id") or (next_item_id() if next_item_id else 0),
            "rate_code": prev.get("rate_code") or _rate_code(rate or {}),
            "rate_id": rid,
            "label": prev.get("label") or (rate or {}).get("name", ""),
            "compound": bool((rate or prev).get("compound", False)),
            "tax_total": fmt2(cart_taxes.get(rid, _ZERO)),
            "shipping_tax_total": fmt2(ship_taxes.get(rid, _ZERO)),
            "rate_percent": fmt_num(_dec((rate or {}).get("rate", prev.get("rate_percent", 0)))),
            "meta_data": prev.get("meta_data", []),
        }
        tax_lines.append(line)
    order["tax_lines"] = tax_lines

    cart_tax = sum(cart_taxes.values(), _ZERO)
    ship_tax = sum(ship_taxes.values(), _ZERO)
    items_total = sum((r2(t) for t in totals), _ZERO)
    order["discount_total"] = fmt2(sum(subtotals, _ZERO) - sum(totals, _ZERO))
    order["discount_tax"] = fmt2(cart_subtotal_tax - cart_total_tax)
    order["shipping_total"] = fmt2(ship_total)
    order["shipping_tax"] = fmt2(ship_tax)
    order["cart_tax"] = fmt2(cart_tax)
    order["total_tax"] = fmt2(cart_tax + ship_tax)
    order["total"] = fmt2(items_total + ship_total + fee_total + r2(cart_tax) + r2(ship_tax))


def _rate_code(rate: dict[str, Any]) -> str:
    parts = [rate.get("country", ""), rate.get("state", ""), rate.get("name") or "TAX", rate.get("priority", 0)]
    code = "-".join(str(p) for p in parts if p not in ("", 0, None))
    return "".join(c.upper() if c.isascii() else c for c in code)
