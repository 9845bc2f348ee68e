"""Settings shared by the order map nodes (invoice, sales order, credit invoices) and the tables they read live.

Every table and choice of mappings.md steps 4–11 is a field here, with the defaults of mappings.md, so the canvas
renders them as forms whose table editors offer live Asperion and WooCommerce values.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from nodes.accounting import DEFAULT_REVENUE_ACCOUNTS, DEFAULT_VAT_CODES, DEFAULT_VAT_NUMBER_KEYS, money
from nodes.base import NodeConfig, NodeContext
from nodes.connectors.asperion import AsperionConnection
from nodes.lookups._run_cache import once_per_run
from nodes.maps.fields import Code, CodeTable
from nodes.maps.order_lines import DEFAULT_SHIPPING_ACCOUNTS, LineRules

__all__ = (
    "DEFAULT_PAYMENT_CONDITIONS",
    "InvoiceSettings",
    "OrderLineSettings",
    "header_date",
    "load_articles",
    "load_vat_percentages",
)

DEFAULT_PAYMENT_CONDITIONS: dict[str, str] = {"bacs": "2", "cheque": "2", "cod": "4", "*": "1"}
"""Payment method → Asperion payment condition id: 14 dagen, 14 dagen, Rembours, and Direct for any other."""


def _table(key_from: str | None, value_from: str | None) -> dict[str, Any]:
    ui: dict[str, Any] = {"widget": "table"}
    if key_from:
        ui["key_options_from"] = key_from
    if value_from:
        ui["value_options_from"] = value_from
    return {"ui": ui}


class OrderLineSettings(NodeConfig):
    """How an order's lines become Asperion lines (mappings.md steps 5–11)."""

    connection: AsperionConnection = Field(
        AsperionConnection("asperion"),
        title="Asperion connection",
        description="Read to find articles by SKU and the VAT percentages for the preflight.",
    )
    shop_country: str = Field(
        "NL",
        title="Shop country",
        description="The administration's country: orders to it are domestic.",
        json_schema_extra={"ui": {"widget": "select", "options_from": "woocommerce.countries"}},
    )
    tax_basis: Literal["shipping", "billing"] = Field(
        "shipping",
        title="Tax country",
        description="shipping: the shipping country when the order has one, else billing (WooCommerce's default); "
        "billing: always the billing country.",
    )
    vat_number_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_VAT_NUMBER_KEYS),
        title="VAT number meta keys",
        description="Order meta keys holding the customer's VAT number; the first non-empty one counts.",
    )
    vat_codes: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_VAT_CODES),
        title="VAT code per country and rate",
        description="Rows '<country>:<rate>' (e.g. DE:19 for OSS) or a rule: 'domestic:<rate>', 'eu-vat-number:0' "
        "(intra-EU reverse charge), 'eu:<rate>' (EU consumers without their own row, e.g. eu:0 for vouchers and "
        "untaxed fees), 'world:0' (export). A country row wins over a rule; outside the EU a rate uses the "
        "domestic row. A missing row parks the order as 'needs mapping'.",
        json_schema_extra=_table(None, "asperion.vatcodes"),
    )
    revenue_accounts: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_REVENUE_ACCOUNTS),
        title="Revenue account per country",
        description="Country code → ledger account for product and fee lines; rows 'domestic', 'eu' and 'world' "
        "cover the countries without their own row.",
        json_schema_extra=_table("woocommerce.countries", "asperion.ledgeraccounts"),
    )
    shipping_accounts: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_SHIPPING_ACCOUNTS),
        title="Ledger account per shipping method",
        description="Shipping method id (e.g. flat_rate, local_pickup) → ledger account; '*' = any other method.",
        json_schema_extra=_table("woocommerce.shipping_methods", "asperion.ledgeraccounts"),
    )
    coupons_as_lines: bool = Field(
        False,
        title="Coupons as separate lines",
        description="Off: discounts stay inside the product lines (net amounts). On: product lines at their price "
        "before discount and one negative line per coupon and VAT code.",
    )
    articles: Literal["when_available", "never"] = Field(
        "when_available",
        title="Article lines",
        description="when_available: a line whose SKU is an Asperion article code becomes an article line "
        "(quantity × unit price); never: text lines only. Articles are inferred from Asperion's documentation.",
    )
    unknown_article: Literal["text_line", "fail"] = Field(
        "text_line",
        title="SKU without article",
        description="What happens to a line without SKU or whose SKU is not an Asperion article: a text line, "
        "or the order fails (so that stock is never missed).",
    )
    tolerance: Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0, "multipleOf": 0.01})] = Field(
        Decimal("0.01"),
        ge=0,
        title="Preflight tolerance",
        description="Largest difference per order between the booked totals and WooCommerce's that is booked "
        "(with a warning); a larger one fails the order and books nothing.",
    )
    currency: str = Field(
        "EUR",
        title="Administration currency",
        description="Orders in another currency are booked with their amounts as they are, with a warning.",
    )
    date_field: Literal["date_paid", "date_created"] = Field(
        "date_paid",
        title="Date",
        description="date_paid: the payment date when the order is paid, else the order date; "
        "date_created: always the order date.",
    )
    description_template: str = Field(
        "WooCommerce order {number}",
        title="Description",
        description="The description in Asperion; {number} is the order number (how the booking is found again).",
    )

    def rules(self, articles: Mapping[str, int | str] | None) -> LineRules:
        """The pure line rules of these settings with the administration's articles."""
        return LineRules(
            shop_country=self.shop_country,
            tax_basis=self.tax_basis,
            vat_number_keys=tuple(self.vat_number_keys),
            vat_codes=self.vat_codes,
            revenue_accounts=self.revenue_accounts,
            shipping_accounts=self.shipping_accounts,
            coupons_as_lines=self.coupons_as_lines,
            articles=articles if self.articles == "when_available" else None,
            unknown_article=self.unknown_article,
        )

    def currency_warning(self, order: Mapping[str, Any]) -> str | None:
        """A warning when the order is not in the administration's currency."""
        currency = str(order.get("currency") or "").upper()
        if currency and currency != self.currency.upper():
            own = self.currency.upper()
            return f"the order is in {currency}, the administration books {own}: amounts taken as they are"
        return None

    def describe(self, order: Mapping[str, Any]) -> str:
        """The booking's description for an order."""
        return self.description_template.replace("{number}", str(order.get("number") or order.get("id") or ""))


