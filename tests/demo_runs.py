"""Runs of a built-in template on the demo shop, for the tests that read their log (pages, browser)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ("run_invoice_template",)


async def run_invoice_template(db: Any, *, name: str, conditions: dict[str, str], limit: int) -> str:
    """Run "orders-to-sales-invoices" from the shop's first order on, with these payment conditions (a payment
    method without one waits), on at most ``limit`` orders; returns the run's id once the server's in-process
    worker has finished it."""
    from engine import store
    from engine.models import Run, RunStatus
    from engine.templates import get_template

    document = {**get_template("orders-to-sales-invoices"), "name": name}
    for node in document["nodes"]:
        config = node.get("config") or {}
        if node["type"] == "woocommerce.orders":
            config["start_date"] = None
        if isinstance(config.get("payment_conditions"), dict):
            config["payment_conditions"] = dict(conditions)
    flow = await store.create_flow(db, document, note=name)
    run = await store.start_flow_run(db, flow.id, params={"limit": limit})
    for _ in range(1200):
        async with db.session() as session:
            row = await session.get(Run, run.id)
            if row is not None and row.status in RunStatus.FINISHED:
                return str(run.id)
        await asyncio.sleep(0.1)
    raise AssertionError("the run did not finish")
