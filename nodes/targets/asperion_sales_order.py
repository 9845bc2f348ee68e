"""``asperion.sales_order``: post a sales order (header + lines) once; an order with its description is kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nodes.base import Port, Record
from nodes.connectors.asperion import SALES_ORDERS
from nodes.targets._documents import AsperionDocumentTarget

__all__ = ("SalesOrderTarget",)


class SalesOrderTarget(AsperionDocumentTarget):
    """Creates the sales order a map node built, unless an order with the same description exists."""

    type = "asperion.sales_order"
    title = "Asperion sales order"
    description = (
        "Creates the record as a sales order with its lines (inTrade administrations: this is how stock moves). "
        "An order whose description is the same is already there: the record is skipped. Sales orders in "
        "Asperion's API are inferred from its documentation, not its published reference."
    )
    inputs = (Port("in", "asperion.sales_order"),)
    what = "sales order"
    collection = SALES_ORDERS
    required = {"debtorCustomerNumber": "debtor", "description": "description"}

    async def find(self, client: Any, record: Record, description: str) -> Mapping[str, Any] | None:
        """Asperion's sales order for the description search."""
        return await client.find_sales_order_by_description(description)

    async def create(self, client: Any, payload: dict[str, Any]) -> Any:
        """POST the sales order with its lines."""
        return await client.create_sales_order(payload)
