"""``map.order_to_sales_order``: a WooCommerce order → an Asperion sales order (mappings.md step 13).

The same lines and preflight as the invoice; on inTrade administrations the article lines are what moves stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from nodes.base import Kind, Port, ProcessNode, Record
from nodes.maps.order_lines import order_lines
from nodes.maps.order_settings import OrderLineSettings, header_date, load_articles, load_vat_percentages
from nodes.maps.order_to_invoice import facts_context
from nodes.maps.preflight import asperion_totals, check_totals, order_totals

__all__ = ("OrderToSalesOrder", "build_sales_order")


def build_sales_order(
    order: Mapping[str, Any],
    settings: OrderLineSettings,
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
    warning = check_totals(
        asperion_totals(lines, percentages),
        order_totals(order),
        settings.tolerance,
        what=f"order {order.get('number') or order.get('id')}",
    )
    sales_order = {
        "date": header_date(order, settings.date_field),
        "description": settings.describe(order),
        "debtorCustomerNumber": None,
        "lines": [line.payload() for line in lines],
    }
    return sales_order, warning


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
    config_model = OrderLineSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_order"),)

    config: OrderLineSettings

    async def process(self, record: Record) -> Record:
        """Build the sales order; keeps a customer number already set by a lookup that ran earlier."""
        order = record.source or record.data
        articles = await load_articles(self.ctx, self.config.connection) if self.config.articles != "never" else None
        percentages = await load_vat_percentages(self.ctx, self.config.connection)
        sales_order, warning = build_sales_order(order, self.config, articles=articles, percentages=percentages)
        earlier = record.data.get("debtorCustomerNumber") or (record.context.get("debtor") or {}).get("customerNumber")
        if earlier:
            sales_order["debtorCustomerNumber"] = str(earlier)
        out = record.derive(sales_order)
        out.context["vat"] = facts_context(order, self.config)
        if warning:
            out.warnings.append(warning)
        return out
