"""What an order's bookings look like after booking: fingerprints, corrections and the booking that stands now.

An order is booked as "WooCommerce order {number}"; a correction credits the booking it replaces
("… (correction {k} credit)") and books the order anew ("… (correction {k})"); a cancellation credits what stands
("… cancelled"). The functions here are shared by the invoice target (which books corrections) and the maps that
settle or cancel the booking that stands now (payments, cancellations), so every flow agrees on the names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from nodes.accounting import cents, money

__all__ = (
    "BOOK_KEYS",
    "booking_number",
    "books_differ",
    "cancellation_description",
    "correction_credit_description",
    "correction_description",
    "credit_of",
    "current_booking",
    "difference_description",
    "entry_difference",
    "entry_fingerprint",
    "invoice_fingerprint",
    "payment_move",
    "settled_on",
)

BOOK_KEYS = ("incl_vat", "ex_vat", "vat_per_code", "lines", "debtor", "currency", "rate")
"""The parts of a fingerprint that touch the books (``modified`` and ``correction`` do not)."""

_LABELS = {
    "incl_vat": "total incl VAT",
    "ex_vat": "total ex VAT",
    "vat_per_code": "VAT per code",
    "lines": "lines",
    "debtor": "debtor",
    "currency": "currency",
    "rate": "exchange rate",
}


_ZERO = Decimal(0)


def _text(value: Decimal) -> str:
    return format(cents(value), "f")


def invoice_fingerprint(
    payload: Mapping[str, Any],
    *,
    currency: str = "",
    rate: Any = None,
    modified: Any = None,
    correction: int = 0,
) -> dict[str, Any]:
    """What a sales invoice (or sales order) payload books: totals, VAT per code, each line's amounts, the debtor.

    Args:
        payload: the document as sent (lines as a list or wrapped in ``_data``).
        currency: the order's currency; rate: the exchange rate used (None in the administration's currency).
        modified: the source record's ``date_modified`` (kept to tell "unchanged" from "changed elsewhere").
        correction: the number of the correction this booking is (0 = the first booking).
    """
    raw = payload.get("lines") or []
    lines = raw.get("_data") or [] if isinstance(raw, Mapping) else raw
    rows: list[list[str]] = []
    ex_vat = Decimal(0)
    per_code: dict[str, Decimal] = {}
    for line in lines:
        amount, vat = cents(money(line.get("amount"))), cents(money(line.get("vatAmount")))
        code = str(line.get("vatCode") or "")
        ex_vat += amount
        per_code[code] = per_code.get(code, _ZERO) + vat
        # amount and vat are in cents already: their text is _text's
        rows.append([format(amount, "f"), format(vat, "f"), code, str(line.get("ledgerAccountId") or "")])
    vat_total = sum(per_code.values(), Decimal(0))
    return {
        "incl_vat": _text(ex_vat + vat_total),
        "ex_vat": _text(ex_vat),
        "vat_per_code": {code: _text(value) for code, value in sorted(per_code.items())},
        "lines": sorted(rows),
        "debtor": str(payload.get("debtorCustomerNumber") or ""),
        "currency": str(currency or ""),
        "rate": None if rate in (None, "") else str(rate),
        "modified": None if modified in (None, "") else str(modified),
        "correction": correction,
    }


def entry_fingerprint(payload: Mapping[str, Any], *, modified: Any = None, differences: int = 0) -> dict[str, Any]:
    """What a journal entry books: the amount per ledger account (debit positive), whatever invoice it settles.

    Args:
        payload: the entry as sent (lines as a list or wrapped in ``_data``).
        modified: the source record's ``date_modified``.
        differences: how many difference entries followed the first booking.
    """
    per_ledger: dict[str, Decimal] = {}
    for line in _entry_lines(payload):
        ledger = str(line.get("ledgerAccountId") or "")
        per_ledger[ledger] = per_ledger.get(ledger, Decimal(0)) + cents(money(line.get("amount")))
    return {
        "ledgers": {ledger: _text(amount) for ledger, amount in sorted(per_ledger.items())},
        "modified": None if modified in (None, "") else str(modified),
        "differences": differences,
    }


def entry_difference(booked: Mapping[str, Any], payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The lines that bring what ``booked`` (an :func:`entry_fingerprint`) holds to what ``payload`` asks now: per
    ledger account the difference, on a line like the payload's own (its debtor and invoice); empty = the same."""
    now = entry_fingerprint(payload)["ledgers"]
    before = booked.get("ledgers") or {}
    lines: list[dict[str, Any]] = []
    for ledger in sorted(set(now) | set(before)):
        difference = money(now.get(ledger) or 0) - money(before.get(ledger) or 0)
        if not cents(difference):
            continue
        like = next((x for x in _entry_lines(payload) if str(x.get("ledgerAccountId") or "") == ledger), None)
        line = dict(like) if like is not None else {"ledgerAccountId": _ledger_id(ledger)}
        line["amount"] = float(cents(difference))
        lines.append(line)
    return lines


