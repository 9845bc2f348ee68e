"""``map.payment_reversals``: money that went back to the customer → a journal entry settling its credit invoice.

- A refund paid back (the order was paid; the refund is credited by "WooCommerce refund {id} of order {number}"):
  the bank or clearing account of the payment method pays the refunded amount, the debtor's line settles the credit
  invoice, dated the refund's date — so credit invoices do not stay open. Refunds new at the same time share one
  entry ("Refund 5020, 5031 of WooCommerce order 5012 paid back"); each refund is paid back once.
- An order cancelled after its payment was booked: the payment is reversed the same way (its lines with the signs
  turned, the debtor's line settling the cancellation's credit invoice), "Payment WooCommerce order {number}
  reversed", once.
Orders without such money are skipped with the reason; nothing waits for a mapping it does not need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field

from nodes.accounting import as_id, cents, money
from nodes.base import Kind, Port, ProcessNode, Record, SkipRecord
from nodes.bookings import cancellation_description
from nodes.connectors.asperion import lines_of
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.maps.inputs import source_payload
from nodes.maps.payment_to_mutation import PaymentSettings, _fill, payment_account
from nodes.texts import shown

__all__ = ("PaymentReversals", "ReversalSettings")

CANCELLED = ("cancelled", "failed", "trash")


class ReversalSettings(PaymentSettings):
    """Payment settings plus how refunds and reversals are described."""

    woocommerce_connection: WooCommerceConnection = Field(
        WooCommerceConnection("woocommerce"),
        title="WooCommerce connection",
        description="Read to fetch an order's refunds (their dates).",
    )
    refund_description_template: str = Field(
        "Refund {refund} of WooCommerce order {number} paid back",
        title="Refund paid back description",
        description="{refund} = the refund id(s), {number} = the order number; found again by this text.",
    )
    credit_description_template: str = Field(
        "WooCommerce refund {refund} of order {number}",
        title="Credit invoice description",
        description="How the refund's credit invoice is described (as set in the invoice flow).",
    )


class PaymentReversals(ProcessNode):
    """Refunds paid back and payments of cancelled orders → journal entries settling the credit invoices."""

    type = "map.payment_reversals"
    kind = Kind.MAP
    title = "Refunds and cancellations → financial mutations"
    description = (
        "For a paid order with refunds: the refunded money leaves the bank or clearing account and settles each "
        "refund's credit invoice (dated the refund). For a paid order cancelled after booking: its payment is "
        "reversed against the cancellation's credit invoice. Each once."
    )
    app = "asperion"  # and a WooCommerce connection (the refunds): both are typed connection fields
    config_model = ReversalSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.journal_entry"),)

    config: ReversalSettings

    async def process(self, record: Record) -> Record:
        """A reversal for a cancelled paid order, else the refunds not paid back yet."""
        order = source_payload(record, "line_items")
        if not order.get("date_paid"):
            raise SkipRecord("the order was never paid: nothing went back")
        if str(order.get("status") or "") in CANCELLED:
            return await self._reverse(record, order)
        return await self._refunds(record, order)

    async def _debtor_id(self, client: Any, customer_number: str) -> Any:
        debtor = await client.find_debtor_by_customer_number(customer_number) if customer_number else None
        return (debtor or {}).get("id")

    async def _reverse(self, record: Record, order: Mapping[str, Any]) -> Record:
        client = self.ctx.client(self.config.connection)
        paid_text = _fill(self.config.description_template, order)
        payment = await client.find_journal_entry(description=paid_text, journal_id=str(self.config.journal_id))
        if payment is None:
            raise SkipRecord("the order's payment was never booked: nothing to reverse")
        base = _fill(self.config.invoice_description_template, order)
        credit = await client.find_invoice_by_description(cancellation_description(base))
        if not credit or str(credit.get("description") or "").strip() != cancellation_description(base):
            raise SkipRecord(f"no cancellation credit {shown(cancellation_description(base))} is booked (yet)")
        text = paid_text.removesuffix(f" ({order.get('transaction_id')})") + " reversed"
        date = str(order.get("date_modified") or order.get("date_paid"))[:10]
        lines = []
        for line in lines_of(payment):
            reversed_line: dict[str, Any] = {
                "amount": float(-cents(money(line.get("amount")))),
                "ledgerAccountId": line.get("ledgerAccountId"),
                "description": text,
                "bookingDate": date,
            }
            if line.get("debtorId"):
                reversed_line["debtorId"] = line["debtorId"]
                reversed_line["salesInvoiceId"] = credit["id"]
            lines.append(reversed_line)
        out = record.derive({"journalId": self.config.journal_id, "date": date, "description": text, "lines": lines})
        out.source_id = f"{record.source_id}:reversed"
        return out

    async def _refunds(self, record: Record, order: Mapping[str, Any]) -> Record:
        listed = [r for r in order.get("refunds") or () if isinstance(r, Mapping)]
        if not listed:
            raise SkipRecord("the order has no refunds")
        client = self.ctx.client(self.config.connection)
        number = str(order.get("number") or order.get("id") or "")
        head, _, rest = self.config.refund_description_template.partition("{refund}")
        tail = rest.replace("{number}", number).strip()  # "of WooCommerce order 5012 paid back"
        pattern = re.escape(head.strip()) + r"s? ([\d, ]+) " + re.escape(tail) + "$"
        done: set[str] = set()
        for entry in await client.journal_entries_described(tail, str(self.config.journal_id)):
            match = re.search(pattern, str(entry.get("description") or ""))
            if match:
                done.update(part.strip() for part in match.group(1).split(","))
        refunds = {str(r.get("id")): r for r in await self._fetch(order, listed)}
        pending = sorted((rid for rid in refunds if rid not in done), key=int)
        if not pending:
            raise SkipRecord("every refund of the order is paid back already")
        bank = payment_account(self.config.payment_accounts, str(order.get("payment_method") or ""))
        ids = ", ".join(pending)
        text = self.config.refund_description_template.replace("{refund}", ids).replace("{number}", number)
        if len(pending) > 1:
            text = text.replace("Refund ", "Refunds ", 1)
        date = max(str(refunds[rid].get("date_created") or order.get("date_modified") or "")[:10] for rid in pending)
        lines: list[dict[str, Any]] = []
        total = Decimal(0)
        for rid in pending:
            credit, shared = await self._credit_invoice(client, order, rid)
            # a credit invoice shared by refunds credited together is paid back refund by refund
            amount = abs(cents(money(refunds[rid].get("amount") if shared else credit.get("amountInclVat"))))
            total += amount
            debtor_id = await self._debtor_id(client, str(credit.get("debtorCustomerNumber") or ""))
            lines.append(
                {
                    "amount": float(amount),
                    "ledgerAccountId": as_id(self.config.debtors_account),
                    "description": text,
                    "bookingDate": date,
                    "debtorId": debtor_id,
                    "salesInvoiceId": credit["id"],
                }
            )
        lines.insert(0, {"amount": float(-total), "ledgerAccountId": bank, "description": text, "bookingDate": date})
        out = record.derive({"journalId": self.config.journal_id, "date": date, "description": text, "lines": lines})
        out.source_id = f"{record.source_id}:paid-back:{','.join(pending)}"
        return out

    async def _fetch(self, order: Mapping[str, Any], listed: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The order's refunds with their dates (the order lists only ids and totals)."""
        if all("date_created" in refund for refund in listed):
            return listed
        fetched = await self.ctx.client(self.config.woocommerce_connection).get(f"orders/{order['id']}/refunds")
        return [refund for refund in fetched or () if isinstance(refund, Mapping)]

    async def _credit_invoice(
        self, client: Any, order: Mapping[str, Any], refund_id: str
    ) -> tuple[Mapping[str, Any], bool]:
        """The credit invoice of one refund: its own, or one it shares with refunds credited at the same time."""
        number = str(order.get("number") or order.get("id") or "")
        own = self.config.credit_description_template.replace("{number}", number)
        exact = own.replace("{refund}", refund_id)
        found = await client.find_invoice_by_description(exact)
        if found and str(found.get("description") or "").strip() == exact:
            return dict(found), False
        prefix, _, suffix = own.partition("{refund}")
        for invoice in await client.invoices_described(prefix.strip()):
            text = str(invoice.get("description") or "")
            if text.startswith(prefix) and text.endswith(suffix):
                ids = [part.strip() for part in text[len(prefix) : len(text) - len(suffix)].split(",")]
                if refund_id in ids:
                    return dict(invoice), True
        raise SkipRecord(f"refund {refund_id} has no credit invoice yet: it is paid back once it is credited")
