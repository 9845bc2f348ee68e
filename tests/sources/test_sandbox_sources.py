"""The source nodes over real HTTP against the sandbox: what a run reads, and what the next run reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from nodes.connectors import MemoryTokenStore, make_client
from nodes.connectors.asperion import AsperionClient
from nodes.connectors.woocommerce import WooCommerceClient
from nodes.sources.asperion_articles import ArticlesConfig, ArticlesSource
from nodes.sources.asperion_sales_orders import SalesOrdersConfig, SalesOrdersSource
from nodes.sources.woocommerce_customers import CustomersConfig, CustomersSource
from nodes.sources.woocommerce_orders import OrdersConfig, OrdersSource
from nodes.sources.woocommerce_products import ProductsConfig, ProductsSource
from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.sources.fakes import FakeContext, keys, run_source


@pytest.fixture(name="sandbox", scope="module")
def fx_sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(orders=160, customers=15, products=14, seed=11) as url:
        yield url


@pytest.fixture(name="tokens", scope="module")
def fx_tokens() -> MemoryTokenStore:
    return MemoryTokenStore()


@pytest.fixture(name="ctx")
async def fx_ctx(sandbox: SandboxURL, tokens: MemoryTokenStore) -> AsyncIterator[FakeContext]:
    woo = make_client(
        "woocommerce",
        {
            "app": "woocommerce",
            "url": f"{sandbox}/woocommerce",
            "consumer_key": WOO_RW_KEY,
            "consumer_secret": WOO_RW_SECRET,
        },
    )
    asp = make_client(
        "asperion",
        {
            "app": "asperion",
            "url": f"{sandbox}/asperion",
            "identity_url": f"{sandbox}/asperion",
            "client_id": ASPERION_CLIENT_ID,
            "client_secret": ASPERION_CLIENT_SECRET,
            "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
            "tenant_id": 1001,
        },
        token_store=tokens,
    )
    yield FakeContext(clients={"woocommerce": woo, "asperion": asp})
    await woo.aclose()
    await asp.aclose()


def woo(ctx: FakeContext) -> WooCommerceClient:
    client: WooCommerceClient = ctx.clients["woocommerce"]
    return client


async def test_orders_first_run_everything_then_only_changes(ctx: FakeContext) -> None:
    statuses = ["processing", "completed"]
    expected = await woo(ctx).total("orders", {"status": statuses})
    node = OrdersSource("orders", OrdersConfig(), ctx)
    assert await node.expected() == expected
    pages = await run_source(node)
    records = [r for page in pages for r in page]
    assert len(records) == expected > 0
    assert all(r.data["status"] in statuses for r in records)
    assert len({r.source_id for r in records}) == len(records)
    assert all(r.key == r.data["number"] for r in records)

    node = OrdersSource("orders", OrdersConfig(), ctx)
    assert keys(await run_source(node)) == []  # nothing changed since

    target = records[3].data
    await woo(ctx).put(f"orders/{target['id']}", {"customer_note": "please ring twice"})
    node = OrdersSource("orders", OrdersConfig(), ctx)
    changed = [r for page in await run_source(node) for r in page]
    assert [r.source_id for r in changed] == [f"order:{target['id']}"]
    assert changed[0].data["customer_note"] == "please ring twice"


async def test_orders_amount_per_run_and_record_ids(ctx: FakeContext) -> None:
    total = await woo(ctx).total("orders", {"status": "completed"})
    seen: list[str] = []
    while True:
        node = OrdersSource("limited", OrdersConfig(amount_per_run=25, statuses=["completed"]), ctx)
        got = keys(await run_source(node))
        assert len(got) == min(25, total - len(seen))
        if not got:
            break
        seen += got
    assert len(seen) == len(set(seen)) == total  # each run went on exactly where the previous stopped

    some = sorted(o["id"] for o in (await woo(ctx).get("orders", {"per_page": 3})))
    ctx.params["record_ids"] = [f"order:{i}" for i in some]
    node = OrdersSource("by-id", OrdersConfig(statuses=[]), ctx)
    assert [r.source_id for page in await run_source(node) for r in page] == [f"order:{i}" for i in some]


async def test_products_with_variations_and_customers(ctx: FakeContext) -> None:
    node = ProductsSource("products", ProductsConfig(), ctx)
    records = [r for page in await run_source(node) for r in page]
    variations = [r for r in records if r.source_id.startswith("variation:")]
    assert variations, "the seeded shop has variable products"
    assert all(
        r.data["parent"]["type"] == "variable" and r.data["parent_id"] == r.data["parent"]["id"] for r in variations
    )
    assert not any(r.data.get("type") == "variable" for r in records)  # parents come as their variations
    skus = [r.key for r in records]
    assert len(set(skus)) == len(skus)

    node = CustomersSource("customers", CustomersConfig(), ctx)
    customers = [r for page in await run_source(node) for r in page]
    assert len(customers) == 15 and all("@" in r.key for r in customers)
    assert keys(await run_source(CustomersSource("customers", CustomersConfig(), ctx))) == []


async def test_asperion_articles_and_sales_orders(ctx: FakeContext) -> None:
    asp: AsperionClient = ctx.clients["asperion"]
    node = ArticlesSource("articles", ArticlesConfig(), ctx)
    articles = [r for page in await run_source(node) for r in page]
    assert articles and await node.expected() == len(articles)
    assert all(r.source_id == f"article:{r.data['id']}" and r.key == r.data["code"] for r in articles)
    assert "currentStock" in articles[0].data

    first = articles[0].data
    created: list[dict[str, Any]] = []
    for n in range(2):
        order = {
            "debtorCustomerNumber": "9999",
            "date": "2026-01-07",
            "description": f"Source test {n}",
            "lines": [{"articleId": first["id"], "quantity": 1, "unitPrice": 3.0}],
        }
        created.append(await asp.create_sales_order(order))
    node = SalesOrdersSource("so", SalesOrdersConfig(), ctx)
    orders = [r for page in await run_source(node) for r in page]
    assert [r.source_id for r in orders][-2:] == [f"salesorder:{o['id']}" for o in created]
    assert isinstance(orders[-1].data["lines"], list) and orders[-1].data["lines"][0]["quantity"] == 1
    assert keys(await run_source(SalesOrdersSource("so", SalesOrdersConfig(), ctx))) == []
