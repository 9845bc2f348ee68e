"""A signed webhook body replayed with a new delivery id is refused within the replay window, and only then: for
WooCommerce's deliveries and for the generic hook alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine.db import Database
from engine.generic_hooks import receive_generic
from engine.jobs import set_queue
from engine.models import Run, RunStatus, WebhookDelivery, utcnow
from engine.settings import get_settings
from engine.webhooks import flow_secret, receive_delivery, sign
from tests.triggers.conftest import fake_queue, make_flow


def _headers(secret: str, body: bytes, delivery_id: str, topic: str = "order.updated") -> dict[str, str]:
    return {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


async def _runs(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count(Run.id)))).scalar_one())


async def test_same_body_with_a_new_delivery_id_is_a_replay(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    set_queue(fake_queue())
    try:
        flow = await make_flow(db, tmp_path, trigger={"type": "webhook", "catch_up_every_s": 0})
        secret = flow_secret(flow)
        body = json.dumps({"id": 11, "date_modified_gmt": "2026-12-01T10:00:00"}).encode()
        first = await receive_delivery(db, flow.id, _headers(secret, body, "d-1"), body)
        assert first.status == 200 and first.body["status"] == "queued"
        runs = await _runs(db)
        replay = await receive_delivery(db, flow.id, _headers(secret, body, "d-forged-2"), body)
        assert replay.status == 409, "an identical signed body is a replay whatever its delivery id"
        assert await _runs(db) == runs, "a replay starts nothing"
        same_id = await receive_delivery(db, flow.id, _headers(secret, b'{"id": 12}', "d-1"), b'{"id": 12}')
        assert same_id.status == 409, "a delivery id seen before is still refused"
        changed = json.dumps({"id": 11, "date_modified_gmt": "2026-12-01T10:05:00"}).encode()
        assert (await receive_delivery(db, flow.id, _headers(secret, changed, "d-3"), changed)).status == 200
    finally:
        set_queue(None)


@pytest.fixture(name="hour_window")
def fx_hour_window(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A replay window of an hour, and a queue that takes runs (nobody executes them)."""
    monkeypatch.setenv("KOPPEL_WEBHOOK_REPLAY_WINDOW_S", "3600")
    get_settings.cache_clear()
    set_queue(fake_queue())
    yield
    set_queue(None)
    monkeypatch.delenv("KOPPEL_WEBHOOK_REPLAY_WINDOW_S")
    get_settings.cache_clear()


async def _age_deliveries(db: Database, seconds: float) -> None:
    async with db.session() as session, session.begin():
        await session.execute(update(WebhookDelivery).values(received_at=utcnow() - timedelta(seconds=seconds)))


@pytest.mark.usefixtures("hour_window")
async def test_after_the_window_the_same_body_is_accepted(db: Database, tmp_path: Path) -> None:
    flow = await make_flow(db, tmp_path, trigger={"type": "webhook", "catch_up_every_s": 0})
    secret = flow_secret(flow)
    body = json.dumps({"id": 21}).encode()
    assert (await receive_delivery(db, flow.id, _headers(secret, body, "e-1"), body)).status == 200
    await _age_deliveries(db, 7200)
    assert (await receive_delivery(db, flow.id, _headers(secret, body, "e-2"), body)).status == 200


async def _finish_runs(db: Database) -> None:
    """The fake queue runs nothing: end the runs so the flow is free for the next delivery."""
    async with db.session() as session, session.begin():
        await session.execute(update(Run).values(status=RunStatus.SUCCEEDED, finished_at=utcnow()))


@pytest.mark.usefixtures("hour_window")
async def test_the_generic_hook_refuses_a_replayed_body_within_the_window_and_accepts_it_after(
    db: Database, tmp_path: Path
) -> None:
    flow = await make_flow(db, tmp_path, trigger={"type": "webhook", "catch_up_every_s": 0})
    token = {"X-Koppel-Token": flow_secret(flow)}
    body = json.dumps({"items": [{"id": "a1"}]}).encode()
    first, _ = await receive_generic(db, flow.id, token, body)
    assert first.status == 200 and first.body["status"] == "queued"
    await _finish_runs(db)
    await _age_deliveries(db, 3500)  # just inside the window
    assert (await receive_generic(db, flow.id, token, body))[0].status == 409, "the same body again: a replay"
    forged = {**token, "X-Koppel-Delivery": "evt-new"}
    assert (await receive_generic(db, flow.id, forged, body))[0].status == 409, "whatever its delivery id"
    assert await _runs(db) == 1, "a replay starts nothing"

    # Past the hour the same body is a new event (a sender that posts {"ping": true} every day).
    await _age_deliveries(db, 3700)
    later, _ = await receive_generic(db, flow.id, token, body)
    assert later.status == 200 and later.body["status"] == "queued"
    assert await _runs(db) == 2
    await _finish_runs(db)
    again = {**token, "X-Koppel-Delivery": "evt-7"}
    other = json.dumps({"items": [{"id": "b1"}]}).encode()
    assert (await receive_generic(db, flow.id, again, other))[0].status == 200
    await _finish_runs(db)
    same_id, _ = await receive_generic(db, flow.id, again, json.dumps({"items": [{"id": "c1"}]}).encode())
    assert same_id.status == 409, "a delivery id seen before is refused"
