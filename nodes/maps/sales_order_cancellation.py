"""``map.sales_order_cancellation``: an order cancelled, failed, trashed or refunded in full after its sales order was
made → that sales order, to be moved to cancelled.

The sales order is found by its exact description ("WooCommerce order {number}"); the record that goes on is the
sales order as Asperion holds it with status ``cancelled``, which the sales order target books once (an open order's
reservation ends, a delivered order's stock comes back). An order that never became a sales order is skipped before
anything else (no mapping is asked for, no debtor is made); one already cancelled is skipped with its id.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.connectors.asperion import AsperionConnection
from nodes.maps.order_cancellation import cancelled_order

__all__ = ("SalesOrderCancellation", "SalesOrderCancellationSettings")

CANCELLED = ("cancelled", "failed", "trash", "refunded")
"""Refunded in full counts too: nothing was sold, the goods came back (WooCommerce restocks refunded items)."""


class SalesOrderCancellationSettings(NodeConfig):
    """Where the order's sales order is, how it is described, and which statuses cancel it."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"),
        title="Asperion connection",
        description="Read to find the order's sales order.",
    )
    description_template: str = Field(
        "WooCommerce order {number}",
        title="Sales order description",
        description="How the order's sales order is described (as set in the sales order step).",
    )
    statuses: list[str] = Field(
        default_factory=lambda: list(CANCELLED),
        title="Statuses that cancel",
        description="An order in one of these statuses whose sales order is there gets it cancelled.",
    )


class SalesOrderCancellation(ProcessNode):
    """Order cancelled after booking → its sales order, cancelled."""

    type = "map.sales_order_cancellation"
    kind = Kind.MAP
    title = "Cancelled order → sales order cancelled"
    description = (
        "For an order cancelled, failed, trashed or refunded in full after its sales order was made: that sales "
        "order moved to cancelled, once (an open order's reservation ends, a delivered order's stock comes back). "
        "Orders that never became a sales order are skipped."
    )
    app = "asperion"
    config_model = SalesOrderCancellationSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_order"),)

    config: SalesOrderCancellationSettings

    async def process(self, record: Record) -> Record:
        """Find the sales order and ask for it cancelled."""
        _, status, description = cancelled_order(record, self.config.statuses, self.config.description_template)
        found: dict[str, Any] | None = await self.ctx.client(self.config.connection).find_sales_order_by_description(
            description
        )
        if found is None or str(found.get("description") or "").strip() != description:
            raise SkipRecord(f"the order is {status} and never became a sales order: nothing to cancel")
        if str(found.get("status") or "").lower() == "cancelled":
            raise SkipRecord(f"already cancelled: sales order {found.get('orderNumber') or found['id']}")
        return record.derive({**found, "status": "cancelled"})
