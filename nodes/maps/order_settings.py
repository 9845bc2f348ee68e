"""Settings shared by the order map nodes (invoice, sales order, credit invoices) and the tables they read live.

Every table and choice of mappings.md steps 4–11 is a field here, with the defaults of mappings.md, so the canvas
renders them as forms whose table editors offer live Asperion and WooCommerce values.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from nodes.accounting import DEFAULT_REVENUE_ACCOUNTS, DEFAULT_VAT_CODES, DEFAULT_VAT_NUMBER_KEYS, money
from nodes.base import NodeConfig, NodeContext
from nodes.connectors.asperion import AsperionConnection
from nodes.connectors.http import NotFound
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.lookups._run_cache import once_per_run
from nodes.maps.currency import DEFAULT_RATE_META, convert_order, exchange_rate
from nodes.maps.fields import Code, CodeTable
from nodes.maps.order_lines import DEFAULT_SHIPPING_ACCOUNTS, LineRules, order_facts

__all__ = (
    "DEFAULT_PAYMENT_CONDITIONS",
    "InvoiceSettings",
    "OrderLineSettings",
    "RulesMemo",
    "header_date",
    "load_articles",
    "load_vat_percentages",
    "name_conversion",
    "prepare_order",
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
        description="Orders in another currency are never booked at face value: they are converted at the rate "
        "of the order meta below, else of the rate table; without a rate they wait for one.",
    )
    exchange_rate_meta: CodeTable = Field(
        default_factory=lambda: dict(DEFAULT_RATE_META),
        title="Exchange rate order meta",
        description="Order meta key a multi-currency plugin writes → 'multiply' (administration amount = order "
        "amount × rate, Aelia's _base_currency_exchange_rate) or 'divide' (÷ rate: WOOCS's _woocs_order_rate, "
        "WooPayments' _wcpay_multi_currency_order_exchange_rate, CURCY's wmc_order_info, which holds a rate per "
        "currency). The first key the order has counts. WPML's WooCommerce Multilingual keeps no rate on the order: "
        "fill the exchange rates table.",
    )
    exchange_rates: CodeTable = Field(
        default_factory=dict,
        title="Exchange rates",
        description="Rows '<currency>:<date>' (e.g. GBP:2026-11-01) → administration currency per unit (1.1712), "
        "used when the order carries no rate; the latest row on or before the order's date applies. An order "
        "without a rate waits as 'exchange rate GBP on <date>'.",
        json_schema_extra={"ui": {"widget": "table"}},
    )
    woocommerce_connection: WooCommerceConnection = Field(
        WooCommerceConnection("woocommerce"),
        title="WooCommerce connection",
        description="Read for the store's tax rates when an older order's tax lines lack their rate (a rate the "
        "store no longer has: the nearest rate the VAT code table knows for the country, within 0.1 point).",
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

    def rules(
        self, articles: Mapping[str, int | str] | None, store_rates: Mapping[str, Decimal] | None = None
    ) -> LineRules:
        """The pure line rules of these settings with the administration's articles (and the store's tax rates)."""
        return LineRules(
            store_rates=store_rates,
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
        """A note when the order was converted from another currency (see :func:`prepare_order`)."""
        conversion = order.get("_conversion")
        if not isinstance(conversion, Mapping):
            return None
        return (
            f"converted from {conversion['currency']} {conversion['original_total']} at {conversion['rate']} "
            f"({conversion['source']}): {self.currency.upper()} {conversion['converted_total']}"
        )

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


class RulesMemo:
    """A node's line rules for its run (a node instance lives for one run): the settings' rules made once for the
    run's articles, so that what they work out from the tables (:class:`~nodes.maps.order_lines.LineRules`) is worked
    out once; an order that brings the store's own tax rates gets rules of its own."""

    def __init__(self, settings: OrderLineSettings) -> None:
        self.settings = settings
        self._kept: tuple[Mapping[str, int | str] | None, LineRules] | None = None

    def __call__(
        self, articles: Mapping[str, int | str] | None, store_rates: Mapping[str, Decimal] | None = None
    ) -> LineRules:
        """``settings.rules(articles, store_rates)``, the same object while the articles are."""
        if store_rates is not None:
            return self.settings.rules(articles, store_rates)
        kept = self._kept
        if kept is None or kept[0] is not articles:
            kept = self._kept = (articles, self.settings.rules(articles))
        return kept[1]


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


async def _store_rates(
    ctx: NodeContext, connection: WooCommerceConnection, order: Mapping[str, Any]
) -> dict[str, Decimal] | None:
    """The store's rate (``/taxes/{id}``) of each tax line without ``rate_percent``, once per run per rate."""
    missing = [
        str(t.get("rate_id"))
        for t in order.get("tax_lines") or ()
        if t.get("rate_percent") in (None, "") and t.get("rate_id") not in (None, "")
    ]
    if not connection or not missing:
        return None
    rates: dict[str, Decimal] = {}
    for rate_id in missing:

        async def fetch(rate_id: str = rate_id) -> Decimal | None:
            try:
                found = await ctx.client(connection).get(f"taxes/{rate_id}")
            except NotFound:
                return None  # the rate was deleted since: the nearest known rate decides
            return money(found.get("rate")) if isinstance(found, Mapping) and found.get("rate") else None

        rate = await once_per_run(ctx.cache, f"maps:{connection}:taxes:{rate_id}", fetch)
        if rate is not None:
            rates[rate_id] = rate
    return rates


async def prepare_order(
    ctx: NodeContext, settings: OrderLineSettings, order: Mapping[str, Any], date_field: str = "date_created"
) -> tuple[dict[str, Any], dict[str, Decimal] | None]:
    """The order in the administration's currency (never at face value) and the store's tax rates it needs.

    Raises:
        NeedsMapping: the order is in another currency and no rate is known for its date.
    """
    conversion = exchange_rate(
        order,
        own_currency=settings.currency,
        meta_keys=settings.exchange_rate_meta,
        table=settings.exchange_rates,
        date=header_date(order, date_field),
    )
    store_rates = await _store_rates(ctx, settings.woocommerce_connection, order)
    if conversion is None:
        return dict(order), store_rates
    # An older order's rates are taken from its own amounts before conversion rounds them.
    rates = order_facts(order, settings.rules(None, store_rates)).rates
    known = {
        **order,
        "tax_lines": [
            {**t, "rate_percent": t.get("rate_percent") or format(rates.get(str(t.get("rate_id")), 0), "f")}
            for t in order.get("tax_lines") or ()
        ],
    }
    return convert_order(known, conversion, settings.currency.upper()), store_rates


def name_conversion(order: Mapping[str, Any], document: MutableMapping[str, Any], context: dict[str, Any]) -> None:
    """Name the original currency and rate on a converted order's lines and keep them for the fingerprint."""
    conversion = order.get("_conversion")
    if not isinstance(conversion, Mapping):
        return
    note = f"{conversion['currency']} at {conversion['rate']}"
    for index, line in enumerate(document.get("lines") or ()):
        first = f"order total {conversion['currency']} {conversion['original_total']} at {conversion['rate']}"
        line["description"] = f"{line.get('description') or ''} ({first if index == 0 else note})".strip()
    context["currency"] = {"code": conversion["currency"], "rate": conversion["rate"]}
