"""The named cases of the templates issue on the pure mapping functions: VAT regions, coupons, fees, shipping,
articles, payment conditions, refunds, payments, customers, products and stock."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from nodes.accounting import plain_text
from nodes.base import NeedsMapping, RecordFailed, SkipRecord
from nodes.lookups.asperion_debtor import LookupDebtorConfig
from nodes.lookups.debtor_rules import debtor_payload
from nodes.maps.article_to_stock import stock_quantity
from nodes.maps.asperion_order_to_woocommerce import AsperionOrderSettings, build_woocommerce_order
from nodes.maps.order_settings import InvoiceSettings
from nodes.maps.order_to_credit_invoices import CreditInvoiceSettings, build_credit_invoices
from nodes.maps.order_to_invoice import build_invoice
from nodes.maps.payment_to_mutation import PaymentSettings, build_mutation, payment_account
from nodes.maps.product_to_article import ArticleSettings, build_article
from tests.templates.conftest import D, expected_totals, load
from tests.templates.test_order_to_invoice import assert_matches_woocommerce, booked


def make_order(
    country: str,
    lines: list[tuple[str, str, str, int | None]],
    *,
    rates: dict[int, str],
    shipping: list[tuple[str, str, str, int | None]] = (),  # type: ignore[assignment]
    fees: list[tuple[str, str, str, int | None]] = (),  # type: ignore[assignment]
    company: str = "",
    vat_number: str = "",
    customer_id: int = 5,
    payment_method: str = "ideal",
) -> dict[str, Any]:
    """An order from (name, net total, tax, rate id) rows; totals computed as WooCommerce does."""

    def taxes(tax: str, rate_id: int | None) -> list[dict[str, Any]]:
        return [] if rate_id is None else [{"id": rate_id, "total": tax, "subtotal": tax}]

    items = [
        {"id": i, "name": n, "quantity": 1, "sku": f"SKU-{i}", "subtotal": t, "subtotal_tax": x, "total": t,
         "total_tax": x, "taxes": taxes(x, r), "meta_data": []}
        for i, (n, t, x, r) in enumerate(lines, 1)
    ]  # fmt: skip
    ships = [
        {"id": 90 + i, "method_title": n, "method_id": m, "total": t, "total_tax": x, "taxes": taxes(x, r)}
        for i, (n, t, x, r) in enumerate(shipping)
        for m in [("free_shipping" if n.startswith("Free") else "flat_rate")]
    ]
    fee_lines = [
        {"id": 80 + i, "name": n, "tax_status": "taxable" if r else "none", "total": t, "total_tax": x,
         "taxes": taxes(x, r)}
        for i, (n, t, x, r) in enumerate(fees)
    ]  # fmt: skip
    everything = [*lines, *shipping, *fees]
    total_tax = sum((D(x) for _, _, x, _ in everything), Decimal(0))
    total = sum((D(t) for _, t, _, _ in everything), Decimal(0)) + total_tax
    address = {"first_name": "Ada", "last_name": "Lovelace", "company": company, "country": country,
               "email": "ada@example.test", "address_1": "Street 1", "city": "City", "postcode": "1000"}  # fmt: skip
    return {
        "id": 1, "number": "1001", "status": "processing", "customer_id": customer_id,
        "date_created": "2026-01-05T10:00:00", "date_paid": None, "payment_method": payment_method,
        "transaction_id": "tr_1", "billing": address, "shipping": dict(address),
        "meta_data": [{"key": "_billing_vat_number", "value": vat_number}] if vat_number else [],
        "line_items": items, "shipping_lines": ships, "fee_lines": fee_lines, "coupon_lines": [], "refunds": [],
        "tax_lines": [{"rate_id": k, "rate_percent": float(v)} for k, v in rates.items()],
        "total": str(total), "total_tax": str(total_tax),
    }  # fmt: skip


def codes(invoice: dict[str, Any]) -> list[str]:
    return [line["vatCode"] for line in invoice["lines"]]


def test_domestic_rates_take_high_low_and_zero() -> None:
    order = make_order(
        "NL",
        [("Boek", "10.00", "0.90", 2), ("Lamp", "50.00", "10.50", 1), ("Bon", "5.00", "0.00", None)],
        rates={1: "21", 2: "9"},
        shipping=[("PostNL", "6.95", "1.46", 1)],
    )
    invoice, _, _ = build_invoice(order, InvoiceSettings())
    assert_matches_woocommerce(invoice, order)
    assert codes(invoice) == ["L9", "H21", "N0", "H21"]
    assert [line["ledgerAccountId"] for line in invoice["lines"]] == [8000, 8000, 8000, 8300]
    assert invoice["paymentConditionId"] == 1  # any other method → Direct


def test_b2b_eu_with_vat_number_at_zero_is_reverse_charged() -> None:
    order = make_order("BE", [("Machine", "1000.00", "0.00", None)], rates={}, company="Brouwerij NV",
                       vat_number="BE0123456789", shipping=[("DPD", "15.00", "0.00", None)])  # fmt: skip
    invoice, _, _ = build_invoice(order, InvoiceSettings())
    assert_matches_woocommerce(invoice, order)
    assert codes(invoice) == ["ICP", "ICP"]
    assert [line["ledgerAccountId"] for line in invoice["lines"]] == [8100, 8300]
    payload, kind = debtor_payload(order, LookupDebtorConfig())
    assert (kind, payload["debtorKindId"], payload["vatNumber"]) == ("company", "B2B-EU", "BE0123456789")
    assert payload["attentionTo"] == "Ada Lovelace"


def test_oss_consumer_gets_the_country_code_of_each_rate() -> None:
    order = make_order("FR", [("Livre", "20.00", "1.10", 2), ("Lampe", "40.00", "8.00", 1)], rates={1: "20", 2: "5.5"})
    invoice, _, _ = build_invoice(order, InvoiceSettings())
    assert_matches_woocommerce(invoice, order)
    assert codes(invoice) == ["OSS-FR-5.5", "OSS-FR-20"]
    assert debtor_payload(order, LookupDebtorConfig())[0]["debtorKindId"] == "B2C"


def test_eu_consumer_untaxed_lines_and_unknown_oss_rates() -> None:
    with pytest.raises(NeedsMapping) as waiting:
        build_invoice(make_order("PL", [("Kubek", "10.00", "2.30", 1)], rates={1: "23"}), InvoiceSettings())
    assert (waiting.value.table, waiting.value.key) == ("vat_codes", "PL:23")
    voucher = make_order("DE", [("Gutschein", "25.00", "0.00", None)], rates={}, fees=[("Rabatt", "-5.00", "0", None)])
    assert codes(build_invoice(voucher, InvoiceSettings())[0]) == ["N0", "N0"]  # the eu:0 row
    strict = InvoiceSettings(vat_codes={k: v for k, v in InvoiceSettings().vat_codes.items() if k != "eu:0"})
    with pytest.raises(NeedsMapping) as zero:
        build_invoice(voucher, strict)
    assert zero.value.key == "DE:0"


def test_export_outside_the_eu_and_a_world_rate_uses_the_domestic_code() -> None:
    order = make_order("CH", [("Uhr", "100.00", "0.00", None)], rates={}, company="Uhren AG")
    invoice, _, _ = build_invoice(order, InvoiceSettings())
    assert codes(invoice) == ["EXP"]
    assert debtor_payload(order, LookupDebtorConfig())[0]["debtorKindId"] == "B2B-WORLD"
    taxed = make_order("NO", [("Hat", "10.00", "2.10", 1)], rates={1: "21"})
    assert codes(build_invoice(taxed, InvoiceSettings())[0]) == ["H21"]


def test_revenue_account_per_country_row_wins_and_missing_region_waits() -> None:
    order = make_order("DE", [("Buch", "10.00", "0.70", 1)], rates={1: "7"})
    settings = InvoiceSettings(revenue_accounts={"DE": "8110", "domestic": "8000"})
    assert build_invoice(order, settings)[0]["lines"][0]["ledgerAccountId"] == 8110
    with pytest.raises(NeedsMapping) as waiting:
        build_invoice(make_order("AT", [("Buch", "10.00", "1.00", 1)], rates={1: "10"}), settings)
    assert (waiting.value.table, waiting.value.key) == ("revenue_accounts", "AT")


def test_guest_order_is_a_person_for_the_default_debtor(orders: dict[str, dict[str, Any]]) -> None:
    order = orders["order-example-1"]
    assert order["customer_id"] == 0
    assert debtor_payload(order, LookupDebtorConfig())[1] == "person"


def test_coupons_inside_lines_and_as_separate_lines_book_the_same_totals(b2b: dict[str, Any]) -> None:
    inline, _, _ = build_invoice(b2b, InvoiceSettings())
    separate, _, _ = build_invoice(b2b, InvoiceSettings(coupons_as_lines=True))
    assert booked(inline) == booked(separate) == (D("114.95"), D("19.68"))
    coupons = [line for line in separate["lines"] if line["description"] == "Coupon sommer10"]
    assert [(line["amount"], line["vatAmount"], line["vatCode"]) for line in coupons] == [
        (-10.0, -1.9, "OSS-DE-19"),
        (-2.0, -0.14, "OSS-DE-7"),
    ]
    assert separate["lines"][0]["amount"] == 100.0  # subtotal, before the discount


def test_two_coupons_split_each_vat_code_by_their_share(b2b: dict[str, Any]) -> None:
    b2b["coupon_lines"] = [
        {"code": "a", "discount": "9.00", "discount_tax": "1.53"},
        {"code": "b", "discount": "3.00", "discount_tax": "0.51"},
    ]
    separate, _, _ = build_invoice(b2b, InvoiceSettings(coupons_as_lines=True))
    assert booked(separate) == (D("114.95"), D("19.68"))
    got = [
        (line["description"], line["vatCode"], line["amount"])
        for line in separate["lines"]
        if "Coupon" in line["description"]
    ]
    assert got == [
        ("Coupon a", "OSS-DE-19", -7.5),
        ("Coupon b", "OSS-DE-19", -2.5),
        ("Coupon a", "OSS-DE-7", -1.5),
        ("Coupon b", "OSS-DE-7", -0.5),
    ]


def test_fees_negative_too_and_free_shipping_line() -> None:
    order = make_order(
        "NL",
        [("Fiets", "500.00", "105.00", 1)],
        rates={1: "21"},
        shipping=[("Free shipping", "0.00", "0.00", None)],
        fees=[("Korting vaste klant", "-20.00", "-4.20", 1), ("Verpakking", "2.50", "0.00", None)],
    )
    invoice, _, _ = build_invoice(order, InvoiceSettings())
    assert_matches_woocommerce(invoice, order)
    assert [line["description"] for line in invoice["lines"]] == [
        "1 × Fiets (SKU-1)", "Free shipping", "Korting vaste klant", "Verpakking",
    ]  # fmt: skip
    assert codes(invoice) == ["H21", "N0", "H21", "N0"]
    assert invoice["lines"][2]["amount"] == -20.0


def test_html_and_non_ascii_names_are_plain_text() -> None:
    order = make_order("NL", [("<b>Thé</b> &amp; Crème &ndash; 100&nbsp;g", "4.00", "0.36", 1)], rates={1: "9"})
    order["line_items"][0]["meta_data"] = [
        {"key": "pa_smaak", "value": "vanille", "display_key": "Smaak", "display_value": "<span>Vanille</span>"},
        {"key": "_reduced_stock", "value": "1", "display_key": "_reduced_stock", "display_value": "1"},
    ]
    invoice, _, _ = build_invoice(order, InvoiceSettings())
    assert invoice["lines"][0]["description"] == "1 × Thé & Crème – 100 g – Smaak: Vanille (SKU-1)"


def test_payment_conditions_table_and_needs_mapping_when_default_emptied() -> None:
    order = make_order("NL", [("Lamp", "10.00", "2.10", 1)], rates={1: "21"}, payment_method="cod")
    assert build_invoice(order, InvoiceSettings())[0]["paymentConditionId"] == 4
    order["payment_method"] = "klarna"
    no_default = InvoiceSettings(payment_conditions={"bacs": "2", "cod": "4"})
    with pytest.raises(NeedsMapping) as waiting:
        build_invoice(order, no_default)
    assert (waiting.value.table, waiting.value.key) == ("payment_conditions", "klarna")


def test_unknown_shipping_method_waits_when_no_default_row() -> None:
    order = make_order("NL", [("Lamp", "10.00", "2.10", 1)], rates={1: "21"}, shipping=[("DHL", "5.00", "1.05", 1)])
    with pytest.raises(NeedsMapping) as waiting:
        build_invoice(order, InvoiceSettings(shipping_accounts={"local_pickup": "8300"}))
    assert (waiting.value.table, waiting.value.key) == ("shipping_accounts", "flat_rate")
    ok, _, _ = build_invoice(order, InvoiceSettings(shipping_accounts={"flat_rate": "8310"}))
    assert ok["lines"][1]["ledgerAccountId"] == 8310


def test_article_lines_by_sku_and_the_fail_setting() -> None:
    order = make_order("NL", [("Lamp", "10.00", "2.10", 1), ("Kap", "4.00", "0.84", 1)], rates={1: "21"})
    order["line_items"][0]["quantity"] = 2
    invoice, _, _ = build_invoice(order, InvoiceSettings(), articles={"SKU-1": 501})
    first, second = invoice["lines"]
    assert (first["articleId"], first["quantity"], first["unitPrice"]) == (501, 2.0, 5.0)
    assert "articleId" not in second
    with pytest.raises(RecordFailed, match="SKU-2"):
        build_invoice(order, InvoiceSettings(unknown_article="fail"), articles={"SKU-1": 501})
    never, _, _ = build_invoice(order, InvoiceSettings(articles="never"), articles=None)
    assert all("articleId" not in line for line in never["lines"])


def test_tax_basis_billing_changes_the_country() -> None:
    order = make_order("DE", [("Buch", "10.00", "0.70", 1)], rates={1: "7"})
    order["billing"]["country"] = "NL"
    assert codes(build_invoice(order, InvoiceSettings())[0]) == ["OSS-DE-7"]
    with pytest.raises(NeedsMapping):
        build_invoice(order, InvoiceSettings(tax_basis="billing"))  # NL has no 7 %


# -- refunds ------------------------------------------------------------------------------------------------------


def test_refund_with_lines_is_a_credit_invoice_with_the_order_codes(b2b: dict[str, Any]) -> None:
    refund = load("refund-synthetic-partial-eur")
    invoices, warnings = build_credit_invoices(b2b, [refund], CreditInvoiceSettings())
    assert warnings == []
    (credit,) = invoices
    assert credit["description"] == "WooCommerce refund 5020 of order 5012"
    assert [
        (line["amount"], line["vatAmount"], line["vatCode"], line["ledgerAccountId"]) for line in credit["lines"]
    ] == [(-16.81, -3.19, "OSS-DE-19", 8100)]
    assert sum(booked(credit), Decimal(0)) == -D(refund["amount"])


def test_amount_only_refunds_spread_over_the_order(orders: dict[str, dict[str, Any]]) -> None:
    order = orders["list-orders-page-723"]
    refund = load("refund-1")
    other = {**copy.deepcopy(refund), "id": 724, "amount": "9.00"}
    invoices, _ = build_credit_invoices(order, [refund, other], CreditInvoiceSettings())
    assert [invoice["description"] for invoice in invoices] == [
        "WooCommerce refund 724 of order 723",
        "WooCommerce refund 726 of order 723",
    ]
    assert [sum(booked(invoice), Decimal(0)) for invoice in invoices] == [D("-9.00"), D("-10.00")]
    assert {line["vatCode"] for invoice in invoices for line in invoice["lines"]} == {"EXP"}


# -- payments, customers, products, stock, reverse orders -----------------------------------------------------------


def test_payment_is_a_balanced_entry_settling_the_invoice(orders: dict[str, dict[str, Any]]) -> None:
    order = orders["order-example-1"]
    entry = build_mutation(order, PaymentSettings(), invoice_id=77, debtor_id=12)
    assert entry["journalId"] == "10" and entry["date"] == "2017-03-22"
    assert entry["description"] == "Payment WooCommerce order 727"
    bank, debtors = entry["lines"]
    assert (bank["ledgerAccountId"], bank["amount"]) == (1000, 29.35)
    assert (debtors["ledgerAccountId"], debtors["amount"], debtors["salesInvoiceId"], debtors["debtorId"]) == (
        1300, -29.35, 77, 12,
    )  # fmt: skip
    assert payment_account(PaymentSettings().payment_accounts, "mollie_wc_gateway_ideal") == 1100
    with pytest.raises(NeedsMapping):
        payment_account({"bacs": "1000"}, "klarna")
    with pytest.raises(SkipRecord):
        build_mutation(orders["list-orders-page-723"], PaymentSettings(), invoice_id=1, debtor_id=1)


def test_customer_fixture_becomes_a_person_debtor() -> None:
    customer = load("customer-example-1")
    payload, kind = debtor_payload(customer, LookupDebtorConfig())
    assert kind == ("company" if customer["billing"].get("company") else "person")
    assert payload["emailAddress"] == customer["billing"]["email"].lower()


def test_products_and_variations_become_articles() -> None:
    simple = {**load("product-simple-1"), "sku": "PQ-1"}
    article = build_article(simple, ArticleSettings(), parent={}, includes_tax=False)
    assert article == {
        "code": "PQ-1", "description": "Premium Quality", "longDescription": article["longDescription"],
        "salesPrice": 21.99, "active": True,
    }  # fmt: skip
    assert "<" not in article["longDescription"]
    with_tax = build_article(simple, ArticleSettings(), parent={}, includes_tax=True)
    assert with_tax["salesPrice"] == 18.17  # 21.99 / 1.21
    variation = {**load("variation-1"), "sku": "SYI-BLK", "global_unique_id": "8712345678906"}
    parent = load("product-variable-1")
    got = build_article(variation, ArticleSettings(), parent=parent, includes_tax=False)
    assert got["description"] == "Ship Your Idea – Color: Black"
    assert got["ean"] == "8712345678906"
    with pytest.raises(SkipRecord, match="variations"):
        build_article(parent, ArticleSettings(), parent={}, includes_tax=False)
    with pytest.raises(SkipRecord, match="grouped"):
        build_article({**simple, "type": "grouped"}, ArticleSettings(), parent={}, includes_tax=False)
    with pytest.raises(SkipRecord, match="SKU"):
        build_article(load("product-simple-1"), ArticleSettings(), parent={}, includes_tax=False)


def test_stock_formulas_never_go_below_zero() -> None:
    article = {"code": "A", "currentStock": 10, "reservedStock": 3}
    assert stock_quantity(article, "available_minus_reserved") == 7
    assert stock_quantity(article, "physical") == 10
    assert stock_quantity({"currentStock": 2, "reservedStock": 5}, "available_minus_reserved") == 0


def test_asperion_order_needs_every_article_in_woocommerce() -> None:
    sales_order = {
        "id": 31, "orderNumber": "SO-31", "debtorCustomerNumber": "10001", "status": "open", "description": "x",
        "lines": {"_data": [{"articleId": 1, "quantity": 2, "amount": 20},
                            {"articleId": 2, "quantity": 1, "amount": 5}]},
    }  # fmt: skip
    debtor = {"name": "Acme BV", "attentionTo": "Jan Jansen", "emailAddress": "Jan@Acme.test", "countryCode": "NL"}
    codes_by_id = {"1": "LAMP", "2": "KAP"}
    products = {"LAMP": {"id": 10, "type": "simple"}, "KAP": {"id": 21, "parent_id": 20, "type": "variation"}}
    order = build_woocommerce_order(
        sales_order, AsperionOrderSettings(), debtor=debtor, products=products, article_codes=codes_by_id
    )
    assert order["status"] == "processing"
    assert order["billing"]["company"] == "Acme BV" and order["billing"]["first_name"] == "Jan"
    assert order["line_items"][1] == {"product_id": 20, "variation_id": 21, "quantity": 1, "subtotal": "5.00",
                                      "total": "5.00"}  # fmt: skip
    assert {"key": "_asperion_order_id", "value": "31"} in order["meta_data"]
    with pytest.raises(RecordFailed, match="KAP"):
        build_woocommerce_order(
            sales_order, AsperionOrderSettings(), debtor=debtor, products={**products, "KAP": None},
            article_codes=codes_by_id,
        )  # fmt: skip


def test_totals_helper_matches_the_fixture(b2b: dict[str, Any]) -> None:
    assert expected_totals(b2b) == (D("114.95"), D("19.68"), D("134.63"))


def test_plain_text_drops_scripts_and_decodes_entities() -> None:
    assert plain_text("Koffie &amp; Thee <script>alert(1)</script> proefpakket") == "Koffie & Thee proefpakket"
    assert plain_text("<p>Caf&eacute;<br/>cr&egrave;me</p>") == "Café crème"
