"""``woocommerce.order_status``: set a WooCommerce order's status (e.g. completed once its invoice is booked)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, RecordFailed, SkipRecord, TargetNode
from nodes.connectors.http import NotFound
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.paths import get_value
from nodes.targets._common import scratch, write
from nodes.texts import shown

__all__ = ("OrderStatusConfig", "OrderStatusTarget", "order_id_of")


class OrderStatusConfig(NodeConfig):
    """Settings of the order status target."""

    connection: WooCommerceConnection = WooCommerceConnection.field("The store to write to.")
    status: str = Field(
        "completed",
        title="New status",
        description="The status the order gets (WooCommerce sends its e-mails for the change).",
        json_schema_extra={"ui": {"widget": "select", "options_from": "woocommerce.order_statuses"}},
    )
    order_id_field: str = Field(
        "",
        title="Order id from",
        description="Path in the record's data holding the WooCommerce order id; empty: the order the record "
        "came from.",
        json_schema_extra={"ui": {"widget": "field_picker"}},
    )


def order_id_of(record: Record, path: str = "") -> int:
    """The WooCommerce order id a record is about.

    Raises:
        RecordFailed: the record names no order.
    """
    value: Any = get_value(record.data, path) if path else None
    if value in (None, "") and record.source_id.startswith("order:"):
        value = record.source_id.split(":", 1)[1]
    try:
        return int(str(value))
    except ValueError:
        where = f"at {shown(path)}" if path else "(it did not come from a WooCommerce order)"
        raise RecordFailed(f"the record has no WooCommerce order id {where}") from None


class OrderStatusTarget(TargetNode):
    """Puts a WooCommerce order in the configured status; an order already in it is skipped."""

    type = "woocommerce.order_status"
    kind = Kind.TARGET
    title = "WooCommerce order status"
    description = "Sets the status of the record's WooCommerce order; an order already in that status is skipped."
    app = "woocommerce"
    config_model = OrderStatusConfig
    inputs = (Port("in", "any"),)

    what: ClassVar[str] = "order"
    would: ClassVar[str] = "Would update the status of order {key}"
    config: OrderStatusConfig

    async def find_existing(self, record: Record) -> str | None:
        """Reads the order's current status.

        Raises:
            SkipRecord: the order already has the status.
            RecordFailed: the store has no such order.
        """
        order_id = order_id_of(record, self.config.order_id_field)
        client = self.ctx.client(self.config.connection)
        try:
            order = await client.get(f"orders/{order_id}", {"_fields": "id,number,status"})
        except NotFound:
            raise RecordFailed(f"WooCommerce has no order {order_id}") from None
        number = str(order.get("number") or order_id)
        scratch(record, self.id).update(order_id=order_id, number=number, status=order.get("status"))
        if order.get("status") == self.config.status:
            raise SkipRecord(f"order {number} is already {self.config.status}", target_id=str(order_id))
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        """``{"status": <new status>}``."""
        order_id_of(record, self.config.order_id_field)
        return {"status": self.config.status}

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """PUT the status (safe to repeat)."""
        order_id = order_id_of(record, self.config.order_id_field)
        state = scratch(record, self.id)
        number = state.get("number", str(order_id))
        client = self.ctx.client(self.config.connection)
        answer = await write(client.put(f"orders/{order_id}", payload), f"status of order {number}")
        was = f" (was {state['status']})" if state.get("status") else ""
        return Delivery(
            str(order_id),
            f"Status of order {number} set to {self.config.status}{was}",
            request=payload,
            response=answer,
        )
