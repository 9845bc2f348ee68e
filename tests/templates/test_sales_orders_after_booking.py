"""orders-to-sales-orders after booking (mappings.md "After booking"): a sales order follows its order when the order
changes or is cancelled, on the sandbox over real HTTP, checked on the Asperion side to the cent and to the unit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine import store
from engine.db import Database
from engine.models import LogEntry
from engine.service import execute_run
from engine.templates import get_template
from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D
from tests.templates.sandbox_runs import (
    BOOKED_STATUSES,
    by_description,
    connections,
    lines_of,
    run_template,
    tenant,
    woo_orders,
)

pytestmark = pytest.mark.slow

TEMPLATE = "orders-to-sales-orders"


@pytest.fixture(name="shop")
def fx_shop() -> Any:
    with running_sandbox(orders=40, customers=10, products=10, seed=5) as url:
        yield url


async def _put(store: SandboxURL, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
        answer = await http.put(f"{store}/woocommerce/wp-json/wc/v3/orders/{order_id}", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _sales_order(store: SandboxURL, order: dict[str, Any]) -> dict[str, Any]:
    return by_description(tenant(store).sales_orders.values())[f"WooCommerce order {order['number']}"]


def _stock_line(store: SandboxURL, order: dict[str, Any], status: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first line of a ``status`` order whose article keeps stock, and that article."""
    for candidate in woo_orders(store):
        if candidate["status"] != status or candidate["currency"] != "EUR" or candidate.get("refunds"):
            continue
        if order and candidate["id"] == order["id"]:
            continue
        booked = _sales_order(store, candidate)
        for item, line in zip(candidate["line_items"], lines_of(booked), strict=False):
            article = tenant(store).articles.get(line["articleId"])
            if article and article["currentStock"] is not None and D(line["quantity"]) == item["quantity"]:
                return candidate, item
    raise AssertionError(f"no {status} order with a stock article")


def _net(order: dict[str, Any]) -> Decimal:
    return D(order["total"]) - D(order["total_tax"])


def _booked_net(sales_order: dict[str, Any]) -> Decimal:
    return sum((D(x["amount"]) for x in lines_of(sales_order)), Decimal(0))


async def test_a_sales_order_follows_its_order_when_it_changes_or_is_cancelled(db: Database, shop: SandboxURL) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    order, item = _stock_line(shop, {}, "processing")
    source_id = f"order:{order['id']}"
    first = _sales_order(shop, order)
    assert first["status"] == "open"
    article = tenant(shop).articles[lines_of(first)[0]["articleId"]]
    reserved = D(article["reservedStock"])

    # changed after booking while open: updated in place, the reservation follows the quantity
    changed = await _put(shop, order["id"], {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 1}]})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 1 and counts["failed"] == 0, problems
    now = _sales_order(shop, order)
    assert now["id"] == first["id"] and len(tenant(shop).sales_orders) == len(
        by_description(tenant(shop).sales_orders.values())
    )
    assert _booked_net(now) == _net(changed) and now["debtorCustomerNumber"] == first["debtorCustomerNumber"]
    assert D(tenant(shop).articles[article["id"]]["reservedStock"]) == reserved + 1

    # read again unchanged: nothing to do
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 0

    # cancelled after booking: the sales order is cancelled, once, and reserves nothing any more
    await _put(shop, order["id"], {"status": "cancelled"})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 1 and counts["failed"] == 0 and counts["waiting"] == 0, problems
    assert _sales_order(shop, order)["status"] == "cancelled"
    assert D(tenant(shop).articles[article["id"]]["reservedStock"]) == reserved - item["quantity"]
    total_orders = len(tenant(shop).sales_orders)
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 0 and len(tenant(shop).sales_orders) == total_orders

    # a completed (delivered) order cancelled: its stock comes back
    done, done_item = _stock_line(shop, order, "completed")
    assert _sales_order(shop, done)["status"] == "delivered"
    done_article = tenant(shop).articles[lines_of(_sales_order(shop, done))[0]["articleId"]]
    stock = D(done_article["currentStock"])
    await _put(shop, done["id"], {"status": "cancelled"})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{done['id']}"])
    assert counts["ok"] == 1, problems
    assert _sales_order(shop, done)["status"] == "cancelled"
    assert D(tenant(shop).articles[done_article["id"]]["currentStock"]) == stock + done_item["quantity"]


