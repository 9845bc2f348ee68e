"""``map.asperion_order_to_woocommerce``: an Asperion sales order → a WooCommerce order (and its customer).

Every article of the order must exist in WooCommerce by SKU (the article code); otherwise the order fails with
the missing SKUs. The debtor becomes the order's billing address and, in ``record.context["customer"]``, the
customer that the WooCommerce customer target finds by e-mail (update) or creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from nodes.accounting import cents, money
from nodes.base import ANY, Kind, NodeConfig, Port, ProcessNode, Record, RecordFailed, SkipRecord
from nodes.connectors.asperion import AsperionConnection, lines_of
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.lookups._run_cache import once_per_run
from nodes.maps.fields import CodeTable
from nodes.maps.inputs import source_payload
from nodes.maps.order_settings import load_articles, load_vat_percentages
from nodes.texts import shown

__all__ = (
    "AsperionOrderSettings",
    "AsperionOrderToWooCommerce",
    "billing_of",
    "build_woocommerce_order",
    "customer_of",
    "woo_rate",
)

REFERENCE_KEY = "_asperion_order_id"


class AsperionOrderSettings(NodeConfig):
    """Settings of the Asperion order → WooCommerce order map."""

    connection: AsperionConnection = AsperionConnection.field("Read for debtors and articles.")
    woocommerce_connection: WooCommerceConnection = WooCommerceConnection.field("Read to find products by SKU.")
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
    shipping_ledgers: list[int] = Field(
        default_factory=lambda: [8300],
        title="Shipping revenue accounts",
        description="A line on a shipping article booked on one of these accounts is shipping; on another account "
        "(a fee booked with the shipping article) it stays a fee.",
    )
    fee_articles: list[str] = Field(
        default_factory=list,
        title="Fee articles",
        description="Article codes whose lines become fees of the WooCommerce order (e.g. a payment surcharge).",
    )
    payment_method: str = Field(
        "bacs",
        title="Payment method",
        description="The WooCommerce payment method of the orders (Asperion's orders are paid on invoice: bank "
        "transfer by default).",
        json_schema_extra={"ui": {"widget": "select", "options_from": "woocommerce.payment_gateways"}},
    )
    vat_number_meta_key: str = Field(
        "_billing_vat_number", title="VAT number meta key", description="Order meta key for the debtor's VAT number."
    )
    shop_country: str = Field("NL", title="Shop country", description="The administration's country.")


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


@dataclass
class _Planned:
    """A line of the WooCommerce order with what the preflight needs."""

    kind: str
    description: str
    amount: Decimal
    vat_code: str
    tax_class: str = "standard"


def build_woocommerce_order(
    sales_order: Mapping[str, Any],
    settings: AsperionOrderSettings,
    *,
    debtor: Mapping[str, Any],
    products: Mapping[str, Mapping[str, Any] | None],
    article_codes: Mapping[str, str],
    percentages: Mapping[str, Decimal] | None = None,
    woo_rates: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The WooCommerce order create payload. Pure.

    Product lines by SKU, shipping lines (shipping articles on a shipping account), fees (fee articles, and shipping
    articles booked elsewhere); the debtor's VAT number in meta, and a reverse-charge order (abroad, a VAT number,
    every line zero-rated) marked VAT exempt so WooCommerce keeps it at 0 %. With ``percentages`` and ``woo_rates``
    the preflight checks that WooCommerce will compute the Asperion order's VAT and total to the cent.

    Args:
        sales_order: the Asperion sales order (lines in ``lines`` or ``lines._data``).
        settings: the node settings.
        debtor: the order's debtor.
        products: WooCommerce product (``id``, ``parent_id``, ``type``, ``tax_class``) per SKU, None when absent.
        article_codes: Asperion article code (SKU) per article id.
        percentages: Asperion VAT percentage per VAT code (no preflight without it).
        woo_rates: the store's tax rates (``/taxes``; no preflight without them).

    Raises:
        RecordFailed: articles without a WooCommerce product, an unknown status, or a preflight difference.
    """
    items: list[dict[str, Any]] = []
    shipping_lines: list[dict[str, Any]] = []
    fee_lines: list[dict[str, Any]] = []
    planned: list[_Planned] = []
    missing: list[str] = []
    shipping_codes = {code.casefold() for code in settings.shipping_articles}
    fee_codes = {code.casefold() for code in settings.fee_articles}
    zero = {code for code, pct in (percentages or {}).items() if pct == 0}
    for line in lines_of(sales_order):
        sku = article_codes.get(str(line.get("articleId")), "") if line.get("articleId") is not None else ""
        amount = cents(money(line.get("amount")))
        description = str(line.get("description") or "")
        code = str(line.get("vatCode") or "")
        ledger = _int_or_none(line.get("ledgerAccountId"))
        shipping_article = bool(sku) and sku.casefold() in shipping_codes
        if sku.casefold() in fee_codes or (shipping_article and ledger not in settings.shipping_ledgers):
            taxable = code not in zero
            fee_lines.append(
                {
                    "name": description or "Toeslag",
                    "total": str(amount),
                    "tax_status": "taxable" if taxable else "none",
                    "tax_class": "",
                }
            )
            planned.append(_Planned("fee", description, amount, code, "standard" if taxable else ""))
            continue
        if shipping_article:
            title = description or "Verzendkosten"
            shipping_lines.append({"method_id": settings.shipping_method, "method_title": title, "total": str(amount)})
            planned.append(_Planned("shipping", title, amount, code))
            continue
        product = products.get(sku) if sku else None
        if not product:
            missing.append(sku or f"(no article: {description or '?'})")
            continue
        is_variation = product.get("type") == "variation" or bool(product.get("parent_id"))
        item: dict[str, Any] = {
            "product_id": product.get("parent_id") if is_variation else product.get("id"),
            "quantity": int(money(line.get("quantity") or 1)),
            "subtotal": str(amount),
            "total": str(amount),
        }
        if is_variation:
            item["variation_id"] = product.get("id")
        items.append(item)
        planned.append(_Planned("product", description or sku, amount, code, _tax_class(product)))
    if missing:
        raise RecordFailed("articles not in WooCommerce by SKU: " + ", ".join(missing), detail={"missing": missing})
    status = str(sales_order.get("status") or "open")
    if status not in settings.status_map:
        raise RecordFailed(f"no WooCommerce status for Asperion status {shown(status)}")
    billing = billing_of(debtor)
    vat_number = str(debtor.get("vatNumber") or "").strip()
    country = billing["country"] or settings.shop_country
    exempt = bool(
        vat_number and country != settings.shop_country and planned and all(p.vat_code in zero for p in planned)
    )
    if percentages is not None and woo_rates is not None:
        _preflight(sales_order, planned, percentages, woo_rates, country, exempt)
    meta = [
        {"key": settings.reference_meta_key, "value": str(sales_order.get("id"))},
        {"key": "_asperion_order_number", "value": str(sales_order.get("orderNumber") or "")},
    ]
    if vat_number:
        meta.append({"key": settings.vat_number_meta_key, "value": vat_number})
        meta.append({"key": "is_vat_exempt", "value": "yes" if exempt else "no"})
    return {
        "status": settings.status_map[status],
        "billing": billing,
        "shipping": {key: value for key, value in billing.items() if key not in {"email", "phone"}},
        "payment_method": settings.payment_method,
        "line_items": items,
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "meta_data": meta,
        "customer_note": str(sales_order.get("description") or ""),
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tax_class(product: Mapping[str, Any]) -> str:
    klass = str(product.get("tax_class") or "")
    if klass == "parent":
        klass = str(product.get("_parent_tax_class") or "")
    return klass or "standard"


def woo_rate(rates: list[Mapping[str, Any]], country: str, tax_class: str) -> Decimal:
    """The rate WooCommerce charges for ``country`` and a tax class (the country's own rate before a catch-all)."""
    klass = tax_class or "standard"
    found = [r for r in rates if (r.get("class") or "standard") == klass and r.get("country") in (country, "")]
    found.sort(key=lambda r: (r.get("country") != country, int(r.get("priority") or 1), int(r.get("order") or 0)))
    return money(found[0].get("rate")) if found else Decimal(0)


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _preflight(
    sales_order: Mapping[str, Any],
    planned: list[_Planned],
    percentages: Mapping[str, Decimal],
    rates: list[Mapping[str, Any]],
    country: str,
    exempt: bool,
) -> None:
    """Fail unless WooCommerce will compute the sales order's VAT and total to the cent (nothing is written)."""
    differences: list[str] = []
    ours = theirs = Decimal(0)
    net = sum((p.amount for p in planned), Decimal(0))
    for p in planned:
        if p.vat_code not in percentages:
            differences.append(f"{p.description}: Asperion VAT code {p.vat_code or '(none)'} is unknown")
            continue
        pct = percentages[p.vat_code]
        rate = Decimal(0) if exempt or not p.tax_class else woo_rate(rates, country, p.tax_class)
        vat, woo_vat = cents(p.amount * pct / 100), cents(p.amount * rate / 100)
        ours, theirs = ours + vat, theirs + woo_vat
        if vat != woo_vat:
            differences.append(
                f"{p.description}: Asperion {p.vat_code} {_pct(pct)}% = {vat}, "
                f"WooCommerce {_pct(rate)}% ({country}) = {woo_vat}"
            )
    if differences:
        number = sales_order.get("orderNumber") or sales_order.get("id")
        raise RecordFailed(
            f"sales order {number} would not become the same WooCommerce order: " + "; ".join(differences),
            detail={
                "asperion": {"excl_vat": str(net), "vat": str(ours), "total": str(net + ours)},
                "woocommerce": {"excl_vat": str(net), "vat": str(theirs), "total": str(net + theirs)},
            },
        )


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
        other = {code.casefold() for code in [*self.config.shipping_articles, *self.config.fee_articles]}
        skus = {codes.get(str(line.get("articleId")), "") for line in lines_of(sales_order)} - {""}
        skus = {sku for sku in skus if sku.casefold() not in other}
        products = {sku: await self._product(sku) for sku in sorted(skus)}
        order = build_woocommerce_order(
            sales_order,
            self.config,
            debtor=debtor,
            products=products,
            article_codes=codes,
            percentages=await load_vat_percentages(self.ctx, self.config.connection) or None,
            woo_rates=await self._woo_rates(),
        )
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

    async def _woo_rates(self) -> list[Mapping[str, Any]]:
        async def every_rate() -> list[Mapping[str, Any]]:
            client = self.ctx.client(self.config.woocommerce_connection)
            return [rate async for page in client.pages("taxes") for rate in page]

        key = f"maps:{self.config.woocommerce_connection}:taxes"
        rates: list[Mapping[str, Any]] = await once_per_run(self.ctx.cache, key, every_rate)
        return rates

    async def _product(self, sku: str) -> Mapping[str, Any] | None:
        cache: dict[str, Any] = self.ctx.cache.setdefault(f"maps:{self.config.woocommerce_connection}:sku", {})
        if sku not in cache:
            client = self.ctx.client(self.config.woocommerce_connection)
            found = await client.get("products", {"sku": sku})
            exact = [dict(p) for p in found or () if str(p.get("sku") or "").strip() == sku]
            if exact and exact[0].get("tax_class") == "parent" and exact[0].get("parent_id"):
                parent = await client.get(f"products/{exact[0]['parent_id']}", {"_fields": "id,tax_class"})
                exact[0]["_parent_tax_class"] = (parent or {}).get("tax_class") or ""
            cache[sku] = exact[0] if exact else None
        product: Mapping[str, Any] | None = cache[sku]
        return product
