"""Paying back refunds credited together: each refund settles its part of the shared credit invoice, in the
administration's currency, and the parts add up to the credit to the cent."""

from __future__ import annotations

from decimal import Decimal

from nodes.maps.payment_reversals import _share


def test_refunds_of_a_dollar_order_credited_together_pay_back_their_part_in_euros() -> None:
    credit = {"id": 41, "amountInclVat": -9.50}  # USD 9.00 + USD 10.00 at 0.5
    refunds = {"724": {"amount": "9.00"}, "726": {"amount": "10.00"}}
    parts = [_share(credit, ["724", "726"], rid, refunds) for rid in ("724", "726")]
    assert parts == [Decimal("4.50"), Decimal("5.00")]


def test_the_last_refund_takes_what_rounding_left() -> None:
    credit = {"id": 7, "amountInclVat": "-10.00"}
    refunds = {"1": {"amount": "1"}, "2": {"amount": "1"}, "3": {"amount": "1"}}
    parts = [_share(credit, ["1", "2", "3"], rid, refunds) for rid in ("1", "2", "3")]
    assert parts == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]
    assert sum(parts) == Decimal("10.00")
    assert _share({"id": 8, "amountInclVat": -12.34}, ["5"], "5", {}) == Decimal("12.34")