async def test_an_invoiced_sales_order_is_left_alone_and_a_never_booked_cancellation_is_skipped(
    db: Database, shop: SandboxURL
) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    order, item = _stock_line(shop, {}, "processing")
    booked = _sales_order(shop, order)
    booked["status"] = "invoiced"  # invoiced inside Asperion: final
    before = [dict(line) for line in lines_of(booked)]
    await _put(shop, order["id"], {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 2}]})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{order['id']}"])
    assert counts["failed"] == 1, problems
    assert "is invoiced in Asperion already: correct its invoice there" in problems[0]
    assert [dict(line) for line in lines_of(_sales_order(shop, order))] == before

    debtors = len(tenant(shop).debtors)
    never = next(o for o in woo_orders(shop) if o["status"] not in BOOKED_STATUSES | {"cancelled"})
    await _put(shop, never["id"], {"status": "cancelled"})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{never['id']}"])
    assert counts["ok"] == 0 and counts["failed"] == 0 and counts["waiting"] == 0, problems
    assert f"WooCommerce order {never['number']}" not in by_description(tenant(shop).sales_orders.values())
    assert len(tenant(shop).debtors) == debtors


async def test_a_waiting_order_that_is_cancelled_leaves_the_inbox(db: Database, shop: SandboxURL) -> None:
    """Inbox hygiene: an order waiting for a mapping that is then cancelled is resolved, nothing is booked for it."""
    for name, fields in connections(shop).items():
        await store.save_connection(db, name=name, app=fields["app"], fields=fields)
    document = get_template(TEMPLATE)
    node = next(n for n in document["nodes"] if n["id"] == "sales_order")
    node["config"]["vat_codes"].pop("domestic:21")  # Dutch 21 % then needs a mapping
    flow = await store.create_flow(db, document)
    order = next(
        o for o in woo_orders(shop)
        if o["status"] == "processing" and o["shipping"]["country"] in ("", "NL") and o["billing"]["country"] == "NL"
        and any(t["rate_percent"] == 21 for t in o["tax_lines"])
    )  # fmt: skip
    source_id = f"order:{order['id']}"

    async def run() -> dict[str, int]:
        started = await store.start_flow_run(db, flow.id, params={"record_ids": [source_id]}, enqueue=False)
        finished = await execute_run(db, started.id)
        assert finished is not None
        return finished.counts()

    async def inbox() -> list[LogEntry]:
        async with db.session() as session:
            rows = await session.execute(
                select(LogEntry).where(
                    LogEntry.source_id == source_id,
                    LogEntry.status.in_(("waiting", "failed")),
                    LogEntry.resolved.is_(False),
                )
            )
            return list(rows.scalars())

    assert (await run())["waiting"] == 1
    assert [(e.status, e.message.startswith("no VAT code for country NL at 21%")) for e in await inbox()] == [
        ("waiting", True)
    ]
    await _put(shop, order["id"], {"status": "cancelled"})
    counts = await run()
    assert counts["waiting"] == 0 and counts["failed"] == 0 and counts["ok"] == 0, counts
    assert await inbox() == []
    assert f"WooCommerce order {order['number']}" not in by_description(tenant(shop).sales_orders.values())


async def _refund_in_full(store: SandboxURL, order: dict[str, Any]) -> None:
    """The whole order refunded in the shop, its items back in stock (the order becomes refunded)."""
    items = [
        {"id": item["id"], "quantity": item["quantity"], "refund_total": item["total"],
         "refund_tax": [{"id": t["id"], "refund_total": t["total"]} for t in item["taxes"]]}
        for item in order["line_items"]
    ]  # fmt: skip
    body = {"amount": order["total"], "reason": "Retour ontvangen", "line_items": items, "api_refund": False}
    async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
        answer = await http.post(f"{store}/woocommerce/wp-json/wc/v3/orders/{order['id']}/refunds", json=body)
    assert answer.status_code == 201, answer.text


