"""``woocommerce.stock``: write an article's stock to its WooCommerce product or variation, only when it changed.

Records carry ``{sku, product_id?, variation_id?, stock_quantity, manage_stock?}``. Without a product id the product
(or variation) is found by SKU. The current stock is read first and an unchanged one is skipped ("unchanged"), so a
nightly run over every article writes only the few that moved.

Design choice: one ``PUT`` per changed product instead of the batch endpoint. The target interface hands over one
record at a time and must answer with that record's delivery; buffering records into batches of 100 would tie one
record's outcome to others' (a refused element, a lost answer for the whole batch). Only changed values are sent, so
the number of writes stays small; the connector's concurrency limit keeps the calls flowing in parallel.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nodes.base import Delivery, Kind, NodeConfig, Port, Record, RecordFailed, SkipRecord, TargetNode
from nodes.connectors.http import NotFound
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.targets._common import scratch, write
from nodes.texts import shown

__all__ = ("StockConfig", "StockTarget", "stock_body")

_FIELDS = "id,sku,parent_id,type,manage_stock,stock_quantity,virtual,downloadable"


class StockConfig(NodeConfig):
    """Settings of the stock target."""

    connection: WooCommerceConnection = WooCommerceConnection.field("The store to write to.")


def _int(value: Any, name: str) -> int:
    try:
        return int(float(str(value)))
    except ValueError:
        raise RecordFailed(f"{name} is not a number: {shown(value)}") from None


def stock_body(data: dict[str, Any]) -> dict[str, Any]:
    """The WooCommerce fields the record asks for: stock never below 0; ``manage_stock`` true unless it says no."""
    manage = data.get("manage_stock", True)
    if manage is False:
        return {"manage_stock": False}
    if data.get("stock_quantity") in (None, ""):
        raise RecordFailed(f"the stock record for SKU {data.get('sku') or '?'} has no stock_quantity")
    return {"manage_stock": True, "stock_quantity": max(0, _int(data["stock_quantity"], "stock_quantity"))}


class StockTarget(TargetNode):
    """Sets stock quantities of WooCommerce products and variations."""

    type = "woocommerce.stock"
    kind = Kind.TARGET
    title = "WooCommerce stock"
    description = (
        "Writes the record's stock quantity to the WooCommerce product or variation (found by id, else by SKU), "
        "switching 'manage stock' on; unchanged stock is skipped, and virtual or downloadable products never get "
        "'manage stock'."
    )
    app = "woocommerce"
    config_model = StockConfig
    inputs = (Port("in", "woocommerce.stock_update"),)
    what: ClassVar[str] = "product"
    would: ClassVar[str] = "Would update the stock of {key}"
    upsert: ClassVar[bool] = True
    """Delivered before is no reason to skip: stock changes every day."""

    config: StockConfig

    async def _current(self, record: Record) -> tuple[str, dict[str, Any]]:
        """The product's REST path and its current stock fields."""
        data = record.data
        client = self.ctx.client(self.config.connection)
        product_id, variation_id = data.get("product_id"), data.get("variation_id")
        sku = str(data.get("sku") or "").strip()
        if product_id:
            path = f"products/{product_id}/variations/{variation_id}" if variation_id else f"products/{product_id}"
            try:
                return path, await client.get(path, {"_fields": _FIELDS})
            except NotFound:
                raise RecordFailed(f"WooCommerce has no product {path.removeprefix('products/')}") from None
        if not sku:
            raise RecordFailed("the stock record has neither a product id nor a SKU")
        for item in await client.get("products", {"sku": sku, "_fields": _FIELDS}) or []:
            if str(item.get("sku") or "").strip() == sku:
                parent = item.get("parent_id")
                is_variation = item.get("type") == "variation" or bool(parent)
                path = f"products/{parent}/variations/{item['id']}" if is_variation else f"products/{item['id']}"
                return path, item
        # Articles that are not sold in the shop (shipping costs, raw materials) are normal: not a failure.
        raise SkipRecord(f"WooCommerce has no product or variation with SKU {sku}")

    async def find_existing(self, record: Record) -> str | None:
        """None when the stock differs.

        Raises:
            SkipRecord: the product already has this stock ("unchanged"), or the store has no product with the SKU.
            RecordFailed: the record names a product id the store does not have.
        """
        body = stock_body(record.data)
        path, current = await self._current(record)
        scratch(record, self.id).update(path=path, current=current)
        if (current.get("virtual") or current.get("downloadable")) and body["manage_stock"]:
            # Nothing to count for an e-book, a workshop or a gift card: "manage stock" would only stop its sale.
            kind = "downloadable" if current.get("downloadable") else "virtual"
            label = record.data.get("sku") or path
            raise SkipRecord(f"product {label} is {kind}: its stock is not managed", target_id=str(current["id"]))
        same_manage = current.get("manage_stock") is body["manage_stock"]
        if same_manage and (not body["manage_stock"] or current.get("stock_quantity") == body["stock_quantity"]):
            label = record.data.get("sku") or path
            raise SkipRecord(
                f"stock of {label} unchanged ({current.get('stock_quantity')})", target_id=str(current["id"])
            )
        return None

    async def build(self, record: Record) -> dict[str, Any]:
        """``{"manage_stock": true, "stock_quantity": n}`` (or ``{"manage_stock": false}``)."""
        return stock_body(record.data)

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        """PUT the stock (safe to repeat)."""
        state = scratch(record, self.id)
        if "path" not in state:
            state["path"], state["current"] = await self._current(record)
        path, current = state["path"], state["current"]
        label = record.data.get("sku") or path
        client = self.ctx.client(self.config.connection)
        answer = await write(client.put(path, payload), f"stock of {label}")
        was, now = current.get("stock_quantity"), payload.get("stock_quantity")
        was_text = "not tracked" if was is None else str(was)
        message = (
            f"Stock of {label} set to {now} (was {was_text})"
            if now is not None
            else f"Stock of {label} no longer tracked"
        )
        return Delivery(str(current["id"]), message, request=payload, response=answer)