def _ledger_id(ledger: str) -> Any:
    return int(ledger) if ledger.isdigit() else ledger


def difference_description(base: str, k: int) -> str:
    """The entry that books difference ``k`` of the journal entry described ``base``."""
    return f"{base} (difference {k})"


def books_differ(booked: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between two fingerprints, in words ("total incl VAT 31.16 → 43.26", "lines"); empty = same."""
    changes: list[str] = []
    for key in BOOK_KEYS:
        old, new = booked.get(key), now.get(key)
        if old == new:
            continue
        if key in ("incl_vat", "ex_vat", "debtor", "currency", "rate"):
            changes.append(f"{_LABELS[key]} {old or '—'} → {new or '—'}")
        else:
            changes.append(_LABELS[key])
    return changes


def correction_description(base: str, k: int) -> str:
    """The description of correction ``k`` of the booking described ``base``."""
    return f"{base} (correction {k})"


def correction_credit_description(base: str, k: int) -> str:
    """The credit invoice that cancels the booking correction ``k`` replaces."""
    return f"{base} (correction {k} credit)"


def cancellation_description(base: str) -> str:
    """The credit invoice of an order cancelled after booking ("WooCommerce order 1234 cancelled")."""
    return f"{base} cancelled"


def booking_number(description: str, base: str) -> int | None:
    """0 for the first booking ``base``, k for "``base`` (correction k)", None for anything else."""
    text = description.strip()
    if text == base:
        return 0
    match = re.fullmatch(re.escape(base) + r" \(correction (\d+)\)", text)
    return int(match.group(1)) if match else None


def current_booking(invoices: Sequence[Mapping[str, Any]], base: str) -> Mapping[str, Any] | None:
    """Of the invoices found for ``base``, the booking that stands now: the highest correction, else the first."""
    best: tuple[int, Mapping[str, Any]] | None = None
    for invoice in invoices:
        number = booking_number(str(invoice.get("description") or ""), base)
        if number is not None and (best is None or number > best[0]):
            best = (number, invoice)
    return best[1] if best else None


def credit_of(invoice: Mapping[str, Any], note: str) -> list[dict[str, Any]]:
    """The lines of ``invoice`` negated (amount and VAT), each described "``note``: <line>" — a full credit."""
    raw = invoice.get("lines") or []
    lines = raw.get("_data") or [] if isinstance(raw, Mapping) else raw
    credit: list[dict[str, Any]] = []
    for line in lines:
        credit.append(
            {
                "description": f"{note}: {line.get('description') or ''}".rstrip(": "),
                "amount": float(-cents(money(line.get("amount")))),
                "vatAmount": float(-cents(money(line.get("vatAmount")))),
                "vatCode": line.get("vatCode"),
                "ledgerAccountId": line.get("ledgerAccountId"),
            }
        )
    return credit


def _entry_lines(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = entry.get("lines") or []
    lines = raw.get("_data") or [] if isinstance(raw, Mapping) else raw
    return [line for line in lines if isinstance(line, Mapping)]


def settled_on(entries: Sequence[Mapping[str, Any]], invoice_id: Any) -> tuple[Decimal, Any]:
    """What the journal ``entries`` paid on the sales invoice ``invoice_id`` (its debtor lines, sign flipped: a
    payment of 31.16 gives 31.16) and the debtor id those lines name."""
    paid, debtor = Decimal(0), None
    for entry in entries:
        for line in _entry_lines(entry):
            if str(line.get("salesInvoiceId") or "") == str(invoice_id):
                paid -= cents(money(line.get("amount")))
                debtor = line.get("debtorId") or debtor
    return paid, debtor


def payment_move(
    amount: Decimal,
    *,
    description: str,
    date: Any,
    journal_id: Any,
    debtors_account: Any,
    debtor_id: Any,
    credit_id: Any,
    invoice_id: Any,
) -> dict[str, Any]:
    """The journal entry that moves a payment from a booking that was credited onto the booking that replaces it:
    on the debtors account, the credit invoice is settled (``+amount``) and the new invoice paid (``−amount``), so
    the money stays where it is and the new invoice is paid as far as the payment goes."""
    common = {"ledgerAccountId": debtors_account, "description": description, "bookingDate": date}
    if debtor_id:
        common["debtorId"] = debtor_id
    return {
        "journalId": journal_id,
        "date": date,
        "description": description,
        "lines": [
            {**common, "amount": float(cents(amount)), "salesInvoiceId": credit_id},
            {**common, "amount": float(-cents(amount)), "salesInvoiceId": invoice_id},
        ],
    }