async def test_an_order_refunded_in_full_cancels_its_sales_order_once(db: Database, shop: SandboxURL) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems

    # completed, then refunded in full before the next run: the delivered sales order is cancelled, stock comes back
    done, item = _stock_line(shop, {}, "completed")
    assert _sales_order(shop, done)["status"] == "delivered"
    article = tenant(shop).articles[lines_of(_sales_order(shop, done))[0]["articleId"]]
    stock, reserved = D(article["currentStock"]), D(article["reservedStock"])
    await _refund_in_full(shop, done)
    assert next(o for o in woo_orders(shop) if o["id"] == done["id"])["status"] == "refunded"
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["ok"] == 1 and counts["failed"] == 0 and counts["waiting"] == 0, problems
    assert _sales_order(shop, done)["status"] == "cancelled"
    assert D(tenant(shop).articles[article["id"]]["currentStock"]) == stock + item["quantity"]
    assert D(tenant(shop).articles[article["id"]]["reservedStock"]) == reserved
    async with db.session() as session:
        rows = await session.execute(
            select(LogEntry).where(LogEntry.source_id == f"order:{done['id']}", LogEntry.status == "ok")
        )
        messages = [row.message for row in rows.scalars()]
    assert any(m.endswith("cancelled: the order is refunded in full, its stock comes back") for m in messages)
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{done['id']}"])
    assert counts["ok"] == 0 and _sales_order(shop, done)["status"] == "cancelled"

    # still open (processing) when refunded in full: its reservation ends
    open_order, open_item = _stock_line(shop, done, "processing")
    open_article = tenant(shop).articles[lines_of(_sales_order(shop, open_order))[0]["articleId"]]
    reserved = D(open_article["reservedStock"])
    await _refund_in_full(shop, open_order)
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{open_order['id']}"])
    assert counts["ok"] == 1 and counts["failed"] == 0, problems
    assert _sales_order(shop, open_order)["status"] == "cancelled"
    assert D(tenant(shop).articles[open_article["id"]]["reservedStock"]) == reserved - open_item["quantity"]


async def test_a_partial_refund_of_items_gives_them_back_on_the_sales_order(db: Database, shop: SandboxURL) -> None:
    """A completed order keeps its status when one of its items is refunded; WooCommerce restocks the item, and the
    delivered sales order is updated in place to what the customer kept, so Asperion's stock gets it back too."""
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    done, item, line = next(
        (order, item, line) for order in woo_orders(shop)
        if order["status"] == "completed" and order["currency"] == "EUR" and not order.get("refunds")
        for item, line in zip(order["line_items"][:1], lines_of(_sales_order(shop, order))[:1], strict=False)
        if item["quantity"] >= 2 and item["taxes"] and D(line["quantity"]) == item["quantity"]
        and (tenant(shop).articles.get(line["articleId"]) or {}).get("currentStock") is not None
    )  # fmt: skip
    booked = _sales_order(shop, done)
    assert booked["status"] == "delivered"
    article = tenant(shop).articles[line["articleId"]]
    stock = D(article["currentStock"])
    unit = D(item["total"]) / item["quantity"]
    back = {"id": item["id"], "quantity": 1, "refund_total": f"{unit:.2f}",
            "refund_tax": [{"id": t["id"], "refund_total": f"{D(t['total']) / item['quantity']:.2f}"}
                           for t in item["taxes"]]}  # fmt: skip
    async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
        answer = await http.post(
            f"{shop}/woocommerce/wp-json/wc/v3/orders/{done['id']}/refunds",
            json={"reason": "Retour", "line_items": [back], "api_refund": False},
        )
    assert answer.status_code == 201, answer.text
    refund = answer.json()
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{done['id']}"])
    assert counts["ok"] == 1 and counts["failed"] == 0 and counts["waiting"] == 0, problems
    now = _sales_order(shop, done)
    assert now["id"] == booked["id"] and now["status"] == "delivered"
    kept = lines_of(now)[0]
    assert D(kept["quantity"]) == item["quantity"] - 1 and kept["articleId"] == line["articleId"]
    assert D(kept["amount"]) == D(item["total"]) - D(f"{unit:.2f}")
    assert _booked_net(now) == _net(done) - (D(refund["amount"]) - sum(
        (D(t["refund_total"]) for t in back["refund_tax"]), Decimal(0)))  # fmt: skip
    assert D(tenant(shop).articles[article["id"]]["currentStock"]) == stock + 1
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{done['id']}"])
    assert counts["ok"] == 0
