"""The map nodes around the pure functions: what they read from the connections and what they hand on."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP
from typing import Any

import pytest

from nodes.base import Deliveries, NeedsMapping, Record, RecordProblem, SkipRecord
from nodes.maps.asperion_order_to_woocommerce import AsperionOrderSettings, AsperionOrderToWooCommerce
from nodes.maps.order_settings import InvoiceSettings
from nodes.maps.order_to_credit_invoices import CreditInvoiceSettings, OrderToCreditInvoices, credited_refunds
from nodes.maps.order_to_invoice import OrderToInvoice
from nodes.maps.payment_to_mutation import PaymentSettings, PaymentToMutation
from nodes.maps.product_to_article import ArticleSettings, ProductToArticle, build_article
from tests.templates.conftest import D, load


class FakeAsperion:
    def __init__(self) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.entries: list[dict[str, Any]] = []
        self.calls: list[str] = []

    async def articles(self) -> list[dict[str, Any]]:
        self.calls.append("articles")
        return [{"id": 7, "code": "KM-CL/INOX 01"}, {"id": 1, "code": "VERZEND"}]

    async def vat_codes(self) -> list[dict[str, Any]]:
        self.calls.append("vat_codes")
        return [{"id": "OSS-DE-19", "percentage": 19}, {"id": "OSS-DE-7", "percentage": 7}]

    async def find_invoice_by_description(self, description: str) -> dict[str, Any] | None:
        # the client re-checks Asperion's "contains" filter and answers the exact match only
        return self.invoices.get(description)

    async def invoices_described(self, prefix: str) -> list[dict[str, Any]]:
        return [invoice for description, invoice in self.invoices.items() if description.startswith(prefix)]

    async def find_debtor_by_customer_number(self, number: str) -> dict[str, Any] | None:
        return {"id": 42, "customerNumber": number} if number else None

    async def journal_entries_described(self, text: str, journal_id: str | None = None) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if text in str(entry.get("description") or "")]


class FakeWoo:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.paths: list[str] = []

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.paths.append(path)
        return copy.deepcopy(self.answers[path])


class Ctx:
    flow_key = "flow"
    run_id = "run"
    dry_run = False

    def __init__(self, **clients: Any) -> None:
        self.clients = clients
        self.params: dict[str, Any] = {}
        self.cache: dict[str, Any] = {}

    def client(self, connection: str) -> Any:
        return self.clients[connection]

    def cursor(self, node_id: str) -> Any:
        raise NotImplementedError

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def deliveries(self, source_ids: Sequence[str], *, after: Any) -> Deliveries:
        return Deliveries()  # no flow records: the node asks the application


def order_record(order: dict[str, Any]) -> Record:
    return Record(key=str(order["number"]), source_id=f"order:{order['id']}", data=order)


async def test_invoice_node_reads_articles_and_percentages_once(b2b: dict[str, Any]) -> None:
    asperion = FakeAsperion()
    ctx = Ctx(asperion=asperion)
    node = OrderToInvoice("invoice", InvoiceSettings(), ctx)
    first = await node.process(order_record(b2b))
    await node.process(order_record(copy.deepcopy(b2b)))
    assert asperion.calls == ["articles", "vat_codes"]
    assert first.data["lines"][0]["articleId"] == 7
    assert "articleId" not in first.data["lines"][1]
    assert first.data["debtorCustomerNumber"] is None
    assert first.context["vat"] == {"country": "DE", "region": "eu", "vat_number": "DE123456789", "business": True}
    assert first.source_id == "order:5012" and first.source is b2b


async def test_invoice_node_keeps_a_debtor_found_before_it(b2b: dict[str, Any]) -> None:
    node = OrderToInvoice("invoice", InvoiceSettings(articles="never"), Ctx(asperion=FakeAsperion()))
    record = order_record(b2b)
    record.data = {**b2b, "debtorCustomerNumber": "10007"}
    assert (await node.process(record)).data["debtorCustomerNumber"] == "10007"


async def test_credit_node_fetches_refunds_and_credits_only_new_ones(b2b: dict[str, Any]) -> None:
    refund = load("refund-synthetic-partial-eur")
    second = {**copy.deepcopy(refund), "id": 5031, "amount": "5.00", "line_items": []}
    woo = FakeWoo({"orders/5012/refunds": [second, refund]})
    asperion = FakeAsperion()
    node = OrderToCreditInvoices("credit", CreditInvoiceSettings(), Ctx(asperion=asperion, woocommerce=woo))
    record = order_record(b2b)
    record.data = {**b2b, "debtorCustomerNumber": "10007"}
    with pytest.raises(RecordProblem) as waiting:
        await node.process(record)  # the order's own invoice is not booked yet
    assert waiting.value.status == "waiting"
    assert woo.paths == [], "an order whose invoice is not booked waits before its refunds are read"
    asperion.invoices["WooCommerce order 5012"] = {"id": 3, "description": "WooCommerce order 5012"}

    both = await node.process(record)
    assert woo.paths == ["orders/5012/refunds"]
    assert both.source_id == "order:5012:refunds:5020,5031"
    assert both.data["description"] == "WooCommerce refund 5020, 5031 of order 5012"
    assert both.data["debtorCustomerNumber"] == "10007"
    assert [line["description"].split(":")[0] for line in both.data["lines"]] == [
        "Refund 5020", "Refund 5031", "Refund 5031", "Refund 5031",
    ]  # fmt: skip
    total = sum(line["amount"] + line["vatAmount"] for line in both.data["lines"])
    assert round(total, 2) == -25.0

    # booked together: both are credited, nothing is credited again
    asperion.invoices[both.data["description"]] = {"id": 4, "description": both.data["description"]}
    with pytest.raises(SkipRecord, match="credited already"):
        await node.process(record)

    # booked alone, then a later refund: only the new one
    del asperion.invoices[both.data["description"]]
    asperion.invoices["WooCommerce refund 5020 of order 5012"] = {
        "id": 1, "description": "WooCommerce refund 5020 of order 5012",
    }  # fmt: skip
    one = await node.process(record)
    assert one.source_id == "order:5012:refunds:5031"
    assert one.data["description"] == "WooCommerce refund 5031 of order 5012"

    asperion.invoices["WooCommerce refund 5031 of order 5012"] = {
        "id": 2, "description": "WooCommerce refund 5031 of order 5012",
    }  # fmt: skip
    with pytest.raises(SkipRecord, match="credited already"):
        await node.process(record)
    b2b["refunds"] = []
    with pytest.raises(SkipRecord, match="no refunds"):
        await node.process(order_record(b2b))


async def test_credited_refunds_recognises_single_and_combined_credit_invoices() -> None:
    booked = {("1",), ("2", "3"), ("5",)}

    async def exists(ids: list[str]) -> bool:
        return tuple(ids) in booked

    assert await credited_refunds(["1", "2", "3", "4", "5"], exists) == {"1", "2", "3", "5"}
    assert await credited_refunds([], exists) == set()


async def test_payment_waits_for_its_invoice_then_settles_it(orders: dict[str, dict[str, Any]]) -> None:
    order = orders["order-example-1"]
    asperion = FakeAsperion()
    node = PaymentToMutation("payment", PaymentSettings(), Ctx(asperion=asperion))
    asperion.invoices["WooCommerce order 7270"] = {"id": 9, "description": "WooCommerce order 7270"}
    with pytest.raises(RecordProblem) as waiting:
        await node.process(order_record(order))
    assert waiting.value.status == "waiting"
    asperion.invoices["WooCommerce order 727"] = {
        "id": 10, "description": "WooCommerce order 727", "debtorCustomerNumber": "9999",
    }  # fmt: skip
    entry = (await node.process(order_record(order))).data
    assert [line.get("salesInvoiceId") for line in entry["lines"]] == [None, 10]
    assert entry["lines"][1]["debtorId"] == 42


async def test_product_node_reads_the_store_tax_setting_once() -> None:
    woo = FakeWoo({"settings/tax/woocommerce_prices_include_tax": {"value": "yes"}})
    node = ProductToArticle("article", ArticleSettings(), Ctx(woocommerce=woo))
    product = {**load("product-simple-1"), "sku": "PQ-1", "regular_price": "12.10"}
    record = Record(key="PQ-1", source_id="product:794", data=product)
    assert (await node.process(record)).data["salesPrice"] == 10.0
    await node.process(record)
    assert woo.paths == ["settings/tax/woocommerce_prices_include_tax"]


async def test_asperion_order_customer_output_skips_debtors_without_email() -> None:
    class Debtors(FakeAsperion):
        async def find_debtor_by_customer_number(self, number: str) -> dict[str, Any] | None:
            return {"id": 1, "customerNumber": number, "name": "WooCommerce consumenten", "emailAddress": ""}

    node = AsperionOrderToWooCommerce(
        "customer", AsperionOrderSettings(output="customer"), Ctx(asperion=Debtors(), woocommerce=FakeWoo({}))
    )
    record = Record(key="SO-1", source_id="salesorder:1", data={"id": 1, "debtorCustomerNumber": "9999", "lines": []})
    with pytest.raises(SkipRecord, match="no e-mail"):
        await node.process(record)


async def test_an_order_in_another_currency_is_never_booked_at_face_value(orders: dict[str, dict[str, Any]]) -> None:
    order = orders["list-orders-page-723"]  # USD 39.00, of 2017-03-21
    node = OrderToInvoice("invoice", InvoiceSettings(articles="never"), Ctx(asperion=FakeAsperion()))
    with pytest.raises(NeedsMapping) as waiting:
        await node.process(order_record(order))
    assert (waiting.value.table, waiting.value.key) == ("exchange_rates", "USD:2017-03-21")
    assert str(waiting.value) == "exchange rate USD on 2017-03-21: add it to the rate table"

    rates = {"USD:2017-01-01": "0.9", "USD:2017-03-01": "0.95", "USD:2017-04-01": "2"}  # the latest on or before
    node = OrderToInvoice(
        "invoice", InvoiceSettings(articles="never", exchange_rates=rates), Ctx(asperion=FakeAsperion())
    )
    out = await node.process(order_record(order))
    lines = out.data["lines"]
    assert [line["amount"] for line in lines] == [
        float((D(item["total"]) * D("0.95")).quantize(D("0.01"), ROUND_HALF_UP)) for item in order["line_items"]
    ] + [float((D(s["total"]) * D("0.95")).quantize(D("0.01"), ROUND_HALF_UP)) for s in order["shipping_lines"]]
    assert lines[0]["description"].endswith(f"(order total USD {order['total']} at 0.95)")
    assert all(line["description"].endswith("(USD at 0.95)") for line in lines[1:])
    assert out.context["currency"] == {"code": "USD", "rate": "0.95"}
    assert out.warnings == [
        f"converted from USD {order['total']} at 0.95 (rate table USD:2017-03-01): EUR "
        f"{(D(order['total']) * D('0.95')).quantize(D('0.01'), ROUND_HALF_UP)}"
    ]

    # a multi-currency plugin's rate on the order wins over the table (WOOCS: base = amount ÷ rate)
    meta = [*order["meta_data"], {"id": 1, "key": "_woocs_order_rate", "value": "1.25"}]
    out = await node.process(order_record({**order, "meta_data": meta}))
    assert out.context["currency"] == {"code": "USD", "rate": "0.8"}


def test_a_variation_takes_its_parents_tax_class() -> None:
    parent = {**load("product-variable-1"), "tax_class": "reduced-rate"}
    variation = {**load("variation-1"), "sku": "V-1", "tax_class": "parent", "regular_price": "10.90"}
    article = build_article(variation, ArticleSettings(), parent=parent, includes_tax=True)
    assert article["salesPrice"] == 10.0  # 10.90 / 1.09
