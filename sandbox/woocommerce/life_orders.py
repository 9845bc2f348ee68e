"""The events of a living shop's day (:mod:`sandbox.woocommerce.life`): new orders, payments, edits, refunds.

Provider fees go into the order meta the payment plugins write (Stripe ``_stripe_fee``/``_stripe_net``/
``_stripe_currency``, PayPal Standard ``PayPal Transaction Fee``; Mollie only ``_mollie_payment_id``), foreign orders
carry the Aelia Currency Switcher's ``_base_currency_exchange_rate`` and ``_order_total_base_currency``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.objects import date_pair
from sandbox.woocommerce.orders import _price_ex_tax, build_order, find_product, finish_order
from sandbox.woocommerce.refunds import REFUND_GATEWAYS, create_refund
from sandbox.woocommerce.seed import (
    _COUNTRY_WEIGHTS,
    _EU,
    _UA,
    _payment,
    _person,
    _pick,
    _shipping,
    _vat_number,
)
from sandbox.woocommerce.totals import calculate_totals, fmt2, r2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("FX_RATES", "Day", "LifeRates", "chance", "edit", "move", "new_order", "pay", "refund", "take")

FX_RATES = {"GBP": Decimal("0.8500"), "USD": Decimal("1.0800")}
"""Units of the currency per euro on the first simulated day (they drift a little day by day)."""
_FOREIGN = {"GB": "GBP", "US": "USD"}
_STRIPE_PCT, _STRIPE_FIXED = Decimal("0.015"), Decimal("0.25")
_PAYPAL_PCT, _PAYPAL_FIXED = Decimal("0.034"), Decimal("0.35")


@dataclass(frozen=True)
class LifeRates:
    """How often each kind of event happens, as a share of the day's new orders (``edits`` 0.1 with 20 orders a
    day = 2 edits a day), except ``foreign``, ``b2b`` and ``virtual``, which are shares of the new orders."""

    edits: float = 0.1
    cancellations: float = 0.05
    refunds: float = 0.08
    foreign: float = 0.1
    b2b: float = 0.1
    virtual: float = 0.1

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> LifeRates:
        """Rates from a request body (keys ``edit_rate``, ``cancel_rate``, ``refund_rate``, ``foreign_rate``,
        ``b2b_rate``, ``virtual_rate``); each must be a number from 0 to 1."""
        values: dict[str, float] = {}
        for name, key in (
            ("edits", "edit_rate"),
            ("cancellations", "cancel_rate"),
            ("refunds", "refund_rate"),
            ("foreign", "foreign_rate"),
            ("b2b", "b2b_rate"),
            ("virtual", "virtual_rate"),
        ):
            raw = body.get(key)
            if raw is None:
                continue
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
                raise ValueError(f"{key} must be a number from 0 to 1")
            values[name] = float(raw)
        return cls(**values)


@dataclass
class Day:
    sim: WooSim
    rng: random.Random
    rates: LifeRates
    fx: dict[str, Decimal]
    counts: dict[str, int]
    by_status: dict[str, list[int]]
    products: list[dict[str, Any]]
    variations: dict[int, list[int]]
    customers: list[int]
    paid_at: dict[int, datetime] = field(default_factory=dict)


def _q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def chance(rng: random.Random, expected: float) -> int:
    """``expected`` rounded up or down at random (a whole number of events whose mean is ``expected``)."""
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _meta_set(order: dict[str, Any], sim: WooSim, key: str, value: Any) -> None:
    for meta in order["meta_data"]:
        if meta.get("key") == key:
            meta["value"] = value
            return
    order["meta_data"].append({"id": sim.meta_id(), "key": key, "value": value})


def _stamp(order: dict[str, Any], when: datetime) -> None:
    order["date_modified"], order["date_modified_gmt"] = date_pair(when)


def pay(day: Day, order: dict[str, Any], when: datetime) -> None:
    """The payment arrives: date paid, transaction id and the provider's fee meta."""
    rng, sim = day.rng, day.sim
    order["date_paid"], order["date_paid_gmt"] = date_pair(when)
    method = order.get("payment_method")
    total = Decimal(order["total"])
    if method == "bacs" and not order.get("transaction_id"):
        order["transaction_id"] = "NL" + "".join(rng.choice("0123456789") for _ in range(16))
    if method == "stripe":
        fee = _q2(total * _STRIPE_PCT + _STRIPE_FIXED)
        _meta_set(order, sim, "_stripe_fee", f"{fee}")
        _meta_set(order, sim, "_stripe_net", f"{total - fee}")
        _meta_set(order, sim, "_stripe_currency", order["currency"])
        day.counts["provider_fees"] += 1
    elif method == "paypal":
        fee = _q2(total * _PAYPAL_PCT + _PAYPAL_FIXED)
        _meta_set(order, sim, "PayPal Transaction Fee", f"{fee}")
        day.counts["provider_fees"] += 1
    elif method and method.startswith("mollie"):
        _meta_set(order, sim, "_mollie_payment_id", order.get("transaction_id") or "")
        _meta_set(order, sim, "_mollie_payment_mode", "test")
    day.counts["payments"] += 1