class InvoiceSettings(OrderLineSettings):
    """Order line settings plus the invoice header (mappings.md step 4)."""

    journal_id: Code = Field(
        "70",
        title="Sales journal",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.journals"}},
    )
    payment_conditions: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_PAYMENT_CONDITIONS),
        title="Payment condition per payment method",
        description="WooCommerce payment method → Asperion payment condition; '*' = any other method. Without a "
        "'*' row an unknown method parks the order as 'needs mapping'.",
        json_schema_extra=_table("woocommerce.payment_gateways", "asperion.paymentconditions"),
    )


def header_date(order: Mapping[str, Any], field: str) -> str:
    """``YYYY-MM-DD`` of the paid date (when chosen and set) or the creation date."""
    value = order.get("date_paid") if field == "date_paid" else None
    value = value or order.get("date_created") or ""
    return str(value)[:10]


async def load_articles(ctx: NodeContext, connection: str) -> dict[str, int | str] | None:
    """Article id by code of the administration, or None when it has none."""

    async def by_code() -> dict[str, int | str] | None:
        items = await ctx.client(AsperionConnection(connection)).articles()
        if not items:
            return None
        return {str(item["code"]).strip(): item["id"] for item in items if item.get("code") and "id" in item}

    return await once_per_run(ctx.cache, f"maps:{connection}:articles:by-code", by_code)


async def load_vat_percentages(ctx: NodeContext, connection: str) -> dict[str, Decimal]:
    """Percentage per VAT code id of the administration."""

    async def by_id() -> dict[str, Decimal]:
        items = await ctx.client(AsperionConnection(connection)).vat_codes()
        return {str(item["id"]): money(item.get("percentage")) for item in items if "id" in item}

    return await once_per_run(ctx.cache, f"maps:{connection}:vat_codes:by-id", by_id)
