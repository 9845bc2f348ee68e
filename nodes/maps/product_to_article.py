"""``map.product_to_article``: a WooCommerce product or variation → an Asperion article, keyed by SKU.

Simple products (also virtual and downloadable) and each variation of a variable product become one article;
variable parents, grouped and external products are skipped with the reason. The per-field ownership (create-only,
always update, never) is the article target's setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from nodes.accounting import as_id, cents, money, plain_text
from nodes.base import Kind, NodeConfig, Port, ProcessNode, Record, SkipRecord
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.lookups._run_cache import once_per_run
from nodes.maps.fields import CodeTable
from nodes.maps.inputs import source_payload

__all__ = ("ArticleSettings", "ProductToArticle", "build_article", "price_ex_vat")

DEFAULT_TAX_CLASS_RATES: dict[str, str] = {"standard": "21", "reduced-rate": "9", "zero-rate": "0"}


class ArticleSettings(NodeConfig):
    """Settings of the product → article map."""

    connection: WooCommerceConnection = WooCommerceConnection.field("Read for the store's 'prices entered with tax'.")
    prices_include_tax: Literal["store", "yes", "no"] = Field(
        "store",
        title="Prices include VAT",
        description="store: as the store's 'prices entered with tax' setting says; yes/no overrides it. "
        "Asperion's sales price is always ex VAT.",
    )
    tax_class_rates: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_TAX_CLASS_RATES),
        title="VAT rate per tax class",
        description="Tax class slug ('standard' for the empty class) → rate in %, to take VAT out of prices.",
        json_schema_extra={"ui": {"widget": "table", "key_options_from": "woocommerce.tax_classes"}},
    )
    sales_types: CodeTable = Field(
        default_factory=dict,
        title="Sales type per tax class",
        description="Tax class → Asperion sales type (decides revenue account and VAT code); no row: none set.",
        json_schema_extra={"ui": {"widget": "table", "key_options_from": "woocommerce.tax_classes"}},
    )
    ean_meta_key: str = Field(
        "",
        title="EAN meta key",
        description="Product meta key with the EAN/GTIN when WooCommerce's own GTIN field is empty (e.g. _ean).",
    )


def _variation_name(product: Mapping[str, Any], parent: Mapping[str, Any]) -> str:
    name = plain_text(parent.get("name") or product.get("parent_name") or product.get("name"))
    options = [
        f"{plain_text(a.get('name'))}: {plain_text(a.get('option'))}"
        for a in product.get("attributes") or ()
        if a.get("option")
    ]
    return f"{name} – {', '.join(options)}" if options else name


def price_ex_vat(price: Decimal, rate: Decimal, includes_tax: bool) -> Decimal:
    """The price without VAT, to the cent (``price / (1 + rate)`` when the store enters prices with VAT)."""
    return cents(price / (1 + rate / 100) if includes_tax else price)


def _ean(product: Mapping[str, Any], meta_key: str) -> str:
    gtin = str(product.get("global_unique_id") or "").strip()
    if gtin or not meta_key:
        return gtin
    for meta in product.get("meta_data") or ():
        if meta.get("key") == meta_key and str(meta.get("value") or "").strip():
            return str(meta["value"]).strip()
    return ""


def build_article(
    product: Mapping[str, Any], settings: ArticleSettings, *, parent: Mapping[str, Any], includes_tax: bool
) -> dict[str, Any]:
    """The Asperion article of a product or variation. Pure.

    Raises:
        SkipRecord: variable parents, grouped and external products, or no SKU.
    """
    kind = str(product.get("type") or ("variation" if parent or product.get("parent_id") else "simple"))
    if kind in {"grouped", "external"}:
        raise SkipRecord(f"{kind} products have no stock of their own and are not articles")
    if kind == "variable":
        raise SkipRecord("variable product: each of its variations becomes an article")
    sku = str(product.get("sku") or "").strip()
    if not sku:
        raise SkipRecord("the product has no SKU")
    tax_class = str(product.get("tax_class") or "")
    if tax_class == "parent" or (not tax_class and kind == "variation"):
        tax_class = str(parent.get("tax_class") or "")  # a variation's "same as parent"
    tax_class = tax_class or "standard"
    rate = money(settings.tax_class_rates.get(tax_class, settings.tax_class_rates.get("standard", "0")))
    if product.get("tax_status") == "none":
        rate = Decimal(0)
    article: dict[str, Any] = {
        "code": sku,
        "description": _variation_name(product, parent) if kind == "variation" else plain_text(product.get("name")),
        "longDescription": plain_text(product.get("description") or parent.get("description")),
        "salesPrice": float(price_ex_vat(money(product.get("regular_price")), rate, includes_tax)),
        "active": product.get("status", "publish") == "publish",
    }
    ean = _ean(product, settings.ean_meta_key)
    if ean:
        article["ean"] = ean
    if settings.sales_types.get(tax_class):
        article["salesTypeId"] = as_id(settings.sales_types[tax_class])
    return article


class ProductToArticle(ProcessNode):
    """WooCommerce product/variation → Asperion article."""

    type = "map.product_to_article"
    kind = Kind.MAP
    title = "Product → article"
    description = (
        "Turns a WooCommerce product (or a variation: parent name + attributes) into an Asperion article with the "
        "SKU as code, price ex VAT, EAN and active flag; grouped and external products and products without SKU "
        "are skipped. Articles are inferred from Asperion's documentation."
    )
    app = "woocommerce"
    config_model = ArticleSettings
    inputs = (Port("in", "woocommerce.product"),)
    outputs = (Port("out", "asperion.article"),)

    config: ArticleSettings

    async def process(self, record: Record) -> Record:
        """Build the article and pass the field ownership on to the target."""
        product = source_payload(record, "sku")
        parent = product.get("parent") or record.context.get("parent") or {}
        if self.config.prices_include_tax == "store":
            includes_tax = await self._store_includes_tax()
        else:
            includes_tax = self.config.prices_include_tax == "yes"
        article = build_article(product, self.config, parent=parent, includes_tax=includes_tax)
        return record.derive(article)

    async def _store_includes_tax(self) -> bool:
        """The store's ``woocommerce_prices_include_tax`` setting, read once per run."""

        async def read() -> bool:
            setting = await self.ctx.client(self.config.connection).get("settings/tax/woocommerce_prices_include_tax")
            return str((setting or {}).get("value") or "no") == "yes"

        return await once_per_run(self.ctx.cache, f"maps:{self.config.connection}:prices_include_tax", read)
