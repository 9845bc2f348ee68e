"""The templates against the sandbox over real HTTP: what Asperion booked equals what WooCommerce sold.

Each test seeds a store, runs a template as ``koppel flow run`` does (``create_run`` + ``execute_run``), and compares
the simulators' state afterwards: debtor kinds, lines, VAT codes, revenue accounts and totals to the cent.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.models import LogEntry
from engine.service import create_run, execute_run
from engine.templates import get_template
from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_DEFAULT_TENANT,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D

pytestmark = pytest.mark.slow


def connections(base: str) -> dict[str, Any]:
    return {
        "woocommerce": {"app": "woocommerce", "url": f"{base}/woocommerce", "consumer_key": WOO_RW_KEY,
                        "consumer_secret": WOO_RW_SECRET},
        "asperion": {"app": "asperion", "url": f"{base}/asperion", "identity_url": f"{base}/asperion",
                     "client_id": ASPERION_CLIENT_ID, "client_secret": ASPERION_CLIENT_SECRET,
                     "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN, "tenant_id": ASPERION_DEFAULT_TENANT},
    }  # fmt: skip


async def run_template(db: Database, name: str, base: str, **params: Any) -> dict[str, int]:
    run = await create_run(
        db, document=get_template(name), trigger="test", params=params, connections=connections(base)
    )
    finished = await execute_run(db, run.id)
    assert finished is not None
    counts: dict[str, int] = finished.counts()
    PROBLEMS[:] = await problems(db, run.id)
    return counts


PROBLEMS: list[str] = []


async def problems(db: Database, run_id: str) -> list[str]:
    """The log lines of records that did not go through, for assertion messages."""
    async with db.session() as session:
        rows = await session.execute(
            select(LogEntry).where(LogEntry.run_id == run_id, LogEntry.status.in_(("failed", "waiting")))
        )
        return [f"{row.node_id} {row.record_key}: {row.status} {row.message}" for row in rows.scalars()]


def woo_orders(sandbox: SandboxURL) -> list[dict[str, Any]]:
    woo = sandbox.app.woo
    return [order for oid in woo.orders.ids() if (order := woo.orders.get(oid)) is not None]


def tenant(sandbox: SandboxURL) -> Any:
    assert sandbox.app.asperion is not None
    return sandbox.app.asperion.tenants[ASPERION_DEFAULT_TENANT]


@pytest.fixture(name="store")
def fx_store() -> Iterator[SandboxURL]:
    with running_sandbox(orders=60, customers=20, products=15, seed=7) as url:
        yield url


def lines_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    lines = document.get("lines") or []
    return list(lines.get("_data") or []) if isinstance(lines, dict) else list(lines)


async def test_orders_to_sales_invoices_books_every_order_to_the_cent(db: Database, store: SandboxURL) -> None:
    counts = await run_template(db, "orders-to-sales-invoices", store)
    orders = {
        f"WooCommerce order {o['number']}": o for o in woo_orders(store) if o["status"] in {"processing", "completed"}
    }
    invoices = {inv["description"]: inv for inv in tenant(store).invoices.values()}
    assert counts["failed"] == 0, PROBLEMS
    assert counts["waiting"] == 0, PROBLEMS
    assert set(orders) <= set(invoices)
    for description, order in orders.items():
        invoice = invoices[description]
        lines = lines_of(invoice)
        ex = sum((D(line["amount"]) for line in lines), Decimal(0))
        vat = sum((D(line["vatAmount"]) for line in lines), Decimal(0))
        assert (ex, vat, ex + vat) == (
            D(order["total"]) - D(order["total_tax"]),
            D(order["total_tax"]),
            D(order["total"]),
        ), description
