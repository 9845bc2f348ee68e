"""``map.order_cancellation``: an order cancelled, failed or trashed after it was booked → a full credit invoice.

The credit invoice reverses what stands in the books for the order (the first booking, or its latest correction),
line by line with the same VAT codes and accounts, once: it is described "WooCommerce order {number} cancelled" and
found again by that exact description. Refunds credited before ("WooCommerce refund {id} of order {number}") are
already off the books: the cancellation credits what is left (the booking's lines negated, each refund credit's
lines added back), so the order ends at zero net of its refunds; an order refunded in full has nothing left. An order
that was never invoiced is skipped before anything else happens (no mapping is asked for, no debtor is made): there
is nothing to credit. Whether it was invoiced is answered from the flow's own records when they are complete
(:meth:`~nodes.base.NodeContext.deliveries` of the step that books the invoice), else asked in Asperion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field

from nodes.accounting import money
from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.bookings import cancellation_description, credit_of, current_booking
from nodes.connectors.asperion import AsperionConnection
from nodes.maps.inputs import source_payload
from nodes.maps.order_to_invoice import OrderToInvoice

__all__ = ("CancellationSettings", "OrderCancellation", "cancelled_order")

CANCELLED = ("cancelled", "failed", "trash")


class CancellationSettings(NodeConfig):
    """Where the order's invoice is, how it is described, and which statuses cancel it."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"),
        title="Asperion connection",
        description="Read to find the order's booked invoice.",
    )
    description_template: str = Field(
        "WooCommerce order {number}",
        title="Invoice description",
        description="How the order's sales invoice is described (as set in the invoice step).",
    )
    refund_description_template: str = Field(
        "WooCommerce refund {refund} of order {number}",
        title="Credit invoice description",
        description="How a refund's credit invoice is described (as set in the refunds step): what those credited "
        "is not credited again.",
    )
    statuses: list[str] = Field(
        default_factory=lambda: list(CANCELLED),
        title="Statuses that cancel",
        description="An order in one of these statuses whose invoice is booked gets a full credit invoice.",
    )


def cancelled_order(record: Record, statuses: list[str], template: str) -> tuple[dict[str, Any], str, str]:
    """The order of a record that cancels its booking, its status and its booking's description ("WooCommerce order
    1234"); the record is skipped when the order is not in one of the cancelling ``statuses``."""
    order = source_payload(record, "line_items")
    status = str(order.get("status") or "")
    if status not in statuses:
        raise SkipRecord(f"the order is {status or 'without status'}, not cancelled")
    number = str(order.get("number") or order.get("id") or "")
    return order, status, template.replace("{number}", number)


class OrderCancellation(ProcessNode):
    """Order cancelled after booking → the credit invoice of what was booked."""

    type = "map.order_cancellation"
    kind = Kind.MAP
    title = "Cancelled order → credit invoice"
    description = (
        "For an order cancelled, failed or trashed after its invoice was booked: a credit invoice of everything the "
        "booking that stands holds (the first invoice or its latest correction), described 'WooCommerce order "
        "{number} cancelled', once. Orders never invoiced are skipped."
    )
    app = "asperion"
    config_model = CancellationSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_invoice"),)

    config: CancellationSettings

    async def process(self, record: Record) -> Record:
        """Find the booking that stands and credit it in full."""
        order, status, base = cancelled_order(record, self.config.statuses, self.config.description_template)
        if (await self.ctx.deliveries([record.source_id], after=OrderToInvoice)).absent(record.source_id):
            raise SkipRecord(f"the order is {status} and was never invoiced: nothing to credit")
        number = str(order.get("number") or order.get("id") or "")
        client = self.ctx.client(self.config.connection)
        found: list[dict[str, Any]] = await client.invoices_described(base)
        cancelled = cancellation_description(base)
        done = next((i for i in found if str(i.get("description") or "").strip() == cancelled), None)
        if done is not None:
            raise SkipRecord(f"already credited as cancelled: sales invoice {done['id']}", target_id=str(done["id"]))
        booking = current_booking(found, base)
        if booking is None:
            raise SkipRecord(f"the order is {status} and was never invoiced: nothing to credit")
        full = await client.get_invoice(booking["id"]) if "lines" not in booking else booking
        reference = (full or booking).get("invoiceNumber") or booking["id"]
        lines = credit_of(full or booking, f"Cancelled, credit of invoice {reference}")
        for refund in await self._refund_credits(client, number):
            named = refund.get("invoiceNumber") or refund.get("description")
            lines += credit_of(refund, f"Credited before by {named}")  # negated: the refund's lines added back
        if not sum((money(line["amount"]) + money(line["vatAmount"]) for line in lines), Decimal(0)):
            raise SkipRecord(f"the order is {status}, but its refunds credited everything booked: nothing is left")
        credit = {
            "date": str(order.get("date_modified") or order.get("date_created") or "")[:10],
            "description": cancelled,
            "journalId": booking.get("journalId"),
            "debtorCustomerNumber": booking.get("debtorCustomerNumber"),
            "paymentConditionId": booking.get("paymentConditionId"),
            "lines": lines,
        }
        out = record.derive(credit)
        out.context["cancelled_invoice"] = {"id": booking["id"], "description": booking.get("description")}
        return out

    async def _refund_credits(self, client: Any, number: str) -> list[Mapping[str, Any]]:
        """The order's refund credit invoices, found by their description ("WooCommerce refund 5020, 5031 of order
        5012"), exactly: another order's number that merely contains this one does not count."""
        head, _, tail = self.config.refund_description_template.partition("{refund}")
        tail = tail.replace("{number}", number)
        pattern = re.compile(re.escape(head.replace("{number}", number)) + r"[\d, ]+" + re.escape(tail))
        found = await client.invoices_containing(tail.strip()) if tail.strip() else []
        credits: list[Mapping[str, Any]] = []
        for invoice in found:
            if pattern.fullmatch(str(invoice.get("description") or "").strip()):
                full = invoice if "lines" in invoice else await client.get_invoice(invoice["id"])
                credits.append(full or invoice)
        return credits
