"""The shop side of a reconciliation: one WooCommerce order as the books should hold it, in the base currency. Pure.

Net and VAT per VAT rate come from the order's lines (products, shipping, fees) minus its refunds' lines; a refund
without lines is spread over the order's rates in proportion to their amounts incl VAT, as the credit invoice does. A
foreign-currency order is converted line by line with the rate its currency plugin wrote in the order meta (base =
foreign × rate), each amount rounded half up to the cent; an order without such a rate cannot be compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nodes.accounting import cents, line_rate, money, tax_rates

if TYPE_CHECKING:
    from engine.reconcile import ReconcileSettings

__all__ = ("ShopOrder", "shop_order")

ZERO = Decimal(0)
_KINDS = ("line_items", "shipping_lines", "fee_lines")


@dataclass
class ShopOrder:
    """What the books should hold for one order (base currency)."""

    id: Any
    number: str
    status: str
    booking_date: str
    currency: str
    method: str
    paid: bool
    total: Decimal = ZERO
    """Incl VAT, before refunds."""
    refunded: Decimal = ZERO
    """Refunded incl VAT (positive)."""
    fee: Decimal = ZERO
    """The payment provider's fee from the order meta."""
    by_rate: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Rate → (net, VAT) after refunds."""
    no_rate: bool = False


def _rate_text(percent: Decimal) -> str:
    text = format(percent.quantize(Decimal("0.01")).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _meta(order: Mapping[str, Any], keys: Iterable[str]) -> str:
    values = {str(m.get("key")): m.get("value") for m in order.get("meta_data") or () if isinstance(m, Mapping)}
    return next((str(values[key]).strip() for key in keys if str(values.get(key) or "").strip()), "")


def _add(target: dict[str, tuple[Decimal, Decimal]], rate: str, net: Decimal, vat: Decimal) -> None:
    old = target.get(rate, (ZERO, ZERO))
    target[rate] = (old[0] + net, old[1] + vat)


def _lines(source: Mapping[str, Any], rates: Mapping[str, Decimal], convert: Any) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for kind in _KINDS:
        for line in source.get(kind) or ():
            net, vat = convert(money(line.get("total"))), convert(money(line.get("total_tax")))
            if net or vat:
                _add(out, _rate_text(line_rate(line, rates)), net, vat)
    return out


def _spread(
    amount: Decimal, over: Mapping[str, tuple[Decimal, Decimal]], out: dict[str, tuple[Decimal, Decimal]]
) -> None:
    """An amount-only refund (incl VAT, positive) spread over the order's rates, negative."""
    gross = {rate: net + vat for rate, (net, vat) in over.items() if net + vat}
    whole = sum(gross.values(), ZERO)
    if not whole:
        return
    left = amount
    for index, (rate, part_gross) in enumerate(sorted(gross.items())):
        part = left if index == len(gross) - 1 else cents(amount * part_gross / whole)
        left -= part
        ex_vat = cents(part / (1 + Decimal(rate) / 100))
        _add(out, rate, -ex_vat, -(part - ex_vat))


def shop_order(order: Mapping[str, Any], refunds: list[Mapping[str, Any]], settings: ReconcileSettings) -> ShopOrder:
    """The order as the books should hold it.

    Args:
        order: a WooCommerce order.
        refunds: its refund objects (with lines).
        settings: the base currency and the meta keys of rates and fees.
    """
    currency = str(order.get("currency") or settings.base_currency).upper()
    rate = Decimal(1)
    no_rate = False
    if currency != settings.base_currency:
        text = _meta(order, settings.rate_meta_keys)
        try:
            rate = Decimal(text)
        except ArithmeticError:
            no_rate = True

    def convert(value: Decimal) -> Decimal:
        return cents(value * rate)

    paid_date = str(order.get("date_paid") or "")
    result = ShopOrder(
        id=order.get("id"),
        number=str(order.get("number") or order.get("id") or ""),
        status=str(order.get("status") or ""),
        booking_date=(paid_date or str(order.get("date_created") or ""))[:10],
        currency=currency,
        method=str(order.get("payment_method") or ""),
        paid=bool(paid_date),
        no_rate=no_rate,
    )
    if no_rate:
        return result
    rates = tax_rates(order)
    result.by_rate = _lines(order, rates, convert)
    result.total = sum((net + vat for net, vat in result.by_rate.values()), ZERO)
    ordered = dict(result.by_rate)
    for refund in refunds:
        lines = _lines(refund, rates, convert)
        if lines:
            for key, (net, vat) in lines.items():
                _add(result.by_rate, key, net, vat)
            result.refunded -= sum((net + vat for net, vat in lines.values()), ZERO)
        else:
            amount = convert(abs(money(refund.get("amount") or refund.get("total"))))
            _spread(amount, ordered, result.by_rate)
            result.refunded += amount
    fee_text = _meta(order, settings.fee_meta_keys)
    try:
        result.fee = convert(Decimal(fee_text)) if fee_text else ZERO
    except ArithmeticError:
        result.fee = ZERO
    return result
