"""The WooCommerce sources over a fake store: selection, incremental cursor, limits, ids, backfill, variations."""

from __future__ import annotations

from typing import Any

from nodes.sources._common import decode_cursor
from nodes.sources.woocommerce_customers import CustomersConfig, CustomersSource
from nodes.sources.woocommerce_orders import OrdersConfig, OrdersSource
from nodes.sources.woocommerce_products import ProductsConfig, ProductsSource
from tests.sources.fakes import FakeContext, FakeStore, keys, run_source, stamp


def orders_node(store: FakeStore, ctx: FakeContext | None = None, **config: Any) -> tuple[OrdersSource, FakeContext]:
    ctx = ctx or FakeContext(clients={"woocommerce": store.client()})
    return OrdersSource("orders", OrdersConfig(**config), ctx), ctx


def shop(n: int = 250) -> FakeStore:
    store = FakeStore()
    for i in range(1, n + 1):
        store.add_order(i, "processing" if i % 5 else "on-hold", stamp(i))
    return store


async def test_reads_chosen_statuses_lazily_as_records() -> None:
    store = shop()
    node, _ = orders_node(store)
    reader = node.read()
    first = await anext(reader)
    assert len(first) == 100 and len(store.requests) == 1  # one page fetched, no more
    rest = [page async for page in reader]
    records = first + [r for page in rest for r in page]
    assert len(records) == 200  # every fifth order is on-hold
    assert records[0].key == "1001" and records[0].source_id == "order:1"
    assert records[0].data["billing"]["email"] == "c1@example.nl"
    assert store.requests[0].url.params["status"] == "processing,completed"
    assert await node.expected() == 200


async def test_incremental_reads_only_changes_since_last_run() -> None:
    store = shop(30)
    node, ctx = orders_node(store)
    assert len(keys(await run_source(node))) == 24
    cursor = ctx.cursor("orders")
    assert decode_cursor(cursor.value) == (stamp(29), {"order:29"})  # the newest change handled

    store.orders[2]["date_modified_gmt"] = stamp(100)  # order 3 changed
    store.add_order(31, "processing", stamp(101))
    node, _ = orders_node(store, ctx)
    assert keys(await run_source(node)) == ["1003", "1031"]  # 1029, read again by the overlap, was handled
    assert decode_cursor(cursor.value)[0] == stamp(101)
    node, _ = orders_node(store, ctx)
    assert keys(await run_source(node)) == []  # nothing changed: nothing read


async def test_amount_per_run_continues_next_run_without_gaps() -> None:
    store = shop(12)
    ctx = FakeContext(clients={"woocommerce": store.client()})
    seen: list[str] = []
    for _ in range(4):
        node, _ = orders_node(store, ctx, amount_per_run=3)
        got = keys(await run_source(node))
        assert len(got) <= 3
        seen += got
    assert sorted(set(seen)) == sorted(o["number"] for o in store.orders if o["status"] == "processing")


async def test_cursor_waits_for_the_end_when_reading_by_id() -> None:
    store = shop(250)
    node, ctx = orders_node(store, order_by="id")
    await run_source(node, stop_after_pages=1)  # the run dies after its first page
    assert ctx.cursor("orders").value is None  # later pages may hold older changes: do not move yet
    node, _ = orders_node(store, ctx, order_by="id")
    await run_source(node)
    assert decode_cursor(ctx.cursor("orders").value)[0] == stamp(249)


async def test_record_ids_read_only_those() -> None:
    store = shop(50)
    node, ctx = orders_node(store)
    ctx.params["record_ids"] = ["order:7", 9, "12", "customer:3"]
    assert keys(await run_source(node)) == ["1007", "1009", "1012"]
    assert store.requests[-1].url.params["include"] == "7,9,12"
    assert ctx.cursor("orders").value is None  # a chosen-ids run never moves the cursor
    assert await node.expected() == 3


