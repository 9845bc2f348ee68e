"""``woocommerce.order``: create a WooCommerce order (e.g. from an Asperion sales order) once, by its reference.

The order carries its origin in a meta field (default ``_asperion_order_id``). Before creating, the store is searched
for that reference and the candidates' meta is checked exactly. WooCommerce's own search does not look at every meta
field (a shop can add it with the ``woocommerce_shop_order_search_fields`` filter); Koppel's idempotency map is the
first guard either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, RecordFailed, TargetNode
from nodes.targets._common import create_once

__all__ = ("OrderConfig", "OrderTarget", "reference_of")


class OrderConfig(NodeConfig):
    """Settings of the order target."""

    connection: str = Field("woocommerce", title="WooCommerce connection", description="The store to write to.")
    reference_meta_key: str = Field(
        "_asperion_order_id",
        title="Reference meta key",
        description="The order meta field holding the origin's id; an order with the same value exists already.",
    )


def reference_of(order: Mapping[str, Any], key: str) -> str:
    """The value of meta ``key`` in an order (payload or WooCommerce object), or ""."""
    for meta in order.get("meta_data") or []:
        if isinstance(meta, Mapping) and meta.get("key") == key and meta.get("value") not in (None, ""):
            return str(meta["value"]).strip()
    return ""


def _by_sku(line: Mapping[str, Any]) -> bool:
    return bool(str(line.get("sku") or "").strip()) and not line.get("product_id") and not line.get("variation_id")


class OrderTarget(TargetNode):
    """Creates a WooCommerce order unless one with the same reference exists."""

    type = "woocommerce.order"
    kind = Kind.TARGET
    title = "WooCommerce order"
    description = (
        "Creates the record as a WooCommerce order. An order whose reference meta field (default "
        "_asperion_order_id) has the same value exists already: the record is skipped."
    )
    app = "woocommerce"
    config_model = OrderConfig
    inputs = (Port("in", "woocommerce.order_create"),)

    what: ClassVar[str] = "order"
    find_only_in_doubt = True
    config: OrderConfig

    async def find_existing(self, record: Record) -> str | None:
        """The id of the order with the record's reference, checked exactly."""
        key = self.config.reference_meta_key
        reference = reference_of(record.data, key)
        if not reference:
            return None
        client = self.ctx.client(self.config.connection)
        for order in await client.get("orders", {"search": reference, "status": "any", "per_page": 100}) or []:
            if reference_of(order, key) == reference:
                return str(order["id"])
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        """The order as the map made it, with lines given by SKU resolved to their product (and variation).

        Raises:
            RecordFailed: no reference, no lines, or SKUs the store does not have (all of them named).
        """
        key = self.config.reference_meta_key
        if not reference_of(record.data, key):
            raise RecordFailed(f"The order has no {key} meta field, so it could not be found again")
        lines = record.data.get("line_items")
        if not lines:
            raise RecordFailed("The order has no line items")
        wanted = sorted({str(line["sku"]).strip() for line in lines if _by_sku(line)})
        if not wanted:
            return record.data
        products = await self._products_by_sku(wanted)
        missing = [sku for sku in wanted if sku not in products]
        if missing:
            raise RecordFailed(f"WooCommerce has no product with SKU {', '.join(missing)}")
        resolved = [{**line, **products[str(line["sku"]).strip()]} if _by_sku(line) else line for line in lines]
        return {**record.data, "line_items": resolved}

    async def _products_by_sku(self, skus: list[str]) -> dict[str, dict[str, int]]:
        client = self.ctx.client(self.config.connection)
        found: dict[str, dict[str, int]] = {}
        for start in range(0, len(skus), 100):
            chunk = skus[start : start + 100]
            params = {"sku": ",".join(chunk), "per_page": 100, "_fields": "id,sku,parent_id,type"}
            for item in await client.get("products", params) or []:
                sku = str(item.get("sku") or "").strip()
                if sku in chunk and sku not in found:
                    parent = item.get("parent_id")
                    if item.get("type") == "variation" or parent:
                        found[sku] = {"product_id": int(parent), "variation_id": int(item["id"])}
                    else:
                        found[sku] = {"product_id": int(item["id"])}
        return found

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """POST the order; a lost answer is checked by reference before anything is posted again."""
        client = self.ctx.client(self.config.connection)
        reference = reference_of(payload, self.config.reference_meta_key)
        delivery = await create_once(
            lambda: client.post("orders", payload), lambda: self.find_existing(record), f"order {reference}", payload
        )
        if isinstance(delivery.response, Mapping) and delivery.response.get("number"):
            delivery.message = f"order {delivery.response['number']} created for {reference}"
        return delivery
