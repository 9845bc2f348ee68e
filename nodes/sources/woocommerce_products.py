"""``woocommerce.products``: products, and for variable products their variations (one record each)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import Field

from nodes.base import Kind, Port, Record
from nodes.connectors.http import NotFound
from nodes.sources._common import amount_field, incremental_field, record_ids
from nodes.sources._woocommerce import WooCommerceSource, WooCommerceSourceConfig

__all__ = ("ProductsConfig", "ProductsSource", "product_record", "variation_record")

ProductType = Literal["simple", "variable", "grouped", "external"]


class ProductsConfig(WooCommerceSourceConfig):
    """Settings of the products source."""

    types: list[ProductType] = Field(
        default_factory=lambda: list[ProductType](("simple", "variable")),
        title="Product types",
        description="Read products of these types (empty = all).",
        json_schema_extra={"ui": {"widget": "select", "multiple": True}},
    )
    status: Literal["any", "publish", "draft", "pending", "private"] = Field(
        "publish", title="Status", description="Only products with this status ('any' = all but trash)."
    )
    include_variations: bool = Field(
        True,
        title="Variations instead of variable products",
        description="A variable product gives one record per variation, with the product in data.parent.",
    )
    incremental: bool = incremental_field(True, "products")
    amount_per_run: int | None = amount_field()


def product_record(product: dict[str, Any]) -> Record:
    """The record of a product: key = SKU (else its name), source id = ``product:<id>``."""
    key = str(product.get("sku") or "").strip() or f"{product.get('name') or 'product'} #{product['id']}"
    return Record(key=key, source_id=f"product:{product['id']}", data=product)


def variation_record(variation: dict[str, Any], parent: dict[str, Any]) -> Record:
    """The record of a variation with its parent product in ``data["parent"]``; source id ``variation:<id>``."""
    data = {**variation, "type": variation.get("type") or "variation", "parent_id": parent["id"], "parent": parent}
    if not data.get("date_modified_gmt"):
        data["date_modified_gmt"] = parent.get("date_modified_gmt")
    key = str(variation.get("sku") or "").strip() or f"{parent.get('name') or 'product'} #{variation['id']}"
    return Record(key=key, source_id=f"variation:{variation['id']}", data=data)


class ProductsSource(WooCommerceSource):
    """Reads WooCommerce products page by page; variable products become their variations."""

    type = "woocommerce.products"
    kind = Kind.SOURCE
    title = "WooCommerce products"
    description = (
        "Reads the store's products; a variable product gives one record per variation (its parent attached). "
        "Incremental reads follow the product's last change."
    )
    config_model = ProductsConfig
    outputs = (Port("out", "woocommerce.product"),)
    path = "products"
    prefixes = ("product",)

    config: ProductsConfig

    def filters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"status": self.config.status}
        if len(self.config.types) == 1:
            params["type"] = self.config.types[0]
        return params

    def wanted(self, item: dict[str, Any]) -> bool:
        return not self.config.types or item.get("type") in self.config.types

    def countable(self) -> bool:
        return len(self.config.types) <= 1 and not self.config.include_variations

    @staticmethod
    def stamp_of(record: Record) -> Any:
        # the cursor follows the product (the collection is read by the product's change stamp)
        parent = record.data.get("parent")
        source = parent if isinstance(parent, dict) else record.data
        return source.get("date_modified_gmt")

    async def _variations(self, product: dict[str, Any]) -> list[Record]:
        path = f"products/{product['id']}/variations"
        return [
            variation_record(v, product)
            async for page in self.client.pages(path, {"orderby": "id", "order": "asc"})
            for v in page
        ]

    async def to_records(self, items: list[dict[str, Any]]) -> list[Record]:
        split = self.config.include_variations
        # the variations of a page's variable products are fetched side by side (the connection limits how many)
        variations = await asyncio.gather(
            *(self._variations(p) for p in items if split and p.get("type") == "variable")
        )
        found = iter(variations)
        records: list[Record] = []
        for product in items:
            if split and product.get("type") == "variable":
                records.extend(next(found))
            else:
                records.append(product_record(product))
        return records

    async def read(self) -> AsyncIterator[list[Record]]:
        """As the base, plus ``variation:<id>`` entries of ``record_ids`` (each read with its parent)."""
        async for page in super().read():
            yield page
        variation_ids = record_ids({"record_ids": self._variation_ids()}, ("variation",)) or []
        records: list[Record] = []
        for vid in variation_ids:
            try:
                variation = await self.client.get(f"products/{vid}")
                parent = await self.client.get(f"products/{variation['parent_id']}")
            except (NotFound, KeyError):
                continue
            records.append(variation_record(variation, parent))
        if records:
            yield records

    def _variation_ids(self) -> list[str]:
        raw = self.ctx.params.get("record_ids") or []
        raw = [raw] if isinstance(raw, str | int) else raw
        return [str(r) for r in raw if str(r).startswith("variation:")]
