"""``asperion.sales_invoice``: post a sales invoice (header + lines) once; an invoice with its description is kept.

With each invoice the target keeps a fingerprint of what it booked (``nodes.bookings``). An order read again later
is compared with it: nothing that touches the books changed → skipped with that reason; changed while the invoice is
still a concept → the concept is updated in place; changed after it was processed (final) → the record waits as
"changed after booking" until the user books the correction (or at once, with the setting "automatic"): a credit
invoice for the old booking and a new invoice "… (correction k)".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field

from nodes.accounting import as_id
from nodes.base import Booked, Delivery, Port, Record, RecordFailed, RecordProblem, SkipRecord
from nodes.bookings import (
    books_differ,
    correction_credit_description,
    correction_description,
    credit_of,
    invoice_fingerprint,
    payment_move,
    settled_on,
)
from nodes.connectors.asperion.client import SALES_INVOICE_HEADERS, AsperionClient
from nodes.connectors.http import ValidationFailed
from nodes.maps.fields import Code
from nodes.outcomes import money, sentence
from nodes.targets._common import create_once, refused
from nodes.targets._documents import AsperionConfig, AsperionDocumentTarget

__all__ = ("ChangedAfterBooking", "SalesInvoiceTarget", "SalesInvoiceTargetConfig")

CONCEPT = 1


class SalesInvoiceTargetConfig(AsperionConfig):
    """Where to book, and what to do with an order that changed after its invoice was processed."""

    corrections: Literal["wait", "automatic"] = Field(
        "wait",
        title="Changed after booking",
        description="An order whose booked totals, lines, debtor or VAT changed after its invoice was processed: "
        "wait: it waits in the inbox with both bookings side by side until you press 'Book the correction'; "
        "automatic: the correction (a credit invoice for the old booking and a new invoice) is booked at once. "
        "A concept invoice is always updated in place.",
    )
    moves_journal_id: Code = Field(
        "90",
        title="Journal for moved payments",
        description="A payment booked on an invoice that a correction credits is moved onto the new invoice by an "
        "entry in this journal (on the debtors account only: the money stays where it is).",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.journals"}},
    )
    debtors_account: Code = Field(
        "1300",
        title="Debtors account",
        description="The account the payments settle invoices on (as in the payments flow).",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.ledgeraccounts"}},
    )


class ChangedAfterBooking(RecordProblem):
    """The order changed after its invoice became final: the record waits for "Book the correction"."""

    status = "waiting"

    def __init__(self, invoice: Mapping[str, Any], booked: Mapping[str, Any], now: Mapping[str, Any]) -> None:
        changes = books_differ(booked, now)
        number = invoice.get("invoiceNumber") or invoice.get("id")
        super().__init__(
            f"changed after booking: sales invoice {number} is final ({'; '.join(changes)}); "
            "book the correction to credit it and book the order anew",
            detail={
                "changed_after_booking": {
                    "invoice_id": invoice.get("id"),
                    "invoice_number": invoice.get("invoiceNumber") or "",
                    "booked": dict(booked),
                    "now": dict(now),
                    "changes": changes,
                },
                "action": "book_correction",
            },
        )


def _fingerprint(record: Record, payload: Mapping[str, Any], correction: int = 0) -> dict[str, Any]:
    currency = record.context.get("currency") or {}
    return invoice_fingerprint(
        payload,
        currency=str(currency.get("code") or ""),
        rate=currency.get("rate"),
        modified=record.source.get("date_modified"),
        correction=correction,
    )


class SalesInvoiceTarget(AsperionDocumentTarget):
    """Creates the sales invoice a map node built, unless an invoice with the same description exists."""

    type = "asperion.sales_invoice"
    title = "Asperion sales invoice"
    description = (
        "Books the record as a sales invoice (a concept, with its lines). An invoice whose description is the same "
        "(e.g. 'WooCommerce order 1234') is already booked: the record is skipped. An order that changes after "
        "booking updates a concept in place, or waits for 'Book the correction' once the invoice is final."
    )
    inputs = (Port("in", "asperion.sales_invoice"),)
    config_model = SalesInvoiceTargetConfig
    config: SalesInvoiceTargetConfig
    what = "sales invoice"
    creates = "invoice"
    collection = SALES_INVOICE_HEADERS
    required = {"debtorCustomerNumber": "debtor", "description": "description"}

    async def find(self, client: AsperionClient, record: Record, description: str) -> Mapping[str, Any] | None:
        """Asperion's invoice for the description search."""
        return await client.find_invoice_by_description(description)

    async def create(self, client: AsperionClient, payload: dict[str, Any]) -> Any:
        """POST the invoice with its lines."""
        return await client.create_invoice(payload)

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """POST the invoice and keep its fingerprint."""
        delivery = await super().send(record, payload)
        delivery.fingerprint = _fingerprint(record, payload)
        return delivery

    def _approved(self, record: Record) -> bool:
        if self.config.corrections == "automatic":
            return True
        approved = self.ctx.params.get("book_corrections") or ()
        return approved is True or record.source_id in approved

    async def revisit(self, record: Record, booked: Booked) -> Delivery:
        """Compare the order as it is now with what was booked, and skip, update, wait or correct."""
        payload = await self.build(record)
        correction = int(booked.fingerprint.get("correction") or 0)
        now = _fingerprint(record, payload, correction)
        changes = books_differ(booked.fingerprint, now)
        if not changes:
            if booked.fingerprint.get("modified") == now.get("modified"):
                raise SkipRecord(f"already booked as sales invoice {booked.target_id}", target_id=booked.target_id)
            raise SkipRecord(
                f"changed after booking, but nothing that touches the books (a note, a status, a tracking number): "
                f"already booked as sales invoice {booked.target_id}",
                target_id=booked.target_id,
            )
        client = self.ctx.client(self.config.connection)
        invoice = await client.get_invoice(booked.target_id)
        if invoice is None:
            raise RecordFailed(
                f"the order changed after booking ({'; '.join(changes)}) and its sales invoice {booked.target_id} "
                "is no longer in Asperion: book it by hand or remove the booking from Koppel's memory"
            )
        if invoice.get("status") == CONCEPT and not invoice.get("invoiceNumber"):
            return await self._update_concept(client, record, payload, invoice, now, changes)
        if not self._approved(record):
            if self.ctx.dry_run:  # a test run shows it but never adds to the inbox
                return Delivery(
                    booked.target_id,
                    f"dry run: changed after booking ({'; '.join(changes)}); would wait for 'Book the correction'",
                )
            raise ChangedAfterBooking(invoice, booked.fingerprint, now)
        return await self._correct(client, payload, invoice, now, correction + 1, changes)

    async def _update_concept(
        self,
        client: AsperionClient,
        record: Record,
        payload: dict[str, Any],
        invoice: Mapping[str, Any],
        now: dict[str, Any],
        changes: list[str],
    ) -> Delivery:
        target_id = str(invoice["id"])
        body = {**payload, "description": invoice.get("description") or payload.get("description")}
        what = "; ".join(changes)
        if self.ctx.dry_run:
            return Delivery(target_id, f"dry run: would update concept sales invoice {target_id} ({what})", body)
        try:
            updated = await client.update_invoice(target_id, body)
        except ValidationFailed as exc:
            raise refused(exc, "the updated sales invoice") from exc
        return Delivery(
            target_id,
            f"sales invoice {target_id} updated in place (still a concept): {what}",
            request=body,
            response=updated,
            fingerprint=now,
            replaces=True,
        )

    async def _correct(
        self,
        client: AsperionClient,
        payload: dict[str, Any],
        invoice: Mapping[str, Any],
        now: dict[str, Any],
        k: int,
        changes: list[str],
    ) -> Delivery:
        """A credit invoice for the booking that stands, then the order booked anew as correction ``k``."""
        base = str(payload.get("description") or "")
        credit_text = correction_credit_description(base, k)
        number = invoice.get("invoiceNumber") or invoice.get("id")
        credit = {
            "date": payload.get("date"),
            "description": credit_text,
            "journalId": invoice.get("journalId") or payload.get("journalId"),
            "debtorCustomerNumber": invoice.get("debtorCustomerNumber"),
            "paymentConditionId": invoice.get("paymentConditionId") or payload.get("paymentConditionId"),
            "lines": credit_of(invoice, f"Credit of invoice {number}"),
        }
        renewed = {**payload, "description": correction_description(base, k)}
        if self.ctx.dry_run:
            return Delivery(str(invoice["id"]), f"dry run: would credit invoice {number} and book correction {k}")
        credited = await self._create_once(client, credit, "credit invoice")
        delivery = await self._create_once(client, renewed, "sales invoice")
        moved = await self._move_payments(client, base, invoice, (credited.target_id, delivery.target_id), renewed)
        delivery.message = (
            f"correction {k} booked: invoice {number} credited, the order booked anew as sales invoice "
            f"{delivery.target_id} ({'; '.join(changes)}){moved}"
        )
        delivery.request = {"credit": credit, "invoice": renewed}
        delivery.fingerprint = {**now, "correction": k}
        delivery.replaces = True
        return delivery

    async def _move_payments(
        self,
        client: AsperionClient,
        base: str,
        invoice: Mapping[str, Any],
        new_ids: tuple[str, str],
        renewed: Mapping[str, Any],
    ) -> str:
        """Move what was paid on the credited ``invoice`` onto the new one; the words the log adds ("" if none).

        The payments are found among the journal entries naming the order (their description holds ``base``, e.g.
        "Payment WooCommerce order 1234 (tr_…)"), by their lines that settle exactly this invoice. ``new_ids`` are
        the credit invoice's and the new invoice's ids.
        """
        credit_id, invoice_id = new_ids
        paid, debtor_id = settled_on(await client.journal_entries_described(base), invoice["id"])
        if not paid:
            return ""
        number = invoice.get("invoiceNumber") or invoice.get("id")
        description = f"{renewed['description']}: payment moved from sales invoice {number}"
        journal = str(self.config.moves_journal_id)
        entry = payment_move(
            paid,
            description=description,
            date=renewed.get("date"),
            journal_id=journal,
            debtors_account=as_id(self.config.debtors_account),
            debtor_id=debtor_id,
            credit_id=as_id(credit_id),
            invoice_id=as_id(invoice_id),
        )

        async def find() -> str | None:
            found = await client.find_journal_entry(description=description, journal_id=journal)
            return str(found["id"]) if found else None

        if await find() is None:
            await create_once(lambda: client.create_journal_entry(entry), find, "journal entry", entry)
        return f"; its payment of {paid} moved onto the new invoice"

    def outcome(self, record: Record, target_id: str | None) -> str | None:
        """The invoice's own total (lines with their VAT), and a credit invoice when it is negative."""
        lines = [line for line in record.data.get("lines") or [] if isinstance(line, dict)]
        if not lines:
            return super().outcome(record, target_id)
        amount = Decimal(0)
        for line in lines:
            try:
                amount += Decimal(str(line.get("amount") or 0)) + Decimal(str(line.get("vatAmount") or 0))
            except (InvalidOperation, ValueError):
                continue
        what = "credit invoice" if amount < 0 else self.what
        return sentence(self.verb, what, target_id, record.source, amount=money(amount))

    async def _create_once(self, client: AsperionClient, payload: dict[str, Any], what: str) -> Delivery:
        """Create unless an invoice with exactly this description exists (a correction interrupted half-way)."""
        description = str(payload["description"])

        async def find() -> str | None:
            found = await client.find_invoice_by_description(description)
            if found is None or str(found.get("description") or "").strip() != description:
                return None
            return str(found["id"])

        existing = await find()
        if existing is not None:
            return Delivery(existing, f"{what} {existing} exists already")
        return await create_once(lambda: client.create_invoice(payload), find, what, payload)
