"""``mollie.settlements`` against the sandbox: statuses, the payout window, chosen ids, the cursor, settled totals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from nodes.connectors.mollie import MollieClient
from nodes.sources.mollie_settlements import SettlementsConfig, SettlementsSource
from sandbox.credentials import MOLLIE_API_KEY
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.sources.fakes import FakeContext, keys, run_source


@pytest.fixture(name="shop", scope="module")
def fx_shop() -> Iterator[SandboxURL]:
    with running_sandbox(orders=200, customers=40, products=10, seed=4) as url:
        yield url


@pytest.fixture(name="ctx")
async def fx_ctx(shop: SandboxURL) -> AsyncIterator[FakeContext]:
    client = MollieClient(f"{shop}/mollie", MOLLIE_API_KEY)
    yield FakeContext(clients={"mollie": client})
    await client.aclose()


def source(ctx: FakeContext, **config: object) -> SettlementsSource:
    return SettlementsSource("settlements", SettlementsConfig.model_validate(config), ctx)


async def test_paid_out_settlements_once_each_then_only_new_ones(ctx: FakeContext, shop: SandboxURL) -> None:
    book = shop.app.mounted["mollie"].book
    paid_out = [s for s in book.settlements.values() if s["status"] == "paidout"]
    first = await run_source(source(ctx))
    assert keys(first) == [s["reference"] for s in paid_out]  # newest first, as Mollie lists them
    record = first[0][0]
    assert record.source_id == f"settlement:{paid_out[0]['id']}"
    settled = record.data["settled"]
    members = book.members[paid_out[0]["id"]]
    assert settled["payments"]["count"] == len(members["payments"])
    total = sum((Decimal(book.payments[p]["settlementAmount"]["value"]) for p in members["payments"]), Decimal(0))
    assert Decimal(settled["payments"]["total"]) == total
    assert sorted(settled["payments"]["order_ids"]) == sorted(
        book.payments[p]["metadata"]["order_id"] for p in members["payments"]
    )
    assert keys(await run_source(source(ctx))) == []  # the cursor moved past the newest payout
    assert len(keys(await run_source(source(ctx, incremental=False)))) == len(paid_out)


async def test_a_window_statuses_and_chosen_ids(ctx: FakeContext, shop: SandboxURL) -> None:
    book = shop.app.mounted["mollie"].book
    paid_out = [s for s in book.settlements.values() if s["status"] == "paidout"]
    month = paid_out[len(paid_out) // 2]["settledAt"][:7]
    ctx.params = {"modified_after": f"{month}-01T00:00:00", "modified_before": f"{month}-28T23:59:59"}
    in_month = [s["reference"] for s in paid_out if f"{month}-01" <= s["settledAt"][:10] <= f"{month}-28"]
    assert keys(await run_source(source(ctx, with_details=False))) == in_month and in_month
    ctx.params = {"record_ids": [f"settlement:{paid_out[3]['id']}"]}
    assert keys(await run_source(source(ctx))) == [paid_out[3]["reference"]]
    ctx.params = {}
    waiting = paid_out[1]
    waiting["status"], waiting["settledAt"] = "pending", None  # closed by Mollie, not paid out yet
    try:
        assert keys(await run_source(source(ctx, statuses=["pending"], incremental=False))) == [waiting["reference"]]
        everything = keys(await run_source(source(ctx, incremental=False, with_details=False)))
        assert waiting["reference"] not in everything and len(everything) == len(paid_out) - 1
    finally:
        shop.app.mounted["mollie"]._book = None  # rebuilt from the store on the next request


async def test_payments_name_their_order_and_are_read_once(ctx: FakeContext, shop: SandboxURL) -> None:
    from nodes.sources.mollie_payments import PaymentsConfig, PaymentsSource

    def payments(**config: object) -> PaymentsSource:
        return PaymentsSource("payments", PaymentsConfig.model_validate(config), ctx)

    book = shop.app.mounted["mollie"].book
    first = await run_source(payments())
    records = [r for page in first for r in page]
    assert [r.source_id for r in records] == [f"payment:{pid}" for pid in book.payments]
    woo = shop.app.woo
    for record in records:
        order = woo.orders.get(record.data["metadata"]["order_id"])
        assert order is not None and order["transaction_id"] == record.data["id"]
        assert record.key == f"order {order['id']} ({order['transaction_id']})"
    assert keys(await run_source(payments())) == []
    assert keys(await run_source(payments(statuses=["failed"], incremental=False))) == []
    newest = next(iter(book.payments.values()))
    ctx.params = {"record_ids": [f"payment:{newest['id']}"]}
    assert [r.data["id"] for page in await run_source(payments()) for r in page] == [newest["id"]]
