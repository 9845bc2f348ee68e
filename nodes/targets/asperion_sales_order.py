"""``asperion.sales_order``: post a sales order (header + lines) once; an order with its description is kept.

A sales order for a completed WooCommerce order is delivered: one posted while the order was still open is moved to
delivered when the order comes round completed (its reservation ends). That is why this target is asked every time
(an upsert): the idempotency map alone would skip the completed order as delivered before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from nodes.base import Delivery, Port, Record
from nodes.connectors.asperion import SALES_ORDERS
from nodes.targets._common import scratch, write
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
    creates = "salesorder"
    collection = SALES_ORDERS
    required = {"debtorCustomerNumber": "debtor", "description": "description"}
    upsert: ClassVar[bool] = True

    async def find_existing(self, record: Record) -> str | None:
        """The existing order's id; None (and a note for :meth:`send`) when an open one must move to delivered."""
        description = str(record.data.get("description") or "").strip()
        if not description:
            return None
        found = await self.find(self.ctx.client(self.config.connection), record, description)
        if found is None or str(found.get("description") or "").strip() != description:
            return None
        wanted = str(record.data.get("status") or "open").lower()
        if wanted == "delivered" and str(found.get("status") or "open").lower() == "open":
            scratch(record, self.id)["move"] = found
            return None
        return str(found["id"])

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """POST the order, or move the open one found to delivered."""
        found = scratch(record, self.id).get("move")
        if found is None:
            return await super().send(record, payload)
        client = self.ctx.client(self.config.connection)
        answer = await write(client.update_sales_order(found["id"], {**found, "status": "delivered"}), "sales order")
        number = found.get("orderNumber") or found["id"]
        message = f"sales order {number} moved to delivered: the order is completed, its reservation ends"
        return Delivery(str(found["id"]), message, request={"status": "delivered"}, response=answer)

    async def find(self, client: Any, record: Record, description: str) -> Mapping[str, Any] | None:
        """Asperion's sales order for the description search."""
        return await client.find_sales_order_by_description(description)

    async def create(self, client: Any, payload: dict[str, Any]) -> Any:
        """POST the sales order with its lines."""
        return await client.create_sales_order(payload)
