"""``woocommerce.order``: create a WooCommerce order (e.g. from an Asperion sales order) once, by its reference.

The order carries its origin in two meta fields: the reference (default ``_asperion_order_id``) and Koppel's mark
``_koppel_source`` (``asperion:salesorder:5``, see :mod:`nodes.echo`), whose value no other order contains. Before
creating, the store is searched for the mark (then for the origin's order number, for orders made before marks
existed), **every page** of the answer is walked and each candidate's meta is compared exactly: a search term can
match dates, postcodes and other numbers, so page 1 alone proves nothing. WooCommerce's own search does not look at
every meta field (a shop adds them with the ``woocommerce_shop_order_search_fields`` filter); Koppel's idempotency
map is the first guard either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, RecordFailed, TargetNode
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.echo import MARK_META_KEY, mark_value
from nodes.targets._common import create_once

__all__ = ("OrderConfig", "OrderTarget", "mark_of", "reference_of")

_NUMBER_KEY = "_asperion_order_number"


class OrderConfig(NodeConfig):
    """Settings of the order target."""

    connection: WooCommerceConnection = WooCommerceConnection.field("The store to write to.")
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


def mark_of(record: Record) -> str:
    """The ``_koppel_source`` value of the order made from ``record``: its application and source id."""
    app = str(record.context.get("source_app") or ("asperion" if record.source_id.startswith("salesorder:") else ""))
    return mark_value(app or "koppel", record.source_id)


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
    creates = "order"
    find_only_in_doubt = True
    config: OrderConfig

    async def find_existing(self, record: Record) -> str | None:
        """The id of the order with the record's reference or mark, compared exactly over every page found."""
        key = self.config.reference_meta_key
        reference = reference_of(record.data, key)
        if not reference:
            return None
        mark = mark_of(record)
        client = self.ctx.client(self.config.connection)
        terms = [mark, reference_of(record.data, _NUMBER_KEY)]
        for term in dict.fromkeys(t for t in terms if t):
            query = {"search": term, "status": "any", "orderby": "id", "order": "asc", "_fields": "id,meta_data"}
            async for page in client.pages("orders", query):
                for order in page:
                    if reference_of(order, MARK_META_KEY) == mark or reference_of(order, key) == reference:
                        return str(order["id"])
        return None

    async def high_water(self) -> str | None:
        """The id of the store's newest order ("" for a store without orders). A shop's own orders move it too: a
        flow whose store takes orders between its runs looks up every record (the safe side)."""
        client = self.ctx.client(self.config.connection)
        params = {"orderby": "id", "order": "desc", "per_page": 1, "status": "any", "_fields": "id"}
        newest = await client.get("orders", params) or []
        return str(newest[0].get("id", "")) if newest else ""

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
        data = _with_mark(record.data, mark_of(record))
        wanted = sorted({str(line["sku"]).strip() for line in lines if _by_sku(line)})
        if not wanted:
            return data
        products = await self._products_by_sku(wanted)
        missing = [sku for sku in wanted if sku not in products]
        if missing:
            raise RecordFailed(f"WooCommerce has no product with SKU {', '.join(missing)}")
        resolved = [{**line, **products[str(line["sku"]).strip()]} if _by_sku(line) else line for line in lines]
        return {**data, "line_items": resolved}

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
            delivery.message = f"Created as order {delivery.response['number']} for {reference}"
        return delivery


def _with_mark(order: dict[str, Any], mark: str) -> dict[str, Any]:
    """The order with Koppel's mark in its meta (so it is recognised as Koppel's, also by a new Koppel database)."""
    meta = [m for m in order.get("meta_data") or [] if not (isinstance(m, Mapping) and m.get("key") == MARK_META_KEY)]
    return {**order, "meta_data": [*meta, {"key": MARK_META_KEY, "value": mark}]}
