"""Mollie API v2 object shapes, in one place: ids, amounts, payments, refunds, chargebacks, settlements, errors.

What is documented by Mollie (docs.mollie.com, reference v2) and what this simulator infers is listed in
``docs/mollie-sandbox.md``. A correction against the real API should touch this module and nothing else.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = (
    "COST_VAT_RATE",
    "DOCS",
    "HAL",
    "METHOD_LABELS",
    "RATES",
    "REFUND_RATE",
    "amount",
    "cents",
    "error_body",
    "link",
    "method_of",
    "token",
)

HAL = "application/hal+json"
DOCS = "https://docs.mollie.com/reference"

COST_VAT_RATE = Decimal("21")
"""Mollie B.V. invoices its fees with Dutch VAT."""

RATES: dict[str, tuple[Decimal, Decimal]] = {
    "ideal": (Decimal("0.29"), Decimal("0")),
    "bancontact": (Decimal("0.39"), Decimal("0")),
    "creditcard": (Decimal("0.25"), Decimal("1.8")),
    "paypal": (Decimal("0.10"), Decimal("0")),
    "banktransfer": (Decimal("0.25"), Decimal("0")),
}
"""Per method: (fixed fee per payment, percentage of the amount); illustrative tariffs, not Mollie's price list."""
REFUND_RATE = Decimal("0.25")
"""The fee per refund."""

METHOD_LABELS = {
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "creditcard": "Credit card",
    "paypal": "PayPal",
    "banktransfer": "Bank transfer",
    "refund": "Refunds",
    "chargeback": "Chargebacks",
}

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CENT = Decimal("0.01")


def token(prefix: str, *parts: object, length: int = 10) -> str:
    """A deterministic Mollie-style id (``tr_``, ``re_``, ``chb_``, ``stl_``) derived from ``parts``."""
    number = int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).digest(), "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[rest])
    return prefix + "".join(chars)


def cents(value: Decimal) -> Decimal:
    """Rounded half-up to the cent."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def amount(value: Decimal, currency: str = "EUR") -> dict[str, str]:
    """Mollie's amount object: ``{"currency": "EUR", "value": "10.00"}`` (value always a string, 2 decimals)."""
    return {"currency": currency, "value": f"{cents(value):.2f}"}


def link(href: str, kind: str = HAL) -> dict[str, str]:
    """A HAL link object."""
    return {"href": href, "type": kind}


def method_of(payment_method: str) -> str:
    """The Mollie method of a WooCommerce gateway id (``mollie_wc_gateway_ideal`` → ``ideal``)."""
    return payment_method.removeprefix("mollie_wc_gateway_") or "ideal"


def error_body(status: int, title: str, detail: str, field: str | None = None) -> dict[str, Any]:
    """Mollie's error shape (``application/hal+json``): status, title, detail, optional field, documentation link."""
    body: dict[str, Any] = {"status": status, "title": title, "detail": detail}
    if field:
        body["field"] = field
    body["_links"] = {"documentation": link("https://docs.mollie.com/overview/handling-errors", "text/html")}
    return body
