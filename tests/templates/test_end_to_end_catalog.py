"""Customers, products, stock and Asperion orders templates against the sandbox over real HTTP."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from engine.db import Database
from nodes.accounting import plain_text
from tests.sandbox.server import SandboxURL
from tests.templates.conftest import D
from tests.templates.sandbox_runs import (
    articles_now,
    lines_of,
    run_template,
    tenant,
)

pytestmark = pytest.mark.slow


async def test_customers_to_debtors_always_updated(db: Database, store: SandboxURL) -> None:
    counts, problems = await run_template(db, "customers-to-debtors", store)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    woo = store.app.woo
    customers = [c for cid in woo.customers.ids() if (c := woo.customers.get(cid)) and c.get("email")]
    debtors = {d.get("emailAddress"): d for d in tenant(store).debtors.values()}
    for customer in customers:
        debtor = debtors[customer["email"].strip().lower()]
        company = customer["billing"].get("company")
        person = f"{customer['billing']['first_name']} {customer['billing']['last_name']}".strip()
        assert debtor["name"] == (company or person)
    count = len(tenant(store).debtors)
    again, _ = await run_template(db, "customers-to-debtors", store)
    assert again["failed"] == 0 and len(tenant(store).debtors) == count


async def test_products_to_articles_and_stock_back(db: Database, store: SandboxURL) -> None:
    counts, problems = await run_template(db, "products-to-articles", store)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    woo = store.app.woo
    articles = {a["code"].lower(): a for a in tenant(store).articles.values()}
    include_tax = woo.store.prices_include_tax
    for product in [p for pid in woo.products.ids() if (p := woo.products.get(pid))]:
        if product["type"] != "simple" or not product.get("sku") or product["status"] != "publish":
            continue
        article = articles[product["sku"].lower()]
        price = D(product["regular_price"] or 0)
        if include_tax and product.get("tax_status") == "taxable":
            rate = {"": 21, "reduced-rate": 9, "zero-rate": 0}.get(product.get("tax_class", ""), 21)
            price = (price / (1 + Decimal(rate) / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert D(article["salesPrice"]) == price, product["sku"]

    variations = [v for vid in woo.variations.ids() if (v := woo.variations.get(vid)) and v.get("sku")]
    assert variations
    for variation in variations:
        parent = woo.products.get(int(variation["parent_id"]))
        assert parent is not None
        options = ", ".join(f"{a['name']}: {a['option']}" for a in variation.get("attributes") or [])
        article = articles_now(store)[variation["sku"].lower()]
        assert article["description"] == plain_text(f"{parent['name']} – {options}" if options else parent["name"])

    counts, problems = await run_template(db, "stock-to-woocommerce", store)
    assert counts["failed"] == 0, problems
    for article in tenant(store).articles.values():
        product_id = next(
            (pid for pid in woo.products.ids() if (woo.products.get(pid) or {}).get("sku") == article["code"]), None
        )
        if product_id is None:
            continue
        product = woo.products.get(product_id)
        wanted = max(0, int(D(article.get("currentStock") or 0) - D(article.get("reservedStock") or 0)))
        assert product["stock_quantity"] == wanted and product["manage_stock"] is True, article["code"]


async def test_asperion_orders_to_woocommerce(db: Database, store: SandboxURL) -> None:
    counts, problems = await run_template(db, "orders-to-sales-orders", store)
    assert counts["failed"] == 0, problems
    before = len(store.app.woo.orders)
    ids = set(store.app.woo.orders.ids())
    open_orders = [o for o in tenant(store).sales_orders.values() if o.get("status", "open") == "open"]
    counts, problems = await run_template(db, "asperion-orders-to-woocommerce", store)
    assert counts["failed"] == 0, problems
    created = [o for oid in store.app.woo.orders.ids() if (o := store.app.woo.orders.get(oid)) and oid not in ids]
    assert len(created) == len(open_orders)
    for order in created:
        reference = next(m["value"] for m in order["meta_data"] if m["key"] == "_asperion_order_id")
        source = tenant(store).sales_orders[int(reference)]
        booked = sum((D(line["amount"]) for line in lines_of(source)), Decimal(0))
        net = sum((D(i["total"]) for i in order["line_items"] + order["shipping_lines"]), Decimal(0))
        assert net == booked
    await run_template(db, "asperion-orders-to-woocommerce", store)
    assert len(store.app.woo.orders) - before == len(created)
