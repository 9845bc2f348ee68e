"""The Mollie account behind a simulated store: payments, refunds, chargebacks and weekly settlements.

Nothing here is stored separately: the account is derived from the WooCommerce simulator's orders, so it is always
consistent with them (after a seed, an import or a simulated day) and deterministic from the store's seed.

- every order paid through a Mollie gateway (``payment_method`` ``mollie_wc_gateway_*``, ``date_paid`` set, a
  ``tr_`` transaction id) has a paid payment with that id, ``metadata.order_id`` and description "Order {number}",
  as the Mollie WooCommerce plugin creates them, for the amount the order had when it was paid (the store notes it,
  ``WooSim.payments``): an order edited afterwards never changes a payment, so a settlement never changes after payout;
- every WooCommerce refund of such an order that went through the gateway (``refunded_payment``) is a Mollie refund;
- a few payments that were not refunded are charged back (1 in 40, chosen from the payment id), 10 to 29 days later;
- every event is settled in the settlement of its ISO week (Monday to Sunday, UTC): created the next Monday 02:00,
  paid out on the Tuesday 06:00. The account's clock is its newest event: the week holding it is the open
  settlement (only at ``/v2/settlements/open``), a closed week not yet paid out is ``pending``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.http import loads
from sandbox.mollie.shapes import (
    COST_VAT_RATE,
    METHOD_LABELS,
    RATES,
    REFUND_RATE,
    amount,
    cents,
    method_of,
    token,
)

if TYPE_CHECKING:
    from sandbox.woocommerce import WooSim

__all__ = ("FX_TO_EUR", "Book", "build_book", "iso")

FX_TO_EUR: dict[str, Decimal] = {
    "EUR": Decimal(1),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.05"),
    "SEK": Decimal("0.088"),
    "DKK": Decimal("0.134"),
    "PLN": Decimal("0.23"),
}
"""Fixed rates for payments in other currencies (Mollie settles in EUR); an unknown currency settles at 1."""

_ZERO = Decimal(0)
_CHARGEBACK_ONE_IN = 40
_PROFILE = "pfl_KoppelDemo"
_ORGANIZATION = "1234567"


def iso(moment: datetime) -> str:
    """Mollie's timestamp form: ISO 8601 with offset, whole seconds (``2026-10-05T09:12:44+00:00``)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _gmt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)[:19]).replace(tzinfo=UTC)
    except ValueError:
        return None


