"""``map.order_to_credit_invoices``: the refunds of a WooCommerce order → one Asperion credit invoice per refund.

One order record comes in and one record goes out (the node interface is one in, one out). Each refund's credit
invoice has its own description "WooCommerce refund {refund id} of order {number}"; the node asks Asperion which of
them it has already and keeps only the new ones. One new credit invoice (the usual case: the order was modified by
one refund since the last run) goes out as a plain sales invoice; several go out as ``{"invoices": [...]}`` for a
target or engine that fans them out. The record's ``source_id`` becomes ``order:<id>:refunds:<new ids>``, so the
idempotency map tells refunds apart while the order itself keeps its own entry for the invoice.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.maps.inputs import source_payload
from nodes.maps.order_lines import InvoiceLine
from nodes.maps.order_settings import InvoiceSettings
from nodes.maps.order_to_invoice import facts_context, payment_condition
from nodes.maps.payment_to_mutation import InvoiceNotBooked
from nodes.maps.refund_lines import is_full_refund, refund_lines, refund_totals

__all__ = ("CreditInvoiceSettings", "OrderToCreditInvoices", "build_credit_invoices")


class CreditInvoiceSettings(InvoiceSettings):
    """Invoice settings plus where the refunds are read."""

    woocommerce_connection: str = Field(
        "woocommerce", title="WooCommerce connection", description="Read to fetch the refunds of an order."
    )
    refund_description_template: str = Field(
        "WooCommerce refund {refund} of order {number}",
        title="Credit invoice description",
        description="{refund} is the refund id, {number} the order number; found again by this text.",
    )


def build_credit_invoices(
    order: Mapping[str, Any],
    refunds: list[Mapping[str, Any]],
    settings: CreditInvoiceSettings,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The credit invoice payloads of ``refunds`` and the preflight warnings. Pure.

    Raises:
        NeedsMapping: a table lacks a row.
        RecordFailed: a refund's lines do not add up to its amount.
    """
    rules = settings.rules(None)
    condition = payment_condition(settings.payment_conditions, str(order.get("payment_method") or ""))
    number = str(order.get("number") or order.get("id") or "")
    invoices: list[dict[str, Any]] = []
    warnings: list[str] = []
    for refund in sorted(refunds, key=lambda item: int(item.get("id") or 0)):
        lines: list[InvoiceLine] = refund_lines(order, refund, rules)
        warning = refund_totals(refund, lines, settings.tolerance)
        if warning:
            warnings.append(warning)
        description = settings.refund_description_template.replace("{refund}", str(refund.get("id")))
        invoices.append(
            {
                "date": str(refund.get("date_created") or order.get("date_modified") or "")[:10],
                "description": description.replace("{number}", number),
                "journalId": settings.journal_id,
                "debtorCustomerNumber": None,
                "paymentConditionId": condition,
                "lines": [line.payload() for line in lines],
            }
        )
    return invoices, warnings


class OrderToCreditInvoices(ProcessNode):
    """WooCommerce order with refunds → Asperion credit invoices (mappings.md step 12)."""

    type = "map.order_to_credit_invoices"
    kind = Kind.MAP
    title = "Refunds → credit invoices"
    description = (
        "For an order with refunds: one credit invoice per refund (the refunded lines, shipping and fees as negative "
        "amounts with the order's VAT codes), described 'WooCommerce refund {refund id} of order {number}' so each "
        "refund is credited once. Output: data.invoices, a list for the sales invoice target."
    )
    app = None  # two connections (Asperion and WooCommerce): see connection_names
    config_model = CreditInvoiceSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_invoice"),)

    config: CreditInvoiceSettings

    @classmethod
    def connection_names(cls, config: NodeConfig) -> builtins.list[str]:
        """The Asperion connection and the WooCommerce one (refunds are read from the store)."""
        names = super().connection_names(config)
        woo = getattr(config, "woocommerce_connection", "")
        return [*names, woo] if woo and woo not in names else names

    async def _refunds(self, order: Mapping[str, Any]) -> builtins.list[Mapping[str, Any]]:
        listed: builtins.list[Mapping[str, Any]] = [r for r in order.get("refunds") or () if isinstance(r, dict)]
        if not listed or all(is_full_refund(refund) for refund in listed):
            return listed
        client = self.ctx.client(self.config.woocommerce_connection)
        fetched = await client.get(f"orders/{order['id']}/refunds")
        return [refund for refund in fetched or () if isinstance(refund, dict)]

    async def _uncredited(self, pairs: builtins.list[tuple[str, dict[str, Any]]]) -> builtins.list[tuple[str, Any]]:
        """The (refund id, credit invoice) pairs Asperion does not have yet (by exact description)."""
        client = self.ctx.client(self.config.connection)
        fresh = []
        for refund_id, invoice in pairs:
            found = await client.find_invoice_by_description(invoice["description"])
            if not found or str(found.get("description") or "").strip() != invoice["description"]:
                fresh.append((refund_id, invoice))
        return fresh

    async def _require_invoice(self, order: Mapping[str, Any]) -> None:
        """A refund is credited only once the order's own invoice is in Asperion; until then it waits."""
        description = self.config.describe(order)
        found = await self.ctx.client(self.config.connection).find_invoice_by_description(description)
        if not found or str(found.get("description") or "").strip() != description:
            raise InvoiceNotBooked(description)

    async def process(self, record: Record) -> Record:
        """Build the credit invoices of the refunds not credited yet; skips orders without them."""
        order = source_payload(record, "line_items")
        refunds = await self._refunds(order)
        if not refunds:
            raise SkipRecord("the order has no refunds")
        invoices, warnings = build_credit_invoices(order, refunds, self.config)
        if not self.ctx.dry_run:  # a test run books no invoice to wait for: show the credit invoice
            await self._require_invoice(order)
        ordered = [str(r.get("id")) for r in sorted(refunds, key=lambda item: int(item.get("id") or 0))]
        pairs = await self._uncredited(list(zip(ordered, invoices, strict=True)))
        ids = [refund_id for refund_id, _ in pairs]
        invoices = [invoice for _, invoice in pairs]
        if not invoices:
            raise SkipRecord("every refund of the order is credited already")
        debtor = record.data.get("debtorCustomerNumber") or (record.context.get("debtor") or {}).get("customerNumber")
        for invoice in invoices:
            invoice["debtorCustomerNumber"] = str(debtor) if debtor else None
        # One credit invoice (the usual case: one new refund since the last run) is a plain invoice for the
        # sales invoice target; several go as a list (see the module docstring).
        data = invoices[0] if len(invoices) == 1 else {"invoices": invoices, "debtorCustomerNumber": debtor}
        out = record.derive(data)
        out.source_id = f"{record.source_id}:refunds:{','.join(ids)}"
        out.context["vat"] = facts_context(order, self.config)
        out.context["refund_ids"] = ids
        out.warnings.extend(warnings)
        return out
