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

__all__ = ("fetch_refunds", "is_full_refund", "net_of_refunds", "refund_lines", "refund_totals")


def is_full_refund(refund: Mapping[str, Any]) -> bool:
    """True for a refund object (``amount``, ``line_items``), False for the order's summary (``id``, ``total``)."""
    return "amount" in refund or "line_items" in refund


async def fetch_refunds(client: Any, order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The order's refunds as refund objects (the order lists only ids and totals): fetched from WooCommerce
    (``client``, a WooCommerce client) unless the order already carries them whole; [] when it has none."""
    listed = [r for r in order.get("refunds") or () if isinstance(r, Mapping)]
    if not listed or all(is_full_refund(refund) for refund in listed):
        return listed
    fetched = await client.get(f"orders/{order['id']}/refunds")
    return [refund for refund in fetched or () if isinstance(refund, Mapping)]


def _text(value: Decimal) -> str:
    return format(cents(value), "f")


def _refunded_item(item: Mapping[str, Any]) -> int | None:
    for meta in item.get("meta_data") or ():
        if isinstance(meta, Mapping) and meta.get("key") == "_refunded_item_id":
            try:
                return int(str(meta.get("value")))
            except ValueError:
                return None
    return None


def net_of_refunds(order: Mapping[str, Any], refunds: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The order as it stands after the refunds of its items (quantities, amounts and VAT off the items they name,
    items refunded whole left out, the order's totals lowered by the same); refunds of an amount only name no item
    and change nothing. Pure: what a sales order holds once goods came back.
    """
    net = {**order}
    groups = {key: [{**item} for item in order.get(key) or ()] for key in ("line_items", "shipping_lines", "fee_lines")}
    by_id = {int(item.get("id") or 0): item for items in groups.values() for item in items}
    off_total = off_tax = Decimal(0)
    for refund in refunds:
        for key in ("line_items", "shipping_lines", "fee_lines"):
            for back in refund.get(key) or ():
                item = by_id.get(_refunded_item(back) or -1)
                if item is None:
                    continue
                total, tax = money(back.get("total")), money(back.get("total_tax"))
                off_total, off_tax = off_total + total, off_tax + tax
                before = money(item.get("quantity") or 0)
                if key == "line_items" and before:
                    after = before + money(back.get("quantity") or 0)
                    item["subtotal"] = _text(money(item.get("subtotal")) * after / before)
                    item["subtotal_tax"] = _text(money(item.get("subtotal_tax")) * after / before)
                    item["quantity"] = int(after) if after == int(after) else float(after)
                item["total"] = _text(money(item.get("total")) + total)
                item["total_tax"] = _text(money(item.get("total_tax")) + tax)
                taxes = {int(t.get("id") or 0): money(t.get("total")) for t in back.get("taxes") or ()}
                item["taxes"] = [
                    {**t, "total": _text(money(t.get("total")) + taxes.get(int(t.get("id") or 0), Decimal(0)))}
                    for t in item.get("taxes") or ()
                ]
    for key, items in groups.items():
        net[key] = [
            item for item in items
            if key != "line_items" or money(item.get("quantity") or 0) > 0 or money(item.get("total"))
        ]  # fmt: skip
    net["total"] = _text(money(order.get("total")) + off_total + off_tax)
    net["total_tax"] = _text(money(order.get("total_tax")) + off_tax)
    return net


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
