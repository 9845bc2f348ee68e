"""``map.article_to_stock``: an Asperion article → the WooCommerce stock of the product with its SKU.

Asperion's stock cannot be written through its API, so stock flows from Asperion to WooCommerce: the formula
(available − reserved by open sales orders, physical, or available) decides the number, never below 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR
from typing import Any, Literal

from pydantic import Field

from nodes.accounting import money
from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.maps.inputs import source_payload

__all__ = ("ArticleToStock", "StockSettings", "stock_quantity")

Formula = Literal["available_minus_reserved", "physical", "available"]


class StockSettings(NodeConfig):
    """Settings of the article → stock map."""

    formula: Formula = Field(
        "available_minus_reserved",
        title="Stock formula",
        description="available_minus_reserved: current stock minus what open sales orders reserve (default); "
        "physical: current stock; available: current stock (as Asperion reports it as available).",
    )
    manage_stock: bool = Field(
        True,
        title="Switch on 'manage stock'",
        description="On: WooCommerce's manage_stock is switched on for the product so the number counts.",
    )
    only_active: bool = Field(True, title="Only active articles")
    exclude_codes: list[str] = Field(
        default_factory=lambda: ["VERZEND"],
        title="Articles that are not products",
        description="Article codes the shop does not sell as products (e.g. VERZEND, the shipping costs article).",
    )


def stock_quantity(article: Mapping[str, Any], formula: Formula) -> int:
    """WooCommerce stock of an article by the formula, whole units, never below 0."""
    current = money(article.get("currentStock"))
    reserved = money(article.get("reservedStock"))
    available = money(article.get("availableStock")) if article.get("availableStock") is not None else current
    if formula == "available_minus_reserved":
        value = available - reserved if article.get("availableStock") is None else available
    elif formula == "physical":
        value = current
    else:
        value = available
    return max(0, int(value.to_integral_value(rounding=ROUND_FLOOR)))


class ArticleToStock(ProcessNode):
    """Asperion article → WooCommerce stock update by SKU."""

    type = "map.article_to_stock"
    kind = Kind.MAP
    title = "Article → stock"
    description = (
        "Computes the WooCommerce stock of an Asperion article (default: current stock minus reserved by open "
        "sales orders, never below 0) for the product with the same SKU."
    )
    config_model = StockSettings
    inputs = (Port("in", "asperion.article"),)
    outputs = (Port("out", "woocommerce.stock_update"),)

    config: StockSettings

    async def process(self, record: Record) -> Record:
        """``{"sku", "stock_quantity", "manage_stock"}`` for the stock target."""
        article = source_payload(record, "code")
        sku = str(article.get("code") or "").strip()
        if not sku:
            raise SkipRecord("the article has no code (SKU)")
        if sku.casefold() in {code.casefold() for code in self.config.exclude_codes}:
            raise SkipRecord(f"article {sku} is not a product of the shop (excluded)")
        if self.config.only_active and article.get("active") is False:
            raise SkipRecord("the article is not active")
        if article.get("currentStock") is None and article.get("availableStock") is None:
            # No stock information is not "0 in stock": setting 0 would take the product off sale.
            raise SkipRecord(
                f"article {sku} has no stock information in Asperion (a service or a download?): "
                "its WooCommerce stock is left as it is"
            )
        update: dict[str, Any] = {"sku": sku, "stock_quantity": stock_quantity(article, self.config.formula)}
        if self.config.manage_stock:
            update["manage_stock"] = True
        return record.derive(update)
