"""``map.order_to_sales_order``: a WooCommerce order → an Asperion sales order (mappings.md step 13).

The same lines and preflight as the invoice; on inTrade administrations the article lines are what moves stock. An
order with refunds of its items is booked net of them (quantities and amounts lowered, items refunded whole left out):
WooCommerce puts refunded items back in stock, so the sales order gives them back too.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field

from nodes.base import Kind, Port, ProcessNode, Record, RecordFailed
from nodes.connectors.woocommerce import WooCommerceConnection
from nodes.maps.currency import conversion_slack
from nodes.maps.fields import Code
from nodes.maps.inputs import source_payload
from nodes.maps.order_lines import InvoiceLine, order_lines
from nodes.maps.order_settings import (
    OrderLineSettings,
    header_date,
    load_articles,
    load_vat_percentages,
    name_conversion,
    prepare_order,
)
from nodes.maps.order_to_invoice import facts_context
from nodes.maps.preflight import asperion_totals, check_totals, order_totals
from nodes.maps.refund_lines import fetch_refunds, net_of_refunds
from nodes.texts import shown

__all__ = ("OrderToSalesOrder", "SalesOrderSettings", "build_sales_order")


class SalesOrderSettings(OrderLineSettings):
    """Order line settings plus the articles of lines that have none (sales orders hold article lines only)."""

    shipping_article: Code = Field(
        "VERZEND",
        title="Shipping costs article",
        description="Article code for shipping lines.",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.articles"}},
    )
    fallback_article: Code = Field(
        "VERZEND",
        title="Article for other lines",
        description="Article code for fees, discounts and products without an article of their own; the line keeps "
        "its description, amount, VAT code and revenue account.",
        json_schema_extra={"ui": {"widget": "select", "options_from": "asperion.articles"}},
    )
    woocommerce_connection: WooCommerceConnection = Field(
        WooCommerceConnection("woocommerce"),
        title="WooCommerce connection",
        description="Read to fetch the refunds of an order.",
    )


def _attach_articles(
    lines: list[InvoiceLine], settings: SalesOrderSettings, articles: Mapping[str, int | str] | None
) -> None:
    """Give every line without an article the shipping or fallback article (1 × its amount)."""
    if articles is None:
        return
    for line in lines:
        if line.article_id is not None:
            continue
        code = settings.shipping_article if line.kind == "shipping" else settings.fallback_article
        if code not in articles:
            raise RecordFailed(f"no article {shown(code)} in Asperion for the line {shown(line.description)}")
        line.article_id, line.quantity, line.unit_price = articles[code], Decimal(1), line.amount


def build_sales_order(
    order: Mapping[str, Any],
    settings: SalesOrderSettings,
    *,
    articles: Mapping[str, int | str] | None = None,
    percentages: Mapping[str, Decimal] | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The sales order payload of an order and the preflight warning (if any). Pure.

    Raises:
        NeedsMapping: a table lacks a row.
        RecordFailed: the preflight found a difference beyond the tolerance, or an article is missing.
    """
    lines = order_lines(order, settings.rules(articles))
    _attach_articles(lines, settings, articles)
    warning = check_totals(
        asperion_totals(lines, percentages),
        order_totals(order),
        settings.tolerance + conversion_slack(order),
        what=f"order {order.get('number') or order.get('id')}",
    )
    sales_order = {
        "date": header_date(order, settings.date_field),
        "description": settings.describe(order),
        "debtorCustomerNumber": None,
        # A completed order has left the warehouse: delivered, so it reserves nothing (stock rule, "After booking").
        "status": "delivered" if order.get("status") == "completed" else "open",
        "lines": [_order_line(line.payload()) for line in lines],
    }
    return sales_order, warning


def _order_line(line: dict[str, Any]) -> dict[str, Any]:
    """Sales order lines always carry a quantity and unit price (a text line: 1 × its amount)."""
    if "quantity" not in line:
        line["quantity"] = 1.0
        line["unitPrice"] = line["amount"]
    return line


class OrderToSalesOrder(ProcessNode):
    """WooCommerce order → Asperion sales order."""

    type = "map.order_to_sales_order"
    kind = Kind.MAP
    title = "Order → sales order"
    description = (
        "Turns a WooCommerce order into an Asperion sales order with the same lines, VAT codes and revenue accounts "
        "as an invoice (article lines by SKU move stock on inTrade). Sales orders are inferred from Asperion's "
        "documentation. The debtor is filled in by the 'Lookup default debtor' node."
    )
    app = "asperion"
    config_model = SalesOrderSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_order"),)

    config: SalesOrderSettings

    async def process(self, record: Record) -> Record:
        """Build the sales order; keeps a customer number already set by a lookup that ran earlier."""
        payload = source_payload(record, "line_items")
        if payload.get("refunds"):  # items refunded came back: the sales order holds what the customer kept
            client = self.ctx.client(self.config.woocommerce_connection)
            payload = net_of_refunds(payload, await fetch_refunds(client, payload))
        order, _ = await prepare_order(self.ctx, self.config, payload, self.config.date_field)
        articles = await load_articles(self.ctx, self.config.connection) if self.config.articles != "never" else None
        percentages = await load_vat_percentages(self.ctx, self.config.connection)
        sales_order, warning = build_sales_order(order, self.config, articles=articles, percentages=percentages)
        earlier = record.data.get("debtorCustomerNumber") or (record.context.get("debtor") or {}).get("customerNumber")
        if earlier:
            sales_order["debtorCustomerNumber"] = str(earlier)
        out = record.derive(sales_order)
        out.context["vat"] = facts_context(order, self.config)
        name_conversion(order, sales_order, out.context)
        out.warnings.extend(w for w in (warning, self.config.currency_warning(order)) if w)
        return out
