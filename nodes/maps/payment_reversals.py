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


def _share(
    credit: Mapping[str, Any], together: list[str], refund_id: str, refunds: Mapping[str, Mapping[str, Any]]
) -> Decimal:
    """What paying back ``refund_id`` settles of its credit invoice: all of it, or — a credit shared by refunds
    credited together — the refund's part of the invoice's amount (in the administration's currency, also for an
    order in another currency), the last refund taking what rounding left so the parts add up to the cent."""
    total = abs(cents(money(credit.get("amountInclVat"))))
    if len(together) == 1:
        return total
    amounts = {rid: abs(money((refunds.get(rid) or {}).get("amount"))) for rid in together}
    whole = sum(amounts.values(), Decimal(0))

    def part(rid: str) -> Decimal:
        return cents(total * amounts[rid] / whole) if whole else Decimal(0)

    if refund_id != together[-1]:
        return part(refund_id)
    return total - sum((part(rid) for rid in together[:-1]), Decimal(0))


class ReversalSettings(PaymentSettings):
    """Payment settings plus how refunds and reversals are described."""

    woocommerce_connection: WooCommerceConnection = WooCommerceConnection.field(
        "Read to fetch an order's refunds (their dates)."
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
        text = self._reversal_text(order)
        date = str(order.get("date_modified") or order.get("date_paid"))[:10]
        # Refunds paid back already returned part of the money: only the rest is reversed.
        sums: dict[tuple[Any, bool], Decimal] = {}
        debtor_id = None
        differences = [  # what the payment booked later ("… (difference 1)"): reversed with it
            entry
            for entry in await client.journal_entries_described(paid_text, str(self.config.journal_id))
            if re.fullmatch(re.escape(paid_text) + r" \(difference \d+\)", str(entry.get("description") or ""))
        ]
        for entry in [payment, *differences, *await self._paid_back(client, order)]:
            for line in lines_of(entry):
                key = (line.get("ledgerAccountId"), bool(line.get("debtorId") or line.get("salesInvoiceId")))
                sums[key] = sums.get(key, Decimal(0)) - cents(money(line.get("amount")))
                debtor_id = debtor_id or line.get("debtorId")
        if not any(amount for (_, debtor), amount in sums.items() if debtor):
            raise SkipRecord("its refunds paid back everything the payment brought in: nothing is left to reverse")
        lines = []
        for (ledger, debtor), amount in sums.items():
            if not amount:
                continue
            reversed_line: dict[str, Any] = {
                "amount": float(amount),
                "ledgerAccountId": ledger,
                "description": text,
                "bookingDate": date,
            }
            if debtor:
                reversed_line["debtorId"] = debtor_id
                reversed_line["salesInvoiceId"] = credit["id"]
            lines.append(reversed_line)
        out = record.derive({"journalId": self.config.journal_id, "date": date, "description": text, "lines": lines})
        out.source_id = f"{record.source_id}:reversed"
        return out

    def _reversal_text(self, order: Mapping[str, Any]) -> str:
        """ "Payment WooCommerce order 1234 reversed"."""
        paid_text = _fill(self.config.description_template, order)
        return paid_text.removesuffix(f" ({order.get('transaction_id')})") + " reversed"

    async def _paid_back(self, client: Any, order: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The entries that paid back refunds of the order ("Refund 5020 of WooCommerce order 5012 paid back")."""
        number = str(order.get("number") or order.get("id") or "")
        head, _, rest = self.config.refund_description_template.partition("{refund}")
        tail = rest.replace("{number}", number).strip()  # "of WooCommerce order 5012 paid back"
        pattern = re.compile(re.escape(head.strip()) + r"s? ([\d, ]+) " + re.escape(tail) + "$")
        entries = await client.journal_entries_described(tail, str(self.config.journal_id))
        return [entry for entry in entries if pattern.search(str(entry.get("description") or ""))]

    async def _refunds(self, record: Record, order: Mapping[str, Any]) -> Record:
        listed = [r for r in order.get("refunds") or () if isinstance(r, Mapping)]
        if not listed:
            raise SkipRecord("the order has no refunds")
        client = self.ctx.client(self.config.connection)
        reversal = await client.find_journal_entry(
            description=self._reversal_text(order), journal_id=str(self.config.journal_id)
        )
        if reversal is not None:  # the reversal gave back everything not paid back before it
            raise SkipRecord("the order's payment was reversed when it was cancelled: its refunds are not paid twice")
        number = str(order.get("number") or order.get("id") or "")
        head, _, rest = self.config.refund_description_template.partition("{refund}")
        tail = rest.replace("{number}", number).strip()
        pattern = re.escape(head.strip()) + r"s? ([\d, ]+) " + re.escape(tail) + "$"
        done: set[str] = set()
        for entry in await self._paid_back(client, order):
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
            credit, together = await self._credit_invoice(client, order, rid)
            amount = _share(credit, together, rid, refunds)
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
    ) -> tuple[Mapping[str, Any], list[str]]:
        """The credit invoice of one refund: its own, or one it shares with refunds credited at the same time (and
        the ids of the refunds it credits)."""
        number = str(order.get("number") or order.get("id") or "")
        own = self.config.credit_description_template.replace("{number}", number)
        exact = own.replace("{refund}", refund_id)
        found = await client.find_invoice_by_description(exact)
        if found and str(found.get("description") or "").strip() == exact:
            return dict(found), [refund_id]
        prefix, _, suffix = own.partition("{refund}")
        for invoice in await client.invoices_described(prefix.strip()):
            text = str(invoice.get("description") or "")
            if text.startswith(prefix) and text.endswith(suffix):
                ids = [part.strip() for part in text[len(prefix) : len(text) - len(suffix)].split(",")]
                if refund_id in ids:
                    return dict(invoice), ids
        raise SkipRecord(f"refund {refund_id} has no credit invoice yet: it is paid back once it is credited")
