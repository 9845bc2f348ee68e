"""The preflight (mappings.md step 11): recompute an invoice as Asperion will book it and compare with WooCommerce.

Asperion accepts a line's ``vatAmount`` when it is within 0.01 of ``round_half_up(amount × percentage / 100)`` and
otherwise computes it itself; the preflight applies the same rule, so a booked invoice's totals are known before
anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nodes.accounting import CENT, cents, money
from nodes.base import RecordFailed

__all__ = ("Totals", "asperion_totals", "check_totals", "order_totals")

_ASPERION_VAT_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class Totals:
    """Ex VAT, VAT and incl VAT, with the VAT per code when known."""

    ex_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    vat_per_code: Mapping[str, Decimal]

    def as_dict(self) -> dict[str, Any]:
        """Strings, for the record's log."""
        return {
            "ex_vat": str(self.ex_vat),
            "vat": str(self.vat),
            "incl_vat": str(self.incl_vat),
            "vat_per_code": {code: str(value) for code, value in self.vat_per_code.items()},
        }


def asperion_totals(lines: Sequence[Any], percentages: Mapping[str, Decimal] | None = None) -> Totals:
    """The totals Asperion will book for ``lines`` (``InvoiceLine`` objects).

    Args:
        lines: the invoice lines (``amount``, ``vat_amount``, ``vat_code``, ``rate``).
        percentages: the administration's VAT code percentages; a line's own rate stands in for unknown codes.
    """
    ex_vat = Decimal(0)
    per_code: dict[str, Decimal] = {}
    for line in lines:
        amount = cents(line.amount)
        percentage = (percentages or {}).get(line.vat_code, line.rate)
        computed = cents(amount * percentage / 100)
        given = cents(line.vat_amount)
        vat = given if abs(given - computed) <= _ASPERION_VAT_TOLERANCE else computed
        ex_vat += amount
        per_code[line.vat_code] = per_code.get(line.vat_code, Decimal(0)) + vat
    vat_total = sum(per_code.values(), Decimal(0))
    return Totals(ex_vat, vat_total, ex_vat + vat_total, per_code)


def order_totals(order: Mapping[str, Any]) -> Totals:
    """WooCommerce's totals of an order: ``total − total_tax``, ``total_tax``, ``total``, and the VAT per tax rate."""
    total = money(order.get("total"))
    tax = money(order.get("total_tax"))
    per_rate = {
        str(line.get("rate_code") or line.get("label") or line.get("rate_id")): money(line.get("tax_total"))
        + money(line.get("shipping_tax_total"))
        for line in order.get("tax_lines") or ()
    }
    return Totals(total - tax, tax, total, per_rate)


def check_totals(ours: Totals, theirs: Totals, tolerance: Decimal, *, what: str) -> str | None:
    """Compare the two computations.

    Returns:
        None when they agree to the cent, else a warning text (difference within ``tolerance``).

    Raises:
        RecordFailed: a difference larger than ``tolerance``, with both computations side by side.
    """
    differences = {
        "ex_vat": ours.ex_vat - theirs.ex_vat,
        "vat": ours.vat - theirs.vat,
        "incl_vat": ours.incl_vat - theirs.incl_vat,
    }
    largest = max(abs(value) for value in differences.values())
    if largest < CENT / 2:
        return None
    side_by_side = ", ".join(
        f"{name}: Asperion {getattr(ours, name)} vs WooCommerce {getattr(theirs, name)}" for name in differences
    )
    if largest > tolerance:
        raise RecordFailed(
            f"preflight: {what} would be booked with totals that differ from WooCommerce by {largest} "
            f"(tolerance {tolerance}) — {side_by_side}",
            detail={
                "preflight": {
                    "asperion": ours.as_dict(),
                    "woocommerce": theirs.as_dict(),
                    "difference": {name: str(value) for name, value in differences.items()},
                    "tolerance": str(tolerance),
                }
            },
        )
    return f"preflight: rounding difference of {largest} booked (within tolerance {tolerance}) — {side_by_side}"
