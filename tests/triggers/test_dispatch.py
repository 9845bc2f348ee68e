"""Webhook deliveries that find their flow busy wait, and become one run as soon as the flow is free."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, update

from engine import store
from engine.db import Database
from engine.jobs import set_queue
from engine.models import Run, RunStatus, WebhookDelivery
from engine.schedules import dispatch_webhooks
from engine.webhooks import flow_secret, receive_delivery, sign
from tests.triggers.conftest import fake_queue, make_flow


def _delivery(secret: str, record_id: int, delivery_id: str) -> tuple[dict[str, str], bytes]:
    # Each real delivery differs at least in its modification stamp (an identical body would be a replay).
    body = json.dumps({"id": record_id, "date_modified_gmt": f"2026-12-01T10:00:0{delivery_id[-1]}"}).encode()
    headers = {
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
    return headers, body


async def test_deliveries_for_a_busy_flow_are_kept_and_run_together_later(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    queue = fake_queue()
    set_queue(queue)
    try:
        flow = await make_flow(db, tmp_path, trigger={"type": "webhook", "catch_up_every_s": 0})
        busy = await store.start_flow_run(db, flow.id, enqueue=False)  # e.g. a catch-up run in progress
        secret = flow_secret(flow)
        answers = [
            await receive_delivery(db, flow.id, *_delivery(secret, n, f"d-{i}")) for i, n in enumerate((11, 12, 11))
        ]
        assert [a.status for a in answers] == [200, 200, 200]
        assert {a.body["run_id"] for a in answers} == {None}, "the flow is busy: nothing starts yet"
        async with db.session() as session:
            statuses = list((await session.execute(select(WebhookDelivery.status))).scalars())
        assert statuses == ["pending"] * 3

        assert await dispatch_webhooks(db) == [], "still busy"
        async with db.session() as session, session.begin():
            await session.execute(update(Run).where(Run.id == busy.id).values(status=RunStatus.SUCCEEDED))

        started = await dispatch_webhooks(db)
        assert len(started) == 1
        async with db.session() as session:
            run = await session.get(Run, started[0])
            deliveries = list((await session.execute(select(WebhookDelivery))).scalars())
        assert run is not None and run.trigger == "webhook"
        assert run.params["record_ids"] == ["order:11", "order:12"]
        assert {(d.status, d.run_id) for d in deliveries} == {("queued", run.id)}
        assert await dispatch_webhooks(db) == [], "each delivery runs once"
    finally:
        set_queue(None)
