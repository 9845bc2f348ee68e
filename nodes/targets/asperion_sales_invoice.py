"""``asperion.sales_invoice``: post a sales invoice (header + lines) once; an invoice with its description is kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nodes.base import Port, Record
from nodes.targets._documents import AsperionDocumentTarget

__all__ = ("SalesInvoiceTarget",)


class SalesInvoiceTarget(AsperionDocumentTarget):
    """Creates the sales invoice a map node built, unless an invoice with the same description exists."""

    type = "asperion.sales_invoice"
    title = "Asperion sales invoice"
    description = (
        "Books the record as a sales invoice (a concept, with its lines). An invoice whose description is the same "
        "(e.g. 'WooCommerce order 1234') is already booked: the record is skipped."
    )
    inputs = (Port("in", "asperion.sales_invoice"),)
    what = "sales invoice"
    creates = "invoice"
    required = {"debtorCustomerNumber": "debtor", "description": "description"}

    async def find(self, client: Any, record: Record, description: str) -> Mapping[str, Any] | None:
        """Asperion's invoice for the description search."""
        return await client.find_invoice_by_description(description)

    async def create(self, client: Any, payload: dict[str, Any]) -> Any:
        """POST the invoice with its lines."""
        return await client.create_invoice(payload)
