"""Pure credit-invoice lines of a WooCommerce refund (mappings.md step 12).

A refund with lines credits those lines (their amounts are already negative) with the VAT codes and accounts of the
order; a refund of an amount only is spread over the order's VAT codes in proportion to what was invoiced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from nodes.accounting import cents, money, plain_text
from nodes.base import RecordFailed
from nodes.maps.order_lines import InvoiceLine, LineBuilder, LineRules, order_lines
from nodes.maps.preflight import Totals, asperion_totals, check_totals

__all__ = ("is_full_refund", "refund_lines", "refund_totals")


def is_full_refund(refund: Mapping[str, Any]) -> bool:
    """True for a refund object (``amount``, ``line_items``), False for the order's summary (``id``, ``total``)."""
    return "amount" in refund or "line_items" in refund


def _credit(line: InvoiceLine | None, refund_id: Any) -> InvoiceLine | None:
    if line is None:
        return None
    description = line.description.removeprefix("0 × ")
    line.description = f"Refund {refund_id}: {description}"
    line.article_id = line.quantity = line.unit_price = None
    return line


def _proportional(order: Mapping[str, Any], refund: Mapping[str, Any], rules: LineRules) -> list[InvoiceLine]:
    """Spread an amount-only refund over the order's (VAT code, account) groups by their amounts incl VAT."""
    groups: dict[tuple[str, int | str], list[Any]] = {}
    for line in order_lines(order, replace(rules, articles=None, coupons_as_lines=False)):
        group = groups.setdefault((line.vat_code, line.ledger_account), [Decimal(0), line.rate])
        group[0] += line.amount + line.vat_amount
    weight_total = sum((group[0] for group in groups.values()), Decimal(0))
    if not weight_total:
        raise RecordFailed(f"refund {refund.get('id')} has no lines and the order has no amounts to spread it over")
    amount = money(refund.get("amount"))
    reason = plain_text(refund.get("reason"))
    lines: list[InvoiceLine] = []
    rest = amount
    items = list(groups.items())
    for index, ((code, ledger), (weight, rate)) in enumerate(items):
        part = rest if index == len(items) - 1 else cents(amount * weight / weight_total)
        rest -= part
        ex_vat = cents(part / (1 + rate / 100))
        text = f"Refund {refund.get('id')}" + (f": {reason}" if reason else "")
        lines.append(InvoiceLine(text, -ex_vat, -(part - ex_vat), code, ledger, rate, kind="refund"))
    return lines


def refund_lines(order: Mapping[str, Any], refund: Mapping[str, Any], rules: LineRules) -> list[InvoiceLine]:
    """The credit invoice lines of one refund of ``order``: negative amounts, the order's VAT codes.

    Raises:
        NeedsMapping: a table lacks a row.
        RecordFailed: an amount-only refund of an order without amounts.
    """
    # The refund's own taxes refer to the order's tax rate ids; its tax_lines are usually empty.
    context = {**order, "line_items": refund.get("line_items") or [], "shipping_lines": [], "fee_lines": []}
    builder = LineBuilder({**context, "tax_lines": order.get("tax_lines") or []}, replace(rules, articles=None))
    lines: list[InvoiceLine] = []
    for item in refund.get("line_items") or ():
        quantity = abs(money(item.get("quantity")))
        credited = {**item, "quantity": quantity, "subtotal": item.get("total"), "subtotal_tax": item.get("total_tax")}
        lines.append(builder.product(credited))
    for item in refund.get("shipping_lines") or ():
        shipping = builder.shipping(item)
        if shipping is not None:
            lines.append(shipping)
    lines.extend(builder.fee(item) for item in refund.get("fee_lines") or ())
    lines = [line for line in (_credit(line, refund.get("id")) for line in lines) if line is not None]
    if not any(line.amount or line.vat_amount for line in lines):
        return _proportional(order, refund, rules)
    return lines


def refund_totals(refund: Mapping[str, Any], lines: list[InvoiceLine], tolerance: Decimal) -> str | None:
    """Preflight of a credit invoice: its total incl VAT must be minus the refunded amount.

    Raises:
        RecordFailed: the difference exceeds ``tolerance``.
    """
    ours = asperion_totals(lines)
    incl = -money(refund.get("amount"))
    theirs = Totals(incl - ours.vat, ours.vat, incl, {})
    return check_totals(ours, theirs, tolerance, what=f"refund {refund.get('id')}")
