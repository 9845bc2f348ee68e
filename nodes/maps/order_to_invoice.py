"""``map.order_to_invoice``: a WooCommerce order → an Asperion sales invoice, checked by the preflight first."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from nodes.accounting import as_id
from nodes.base import Kind, NeedsMapping, Port, ProcessNode, Record
from nodes.maps.currency import conversion_slack
from nodes.maps.inputs import source_payload
from nodes.maps.order_lines import BuyerRules, InvoiceLine, LineRules, buyer_facts, order_lines
from nodes.maps.order_settings import (
    InvoiceSettings,
    RulesMemo,
    header_date,
    load_articles,
    load_vat_percentages,
    name_conversion,
    prepare_order,
)
from nodes.maps.preflight import asperion_totals, check_totals, order_totals
from nodes.texts import shown

__all__ = ("OrderToInvoice", "build_invoice", "payment_condition")


def payment_condition(table: Mapping[str, str], method: str) -> int | str:
    """The payment condition of a payment method: its row, else the ``*`` row.

    Raises:
        NeedsMapping: neither row exists (the user emptied the default).
    """
    value = table.get(method or "(none)") or table.get("*")
    if not value:
        raise NeedsMapping(
            "payment_conditions",
            method or "(none)",
            f"payment method {shown(method or 'none')} has no payment condition yet",
        )
    return as_id(value)


def build_invoice(
    order: Mapping[str, Any],
    settings: InvoiceSettings,
    *,
    articles: Mapping[str, int | str] | None = None,
    percentages: Mapping[str, Decimal] | None = None,
    store_rates: Mapping[str, Decimal] | None = None,
    rules: LineRules | None = None,
) -> tuple[dict[str, Any], list[InvoiceLine], str | None]:
    """The invoice payload of an order, its lines and the preflight warning (if any). Pure.

    A converted order (:func:`~nodes.maps.order_settings.prepare_order`) is compared with its converted totals,
    allowing half a cent per line for the conversion's rounding. ``rules`` are ``settings.rules(articles,
    store_rates)`` when the caller keeps them for its run (:class:`~nodes.maps.order_settings.RulesMemo`); made here
    otherwise.

    Raises:
        NeedsMapping: a table lacks a row.
        RecordFailed: the preflight found a difference beyond the tolerance, or an article is missing.
    """
    lines = order_lines(order, rules or settings.rules(articles, store_rates))
    warning = check_totals(
        asperion_totals(lines, percentages),
        order_totals(order),
        settings.tolerance + conversion_slack(order),
        what=f"order {order.get('number') or order.get('id')}",
    )
    invoice = {
        "date": header_date(order, settings.date_field),
        "description": settings.describe(order),
        "journalId": settings.journal_id,
        "debtorCustomerNumber": None,
        "paymentConditionId": payment_condition(settings.payment_conditions, str(order.get("payment_method") or "")),
        "lines": [line.payload() for line in lines],
    }
    return invoice, lines, warning


def facts_context(order: Mapping[str, Any], settings: BuyerRules) -> dict[str, Any]:
    """What later nodes and the log may want to know about the VAT decision (country, region, VAT number,
    business)."""
    return buyer_facts(order, settings)


class OrderToInvoice(ProcessNode):
    """WooCommerce order → Asperion sales invoice (mappings.md steps 4–11)."""

    type = "map.order_to_invoice"
    kind = Kind.MAP
    title = "Order → sales invoice"
    description = (
        "Turns a WooCommerce order into an Asperion sales invoice: header (date, description, journal, payment "
        "condition), product, shipping, fee and coupon lines with VAT code and revenue account per country, and a "
        "preflight that refuses to book totals that differ from WooCommerce's. The debtor is filled in by the "
        "'Lookup default debtor' node."
    )
    app = "asperion"  # and a WooCommerce connection (the store's tax rates): both are typed connection fields
    config_model = InvoiceSettings
    inputs = (Port("in", "woocommerce.order"),)
    outputs = (Port("out", "asperion.sales_invoice"),)

    config: InvoiceSettings

    @functools.cached_property
    def line_rules(self) -> RulesMemo:
        """The settings' line rules, kept for the run."""
        return RulesMemo(self.config)

    async def process(self, record: Record) -> Record:
        """Build the invoice; keeps a customer number already set by a lookup that ran earlier."""
        order, store_rates = await prepare_order(
            self.ctx, self.config, source_payload(record, "line_items"), self.config.date_field
        )
        articles = await load_articles(self.ctx, self.config.connection) if self.config.articles != "never" else None
        percentages = await load_vat_percentages(self.ctx, self.config.connection)
        invoice, _, warning = build_invoice(
            order,
            self.config,
            articles=articles,
            percentages=percentages,
            store_rates=store_rates,
            rules=self.line_rules(articles, store_rates),
        )
        earlier = record.data.get("debtorCustomerNumber") or (record.context.get("debtor") or {}).get("customerNumber")
        if earlier:
            invoice["debtorCustomerNumber"] = str(earlier)
        out = record.derive(invoice)
        out.context["vat"] = facts_context(order, self.config)
        name_conversion(order, invoice, out.context)
        out.warnings.extend(w for w in (warning, self.config.currency_warning(order)) if w)
        return out
