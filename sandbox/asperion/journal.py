"""Journal entries (financial mutations): balanced lines, and settlement of the sales invoices they name."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sandbox.asperion.invoices import settle_invoice
from sandbox.asperion.money import ZERO, round_half_up
from sandbox.asperion.problems import Errors
from sandbox.asperion.rules import book_period, check_ledger, check_reference, check_vat, require
from sandbox.asperion.schema import JOURNAL_ENTRY, JOURNAL_ENTRY_LINE, read_fields, read_lines
from sandbox.asperion.state import Counters, Record, Tenant

__all__ = ("create_journal_entry",)


def _line(tenant: Tenant, index: int, path: str, raw: Mapping[str, Any], date: str | None, errors: Errors) -> Record:
    prefix = f"Lines[{index}]"
    values = read_fields(raw, JOURNAL_ENTRY_LINE, path, errors)
    amount = require(values, "amount", f"{prefix}.Amount", errors)
    ledger_id = require(values, "ledgerAccountId", f"{prefix}.LedgerAccountId", errors)
    check_ledger(tenant, ledger_id, f"{prefix}.LedgerAccountId", errors)
    check_vat(tenant, values.get("vatCode"), f"{prefix}.VatCode", errors)
    check_reference(
        tenant.cost_centers, values.get("costCenterId"), f"{prefix}.CostCenterId", "ref.cost_center", errors
    )
    check_reference(tenant.debtors, values.get("debtorId"), f"{prefix}.DebtorId", "ref.debtor_id", errors)
    check_reference({}, values.get("creditorId"), f"{prefix}.CreditorId", "ref.creditor", errors)
    check_reference(
        tenant.invoices, values.get("salesInvoiceId"), f"{prefix}.SalesInvoiceId", "ref.sales_invoice", errors
    )
    check_reference({}, values.get("purchaseInvoiceId"), f"{prefix}.PurchaseInvoiceId", "ref.purchase_invoice", errors)
    return {
        "id": 0,
        "amount": round_half_up(amount) if amount is not None else ZERO,
        "bookingDate": values.get("bookingDate", date),
        "description": values.get("description", ""),
        "ledgerAccountId": ledger_id,
        "vatCode": values.get("vatCode", ""),
        "vatAmount": round_half_up(values.get("vatAmount", ZERO)),
        "costCenterId": values.get("costCenterId", 0),
        "debtorId": values.get("debtorId", 0),
        "creditorId": values.get("creditorId", 0),
        "salesInvoiceId": values.get("salesInvoiceId", 0),
        "purchaseInvoiceId": values.get("purchaseInvoiceId", 0),
    }


def create_journal_entry(tenant: Tenant, counters: Counters, body: Mapping[str, Any], *, validate_only: bool) -> Record:
    """Book a journal entry; lines naming a ``salesInvoiceId`` settle that invoice.

    Args:
        tenant: The administration.
        counters: The id sequences.
        body: The decoded request body (lines wrapped in ``{"_data": [...]}``, amounts signed: + debit, − credit).
        validate_only: Validate and answer, but store nothing.

    Returns:
        The stored entry.

    Raises:
        ProblemError: 400 with every field error (also when the lines do not add up to 0); nothing is stored.
    """
    errors = Errors()
    values = read_fields(body, JOURNAL_ENTRY, "$", errors)
    raw_lines = read_lines(body, errors)
    journal_id = require(values, "journalId", "JournalId", errors)
    check_reference(tenant.journals, journal_id, "JournalId", "ref.journal", errors)
    date = require(values, "date", "Date", errors)
    bookyear, bookperiod = book_period(values, date, errors)
    if not raw_lines and "$.lines" not in errors.items:
        errors.add("Lines", "entry.no_lines")
    lines = [_line(tenant, index, path, raw, date, errors) for index, (path, raw) in enumerate(raw_lines or [])]
    total = sum((line["amount"] for line in lines), ZERO)
    if lines and total != 0:
        errors.add("Lines", "entry.unbalanced", total=f"{total:.2f}")
    errors.raise_if_any()
    entry: Record = {
        "id": 0,
        "journalId": journal_id,
        "date": date,
        "bookyear": bookyear,
        "bookperiod": bookperiod,
        "description": values.get("description", ""),
        "sourceDocumentNumber": values.get("sourceDocumentNumber", ""),
        "state": values.get("state", 1),
        "openingBalance": values.get("openingBalance", ZERO),
        "closingBalance": values.get("closingBalance", ZERO),
        "lines": lines,
    }
    if validate_only:
        return entry
    entry["id"] = counters.next("journal_entry")
    for line in lines:
        line["id"] = counters.next("journal_entry_line")
    tenant.journal_entries[entry["id"]] = entry
    booked: dict[int, Decimal] = {}
    for line in lines:
        if line["salesInvoiceId"]:
            booked[line["salesInvoiceId"]] = booked.get(line["salesInvoiceId"], ZERO) + line["amount"]
    for invoice_id, amount in booked.items():
        settle_invoice(tenant.invoices[invoice_id], amount)
    return entry
