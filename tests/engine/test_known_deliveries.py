"""The template's refund branch answers "is the order's invoice booked?" and "is this refund credited?" from the
flow's own records while they are complete, counted at the sandbox: a second run of a trusted flow credits new refunds
without one look-up per order; a new Koppel database against the same books asks Asperion and books nothing twice,
also once it trusts its targets (its records do not hold what the other database credited)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.db import Database, migrate_sync
from engine.service import DbTokenStore
from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.engine.test_intents import forget_requests, invoices_per_description, requests_made
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.sandbox_runs import BOOKED_STATUSES, connections, run_template
from tests.templates.test_after_booking import _refund

TEMPLATE = "orders-to-sales-invoices"
FIND = "GET /asperion/v1/salesinvoices"
"""Asperion's invoice headers: the description searches, and the newest invoice (each trusted target's mark)."""
WITH_LINES = "GET /asperion/v1/salesinvoiceswithlines"
POST = "POST /asperion/v1/salesinvoiceswithlines"


@pytest.fixture(name="shop")
def fx_shop() -> Iterator[SandboxURL]:
    with running_sandbox(orders=120, customers=30, products=15, seed=11) as base:
        yield base


async def _cancel(shop: SandboxURL, order_id: int) -> None:
    async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
        answer = await http.put(f"{shop}/woocommerce/wp-json/wc/v3/orders/{order_id}", json={"status": "cancelled"})
    assert answer.status_code == 200, answer.text


def _orders(shop: SandboxURL) -> list[dict[str, Any]]:
    woo = shop.app.woo
    return [order for oid in woo.orders.ids() if (order := woo.orders.get(oid))]


MARKS = 2 * 3
"""The newest-invoice questions of a run: one before and one after, for each of the template's three targets."""


async def test_a_trusted_run_credits_new_refunds_without_asking_per_order(db: Database, shop: SandboxURL) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    booked = [o for o in _orders(shop) if o["status"] in BOOKED_STATUSES and float(o["total"]) > 20]
    fresh = [o for o in booked if not o.get("refunds")][:5]
    again = next(o for o in booked if o.get("refunds"))  # its first refund is credited already
    assert len(fresh) == 5
    refunds = [await _refund(shop, order["id"], "5.00") for order in [*fresh, again]]
    never = next(o for o in _orders(shop) if o["status"] in ("pending", "on-hold"))
    await _cancel(shop, never["id"])  # never invoiced: nothing to credit, and nothing to ask

    forget_requests(shop)
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    made = requests_made(shop)
    assert made[POST] == len(refunds), "one credit invoice per new refund"
    assert made[FIND] == MARKS, "no 'is the invoice booked' or 'is this refund credited' GET per order"
    assert made[WITH_LINES] == 0, "credits posted without asking whether they exist; the cancelled order not looked up"
    assert counts["read"] == len(refunds) + 1
    descriptions = invoices_per_description(shop)
    for order, refund in zip([*fresh, again], refunds, strict=True):
        assert descriptions[f"WooCommerce refund {refund['id']} of order {order['number']}"] == 1
    assert set(descriptions.values()) == {1}


async def test_a_new_database_asks_asperion_and_credits_nothing_twice(
    db: Database, shop: SandboxURL, tmp_path: Path
) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    booked = [o for o in _orders(shop) if o["status"] in BOOKED_STATUSES and float(o["total"]) > 20]
    fresh = next(o for o in booked if not o.get("refunds"))
    refund = await _refund(shop, fresh["id"], "5.00")
    with_refunds = [o for o in _orders(shop) if o.get("refunds") and o["status"] in BOOKED_STATUSES]

    # Another Koppel database meets the books the first one made, with one refund not credited yet.
    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    await asyncio.to_thread(migrate_sync, url)
    other = Database(url)
    try:
        key = "file:asperion:" + str(connections(shop)["asperion"]["client_id"])
        tokens = await DbTokenStore(db, key).load()
        assert tokens is not None
        await DbTokenStore(other, key).save(tokens)
        forget_requests(shop)
        counts, problems = await run_template(other, TEMPLATE, shop)
        assert counts["failed"] == 0 and counts["waiting"] == 0, problems
        made = requests_made(shop)
        assert made[POST] == 1, "only the new refund is credited"
        assert made[FIND] >= MARKS + len(with_refunds), "its records know nothing: each such order is asked"

        # That run checked every record, so its targets are trusted now; but the refunds the first database
        # credited are not in its records: a new refund of such an order still asks, and credits only itself.
        again = next(o for o in with_refunds if o["id"] != fresh["id"] and float(o["total"]) > 20)
        later = await _refund(shop, again["id"], "1.00")
        forget_requests(shop)
        counts, problems = await run_template(other, TEMPLATE, shop)
        assert counts["failed"] == 0 and counts["waiting"] == 0, problems
        assert requests_made(shop)[POST] == 1
    finally:
        await other.dispose()
    descriptions = invoices_per_description(shop)
    assert descriptions[f"WooCommerce refund {refund['id']} of order {fresh['number']}"] == 1
    assert descriptions[f"WooCommerce refund {later['id']} of order {again['number']}"] == 1
    assert set(descriptions.values()) == {1}, "no refund is credited twice"