def _buyer(day: Day, n: int, foreign: bool, b2b: bool) -> tuple[int, dict[str, Any], str]:
    """(customer id, billing address, VAT number) of a new order."""
    rng, sim = day.rng, day.sim
    if foreign:
        country = rng.choice(sorted(_FOREIGN))
    elif b2b:
        country = _pick(rng, [("NL", 40), ("BE", 25), ("DE", 25), ("FR", 10)])
    else:
        country = _pick(rng, _COUNTRY_WEIGHTS)
    if not foreign and not b2b and day.customers and rng.random() < 0.6:
        customer = sim.customers.peek(rng.choice(day.customers))
        if customer is not None and customer["billing"].get("country") not in _FOREIGN:
            vat = next((m["value"] for m in customer.get("meta_data", []) if m["key"] == "_billing_vat_number"), "")
            return int(customer["id"]), dict(customer["billing"]), vat
    person = _person(rng, country, 500000 + sim.next_post_id + n)
    vat = person.pop("_vat", "")
    if b2b:
        person["company"] = person.get("company") or f"{person['last_name']} Handel B.V."
        vat = vat or _vat_number(rng, country)
    elif foreign:
        vat = ""
        person["company"] = ""
    return 0, person, vat


def _lines(day: Day, only_virtual: bool) -> tuple[list[dict[str, Any]], bool]:
    rng = day.rng
    pool = [p for p in day.products if bool(p.get("virtual")) == only_virtual] if only_virtual else day.products
    pool = pool or day.products
    lines: list[dict[str, Any]] = []
    physical = False
    for product in rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 1, 2, 2, 3]))):
        qty = rng.choice([1, 1, 1, 2, 2, 3])
        line: dict[str, Any] = {"product_id": product["id"], "quantity": qty}
        if product["type"] == "variable" and day.variations.get(product["id"]):
            line["variation_id"] = rng.choice(day.variations[product["id"]])
        lines.append(line)
        physical = physical or not product.get("virtual")
    return lines, physical


def _in_currency(day: Day, lines: list[dict[str, Any]], currency: str) -> None:
    """Price the lines in ``currency``: the ex-VAT euro price times the day's rate, to the cent."""
    rate = day.fx[currency]
    for line in lines:
        product = find_product(day.sim, int(line.get("variation_id") or line["product_id"]))
        if product is None:
            continue
        unit = _price_ex_tax(day.sim, product, product.get("tax_class", ""))
        line["subtotal"] = line["total"] = fmt2(r2(unit * rate * line["quantity"]))


def new_order(day: Day, when: datetime, n: int) -> None:
    rng, sim, counts = day.rng, day.sim, day.counts
    foreign = rng.random() < day.rates.foreign
    b2b = not foreign and rng.random() < day.rates.b2b
    only_virtual = rng.random() < day.rates.virtual
    cid, billing, vat = _buyer(day, n, foreign, b2b)
    country = billing["country"]
    lines, physical = _lines(day, only_virtual)
    meta: list[dict[str, Any]] = []
    if vat:
        meta.append({"key": "_billing_vat_number", "value": vat})
        meta.append({"key": "is_vat_exempt", "value": "yes" if country != "NL" and country in _EU else "no"})
    method, txn = _payment(rng, country)
    currency = _FOREIGN.get(country) if foreign else None
    if currency:
        method = rng.choice(["stripe", "paypal"])
        txn = {"stripe": "pi_", "paypal": "PAY-"}[method] + "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(14)
        )
        _in_currency(day, lines, currency)
        rate_to_base = (Decimal(1) / day.fx[currency]).quantize(Decimal("0.000001"))
        meta.append({"key": "_base_currency_exchange_rate", "value": f"{rate_to_base}"})
    shipping = {k: v for k, v in billing.items() if k not in ("email", "phone")}
    data: dict[str, Any] = {
        "status": "pending",
        "customer_id": cid,
        "currency": currency or sim.store.currency,
        "billing": billing,
        "shipping": shipping if physical else {},
        "payment_method": method,
        "line_items": lines,
        "meta_data": meta,
        "customer_user_agent": _UA,
        "customer_ip_address": ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    }
    if physical:
        ship = _shipping(country, Decimal(50), rng)
        if currency:
            ship["total"] = fmt2(r2(Decimal(ship["total"]) * day.fx[currency]))
        data["shipping_lines"] = [ship]
    if method == "cod":
        data["fee_lines"] = [{"name": "Rembourskosten", "total": "2.50", "tax_status": "taxable", "tax_class": ""}]
    order = build_order(sim, data, dates=date_pair(when), created_via="checkout")
    order["order_key"] = "wc_order_" + "".join(rng.choice("abcdefghijkmnopqrstuvwxyz0123456789") for _ in range(13))
    order["payment_url"] = order["payment_url"].split("&key=")[0] + f"&key={order['order_key']}"
    if currency:
        total_base = _q2(Decimal(order["total"]) / day.fx[currency])
        _meta_set(order, sim, "_order_total_base_currency", f"{total_base}")
        counts["foreign_currency"] += 1
    if method in ("bacs", "cheque"):
        order["status"] = "on-hold"
    else:
        order["status"] = "processing"
        order["transaction_id"] = txn
        if method != "cod":
            pay(day, order, when + timedelta(minutes=rng.randint(1, 10)))
    _stamp(order, when + timedelta(minutes=11))
    finish_order(order)
    sim.orders.put(order)
    day.by_status.setdefault(order["status"], []).append(order["id"])
    counts["orders"] += 1
    counts["b2b_guests"] += 1 if b2b else 0
    counts["virtual_orders"] += 0 if physical else 1