async def test_backfill_window_and_limit() -> None:
    store = shop(50)
    node, ctx = orders_node(store)
    ctx.params.update(modified_after=stamp(10), modified_before=stamp(21), limit=5)
    assert keys(await run_source(node)) == ["1011", "1012", "1013", "1014", "1016"]
    assert ctx.cursor("orders").writes == []


async def test_start_date_limits_creation_date() -> None:
    store = FakeStore()
    store.add_order(1, "processing", stamp(0), created="2025-12-31T23:00:00")
    store.add_order(2, "processing", stamp(1), created="2026-01-01T00:00:00")
    node, _ = orders_node(store, start_date="2026-01-01", incremental=False)
    assert keys(await run_source(node)) == ["1002"]


async def test_customers_incremental_is_filtered_while_reading() -> None:
    store = FakeStore()
    for i in range(1, 6):
        role = "customer" if i != 4 else "administrator"
        store.customers.append({"id": i, "email": f"k{i}@example.nl", "role": role, "date_modified_gmt": stamp(i)})
    ctx = FakeContext(clients={"woocommerce": store.client()})
    node = CustomersSource("cust", CustomersConfig(), ctx)
    assert keys(await run_source(node)) == ["k1@example.nl", "k2@example.nl", "k3@example.nl", "k5@example.nl"]
    assert decode_cursor(ctx.cursor("cust").value)[0] == stamp(5)
    store.customers[0]["date_modified_gmt"] = stamp(9)
    node = CustomersSource("cust", CustomersConfig(), ctx)
    pages = await run_source(node)
    assert keys(pages) == ["k1@example.nl"] and pages[0][0].source_id == "customer:1"


async def test_variable_products_become_variations_with_parent() -> None:
    store = FakeStore()
    store.products = [
        {"id": 1, "type": "simple", "sku": "MUG", "name": "Mug", "date_modified_gmt": stamp(1), "status": "publish"},
        {"id": 2, "type": "variable", "sku": "TEE", "name": "Tee", "date_modified_gmt": stamp(2), "status": "publish"},
        {"id": 3, "type": "grouped", "sku": "SET", "name": "Set", "date_modified_gmt": stamp(3), "status": "publish"},
    ]
    store.variations[2] = [
        {"id": 21, "sku": "TEE-S", "parent_id": 2, "date_modified_gmt": stamp(2)},
        {"id": 22, "sku": "", "parent_id": 2, "date_modified_gmt": stamp(2)},
    ]
    ctx = FakeContext(clients={"woocommerce": store.client()})
    node = ProductsSource("prod", ProductsConfig(), ctx)
    records = [r for page in await run_source(node) for r in page]
    assert [r.key for r in records] == ["MUG", "TEE-S", "Tee #22"]
    assert [r.source_id for r in records] == ["product:1", "variation:21", "variation:22"]
    assert records[1].data["parent"]["name"] == "Tee" and records[1].data["type"] == "variation"
    assert records[1].data["parent_id"] == 2
    assert decode_cursor(ctx.cursor("prod").value)[0] == stamp(2)

    node = ProductsSource("prod2", ProductsConfig(include_variations=False, types=["variable"]), ctx)
    records = [r for page in await run_source(node) for r in page]
    assert [r.source_id for r in records] == ["product:2"]
    assert store.requests[-1].url.params["type"] == "variable"

    ctx.params["record_ids"] = ["variation:21"]
    node = ProductsSource("prod3", ProductsConfig(), ctx)
    records = [r for page in await run_source(node) for r in page]
    assert [r.source_id for r in records] == ["variation:21"] and records[0].data["parent"]["id"] == 2


def test_record_ids_of_derived_records_point_at_their_origin() -> None:
    from nodes.sources._common import record_ids

    params = {"record_ids": ["order:12:refunds:40,41", "order:7", "customer:3", "9"]}
    assert record_ids(params, ("order",)) == [12, 7, 9]
    assert record_ids(params, ("customer",)) == [3, 9]
