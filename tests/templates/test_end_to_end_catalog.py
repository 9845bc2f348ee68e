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

    before = {pid: woo.products.get(pid) for pid in woo.products.ids()}
    counts, problems = await run_template(db, "stock-to-woocommerce", store)
    assert counts["failed"] == 0, problems
    checked = {"managed": 0, "virtual": 0, "no stock information": 0}
    for article in tenant(store).articles.values():
        product_id = next(
            (pid for pid in woo.products.ids() if (woo.products.get(pid) or {}).get("sku") == article["code"]), None
        )
        if product_id is None:
            continue
        product, old = woo.products.get(product_id), before[product_id]
        if product["virtual"] or product["downloadable"]:
            # An e-book, a workshop, a gift card: "manage stock" never switched on, the stock left alone.
            assert (product["manage_stock"], product["stock_quantity"]) == (old["manage_stock"], old["stock_quantity"])
            assert product["manage_stock"] is False, article["code"]
            checked["virtual"] += 1
        elif article.get("currentStock") is None:
            assert product["stock_quantity"] == old["stock_quantity"], article["code"]  # never set to 0
            checked["no stock information"] += 1
        else:
            wanted = max(0, int(D(article["currentStock"]) - D(article.get("reservedStock") or 0)))
            assert product["stock_quantity"] == wanted and product["manage_stock"] is True, article["code"]
            checked["managed"] += 1
    assert checked["managed"] and checked["virtual"]

    # Stock counted for an e-book by mistake still never switches "manage stock" on; a physical article whose stock
    # Asperion does not know is left as it is, not set to 0.
    by_sku = {p["sku"]: p for pid in woo.products.ids() if (p := woo.products.get(pid)) and p.get("sku")}
    ebook = next(sku for sku, p in by_sku.items() if p["downloadable"])
    physical = next(a["code"] for a in tenant(store).articles.values() if a["currentStock"] and a["code"] in by_sku)
    store.app.asperion.set_stock(ebook, 5)
    tenant(store).article_by_code(physical)["currentStock"] = None
    counts, problems = await run_template(db, "stock-to-woocommerce", store)
    assert counts["failed"] == 0, problems
    after = {p["sku"]: p for pid in woo.products.ids() if (p := woo.products.get(pid)) and p.get("sku")}
    assert after[ebook]["manage_stock"] is False
    assert after[physical]["stock_quantity"] == by_sku[physical]["stock_quantity"]


async def test_sales_orders_of_completed_orders_are_delivered_and_never_come_back(
    db: Database, store: SandboxURL
) -> None:
    counts, problems = await run_template(db, "orders-to-sales-orders", store)
    assert counts["failed"] == 0, problems
    woo = store.app.woo
    statuses = {
        f"WooCommerce order {o['number']}": o["status"] for oid in woo.orders.ids() if (o := woo.orders.get(oid))
    }
    sales_orders = list(tenant(store).sales_orders.values())
    assert sales_orders
    for sales_order in sales_orders:
        completed = statuses[sales_order["description"]] == "completed"
        assert sales_order["status"] == ("delivered" if completed else "open"), sales_order["description"]
    # Only open orders reserve stock: completed ones have left the warehouse.
    reserved: dict[int, Decimal] = {}
    for sales_order in sales_orders:
        if sales_order["status"] == "open":
            for line in lines_of(sales_order):
                reserved[line["articleId"]] = reserved.get(line["articleId"], Decimal(0)) + D(line["quantity"])
    for article in tenant(store).articles.values():
        if article["currentStock"] is not None:
            assert D(article["reservedStock"]) == reserved.get(article["id"], Decimal(0)), article["code"]

    # An open order completed later: its sales order moves to delivered and the reservation ends.
    processing = next(o for oid in woo.orders.ids() if (o := woo.orders.get(oid)) and o["status"] == "processing")
    store.app.woo.orders.put({**processing, "status": "completed", "date_modified_gmt": "2030-01-01T00:00:00"})
    moved = next(so for so in sales_orders if so["description"] == f"WooCommerce order {processing['number']}")
    counts, problems = await run_template(db, "orders-to-sales-orders", store, record_ids=[f"order:{processing['id']}"])
    assert counts["failed"] == 0 and counts["ok"] == 1, problems
    assert tenant(store).sales_orders[moved["id"]]["status"] == "delivered"

    ids = set(woo.orders.ids())
    counts, problems = await run_template(db, "asperion-orders-to-woocommerce", store)
    assert counts["failed"] == 0 and counts["ok"] == 0, problems
    assert set(woo.orders.ids()) == ids  # Koppel's own sales orders are not new orders for the shop