def take(day: Day, status: str) -> dict[str, Any] | None:
    """A random order with ``status`` (removed from that pool), or None."""
    pool = day.by_status.get(status) or []
    while pool:
        oid = pool.pop(day.rng.randrange(len(pool)))
        order = day.sim.orders.get(oid)
        if order is not None and order["status"] == status:
            return order
    return None


def move(day: Day, order: dict[str, Any], status: str, when: datetime) -> None:
    order["status"] = status
    _stamp(order, when)
    finish_order(order)
    day.sim.orders.put(order)
    day.by_status.setdefault(status, []).append(order["id"])


def edit(day: Day, when: datetime) -> None:
    """An existing order changes: one more of a line (totals move), or only a note for the customer."""
    rng, sim = day.rng, day.sim
    order = take(day, rng.choice(["processing", "completed"]))
    if order is None:
        return
    status = order["status"]
    if rng.random() < 0.3 or not order["line_items"] or order.get("refunds"):
        _meta_set(order, sim, "_tracking_number", f"3S{rng.randint(10**11, 10**12 - 1)}")
        order["customer_note"] = (order.get("customer_note") or "") + " Track & trace verstuurd."
        day.counts["notes"] += 1
    else:
        line = rng.choice(order["line_items"])
        qty = int(line["quantity"])
        line["quantity"] = qty + 1
        line["subtotal"] = fmt2(Decimal(line["subtotal"]) / qty * (qty + 1))
        line["total"] = fmt2(Decimal(line["total"]) / qty * (qty + 1))
        untaxed: set[int] = set()
        calculate_totals(order, sim.store, coupons=None, untaxed=untaxed, next_item_id=sim.item_id)
        rate = next((m["value"] for m in order["meta_data"] if m["key"] == "_base_currency_exchange_rate"), None)
        if rate:
            _meta_set(order, sim, "_order_total_base_currency", f"{_q2(Decimal(order['total']) * Decimal(rate))}")
        day.counts["edits"] += 1
    move(day, order, status, when)


def refund(day: Day, when: datetime) -> None:
    rng, sim = day.rng, day.sim
    order = take(day, "completed")
    if order is None or Decimal(order["total"]) <= 0:
        return
    api = order.get("payment_method") in REFUND_GATEWAYS
    full = not order.get("refunds") and rng.random() < 0.4
    items: list[dict[str, Any]] = []
    if full:
        for key in ("line_items", "shipping_lines", "fee_lines"):
            for item in order.get(key) or []:
                if Decimal(item["total"]) == 0 and Decimal(item["total_tax"]) == 0:
                    continue
                refund_item: dict[str, Any] = {
                    "id": item["id"],
                    "refund_total": item["total"],
                    "refund_tax": [{"id": t["id"], "refund_total": t["total"]} for t in item.get("taxes") or []],
                }
                if key == "line_items":
                    refund_item["quantity"] = item["quantity"]
                items.append(refund_item)
        body = {"amount": order["total"], "reason": "Retour ontvangen", "line_items": items}
    else:
        line = order["line_items"][0]
        qty = int(line["quantity"])
        unit = r2(Decimal(line["total"]) / qty)
        taxes = [{"id": t["id"], "refund_total": fmt2(r2(Decimal(t["total"]) / qty))} for t in line["taxes"]]
        amount = unit + sum((Decimal(t["refund_total"]) for t in taxes), Decimal(0))
        already = sum((-Decimal(r["total"]) for r in order.get("refunds") or []), Decimal(0))
        if amount <= 0 or amount + already > Decimal(order["total"]):
            move(day, order, "completed", when)
            return
        items = [{"id": line["id"], "quantity": 1, "refund_total": fmt2(unit), "refund_tax": taxes}]
        body = {"reason": "Beschadigd aangekomen", "line_items": items}
    create_refund(sim, order, body, api=api, dates=date_pair(when))
    finish_order(order)
    sim.orders.put(order)
    day.by_status.setdefault(order["status"], []).append(order["id"])
    day.counts["refunds_full" if full else "refunds_partial"] += 1
