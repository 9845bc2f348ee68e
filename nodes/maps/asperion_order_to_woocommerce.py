"""``map.asperion_order_to_woocommerce``: an Asperion sales order → a WooCommerce order (and its customer).

Every article of the order must exist in WooCommerce by SKU (the article code); otherwise the order fails with
the missing SKUs. The debtor becomes the order's billing address and, in ``record.context["customer"]``, the
customer that the WooCommerce customer target finds by e-mail (update) or creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from nodes.accounting import cents, money
from nodes.base import ANY, Kind, NodeConfig, Port, ProcessNode, Record, RecordFailed, SkipRecord
from nodes.connectors.asperion import AsperionConnection
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.maps.fields import CodeTable
from nodes.maps.inputs import source_payload
from nodes.maps.order_settings import load_articles

__all__ = (
    "AsperionOrderSettings",
    "AsperionOrderToWooCommerce",
    "billing_of",
    "build_woocommerce_order",
    "customer_of",
)

REFERENCE_KEY = "_asperion_order_id"


class AsperionOrderSettings(NodeConfig):
    """Settings of the Asperion order → WooCommerce order map."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"), title="Asperion connection", description="Read for debtors and articles."
    )
    woocommerce_connection: WooCommerceConnection = Field(
        WooCommerceConnection("woocommerce"),
        title="WooCommerce connection",
        description="Read to find products by SKU.",
    )
    status_map: CodeTable = Field(
        default_factory=lambda: {"open": "processing", "delivered": "completed", "invoiced": "completed"},
        title="Order status per Asperion status",
        description="Asperion sales order status → WooCommerce order status.",
        json_schema_extra={"ui": {"widget": "table", "value_options_from": "woocommerce.order_statuses"}},
    )
    output: Literal["order", "customer"] = Field(
        "order",
        title="Output",
        description="order: the WooCommerce order (for the order target); customer: the debtor as a WooCommerce "
        "customer (for the customer target, which finds it by e-mail and updates it, or creates it).",
    )
    shipping_articles: list[str] = Field(
        default_factory=lambda: ["VERZEND"],
        title="Shipping articles",
        description="Article codes whose lines become the order's shipping costs instead of products.",
    )
    shipping_method: str = Field("flat_rate", title="Shipping method of those lines")
    reference_meta_key: str = Field(
        REFERENCE_KEY,
        title="Reference meta key",
        description="Order meta key that keeps the Asperion order id (how an order already sent is recognised).",
    )


def billing_of(debtor: Mapping[str, Any]) -> dict[str, str]:
    """A WooCommerce address from an Asperion debtor (company debtor: contact person as the name)."""
    contact = str(debtor.get("attentionTo") or "").strip()
    company = str(debtor.get("name") or "").strip() if contact else ""
    first, _, last = (contact or str(debtor.get("name") or "")).strip().partition(" ")
    return {
        "first_name": first,
        "last_name": last,
        "company": company,
        "address_1": str(debtor.get("address") or ""),
        "address_2": str(debtor.get("addressLine2") or ""),
        "postcode": str(debtor.get("postCode") or ""),
        "city": str(debtor.get("city") or ""),
        "country": str(debtor.get("countryCode") or ""),
        "email": str(debtor.get("emailAddress") or "").strip().lower(),
        "phone": str(debtor.get("phoneNumber") or ""),
    }


def build_woocommerce_order(
    sales_order: Mapping[str, Any],
    settings: AsperionOrderSettings,
    *,
    debtor: Mapping[str, Any],
    products: Mapping[str, Mapping[str, Any] | None],
    article_codes: Mapping[str, str],
) -> dict[str, Any]:
    """The WooCommerce order create payload. Pure.

    Args:
        sales_order: the Asperion sales order (lines in ``lines`` or ``lines._data``).
        settings: the node settings.
        debtor: the order's debtor.
        products: WooCommerce product (``id``, ``parent_id``, ``type``) per SKU, None when absent.
        article_codes: Asperion article code (SKU) per article id.

    Raises:
        RecordFailed: articles without a WooCommerce product, or an unknown status.
    """
    lines = sales_order.get("lines") or []
    if isinstance(lines, Mapping):
        lines = lines.get("_data") or []
    items: list[dict[str, Any]] = []
    shipping_lines: list[dict[str, Any]] = []
    missing: list[str] = []
    shipping_codes = {code.casefold() for code in settings.shipping_articles}
    for line in lines:
        sku = article_codes.get(str(line.get("articleId")), "") if line.get("articleId") is not None else ""
        if sku and sku.casefold() in shipping_codes:
            shipping_lines.append(
                {
                    "method_id": settings.shipping_method,
                    "method_title": str(line.get("description") or "Verzendkosten"),
                    "total": str(cents(money(line.get("amount")))),
                }
            )
            continue
        product = products.get(sku) if sku else None
        if not product:
            missing.append(sku or f"(no article: {line.get('description') or '?'})")
            continue
        is_variation = product.get("type") == "variation" or bool(product.get("parent_id"))
        item: dict[str, Any] = {
            "product_id": product.get("parent_id") if is_variation else product.get("id"),
            "quantity": int(money(line.get("quantity") or 1)),
            "subtotal": str(cents(money(line.get("amount")))),
            "total": str(cents(money(line.get("amount")))),
        }
        if is_variation:
            item["variation_id"] = product.get("id")
        items.append(item)
    if missing:
        raise RecordFailed("articles not in WooCommerce by SKU: " + ", ".join(missing), detail={"missing": missing})
    status = str(sales_order.get("status") or "open")
    if status not in settings.status_map:
        raise RecordFailed(f"no WooCommerce status for Asperion status {status!r}")
    billing = billing_of(debtor)
    shipping = {key: value for key, value in billing.items() if key not in {"email", "phone"}}
    return {
        "status": settings.status_map[status],
        "billing": billing,
        "shipping": shipping,
        "line_items": items,
        "shipping_lines": shipping_lines,
        "meta_data": [
            {"key": settings.reference_meta_key, "value": str(sales_order.get("id"))},
            {"key": "_asperion_order_number", "value": str(sales_order.get("orderNumber") or "")},
        ],
        "customer_note": str(sales_order.get("description") or ""),
    }


