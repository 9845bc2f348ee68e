"""``map.order_to_credit_invoices``: the refunds of a WooCommerce order → Asperion credit invoices, once per refund.

A credit invoice is described "WooCommerce refund {refund id} of order {number}"; the node finds which refunds are
credited already (by that exact description) and credits only the others. Whether the order's invoice is booked,
whether its cancellation credited it in full and which refunds are credited are answered from the flow's own records
(:meth:`~nodes.base.NodeContext.deliveries`: the steps that book the invoice, the cancellation and this node's
credits) where those are complete, and asked in Asperion only when they are not (a new database, one restored from a
backup, a record in doubt). The node interface is one
record in, one record out, so the refunds that are new at the same time — usually one: each refund modifies the order,
which the next run reads — go out as one credit invoice: one new refund gives "WooCommerce refund 5020 of order
5012"; several give "WooCommerce refund 5020, 5031 of order 5012", with each line saying which refund it credits.
Such a combined invoice is recognised later by its exact description too, so every refund is credited exactly once.
The record's ``source_id`` becomes ``order:<id>:refunds:<new ids>`` for the idempotency map.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field

from nodes.base import Kind, Port, ProcessNode, Record, SkipRecord
from nodes.bookings import cancellation_description
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.maps.currency import convert_order, convert_refund, exchange_rate
from nodes.maps.inputs import source_payload
from nodes.maps.order_cancellation import OrderCancellation
from nodes.maps.order_lines import InvoiceLine
from nodes.maps.order_settings import InvoiceSettings, header_date
from nodes.maps.order_to_invoice import OrderToInvoice, facts_context, payment_condition
from nodes.maps.payment_to_mutation import InvoiceNotBooked
from nodes.maps.refund_lines import fetch_refunds, refund_lines, refund_totals
from nodes.texts import shown

__all__ = (
    "CreditInvoiceSettings",
    "OrderToCreditInvoices",
    "build_credit_invoices",
    "combine_credit_invoices",
    "credit_description",
    "credited_refunds",
    "refund_runs",
)


class CreditInvoiceSettings(InvoiceSettings):
    """Invoice settings plus where the refunds are read."""

    woocommerce_connection: WooCommerceConnection = Field(
        WooCommerceConnection("woocommerce"),
        title="WooCommerce connection",
        description="Read to fetch the refunds of an order.",
    )
    refund_description_template: str = Field(
        "WooCommerce refund {refund} of order {number}",
        title="Credit invoice description",
        description="{refund} is the refund id (several: '5020, 5031'), {number} the order number; found again "
        "by this text.",
    )


def credit_description(settings: CreditInvoiceSettings, order: Mapping[str, Any], refund_ids: list[str]) -> str:
    """The description of the credit invoice of ``refund_ids`` (ascending) of ``order``."""
    number = str(order.get("number") or order.get("id") or "")
    text = settings.refund_description_template.replace("{refund}", ", ".join(refund_ids))
    return text.replace("{number}", number)


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
    invoices: list[dict[str, Any]] = []
    warnings: list[str] = []
    for refund in sorted(refunds, key=lambda item: int(item.get("id") or 0)):
        lines: list[InvoiceLine] = refund_lines(order, refund, rules)
        slack = Decimal("0.005") * len(lines) if "_conversion" in order else Decimal(0)  # conversion rounding
        warning = refund_totals(refund, lines, settings.tolerance + slack)
        if warning:
            warnings.append(warning)
        invoices.append(
            {
                "date": str(refund.get("date_created") or order.get("date_modified") or "")[:10],
                "description": credit_description(settings, order, [str(refund.get("id"))]),
                "journalId": settings.journal_id,
                "debtorCustomerNumber": None,
                "paymentConditionId": condition,
                "lines": [line.payload() for line in lines],
            }
        )
    return invoices, warnings


def combine_credit_invoices(
    order: Mapping[str, Any], pending: list[tuple[str, dict[str, Any]]], settings: CreditInvoiceSettings
) -> dict[str, Any]:
    """One credit invoice for the refunds credited together: their lines, the newest refund's date. Pure."""
    if len(pending) == 1:
        return pending[0][1]
    first = pending[0][1]
    return {
        **first,
        "date": max(invoice["date"] for _, invoice in pending),
        "description": credit_description(settings, order, [refund_id for refund_id, _ in pending]),
        "lines": [line for _, invoice in pending for line in invoice["lines"]],
    }


