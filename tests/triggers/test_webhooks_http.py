"""WooCommerce webhooks over real HTTP: the sandbox store delivers to a running Koppel, which books the order.

Two servers on free loopback ports: the sandbox (store + Asperion) and Koppel itself (embedded worker, SQLite).
Koppel registers its webhook on the store through the REST API; the store signs and delivers ``order.created``;
a forged, unsigned or replayed delivery is refused; a delivery that never came is picked up by the catch-up run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine import store
from engine.db import Database
from engine.models import Flow, Run
from engine.settings import Settings
from engine.templates import get_template
from engine.webhooks import flow_secret, register_webhooks, sign, unregister_webhooks, webhook_status
from sandbox.credentials import (
    ASPERION_DEFAULT_TENANT,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from tests.sandbox.server import SandboxURL, running_sandbox, serve_app
from tests.templates.sandbox_runs import connections
from web.app import create_app

pytestmark = pytest.mark.slow


@dataclass
class Setup:
    db: Database
    sandbox: SandboxURL
    koppel: str
    flow_id: str

    def hook_url(self, flow_id: str | None = None) -> str:
        return f"{self.koppel}/hooks/woocommerce/{flow_id or self.flow_id}"

    def invoices(self) -> dict[str, dict[str, Any]]:
        assert self.sandbox.app.asperion is not None
        tenant = self.sandbox.app.asperion.tenants[ASPERION_DEFAULT_TENANT]
        return {inv["description"]: inv for inv in list(tenant.invoices.values())}

    async def runs(self, trigger: str) -> list[Run]:
        async with self.db.session() as session:
            result = await session.execute(select(Run).where(Run.flow_id == self.flow_id, Run.trigger == trigger))
            return list(result.scalars())

    async def set_trigger(self, trigger: dict[str, Any]) -> None:
        async with self.db.session() as session, session.begin():
            flow = await session.get(Flow, self.flow_id)
            assert flow is not None
            flow.trigger = trigger


async def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``condition`` (sync or async) until it is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(customers=5, products=8, seed=4) as url:
        yield url


@pytest.fixture
async def setup(
    sandbox: SandboxURL, sqlite_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Setup]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KOPPEL_DEMO", raising=False)
    for name, spec in connections(sandbox).items():
        await store.save_connection(
            db, name=name, app=spec["app"], fields={k: v for k, v in spec.items() if k != "app"}
        )
    flow = await store.create_flow(db, {**get_template("orders-to-sales-invoices"), "name": "Shop to books"})
    async with db.session() as session, session.begin():
        row = await session.get(Flow, flow.id)
        assert row is not None
        row.trigger = {"type": "webhook", "catch_up_every_s": 0}
        row.active = True
    with serve_app(create_app(Settings.from_env())) as koppel:
        yield Setup(db, sandbox, koppel, flow.id)


async def create_order(sandbox: SandboxURL, email: str) -> dict[str, Any]:
    auth = (WOO_RW_KEY, WOO_RW_SECRET)
    base = f"{sandbox}/woocommerce/wp-json/wc/v3"
    async with httpx.AsyncClient(auth=auth, timeout=30) as client:
        products = (await client.get(f"{base}/products", params={"type": "simple", "per_page": 1})).json()
        body = {
            "status": "processing",
            "set_paid": True,
            "payment_method": "ideal",
            "payment_method_title": "iDEAL",
            "billing": {
                "first_name": "Anna",
                "last_name": "de Vries",
                "address_1": "Kerkstraat 1",
                "city": "Utrecht",
                "postcode": "3511 AB",
                "country": "NL",
                "email": email,
            },
            "line_items": [{"product_id": products[0]["id"], "quantity": 2}],
        }
        response = await client.post(f"{base}/orders", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_signed_delivery_books_the_order_within_seconds(setup: Setup) -> None:
    state = await register_webhooks(setup.db, setup.flow_id, base_url=setup.koppel)
    hooks = setup.sandbox.app.woo.webhooks
    assert sorted(h["topic"] for h in hooks.values()) == ["order.created", "order.updated"]
    assert {h["delivery_url"] for h in hooks.values()} == {setup.hook_url()}
    assert [h["topic"] for h in state["hooks"]] == ["order.created", "order.updated"]

    order = await create_order(setup.sandbox, "anna@example.nl")
    description = f"WooCommerce order {order['number']}"
    invoice = await wait_for(lambda: setup.invoices().get(description), 20, "the invoice of the new order")
    assert invoice is not None
    runs = await setup.runs("webhook")
    assert runs and all(r.params.get("record_ids") == [f"order:{order['id']}"] for r in runs)
    status = await webhook_status(setup.db, setup.flow_id, live=True)
    assert status["registered"] and {h["status"] for h in status["hooks"]} == {"active"}
    assert status["deliveries"].get("queued", 0) >= 1

    await unregister_webhooks(setup.db, setup.flow_id)
    assert setup.sandbox.app.woo.webhooks == {}


async def test_forged_unsigned_and_replayed_deliveries_are_refused(setup: Setup) -> None:
    order = await create_order(setup.sandbox, "bram@example.nl")  # no webhook registered: nothing delivered
    body = json.dumps({"id": order["id"], "status": "processing"}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-Delivery-ID": "delivery-1",
    }
    async with setup.db.session() as session:
        flow = await session.get(Flow, setup.flow_id)
    assert flow is not None
    secret = flow_secret(flow)
    async with httpx.AsyncClient(timeout=30) as client:
        unsigned = await client.post(setup.hook_url(), content=body, headers=headers)
        forged = await client.post(
            setup.hook_url(), content=body, headers={**headers, "X-WC-Webhook-Signature": sign(body, "guessed")}
        )
        tampered = await client.post(
            setup.hook_url(),
            content=body.replace(b"processing", b"completed"),
            headers={**headers, "X-WC-Webhook-Signature": sign(body, secret)},
        )
        ping = await client.post(
            setup.hook_url(),
            content=b"webhook_id=7",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        unknown = await client.post(setup.hook_url("0" * 32), content=b"webhook_id=7")
        assert (unsigned.status_code, forged.status_code, tampered.status_code) == (401, 401, 401)
        assert (ping.status_code, unknown.status_code) == (200, 404)
        assert await setup.runs("webhook") == [], "a refused delivery runs nothing"

        signed = {**headers, "X-WC-Webhook-Signature": sign(body, secret)}
        first = await client.post(setup.hook_url(), content=body, headers=signed)
        assert first.status_code == 200 and first.json()["record"] == f"order:{order['id']}"
        description = f"WooCommerce order {order['number']}"
        await wait_for(lambda: description in setup.invoices(), 20, "the invoice of the signed delivery")
        runs_before = len(await setup.runs("webhook"))
        replay = await client.post(setup.hook_url(), content=body, headers=signed)
        assert replay.status_code == 409
    assert len(await setup.runs("webhook")) == runs_before
    assert sum(1 for d in setup.invoices() if d == description) == 1


async def test_a_lost_delivery_is_caught_by_the_catch_up_run(setup: Setup) -> None:
    await register_webhooks(setup.db, setup.flow_id, base_url=setup.koppel)
    first = await create_order(setup.sandbox, "carla@example.nl")
    await wait_for(lambda: f"WooCommerce order {first['number']}" in setup.invoices(), 20, "the delivered order")
    for hook in setup.sandbox.app.woo.webhooks.values():  # the next delivery gets lost
        hook["delivery_url"] = f"{setup.koppel}/nowhere"
    lost = await create_order(setup.sandbox, "dirk@example.nl")
    await wait_for(lambda: setup.sandbox.app.stats.webhooks.get("failed", 0) >= 1, 20, "the failed delivery")
    assert f"WooCommerce order {lost['number']}" not in setup.invoices()

    await setup.set_trigger({"type": "webhook", "catch_up_every_s": 2})
    await wait_for(lambda: f"WooCommerce order {lost['number']}" in setup.invoices(), 30, "the catch-up run")
    catch_up = await wait_for(lambda: setup.runs("catch_up"), 10, "a catch-up run")
    assert catch_up
    invoices = list(setup.invoices())
    assert invoices.count(f"WooCommerce order {first['number']}") == 1, "the catch-up booked nothing twice"
