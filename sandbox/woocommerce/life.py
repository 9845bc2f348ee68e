"""A living shop: :func:`simulate` advances the store through days of trade (``POST /_sandbox/simulate``).

Each simulated day brings new orders (some from business guests with a VAT number, some in GBP or USD with the
multi-currency plugin's rate in their meta, some of only virtual or downloadable products), bank transfers paid,
orders completed, edits of existing orders (lines and totals change, or only a note), cancellations, and partial and
full refunds (full ones with their shipping and fee items). Payments carry the transaction id and, where the payment
plugin writes it, the provider's fee in order meta:

- Stripe (``WC_Stripe_Helper``): ``_stripe_fee``, ``_stripe_net``, ``_stripe_currency``;
- PayPal Standard: ``PayPal Transaction Fee`` (PayPal Payments writes ``_ppcp_paypal_fees`` instead);
- Mollie writes only ``_mollie_payment_id`` and ``_mollie_payment_mode``: its fees come with its settlements.

Foreign orders carry the keys of the Aelia Currency Switcher: ``_base_currency_exchange_rate`` (order currency →
shop currency: base amount = amount × rate) and ``_order_total_base_currency``.

Everything follows from the seed and the store's state: the same store simulated with the same body gives the same
orders, amounts and dates. Days start after the store's newest change; a window that would end after today is moved
back so that it ends today (sources that read "changed until now" see every simulated change).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    seed_store,
)
from sandbox.woocommerce.totals import calculate_totals, fmt2, r2

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("FX_RATES", "LifeRates", "simulate")

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
class _Day:
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


def _chance(rng: random.Random, expected: float) -> int:
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


def _pay(day: _Day, order: dict[str, Any], when: datetime) -> None:
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


def _buyer(day: _Day, n: int, foreign: bool, b2b: bool) -> tuple[int, dict[str, Any], str]:
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


def _lines(day: _Day, only_virtual: bool) -> tuple[list[dict[str, Any]], bool]:
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


def _in_currency(day: _Day, lines: list[dict[str, Any]], currency: str) -> None:
    """Price the lines in ``currency``: the ex-VAT euro price times the day's rate, to the cent."""
    rate = day.fx[currency]
    for line in lines:
        product = find_product(day.sim, int(line.get("variation_id") or line["product_id"]))
        if product is None:
            continue
        unit = _price_ex_tax(day.sim, product, product.get("tax_class", ""))
        line["subtotal"] = line["total"] = fmt2(r2(unit * rate * line["quantity"]))


def _new_order(day: _Day, when: datetime, n: int) -> None:
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
            _pay(day, order, when + timedelta(minutes=rng.randint(1, 10)))
    _stamp(order, when + timedelta(minutes=11))
    finish_order(order)
    sim.orders.put(order)
    day.by_status.setdefault(order["status"], []).append(order["id"])
    counts["orders"] += 1
    counts["b2b_guests"] += 1 if b2b else 0
    counts["virtual_orders"] += 0 if physical else 1


def _take(day: _Day, status: str) -> dict[str, Any] | None:
    """A random order with ``status`` (removed from that pool), or None."""
    pool = day.by_status.get(status) or []
    while pool:
        oid = pool.pop(day.rng.randrange(len(pool)))
        order = day.sim.orders.get(oid)
        if order is not None and order["status"] == status:
            return order
    return None


def _move(day: _Day, order: dict[str, Any], status: str, when: datetime) -> None:
    order["status"] = status
    _stamp(order, when)
    finish_order(order)
    day.sim.orders.put(order)
    day.by_status.setdefault(status, []).append(order["id"])


def _edit(day: _Day, when: datetime) -> None:
    """An existing order changes: one more of a line (totals move), or only a note for the customer."""
    rng, sim = day.rng, day.sim
    order = _take(day, rng.choice(["processing", "completed"]))
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
    _move(day, order, status, when)


def _refund(day: _Day, when: datetime) -> None:
    rng, sim = day.rng, day.sim
    order = _take(day, "completed")
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
            _move(day, order, "completed", when)
            return
        items = [{"id": line["id"], "quantity": 1, "refund_total": fmt2(unit), "refund_tax": taxes}]
        body = {"reason": "Beschadigd aangekomen", "line_items": items}
    create_refund(sim, order, body, api=api, dates=date_pair(when))
    finish_order(order)
    sim.orders.put(order)
    day.by_status.setdefault(order["status"], []).append(order["id"])
    day.counts["refunds_full" if full else "refunds_partial"] += 1


