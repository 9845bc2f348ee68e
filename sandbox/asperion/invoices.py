"""Sales invoices: validation as a ledger does it, booked totals, the bookkeeper's processing and settlement.

An invoice created through the API is a concept (status 1, no invoice number). Each line's ``vatAmount`` is kept
when within a cent of ``round_half_up(amount × percentage / 100, 2)``, else computed so; the header amounts are the
sums of the lines, and the VAT per code is kept in ``_vatByCode`` (net amounts in ``_netByCode``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.asperion.listing import note_mutation
from sandbox.asperion.money import ZERO, round_half_up, vat_for
from sandbox.asperion.problems import Errors, ProblemError
from sandbox.asperion.rules import book_period, check_ledger, check_reference, check_vat, require
from sandbox.asperion.schema import INVOICE, INVOICE_LINE, read_fields, read_lines
from sandbox.asperion.state import Counters, Record, Tenant

__all__ = (
    "STATUS_CONCEPT",
    "STATUS_IN_LEDGER",
    "STATUS_PAID",
    "create_invoice",
    "process_invoice",
    "settle_invoice",
    "update_invoice",
)

STATUS_CONCEPT, STATUS_IN_LEDGER, STATUS_PAID = 1, 3, 7


def _line(tenant: Tenant, index: int, path: str, raw: Mapping[str, Any], errors: Errors) -> Record:
    prefix = f"Lines[{index}]"
    values = read_fields(raw, INVOICE_LINE, path, errors)
    article = check_reference(tenant.articles, values.get("articleId"), f"{prefix}.ArticleId", "ref.article", errors)
    sales_type = tenant.sales_types.get(article["salesTypeId"]) if article else None
    amount = values.get("amount")
    quantity, unit_price = values.get("quantity"), values.get("unitPrice")
    if article is not None:
        quantity = Decimal(1) if quantity is None else quantity
        unit_price = article["salesPrice"] if unit_price is None else unit_price
    if amount is None and quantity is not None and unit_price is not None:
        amount = quantity * unit_price
    if amount is None and f"{path}.amount" not in errors.items:
        errors.add(f"{prefix}.Amount", "field.required", field="Amount")
    ledger_id = values.get("ledgerAccountId") or (sales_type["ledgerAccountId"] if sales_type else None)
    if ledger_id is None:
        errors.add(f"{prefix}.LedgerAccountId", "field.required", field="LedgerAccountId")
    ledger = check_ledger(tenant, ledger_id, f"{prefix}.LedgerAccountId", errors)
    vat_code = values.get("vatCode") or (sales_type["vatCode"] if sales_type else None)
    if not vat_code and ledger is not None:
        vat_code = ledger["vatCode"]
        if not vat_code:
            errors.add(f"{prefix}.VatCode", "ref.vat_missing", ledger=ledger_id)
    vat = check_vat(tenant, vat_code, f"{prefix}.VatCode", errors)
    check_reference(
        tenant.cost_centers, values.get("costCenterId"), f"{prefix}.CostCenterId", "ref.cost_center", errors
    )
    check_reference(tenant.cost_units, values.get("costUnitId"), f"{prefix}.CostUnitId", "ref.cost_unit", errors)
    net = round_half_up(amount) if amount is not None else ZERO
    line: Record = {
        "id": 0,
        "description": values.get("description", article["description"] if article else ""),
        "amount": net,
        "ledgerAccountId": ledger_id,
        "vatCode": vat_code,
        "vatAmount": vat_for(net, vat["percentage"], values.get("vatAmount")) if vat else ZERO,
        "costCenterId": values.get("costCenterId", 0),
        "costUnitId": values.get("costUnitId", 0),
    }
    if article is not None or "quantity" in values or "unitPrice" in values:
        line["articleId"] = article["id"] if article else None
        line["quantity"] = quantity
        line["unitPrice"] = unit_price
    return line


def _due_date(tenant: Tenant, date: str, condition_id: int) -> str:
    days = tenant.payment_conditions[condition_id]["_days"]
    return (datetime.fromisoformat(date) + timedelta(days=days)).isoformat(timespec="seconds")


def create_invoice(tenant: Tenant, counters: Counters, body: Mapping[str, Any], *, validate_only: bool) -> Record:
    """Create a concept sales invoice with its lines.

    Args:
        tenant: The administration.
        counters: The id sequences.
        body: The decoded request body (lines wrapped in ``{"_data": [...]}``).
        validate_only: Validate and answer, but store nothing (ids are then 0).

    Returns:
        The stored invoice.

    Raises:
        ProblemError: 400 with every field error; nothing is stored then.
    """
    errors = Errors()
    values = read_fields(body, INVOICE, "$", errors)
    raw_lines = read_lines(body, errors)
    date = require(values, "date", "Date", errors)
    customer_number = require(values, "debtorCustomerNumber", "DebtorCustomerNumber", errors)
    debtor = tenant.debtor_by_number(customer_number) if customer_number else None
    if customer_number and debtor is None:
        errors.add("DebtorCustomerNumber", "ref.debtor", value=customer_number)
    journal_id = require(values, "journalId", "JournalId", errors)
    journal = check_reference(tenant.journals, journal_id, "JournalId", "ref.journal", errors)
    if journal is not None and journal["type"] != "Verkoop":
        errors.add("JournalId", "ref.journal_not_sales", value=journal_id)
    condition_id = values.get("paymentConditionId") or (debtor["paymentConditionId"] if debtor else 1)
    check_reference(tenant.payment_conditions, condition_id, "PaymentConditionId", "ref.payment_condition", errors)
    bookyear, bookperiod = book_period(values, date, errors)
    if not raw_lines and "$.lines" not in errors.items:
        errors.add("Lines", "invoice.no_lines")
    lines = [_line(tenant, index, path, raw, errors) for index, (path, raw) in enumerate(raw_lines or [])]
    errors.raise_if_any()
    net_by_code: dict[str, Decimal] = {}
    vat_by_code: dict[str, Decimal] = {}
    for line in lines:
        net_by_code[line["vatCode"]] = net_by_code.get(line["vatCode"], ZERO) + line["amount"]
        vat_by_code[line["vatCode"]] = vat_by_code.get(line["vatCode"], ZERO) + line["vatAmount"]
    excl = sum((line["amount"] for line in lines), ZERO)
    vat_total = sum((line["vatAmount"] for line in lines), ZERO)
    invoice: Record = {
        "id": 0,
        "invoiceNumber": "",
        "date": date,
        "description": values.get("description", ""),
        "debtorCustomerNumber": customer_number,
        "journalId": journal_id,
        "bookyear": bookyear,
        "bookperiod": bookperiod,
        "status": STATUS_CONCEPT,
        "paymentConditionId": condition_id,
        "paymentDueDate": values.get("paymentDueDate") or _due_date(tenant, date, condition_id),
        "amountExclVat": excl,
        "vatAmount": vat_total,
        "amountInclVat": excl + vat_total,
        "lines": lines,
        "_netByCode": net_by_code,
        "_vatByCode": vat_by_code,
        "_paidAmount": ZERO,
    }
    if validate_only:
        return invoice
    invoice["id"] = counters.next("invoice")
    for line in lines:
        line["id"] = counters.next("invoice_line")
    tenant.invoices[invoice["id"]] = invoice
    return invoice


def update_invoice(
    tenant: Tenant, counters: Counters, invoice: Record, body: Mapping[str, Any], *, validate_only: bool
) -> Record:
    """Replace a concept invoice with the full object sent (header and lines); a processed invoice refuses.

    Args:
        tenant: The administration.
        counters: The id sequences (for new line ids).
        invoice: The stored invoice.
        body: The decoded request body (the full invoice, lines wrapped).
        validate_only: Validate and answer, but change nothing.

    Returns:
        The updated invoice.

    Raises:
        ProblemError: 409 once the invoice has an invoice number (processed: only a credit invoice corrects it);
            400 with field errors as for a new invoice.
    """
    if invoice["status"] != STATUS_CONCEPT or invoice["invoiceNumber"]:
        raise ProblemError(409, detail=("invoice.final", {"id": invoice["id"], "number": invoice["invoiceNumber"]}))
    fresh = create_invoice(tenant, counters, body, validate_only=True)
    keep = {"id": invoice["id"], "invoiceNumber": "", "status": STATUS_CONCEPT, "_paidAmount": invoice["_paidAmount"]}
    updated = {**fresh, **keep}
    if validate_only:
        return updated
    for line in updated["lines"]:
        line["id"] = counters.next("invoice_line")
    invoice.clear()
    invoice.update(updated)
    note_mutation()
    return invoice


def process_invoice(tenant: Tenant, invoice_id: int) -> Record:
    """What a bookkeeper does inside Asperion: give a concept its invoice number and book it (status 3).

    Args:
        tenant: The administration.
        invoice_id: The invoice's id.

    Returns:
        The invoice (unchanged when it already had a number).

    Raises:
        KeyError: when the invoice does not exist in this administration.
    """
    invoice = tenant.invoices[invoice_id]
    if not invoice["invoiceNumber"]:
        tenant.invoice_sequence += 1
        invoice["invoiceNumber"] = f"{invoice['bookyear']}{tenant.invoice_sequence:05d}"
        if invoice["status"] == STATUS_CONCEPT:
            invoice["status"] = STATUS_IN_LEDGER
    return invoice


def settle_invoice(invoice: Record, booked: Decimal) -> None:
    """Apply a payment booked on the debtor against an invoice.

    The signed sum of an entry's lines for the invoice is a credit on the debtor (negative pays a positive
    invoice); a client booking it on the debit side is understood too. Fully paid → status 7.

    Args:
        invoice: The invoice.
        booked: The sum of the amounts of the entry's lines that name the invoice.
    """
    paid = -booked
    total = invoice["amountInclVat"]
    if paid and total and (paid > 0) != (total > 0):
        paid = -paid
    invoice["_paidAmount"] += paid
    if abs(invoice["_paidAmount"]) >= abs(total):
        invoice["status"] = STATUS_PAID
