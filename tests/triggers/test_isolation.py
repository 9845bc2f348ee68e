"""Scheduler isolation: a trigger that can never fire is refused at save, and one stored anyway (or any broken
trigger) never stops the other flows' schedules, their webhook deliveries or the automation pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from engine.db import Database
from engine.models import Flow, Run, User, WebhookDelivery
from engine.schedules import Schedule, cron_problem, scheduler_tick, schedules_of
from tests.triggers.conftest import fake_queue, make_flow, posted_flow


def test_a_cron_that_never_fires_is_not_a_schedule() -> None:
    assert cron_problem("0 0 31 2 *") is not None and "never fires" in str(cron_problem("0 0 31 2 *"))
    assert cron_problem("0 0 30 2 *") is not None
    assert cron_problem("0 0 29 2 *") is None  # every leap year: fires within five years
    assert cron_problem("*/15 * * * *") is None
    assert "not a valid cron" in str(cron_problem("every day"))
    assert schedules_of({"type": "cron", "cron": "0 0 31 2 *"}) == []
    # a catch-up cron that never fires falls back to the default catch-up interval
    assert schedules_of({"type": "webhook", "catch_up_cron": "0 0 31 2 *"}) == [Schedule("catch_up", every_s=900)]
    assert schedules_of(["not", "a", "trigger"]) == []  # type: ignore[arg-type]


async def _break_trigger(db: Database, flow_id: str, trigger: object) -> None:
    async with db.session() as session, session.begin():
        await session.execute(update(Flow).where(Flow.id == flow_id).values(trigger=trigger))


async def test_a_broken_trigger_in_the_database_does_not_stop_other_flows(db: Database, tmp_path: Path) -> None:
    broken = await make_flow(db, tmp_path, name="broken", trigger={"type": "interval", "every_s": 60})
    odd = await make_flow(db, tmp_path, name="odd", trigger={"type": "interval", "every_s": 60})
    healthy = await make_flow(db, tmp_path, name="healthy", trigger={"type": "interval", "every_s": 60})
    hooked = await make_flow(db, tmp_path, name="hooked", trigger={"type": "webhook", "catch_up_every_s": 0})
    # Stored behind the API's back (an older version, a hand-edited database): impossible, and not even an object.
    await _break_trigger(db, broken.id, {"type": "cron", "cron": "0 0 31 2 *"})
    await _break_trigger(db, odd.id, ["cron", "0 0 31 2 *"])
    async with db.session() as session, session.begin():
        session.add(WebhookDelivery(flow_id=hooked.id, delivery_id="d-1", topic="order.updated", source_id="item:1"))

    queue = fake_queue()
    result = await scheduler_tick({"db": db, "redis": queue})
    assert result == {"scheduled": 1, "webhook_runs": 1}
    async with db.session() as session:
        runs = {(r.flow_id, r.trigger) for r in (await session.execute(select(Run))).scalars()}
    assert runs == {(healthy.id, "schedule"), (hooked.id, "webhook")}
    assert await queue.zcard("arq:queue") == 2
    # and it keeps its schedule: the next minute fires again (once the first run is done)
    async with db.session() as session, session.begin():
        await session.execute(update(Run).values(status="succeeded"))
    from engine.schedules import fire_due

    later = datetime.now(UTC) + timedelta(seconds=61)
    assert len(await fire_due(db, now=later, queue=queue)) == 1


async def test_an_impossible_cron_is_refused_at_save_in_english_and_dutch(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    flow_id = await posted_flow(client, tmp_path)
    url = f"/api/flows/{flow_id}/automation"
    refused = await client.put(url, json={"trigger": {"type": "cron", "cron": "0 0 31 2 *"}, "active": True})
    assert refused.status_code == 400
    problems = refused.json()["extra"]["problems"]
    assert [p["field"] for p in problems] == ["trigger.cron"]
    assert "never fires" in problems[0]["message"]
    # a Dutch-speaking user gets the same answer in Dutch
    app_db = client._transport.app.state.db  # type: ignore[attr-defined]
    async with app_db.session() as session, session.begin():
        await session.execute(update(User).values(language="nl"))
    dutch = await client.put(url, json={"trigger": {"type": "webhook", "catch_up_cron": "0 0 31 2 *"}})
    assert dutch.status_code == 400
    problems = dutch.json()["extra"]["problems"]
    assert [p["field"] for p in problems] == ["trigger.catch_up_cron"]
    assert "gaat nooit af" in problems[0]["message"]
    assert dutch.json()["detail"] == "de automatiseringsinstellingen zijn niet geldig"
    assert (await client.get(url)).json()["trigger"] == {"type": "manual"}  # nothing was stored


async def test_the_automation_pages_show_a_stored_broken_trigger_instead_of_failing(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    flow_id = await posted_flow(client, tmp_path)
    app_db = client._transport.app.state.db  # type: ignore[attr-defined]
    await _break_trigger(app_db, flow_id, {"type": "cron", "cron": "0 0 31 2 *"})
    view = await client.get(f"/api/flows/{flow_id}/automation")
    assert view.status_code == 200, view.text
    assert view.json()["next"] == {}
    assert [p["field"] for p in view.json()["trigger_problems"]] == ["trigger.cron"]
    page = await client.get(f"/flows/{flow_id}/automation")
    assert page.status_code == 200, page.text
    assert "never fires" in page.text
    await _break_trigger(app_db, flow_id, "cron please")
    view = await client.get(f"/api/flows/{flow_id}/automation")
    assert view.status_code == 200, view.text
    assert [p["field"] for p in view.json()["trigger_problems"]] == ["trigger"]
    assert (await client.get(f"/flows/{flow_id}/automation")).status_code == 200
    assert (await client.get(f"/flows/{flow_id}")).status_code == 200
    assert (await client.get("/")).status_code == 200
