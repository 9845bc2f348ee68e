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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.woocommerce.life_orders import FX_RATES, Day, LifeRates, chance, edit, move, new_order, pay, refund, take
from sandbox.woocommerce.objects import date_pair
from sandbox.woocommerce.seed import seed_store

if TYPE_CHECKING:
    from sandbox.woocommerce.sim import WooSim

__all__ = ("FX_RATES", "LifeRates", "simulate")


def _one_day(day: Day, start: datetime, orders_per_day: int) -> None:
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
                pay(day, order, start + timedelta(minutes=minute))
                move(day, order, "processing", start + timedelta(minutes=minute))
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
                    pay(day, order, when)  # cash on delivery: paid when the parcel is handed over
                order["date_completed"], order["date_completed_gmt"] = date_pair(when)
                move(day, order, "completed", when)
                day.counts["completed"] += 1
    kinds = ["new"] * orders_per_day
    kinds += ["edit"] * chance(rng, orders_per_day * rates.edits)
    kinds += ["cancel"] * chance(rng, orders_per_day * rates.cancellations)
    kinds += ["refund"] * chance(rng, orders_per_day * rates.refunds)
    rng.shuffle(kinds)
    span = 14 * 60 * 60  # 08:00 to 22:00 UTC
    stamps = sorted(rng.randrange(span) for _ in kinds)
    for n, (kind, offset) in enumerate(zip(kinds, stamps, strict=True)):
        when = start + timedelta(hours=8, seconds=offset)
        if kind == "new":
            new_order(day, when, n)
        elif kind == "edit":
            edit(day, when)
        elif kind == "refund":
            refund(day, when)
        else:
            order = take(day, rng.choice(["processing", "on-hold"]))
            if order is not None:
                move(day, order, "cancelled", when)
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
    day = Day(sim, rng, rates, dict(FX_RATES), counts, by_status, products, variations, sorted(sim.customers.ids()))
    first = _first_day(sim, days, now or datetime.now(UTC))
    for d in range(days):
        _one_day(day, first + timedelta(days=d), orders_per_day)
    last = first + timedelta(days=days - 1)
    return {"days": days, "from": first.date().isoformat(), "to": last.date().isoformat(), **counts}
