"""The Asperion sources over a fake API: articles (changed since), sales orders (new since, status, lines)."""

from __future__ import annotations

import random

from nodes.sources._common import decode_cursor
from nodes.sources.asperion_articles import ArticlesConfig, ArticlesSource
from nodes.sources.asperion_sales_orders import SalesOrdersConfig, SalesOrdersSource
from tests.sources.fakes import FakeAsperionApi, FakeContext, keys, run_source, stamp


def api_with_data() -> FakeAsperionApi:
    api = FakeAsperionApi()
    api.articles = [
        {"id": i, "code": f"SKU-{i}", "currentStock": i, "reservedStock": 0, "dateLastChange": stamp(i)}
        for i in range(1, 61)
    ]
    for i in range(1, 8):
        lines = {"_data": [{"articleId": 1, "quantity": 2, "unitPrice": 5.0}], "_meta": {"totalCount": 1}}
        status = "open" if i != 3 else "delivered"
        api.sales_orders.append({"id": 100 + i, "orderNumber": f"SO{i:04d}", "status": status, "lines": lines})
    return api


async def test_articles_all_then_only_changed() -> None:
    api = api_with_data()
    ctx = FakeContext(clients={"asperion": api.client()})
    node = ArticlesSource("art", ArticlesConfig(), ctx)
    pages = await run_source(node)
    assert len(keys(pages)) == 60 and pages[0][0].key == "SKU-1" and pages[0][0].source_id == "article:1"
    assert ctx.cursor("art").writes == []  # not incremental by default: stock syncs read everything
    assert await node.expected() == 60

    node = ArticlesSource("art", ArticlesConfig(incremental=True), ctx)
    await run_source(node)
    assert decode_cursor(ctx.cursor("art").value)[0] == stamp(60)
    api.articles[4]["dateLastChange"] = stamp(90)
    node = ArticlesSource("art", ArticlesConfig(incremental=True), ctx)
    assert keys(await run_source(node)) == ["SKU-5"]
    assert api.requests[-1].url.params["DateLastChange_from"] < stamp(60)


async def test_articles_limit_leaves_cursor_for_next_run() -> None:
    api = api_with_data()
    ctx = FakeContext(clients={"asperion": api.client()}, params={"limit": 10})
    node = ArticlesSource("art", ArticlesConfig(incremental=True), ctx)
    assert len(keys(await run_source(node))) == 10
    assert ctx.cursor("art").value is None  # articles are not in change order: only a complete read moves it


async def test_sales_orders_new_since_last_run_with_plain_lines() -> None:
    api = api_with_data()
    ctx = FakeContext(clients={"asperion": api.client()})
    node = SalesOrdersSource("so", SalesOrdersConfig(), ctx)
    pages = await run_source(node)
    assert keys(pages) == ["SO0001", "SO0002", "SO0004", "SO0005", "SO0006", "SO0007"]
    first = pages[0][0]
    assert first.source_id == "salesorder:101" and first.data["lines"] == [
        {"articleId": 1, "quantity": 2, "unitPrice": 5.0}
    ]
    assert ctx.cursor("so").value == "107"
    assert api.requests[-1].url.params["Status"] == "open"

    api.sales_orders.append({"id": 108, "orderNumber": "SO0008", "status": "open", "lines": {"_data": []}})
    node = SalesOrdersSource("so", SalesOrdersConfig(), ctx)
    assert keys(await run_source(node)) == ["SO0008"]
    assert api.requests[-1].url.params["Id_from"] == "108"
    assert await SalesOrdersSource("so", SalesOrdersConfig(), ctx).expected() == 0


async def test_sales_orders_several_statuses_and_chosen_ids() -> None:
    api = api_with_data()
    ctx = FakeContext(clients={"asperion": api.client()}, params={"record_ids": ["salesorder:103", "salesorder:105"]})
    node = SalesOrdersSource("so", SalesOrdersConfig(statuses=["open", "delivered"]), ctx)
    assert keys(await run_source(node)) == ["SO0003", "SO0005"]
    assert ctx.cursor("so").writes == []


async def test_a_long_read_out_of_stamp_order_still_names_the_articles_near_its_cursor() -> None:
    """Articles come by id, their change stamps in no order: the cursor is written once, at the end, with the newest
    stamp and the articles handled within the overlap before it (those a next read meets again and skips). Stamps
    the overlap no longer reaches are forgotten along the way; the ones near the end must all be there."""
    count = 3000
    order = list(range(count))
    random.Random(14).shuffle(order)
    api = FakeAsperionApi()
    # 30 seconds apart: the two-minute overlap reaches the newest five
    api.articles = [
        {"id": i + 1, "code": f"SKU-{i + 1}", "currentStock": 1, "reservedStock": 0, "dateLastChange": stamp(n / 120)}
        for i, n in enumerate(order)
    ]
    ctx = FakeContext(clients={"asperion": api.client()})
    node = ArticlesSource("art", ArticlesConfig(incremental=True), ctx)
    assert len(keys(await run_source(node))) == count

    at, seen = decode_cursor(ctx.cursor("art").value)
    newest = sorted(api.articles, key=lambda a: a["dateLastChange"])[-5:]
    assert at == stamp((count - 1) / 120)
    assert seen == {f"article:{a['id']}" for a in newest}
    node = ArticlesSource("art", ArticlesConfig(incremental=True), ctx)
    assert keys(await run_source(node)) == []  # the overlap brings back only articles handled already
