"""Every Mollie API v2 shape Koppel reads, in one place: amounts, lists, settlements and their periods, payments.

Documented by Mollie (docs.mollie.com, API reference v2): amounts are ``{"currency", "value": "10.00"}`` (value a
string); lists are HAL ``{"count", "_embedded": {"<kind>": [...]}, "_links": {"next": {"href"} | null}}``; a
settlement carries ``id`` (``stl_``), ``reference``, ``createdAt``, ``settledAt``, ``status``, ``amount`` and
``periods`` (year → month → ``revenue`` and ``costs`` lines with ``method``, ``count``, ``amountNet``, ``amountVat``,
``amountGross``); payments carry the ``metadata`` the shop put there (the Mollie WooCommerce plugin:
``{"order_id": <WooCommerce order id>}``). Inferred (see ``docs/mollie.md``): revenue lines of refunds and
chargebacks use the methods ``refund`` and ``chargeback`` with negative amounts, as in the settlement report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from nodes.texts import shown

__all__ = (
    "DEDUCTIONS",
    "SettlementTotals",
    "currency_of",
    "embedded",
    "money",
    "next_href",
    "order_id_of",
    "settlement_totals",
)

DEDUCTIONS = frozenset({"refund", "chargeback"})
"""Revenue methods that take money back out of the balance; every other method is a kind of payment."""

_ZERO = Decimal(0)


def money(value: Any) -> Decimal:
    """The value of an amount object (``{"currency", "value"}``), a string or a number; None → 0.

    Raises:
        ValueError: the value is not a number.
    """
    if isinstance(value, dict):
        value = value.get("value")
    if value in (None, ""):
        return _ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{shown(value)} is not an amount") from exc


def currency_of(value: Any, default: str = "EUR") -> str:
    """The currency of an amount object."""
    return str(value.get("currency") or default) if isinstance(value, dict) else default


def embedded(body: Any, kind: str) -> list[dict[str, Any]]:
    """The items of a HAL list (``_embedded.<kind>``); an empty list when there are none."""
    if not isinstance(body, dict):
        return []
    items = (body.get("_embedded") or {}).get(kind) or []
    return [item for item in items if isinstance(item, dict)]


def next_href(body: Any) -> str | None:
    """The address of the next page (``_links.next.href``), None on the last page."""
    if not isinstance(body, dict):
        return None
    nxt = (body.get("_links") or {}).get("next")
    return str(nxt["href"]) if isinstance(nxt, dict) and nxt.get("href") else None


def order_id_of(payment: dict[str, Any]) -> int | None:
    """The WooCommerce order id the Mollie WooCommerce plugin put in the payment's metadata."""
    meta = payment.get("metadata")
    if isinstance(meta, dict):
        value = meta.get("order_id")
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


@dataclass
class SettlementTotals:
    """A settlement summed from its ``periods``: what came in, what went out, and Mollie's costs."""

    payments: Decimal = _ZERO
    payment_count: int = 0
    refunds: Decimal = _ZERO
    """Positive: the money refunded."""
    refund_count: int = 0
    chargebacks: Decimal = _ZERO
    """Positive: the money charged back."""
    chargeback_count: int = 0
    costs_net: Decimal = _ZERO
    costs_vat: Decimal = _ZERO
    costs_gross: Decimal = _ZERO
    methods: dict[str, Decimal] = field(default_factory=dict)
    """Payments per method (``ideal``, ``creditcard``, …)."""

    @property
    def payout(self) -> Decimal:
        """What the periods say should be paid out: payments − refunds − chargebacks − costs incl. VAT."""
        return self.payments - self.refunds - self.chargebacks - self.costs_gross


def settlement_totals(settlement: dict[str, Any]) -> SettlementTotals:
    """Sum a settlement's ``periods`` (every year and month).

    Raises:
        ValueError: an amount is not a number.
    """
    totals = SettlementTotals()
    periods = settlement.get("periods") or {}
    for months in periods.values() if isinstance(periods, dict) else ():
        for period in months.values() if isinstance(months, dict) else ():
            for line in period.get("revenue") or []:
                method, gross, count = (
                    str(line.get("method") or ""),
                    money(line.get("amountGross")),
                    int(line.get("count") or 0),
                )
                if method == "refund":
                    totals.refunds -= gross
                    totals.refund_count += count
                elif method == "chargeback":
                    totals.chargebacks -= gross
                    totals.chargeback_count += count
                else:
                    totals.payments += gross
                    totals.payment_count += count
                    totals.methods[method] = totals.methods.get(method, _ZERO) + gross
            for line in period.get("costs") or []:
                net, vat = money(line.get("amountNet")), money(line.get("amountVat"))
                gross = money(line.get("amountGross")) if line.get("amountGross") else net + vat
                totals.costs_net += net
                totals.costs_vat += vat
                totals.costs_gross += gross
    return totals