def _number(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


@dataclass
class _Event:
    kind: str
    """``payment``, ``refund`` or ``chargeback``."""
    id: str
    at: datetime
    eur: Decimal
    """Signed: what the event adds to the balance (payments +, refunds and chargebacks −)."""
    method: str
    fee: Decimal


@dataclass
class Book:
    """The derived account; lists are newest first, as Mollie lists them."""

    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    chargebacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    settlements: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Closed settlements (pending or paid out), listed by ``/v2/settlements``."""
    open: dict[str, Any] | None = None
    """The settlement still collecting (``/v2/settlements/open``)."""
    members: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """Settlement id → ``{"payments": [...], "refunds": [...], "chargebacks": [...]}`` (newest first)."""
    clock: datetime | None = None


def _payment(order: dict[str, Any], paid: datetime, charged: dict[str, str] | None) -> dict[str, Any]:
    """The Mollie payment of an order: its amount is what was charged when the order was paid (``charged``, the
    store's note of it; else the order's total), never the total of a later edit."""
    txn = str(order["transaction_id"])
    currency = str((charged or {}).get("currency") or order.get("currency") or "EUR")
    total = Decimal(str((charged or {}).get("total") or order.get("total") or "0"))
    billing = order.get("billing") or {}
    name = f"{billing.get('first_name', '')} {billing.get('last_name', '')}".strip()
    number = _number(txn)
    return {
        "resource": "payment",
        "id": txn,
        "mode": "test",
        "createdAt": iso(_gmt(order.get("date_created_gmt")) or paid),
        "amount": amount(total, currency),
        "description": f"Order {order.get('number') or order['id']}",
        "method": method_of(str(order.get("payment_method") or "")),
        "metadata": {"order_id": order["id"]},
        "status": "paid",
        "paidAt": iso(paid),
        "amountRefunded": amount(_ZERO, currency),
        "amountRemaining": amount(total, currency),
        "locale": "nl_NL",
        "countryCode": billing.get("country") or "NL",
        "profileId": _PROFILE,
        "sequenceType": "oneoff",
        "redirectUrl": f"https://shop.example/checkout/order-received/{order['id']}/",
        "webhookUrl": f"https://shop.example/wc-api/mollie_wc_gateway_ideal?order_id={order['id']}",
        "details": {
            "consumerName": name,
            "consumerAccount": f"NL{number % 89 + 10:02d}INGB{number % 10**10:010d}",
            "consumerBic": "INGBNL2A",
        },
    }


def _events_of_order(book: Book, woo: WooSim, order: dict[str, Any], paid: datetime) -> list[_Event]:
    payment = _payment(order, paid, woo.payments.get(int(order["id"])))
    pid = payment["id"]
    currency = payment["amount"]["currency"]
    total = Decimal(payment["amount"]["value"])
    rate = FX_TO_EUR.get(currency, Decimal(1))
    eur = cents(total * rate)
    payment["settlementAmount"] = amount(eur)
    fixed, pct = RATES.get(payment["method"], RATES["ideal"])
    events = [_Event("payment", pid, paid, eur, payment["method"], cents(fixed + eur * pct / 100))]
    refunded = _ZERO
    for ref in reversed(order.get("refunds") or []):  # WooCommerce lists the newest first
        source = woo.refunds.get(int(ref.get("id") or 0))
        when = _gmt((source or {}).get("date_created_gmt"))
        if not source or not source.get("refunded_payment") or when is None:
            continue
        value = Decimal(str(source.get("amount") or "0"))
        refunded += value
        refund = {
            "resource": "refund",
            "id": token("re_", pid, source["id"]),
            "amount": amount(value, currency),
            "status": "refunded",
            "createdAt": iso(when),
            "description": str(source.get("reason") or ""),
            "metadata": None,
            "paymentId": pid,
            "settlementAmount": amount(-cents(value * rate)),
        }
        book.refunds[refund["id"]] = refund
        events.append(_Event("refund", refund["id"], when, -cents(value * rate), "refund", REFUND_RATE))
    payment["amountRefunded"] = amount(refunded, currency)
    payment["amountRemaining"] = amount(total - refunded, currency)
    if refunded == 0 and total > 0 and _number("chargeback" + pid) % _CHARGEBACK_ONE_IN == 0:
        when = paid + timedelta(days=10 + _number("days" + pid) % 20, hours=3)
        chargeback = {
            "resource": "chargeback",
            "id": token("chb_", pid),
            "amount": amount(total, currency),
            "settlementAmount": amount(-eur),
            "createdAt": iso(when),
            "reason": {"code": "AC06", "description": "Account blocked"},
            "reversedAt": None,
            "paymentId": pid,
        }
        book.chargebacks[chargeback["id"]] = chargeback
        payment["amountChargedBack"] = amount(total, currency)
        events.append(_Event("chargeback", chargeback["id"], when, -eur, "chargeback", _ZERO))
    book.payments[pid] = payment
    return events


def _monday(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _periods(events: list[_Event], clock: datetime) -> dict[str, dict[str, Any]]:
    """Mollie's ``periods``: year → month → revenue and costs per method, with the month's fee invoice."""
    grouped: dict[tuple[int, int], list[_Event]] = defaultdict(list)
    for event in events:
        grouped[(event.at.year, event.at.month)].append(event)
    periods: dict[str, dict[str, Any]] = {}
    for (year, month), items in sorted(grouped.items()):
        revenue: dict[str, list[_Event]] = defaultdict(list)
        for event in items:
            revenue[event.method].append(event)
        period: dict[str, Any] = {
            "revenue": [
                {
                    "description": METHOD_LABELS.get(method, method),
                    "method": method,
                    "count": len(group),
                    "amountNet": amount(sum((e.eur for e in group), _ZERO)),
                    "amountVat": None,
                    "amountGross": amount(sum((e.eur for e in group), _ZERO)),
                }
                for method, group in sorted(revenue.items())
            ],
            "costs": [],
        }
        for method, group in sorted(revenue.items()):
            net = sum((e.fee for e in group), _ZERO)
            if not net:
                continue
            vat = cents(net * COST_VAT_RATE / 100)
            fixed, pct = (REFUND_RATE, _ZERO) if method == "refund" else RATES.get(method, RATES["ideal"])
            period["costs"].append(
                {
                    "description": METHOD_LABELS.get(method, method),
                    "method": method,
                    "count": len(group),
                    "rate": {"fixed": amount(fixed), "percentage": f"{pct:.2f}"},
                    "amountNet": amount(net),
                    "amountVat": amount(vat),
                    "amountGross": amount(net + vat),
                }
            )
        month_end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        if month_end <= clock:
            period["invoiceId"] = token("inv_", year, month)
        periods.setdefault(str(year), {})[f"{month:02d}"] = period
    return periods


def _settlement_amount(periods: dict[str, dict[str, Any]]) -> Decimal:
    total = _ZERO
    for months in periods.values():
        for period in months.values():
            total += sum((Decimal(line["amountGross"]["value"]) for line in period["revenue"]), _ZERO)
            total -= sum((Decimal(line["amountGross"]["value"]) for line in period["costs"]), _ZERO)
    return total


def _settle(book: Book, events: list[_Event]) -> None:
    if not events:
        return
    clock = max(event.at for event in events)
    book.clock = clock
    weeks: dict[datetime, list[_Event]] = defaultdict(list)
    for event in events:
        weeks[_monday(event.at)].append(event)
    sequence: dict[str, int] = defaultdict(int)
    closed: list[dict[str, Any]] = []
    for monday, items in sorted(weeks.items()):
        created = monday + timedelta(days=7, hours=2)
        settled = monday + timedelta(days=8, hours=6)
        sid = token("stl_", monday.date().isoformat())
        month_key = created.strftime("%y%m")
        sequence[month_key] += 1
        periods = _periods(items, clock)
        settlement: dict[str, Any] = {
            "resource": "settlement",
            "id": sid,
            "reference": f"{_ORGANIZATION}.{month_key}.{sequence[month_key]:02d}",
            "createdAt": iso(created),
            "settledAt": iso(settled) if settled <= clock else None,
            "status": "paidout" if settled <= clock else ("pending" if created <= clock else "open"),
            "amount": amount(_settlement_amount(periods)),
            "periods": periods,
        }
        invoices = sorted({p["invoiceId"] for m in periods.values() for p in m.values() if "invoiceId" in p})
        if invoices:
            settlement["invoiceId"] = invoices[-1]
        members: dict[str, list[str]] = {"payments": [], "refunds": [], "chargebacks": []}
        for event in sorted(items, key=lambda e: (e.at, e.id), reverse=True):
            members[event.kind + "s"].append(event.id)
        book.members[sid] = members
        if settlement["status"] == "open":
            book.open = settlement
            continue
        closed.append(settlement)
        for kind, ids in members.items():
            store = getattr(book, kind)
            for oid in ids:
                store[oid]["settlementId"] = sid
    book.settlements = {s["id"]: s for s in reversed(closed)}


def _newest_first(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return dict(sorted(objects.items(), key=lambda kv: (kv[1]["createdAt"], kv[0]), reverse=True))


def build_book(woo: WooSim) -> Book:
    """Derive the Mollie account of the store's orders (see the module docstring)."""
    book = Book()
    events: list[_Event] = []
    for oid in woo.orders.ids():
        raw = woo.orders.raw(oid)
        if raw is None or b'"mollie_wc_gateway_' not in raw:
            continue
        order = loads(raw)
        paid = _gmt(order.get("date_paid_gmt"))
        if (
            paid is None
            or not str(order.get("payment_method") or "").startswith("mollie_wc_gateway_")
            or not str(order.get("transaction_id") or "").startswith("tr_")
        ):
            continue
        events.extend(_events_of_order(book, woo, order, paid))
    if events:
        clock = max(e.at for e in events if e.kind != "chargeback")
        kept = [e for e in events if e.at <= clock]
        for gone in (e for e in events if e.at > clock):  # a chargeback "in the future" has not happened yet
            chargeback = book.chargebacks.pop(gone.id)
            payment = book.payments[chargeback["paymentId"]]
            payment.pop("amountChargedBack", None)
        events = kept
    _settle(book, events)
    book.payments = _newest_first(book.payments)
    book.refunds = _newest_first(book.refunds)
    book.chargebacks = _newest_first(book.chargebacks)
    return book
