"""``woocommerce.orders``: the store's orders, by status, from a start date, incrementally."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field

from nodes.base import Kind, Port, Record
from nodes.echo import Origin, woocommerce_origin
from nodes.sources._common import amount_field, gmt_stamp, incremental_field
from nodes.sources._woocommerce import WooCommerceSource, WooCommerceSourceConfig

__all__ = ("OrdersConfig", "OrdersSource", "order_record")


class OrdersConfig(WooCommerceSourceConfig):
    """Settings of the orders source."""

    statuses: list[str] = Field(
        default_factory=lambda: ["processing", "completed"],
        title="Order statuses",
        description="Read orders with these statuses (empty = every status except trash).",
        json_schema_extra={"ui": {"widget": "select", "multiple": True, "options_from": "woocommerce.order_statuses"}},
    )
    start_date: date | None = Field(
        None,
        title="Orders created from",
        description="Ignore orders created before this day (UTC); empty = no limit.",
    )
    incremental: bool = incremental_field(True, "orders")
    amount_per_run: int | None = amount_field()
    order_by: Literal["modified", "date", "id"] = Field(
        "modified",
        title="Read order",
        description="'modified' (oldest change first) lets an interrupted or limited run continue exactly where it "
        "stopped; 'date' and 'id' read by creation.",
    )


def order_record(order: dict[str, Any]) -> Record:
    """The record of a WooCommerce order: key = its number, source id = ``order:<id>``."""
    return Record(key=str(order.get("number") or order.get("id")), source_id=f"order:{order['id']}", data=order)


class OrdersSource(WooCommerceSource):
    """Reads WooCommerce orders page by page."""

    type = "woocommerce.orders"
    kind = Kind.SOURCE
    title = "WooCommerce orders"
    description = "Reads the store's orders with the chosen statuses, only what changed since the last run by default."
    config_model = OrdersConfig
    outputs = (Port("out", "woocommerce.order"),)
    path = "orders"
    prefixes = ("order",)
    noun = "orders"

    config: OrdersConfig

    def filters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"status": list(self.config.statuses) or ["any"]}
        if self.config.start_date:
            # `after` is exclusive: the last second of the previous day keeps the start day itself.
            day_before = self.config.start_date - timedelta(days=1)
            params.update(after=gmt_stamp(f"{day_before.isoformat()}T23:59:59"), dates_are_gmt=True)
        return params

    async def newest(self) -> date | None:
        """The creation day of the newest order with the chosen statuses (whatever the start date)."""
        query = {"status": list(self.config.statuses) or ["any"], "per_page": 1, "orderby": "date", "order": "desc"}
        items = await self.client.get(self.path, {**query, "_fields": "id,date_created_gmt,date_created"})
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return None
        stamp = str(items[0].get("date_created_gmt") or items[0].get("date_created") or "")
        try:
            return date.fromisoformat(stamp[:10])
        except ValueError:
            return None

    def keyset(self) -> bool:
        return self.config.order_by == "modified"

    def order_params(self) -> dict[str, Any]:
        return {"orderby": self.config.order_by, "order": "asc"}

    async def to_records(self, items: list[dict[str, Any]]) -> list[Record]:
        return [order_record(order) for order in items]

    def origin(self, record: Record) -> Origin | None:
        """An order Koppel made (from an Asperion sales order, say) carries its ``_koppel_source`` meta."""
        return woocommerce_origin(record.data)
