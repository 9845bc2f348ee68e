"""Money arithmetic of the Asperion simulator: :class:`~decimal.Decimal` inside, JSON numbers outside."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ("CENT", "ZERO", "round_half_up", "vat_for")

CENT = Decimal("0.01")
"""The smallest amount a ledger stores."""

ZERO = Decimal("0.00")
"""Zero with two decimals, so that sums print as money."""


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    """Round commercially (0.005 → 0.01), as a Dutch ledger does.

    Args:
        value: The amount to round.
        places: Decimal places to keep.

    Returns:
        The rounded amount.
    """
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def vat_for(amount: Decimal, percentage: Decimal, given: Decimal | None) -> Decimal:
    """The VAT amount the ledger stores for a line.

    A given amount is kept when it lies within one cent of ``round_half_up(amount × percentage / 100, 2)``
    (rounding per order instead of per line may differ by a cent); otherwise the computed amount is stored.

    Args:
        amount: The line's net amount.
        percentage: The VAT code's percentage.
        given: The VAT amount the client sent, if any.

    Returns:
        The VAT amount to store, rounded to cents.
    """
    computed = round_half_up(amount * percentage / 100)
    if given is not None and abs(given - computed) <= CENT:
        return round_half_up(given)
    return computed
