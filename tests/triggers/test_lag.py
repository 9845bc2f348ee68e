"""The lag alert asks the store (the sandbox, over HTTP) for paid orders and names those not delivered in time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from engine import store
from engine.alerts import AlertRules, evaluate
from engine.db import Database
from engine.models import IdempotencyEntry, utcnow
from engine.templates import get_template
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.sandbox_runs import connections
from tests.triggers.test_webhooks_http import create_order

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(customers=3, products=5, seed=9) as url:
        yield url


async def test_paid_orders_not_delivered_in_time_are_named(db: Database, sandbox: SandboxURL) -> None:
    for name, spec in connections(sandbox).items():
        await store.save_connection(
            db, name=name, app=spec["app"], fields={k: v for k, v in spec.items() if k != "app"}
        )
    flow = await store.create_flow(db, get_template("orders-to-sales-invoices"))
    booked = await create_order(sandbox, "eva@example.nl")
    late = await create_order(sandbox, "finn@example.nl")
    async with db.session() as session, session.begin():
        session.add(
            IdempotencyEntry(flow_key=flow.id, node_id="book", source_id=f"order:{booked['id']}", target_id="9")
        )
    rules = AlertRules.of({"alerts": {"emails": ["ops@shop.test"], "lag_minutes": 60}})

    assert await evaluate(db, flow, rules, utcnow() - timedelta(hours=1), utcnow()) == [], "paid just now: not late"
    later = utcnow() + timedelta(hours=2)
    findings = await evaluate(db, flow, rules, later - timedelta(hours=1), later)
    assert [f.rule for f in findings] == ["lag"]
    assert findings[0].count == 1
    assert f"order {late['number']} paid" in findings[0].lines[0]