def customer_of(debtor: Mapping[str, Any]) -> dict[str, Any]:
    """The WooCommerce customer of an Asperion debtor (billing = shipping address)."""
    billing = billing_of(debtor)
    return {
        "email": billing["email"],
        "first_name": billing["first_name"],
        "last_name": billing["last_name"],
        "billing": billing,
        "shipping": {key: value for key, value in billing.items() if key not in {"email", "phone"}},
    }


class AsperionOrderToWooCommerce(ProcessNode):
    """Asperion sales order → WooCommerce order."""

    type = "map.asperion_order_to_woocommerce"
    kind = Kind.MAP
    title = "Asperion order → WooCommerce order"
    description = (
        "Turns an Asperion sales order into a WooCommerce order: the debtor as billing address and customer, the "
        "article lines as products found by SKU (missing SKUs fail the order), the status by the status table, "
        "and the Asperion order id in the order's meta so it is sent once."
    )
    app = "asperion"  # and a WooCommerce connection: both are typed connection fields of the config
    config_model = AsperionOrderSettings
    inputs = (Port("in", "asperion.sales_order"),)
    outputs = (Port("out", ANY),)  # woocommerce.order_create, or woocommerce.customer with output "customer"

    config: AsperionOrderSettings

    async def process(self, record: Record) -> Record:
        """Look up debtor, article codes and products, then build the order."""
        sales_order = source_payload(record, "lines")
        asperion = self.ctx.client(self.config.connection)
        number = str(sales_order.get("debtorCustomerNumber") or "")
        debtor = await asperion.find_debtor_by_customer_number(number) if number else None
        if not debtor:
            raise RecordFailed(f"debtor {number or '(none)'} of the sales order not found in Asperion")
        if self.config.output == "customer":
            if not str(debtor.get("emailAddress") or "").strip():
                raise SkipRecord(f"debtor {number} has no e-mail address: the order is a guest order")
            return record.derive(customer_of(debtor))
        codes = await self._article_codes()
        lines = sales_order.get("lines") or []
        lines = lines.get("_data") or [] if isinstance(lines, Mapping) else lines
        shipping = {code.casefold() for code in self.config.shipping_articles}
        skus = {codes.get(str(line.get("articleId")), "") for line in lines} - {""}
        skus = {sku for sku in skus if sku.casefold() not in shipping}
        products = {sku: await self._product(sku) for sku in sorted(skus)}
        order = build_woocommerce_order(sales_order, self.config, debtor=debtor, products=products, article_codes=codes)
        customer_id = await self._customer_id(order["billing"]["email"])
        if customer_id:
            order["customer_id"] = customer_id
        return record.derive(order)

    async def _customer_id(self, email: str) -> int | None:
        if not email:
            return None
        client = self.ctx.client(self.config.woocommerce_connection)
        found = await client.get("customers", {"email": email, "role": "all"})
        exact = [c for c in found or () if str(c.get("email") or "").strip().lower() == email]
        return int(exact[0]["id"]) if exact else None

    async def _article_codes(self) -> dict[str, str]:

        by_code = await load_articles(self.ctx, self.config.connection) or {}
        return {str(article_id): code for code, article_id in by_code.items()}

    async def _product(self, sku: str) -> Mapping[str, Any] | None:
        cache: dict[str, Any] = self.ctx.cache.setdefault(f"maps:{self.config.woocommerce_connection}:sku", {})
        if sku not in cache:
            client = self.ctx.client(self.config.woocommerce_connection)
            found = await client.get("products", {"sku": sku})
            exact = [p for p in found or () if str(p.get("sku") or "").strip() == sku]
            cache[sku] = exact[0] if exact else None
        product: Mapping[str, Any] | None = cache[sku]
        return product
