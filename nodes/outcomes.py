"""A record's outcome in one plain sentence for the run log: "Booked as sales invoice 146 for Daan Bakker, €55.94".

The sentence is made from what the record came in as (its source data: the order's billing name and total, a
customer's name, a Mollie amount) and what the target made of it; the Dutch catalogue has each shape as a pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ("SYMBOLS", "money", "party", "sentence", "total")

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


def money(amount: Any, currency: Any = "EUR") -> str | None:
    """``€55.94`` (another currency as ``CHF 12.00``); None when ``amount`` is no number."""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    code = str(currency or "EUR").upper()
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{abs(value)}" if symbol else f"{sign}{code} {abs(value)}"


def _name(data: Mapping[str, Any]) -> str | None:
    company = str(data.get("company") or data.get("companyName") or "").strip()
    person = " ".join(str(data.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return company or person or None


def party(data: Any) -> str | None:
    """Who the record is about: the order's billing company or name, a customer's name; None when unknown."""
    if not isinstance(data, Mapping):
        return None
    billing = data.get("billing")
    if isinstance(billing, Mapping):
        found = _name(billing)
        if found:
            return found
    return _name(data)


def total(data: Any) -> str | None:
    """The record's amount: an order's ``total`` in its currency, a Mollie ``amount``; None when it has none."""
    if not isinstance(data, Mapping):
        return None
    amount = data.get("amount")
    if isinstance(amount, Mapping) and "value" in amount:
        return money(amount.get("value"), amount.get("currency"))
    if data.get("total") not in (None, ""):
        return money(data.get("total"), data.get("currency"))
    return None


def sentence(verb: str, what: str, target_id: str | None, data: Any, *, amount: str | None = None) -> str:
    """``Booked as sales invoice 146 for Daan Bakker, €55.94`` (``verb`` ``Booked`` or ``Created``); for a dry run
    (``target_id`` None) ``Would be booked as sales invoice for Daan Bakker, €55.94``. ``amount`` (already
    written as money) replaces the amount of ``data``."""
    who = party(data)
    amount = amount or total(data)
    head = f"Would be {verb.lower()} as {what}" if target_id is None else f"{verb} as {what} {target_id}"
    return head + (f" for {who}" if who else "") + (f", {amount}" if amount else "")