def refund_runs(ids: list[str]) -> list[list[str]]:
    """Every run of consecutive refund ids (ascending): the refunds one credit invoice can hold. Pure."""
    return [ids[start:end] for start in range(len(ids)) for end in range(start + 1, len(ids) + 1)]


async def credited_refunds(ids: list[str], exists: Callable[[list[str]], Awaitable[bool]]) -> set[str]:
    """The refund ids (ascending) that Asperion has credited, alone or together with later ones.

    A combined credit invoice holds refunds that were new at the same time, so it is a run of consecutive ids
    starting at the first id not credited alone; the longest such run that exists is taken.
    """
    credited: set[str] = set()
    index = 0
    while index < len(ids):
        if await exists([ids[index]]):
            credited.add(ids[index])
            index += 1
            continue
        for end in range(len(ids), index + 1, -1):
            if await exists(ids[index:end]):
                credited.update(ids[index:end])
                index = end
                break
        else:
            index += 1
    return credited


def _credit_id(order: Mapping[str, Any], refund_ids: list[str]) -> str:
    """The id of the credit invoice of ``refund_ids`` in the idempotency map: derived from the order's."""
    return f"order:{order.get('id')}:refunds:{','.join(refund_ids)}"


class OrderToCreditInvoices(ProcessNode):
    """WooCommerce order with refunds → Asperion credit invoices (mappings.md step 12)."""

    type = "map.order_to_credit_invoices"
    kind = Kind.MAP
    title = "Refunds → credit invoices"
    description = (
        "For an order with refunds: one credit invoice per refund (the refunded lines, shipping and fees as negative "
        "amounts with the order's VAT codes), described 'WooCommerce refund {refund id} of order {number}' so each "
        "refund is credited once (refunds new at the same time share one credit invoice)."
    )
    app = "asperion"  # and a WooCommerce connection: both are typed connection fields of the config
    config_model = CreditInvoiceSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_invoice"),)

    config: CreditInvoiceSettings

    async def _refunds(self, order: Mapping[str, Any]) -> builtins.list[Mapping[str, Any]]:
        return await fetch_refunds(self.ctx.client(self.config.woocommerce_connection), order)

    async def _cancelled(self, record: Record, order: Mapping[str, Any]) -> bool:
        """Whether the order's cancellation credit is booked: from the cancellation step's deliveries when they say,
        else by its description in Asperion."""
        known = await self.ctx.deliveries([record.source_id], after=OrderCancellation)
        if known.get(record.source_id) is not None:
            return True
        return not known.absent(record.source_id) and await self._exists(
            cancellation_description(self.config.describe(order))
        )

    async def _exists(self, description: str) -> bool:
        found = await self.ctx.client(self.config.connection).find_invoice_by_description(description)
        return found is not None and str(found.get("description") or "").strip() == description

    async def _require_invoice(self, record: Record, order: Mapping[str, Any]) -> Mapping[str, Any]:
        """A refund is credited only once the order's own invoice is in Asperion; until then it waits.

        Koppel's records answer when they can: the step that books the order's invoice delivered it (with the debtor
        it booked), or certainly did not. Otherwise Asperion is asked.

        Returns:
            The order's invoice (its debtor is the credit invoice's debtor).

        Raises:
            InvoiceNotBooked: the invoice is not there yet (the record waits).
            SkipRecord: the order is fully refunded and was never invoiced.
        """
        description = self.config.describe(order)
        known = await self.ctx.deliveries([record.source_id], after=OrderToInvoice)
        booked = known.get(record.source_id)
        if booked is not None and booked.fingerprint.get("debtor"):
            return {"id": booked.target_id, "debtorCustomerNumber": booked.fingerprint["debtor"]}
        if not known.absent(record.source_id):  # unknown, or booked without a debtor kept: Asperion's says
            found = await self.ctx.client(self.config.connection).find_invoice_by_description(description)
            if found and str(found.get("description") or "").strip() == description:
                return dict(found)
            if booked is not None:  # booked by this flow under another description
                return {"id": booked.target_id}
        if order.get("status") == "refunded":
            # refunded before it was ever booked (e.g. before the first run): no sale in the books, nothing to credit
            raise SkipRecord(f"no invoice {shown(description)} was booked for this refunded order: nothing to credit")
        raise InvoiceNotBooked(description)

    async def process(self, record: Record) -> Record:
        """Build the credit invoices of the refunds not credited yet; skips orders without them."""
        order = source_payload(record, "line_items")
        if not order.get("refunds"):
            raise SkipRecord("the order has no refunds")
        # Whether there is anything to credit is asked first, so an order never invoiced is skipped before its
        # refunds are read or a mapping is asked for. A test run books no invoice to wait for: it shows the credit.
        invoice = None if self.ctx.dry_run else await self._require_invoice(record, order)
        refunds = await self._refunds(order)
        if not refunds:
            raise SkipRecord("the order has no refunds")
        conversion = exchange_rate(
            order,
            own_currency=self.config.currency,
            meta_keys=self.config.exchange_rate_meta,
            table=self.config.exchange_rates,
            date=header_date(order, self.config.date_field),
        )
        if conversion is not None:  # credited at the rate the invoice was booked at
            order = convert_order(order, conversion, self.config.currency.upper())
            refunds = [convert_refund(refund, conversion) for refund in refunds]
        if invoice is not None and await self._cancelled(record, order):
            # the cancellation credited everything that was left: a refund made after it is not credited again
            raise SkipRecord("the order was cancelled and credited in full: its refunds are not credited again")
        invoices, warnings = build_credit_invoices(order, refunds, self.config)
        ordered = [str(r.get("id")) for r in sorted(refunds, key=lambda item: int(item.get("id") or 0))]
        # What this node's own credit invoices were delivered as: one id per run of refunds credited together.
        known = await self.ctx.deliveries([_credit_id(order, run) for run in refund_runs(ordered)], after=self.id)

        async def exists(refund_ids: builtins.list[str]) -> bool:
            credit_id = _credit_id(order, refund_ids)
            if known.get(credit_id) is not None:
                return True
            return not known.absent(credit_id) and await self._exists(
                credit_description(self.config, order, refund_ids)
            )

        credited = await credited_refunds(ordered, exists)
        pending = [(rid, inv) for rid, inv in zip(ordered, invoices, strict=True) if rid not in credited]
        if not pending:
            raise SkipRecord("every refund of the order is credited already")
        credit = combine_credit_invoices(order, pending, self.config)
        debtor = (
            (invoice or {}).get("debtorCustomerNumber")  # the credit goes to the invoice's own debtor
            or record.data.get("debtorCustomerNumber")
            or (record.context.get("debtor") or {}).get("customerNumber")
        )
        credit["debtorCustomerNumber"] = str(debtor) if debtor else None
        ids = [refund_id for refund_id, _ in pending]
        out = record.derive(credit)
        out.source_id = _credit_id(order, ids)
        out.context["vat"] = facts_context(order, self.config)
        out.context["refund_ids"] = ids
        if credit["debtorCustomerNumber"]:
            out.context["debtor_from_booking"] = credit["debtorCustomerNumber"]
        out.warnings.extend(warnings)
        return out
