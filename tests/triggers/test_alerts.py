"""Alerts: problems of a flow arrive as ONE digest per period in a real (local) SMTP server and on a webhook."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine import store
from engine.alerts import SmtpConfig, run_alerts
from engine.db import Database
from engine.models import Run, RunStatus, utcnow
from engine.service import execute_run
from tests.conftest import Inbox
from tests.sandbox.server import read_body, serve_app
from tests.triggers.conftest import make_flow


async def _failing_flow(db: Database, tmp_path: Path, **settings: Any) -> str:
    alerts = {"emails": ["ops@shop.test", "boss@shop.test"], "period_minutes": 60, **settings}
    flow = await make_flow(db, tmp_path, items=8, settings={"alerts": alerts}, target={"fail_values": [2, 3, 5, 7]})
    run = await store.start_flow_run(db, flow.id, enqueue=False)
    finished = await execute_run(db, run.id)
    assert finished is not None and finished.failed_count == 4
    async with db.session() as session, session.begin():
        session.add(
            Run(flow_id=flow.id, document={}, status=RunStatus.FAILED, error="AuthError: 401", finished_at=utcnow())
        )
    return flow.id


async def test_problems_arrive_as_one_digest_per_period(
    db: Database, tmp_path: Path, smtp: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, config = smtp
    await _failing_flow(db, tmp_path)
    now = utcnow()
    results = await run_alerts(db, now=now, smtp=config)
    assert [r["sent"] for r in results] == [True]
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert sorted(recipients) == ["boss@shop.test", "ops@shop.test"]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "records failed (4)" in body
    assert "#2 at out: the target refuses value 2" in body and "#7" in body
    assert "runs failed (1)" in body
    assert "credentials rejected" in body
    assert "test flow" in message["Subject"]
    # the same period: nothing more, however often the job runs
    for minutes in (1, 5, 30):
        await run_alerts(db, now=now + timedelta(minutes=minutes), smtp=config)
    assert len(inbox.messages) == 1


async def test_quiet_flows_send_nothing(db: Database, tmp_path: Path, smtp: tuple[Inbox, SmtpConfig]) -> None:
    inbox, config = smtp
    await make_flow(db, tmp_path, settings={"alerts": {"emails": ["ops@shop.test"]}})
    assert await run_alerts(db, smtp=config) == []
    await asyncio.sleep(0)
    assert inbox.messages == []


async def test_the_webhook_channel_gets_the_same_digest(db: Database, tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        received.append(json.loads(body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with serve_app(app) as url:
        await _failing_flow(db, tmp_path, emails=[], webhook_url=f"{url}/alerts")
        results = await run_alerts(db)
    assert results[0]["channels"] == {"webhook": "sent"}
    assert len(received) == 1
    assert {f["rule"] for f in received[0]["findings"]} >= {"records_failed", "run_failed"}


async def test_heartbeat_reports_a_flow_without_success(
    db: Database, tmp_path: Path, smtp: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, config = smtp
    await make_flow(db, tmp_path, settings={"alerts": {"emails": ["ops@shop.test"], "heartbeat_hours": 2}})
    assert await run_alerts(db, smtp=config) == []  # created just now: not late yet
    results = await run_alerts(db, now=utcnow() + timedelta(hours=3), smtp=config)
    assert results[0]["rules"] == ["heartbeat"]
    assert "no successful run" in inbox.messages[0][1]["Subject"]