def _one_day(day: _Day, start: datetime, orders_per_day: int) -> None:
    rng, rates = day.rng, day.rates
    for currency in day.fx:
        day.fx[currency] = (day.fx[currency] * Decimal(str(1 + rng.uniform(-0.004, 0.004)))).quantize(Decimal("0.0001"))
    # Work already waiting from earlier days comes first in the morning: transfers arrive, parcels go out.
    minute = 7 * 60
    for oid in sorted(day.by_status.get("on-hold") or []):
        if rng.random() < 0.6:
            order = day.sim.orders.get(oid)
            if order is not None and order["status"] == "on-hold":
                day.by_status["on-hold"].remove(oid)
                minute += 1
                _pay(day, order, start + timedelta(minutes=minute))
                _move(day, order, "processing", start + timedelta(minutes=minute))
    for oid in sorted(day.by_status.get("processing") or []):
        if rng.random() < 0.7:
            order = day.sim.orders.get(oid)
            if (
                order is not None
                and order["status"] == "processing"
                and order["date_created_gmt"] < start.strftime("%Y-%m-%dT%H:%M:%S")
            ):
                day.by_status["processing"].remove(oid)
                minute += 1
                when = start + timedelta(minutes=minute)
                if not order.get("date_paid"):
                    _pay(day, order, when)  # cash on delivery: paid when the parcel is handed over
                order["date_completed"], order["date_completed_gmt"] = date_pair(when)
                _move(day, order, "completed", when)
                day.counts["completed"] += 1
    kinds = ["new"] * orders_per_day
    kinds += ["edit"] * _chance(rng, orders_per_day * rates.edits)
    kinds += ["cancel"] * _chance(rng, orders_per_day * rates.cancellations)
    kinds += ["refund"] * _chance(rng, orders_per_day * rates.refunds)
    rng.shuffle(kinds)
    span = 14 * 60 * 60  # 08:00 to 22:00 UTC
    stamps = sorted(rng.randrange(span) for _ in kinds)
    for n, (kind, offset) in enumerate(zip(kinds, stamps, strict=True)):
        when = start + timedelta(hours=8, seconds=offset)
        if kind == "new":
            _new_order(day, when, n)
        elif kind == "edit":
            _edit(day, when)
        elif kind == "refund":
            _refund(day, when)
        else:
            order = _take(day, rng.choice(["processing", "on-hold"]))
            if order is not None:
                _move(day, order, "cancelled", when)
                day.counts["cancellations"] += 1


def _first_day(sim: WooSim, days: int, now: datetime) -> datetime:
    last = max((x["modified_gmt"] for x in sim.orders.index.values()), default="")
    if last:
        newest = datetime.fromisoformat(last).replace(tzinfo=UTC)
        first = (newest + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = datetime(2026, 11, 1, tzinfo=UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    latest_start = today - timedelta(days=days)
    return min(first, latest_start)


def simulate(
    sim: WooSim,
    *,
    days: int,
    seed: int = 1,
    orders_per_day: int = 20,
    rates: LifeRates | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Advance the store through ``days`` days of trade.

    Args:
        sim: The store.
        days: How many days (1 to 366).
        seed: Everything random follows from it.
        orders_per_day: New orders a day (0 to 1000).
        rates: How often edits, cancellations, refunds, foreign currencies, business guests and virtual-only
            orders happen.
        now: The real time (default: the clock); the window never ends after it.

    Returns:
        ``{"days", "from", "to"}`` and a count per kind of event: ``orders``, ``payments``, ``completed``,
        ``edits``, ``notes``, ``cancellations``, ``refunds_partial``, ``refunds_full``, ``foreign_currency``,
        ``b2b_guests``, ``virtual_orders``, ``provider_fees``.

    Raises:
        ValueError: a count out of range.
    """
    if not 1 <= days <= 366:
        raise ValueError("days must be from 1 to 366")
    if not 0 <= orders_per_day <= 1000:
        raise ValueError("orders_per_day must be from 0 to 1000")
    rates = rates or LifeRates()
    if not len(sim.products):
        seed_store(sim, products=20, seed=seed)
        if sim.on_seeded is not None:
            sim.on_seeded(sim)
    rng = random.Random(seed * 1_000_003 + days)
    variations: dict[int, list[int]] = {}
    for vid, x in sim.variations.index.items():
        variations.setdefault(x["parent_id"], []).append(vid)
    products = [p for pid in sorted(sim.products.index) if (p := sim.products.peek(pid)) and p["status"] == "publish"]
    products = [p for p in products if p["type"] in ("simple", "variable")]
    by_status: dict[str, list[int]] = {}
    for oid in sorted(sim.orders.index):
        by_status.setdefault(sim.orders.index[oid]["status"], []).append(oid)
    counts = dict.fromkeys(
        (
            "orders",
            "payments",
            "completed",
            "edits",
            "notes",
            "cancellations",
            "refunds_partial",
            "refunds_full",
            "foreign_currency",
            "b2b_guests",
            "virtual_orders",
            "provider_fees",
        ),
        0,
    )
    day = _Day(sim, rng, rates, dict(FX_RATES), counts, by_status, products, variations, sorted(sim.customers.ids()))
    first = _first_day(sim, days, now or datetime.now(UTC))
    for d in range(days):
        _one_day(day, first + timedelta(days=d), orders_per_day)
    last = first + timedelta(days=days - 1)
    return {"days": days, "from": first.date().isoformat(), "to": last.date().isoformat(), **counts}
