"""The automation API: settings are validated and stored, cursors edited, backfills queued, erase and health."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.triggers.conftest import posted_flow


async def test_settings_are_validated_and_stored(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await posted_flow(client, tmp_path)
    url = f"/api/flows/{flow_id}/automation"
    bad = await client.put(
        url, json={"trigger": {"type": "cron", "cron": "every day"}, "alerts": {"emails": ["nobody"]}}
    )
    assert bad.status_code == 400
    fields = {p["field"] for p in bad.json()["extra"]["problems"]}
    assert fields == {"trigger.cron", "alerts.emails"}
    good = await client.put(
        url,
        json={
            "trigger": {"type": "cron", "cron": "*/15 * * * *"},
            "active": True,
            "retention_days": 7,
            "privacy": {"redact_personal": True},
            "alerts": {"emails": "ops@shop.test, boss@shop.test", "heartbeat_hours": 24},
        },
    )
    assert good.status_code == 200, good.text
    view = (await client.get(url)).json()
    assert view["trigger"] == {"type": "cron", "cron": "*/15 * * * *"} and view["active"] is True
    assert "schedule" in view["next"]
    assert (view["retention_days"], view["run_retention_days"]) == (7, 90)
    assert view["privacy"] == {"redact_personal": True}
    assert view["alerts"]["emails"] == ["ops@shop.test", "boss@shop.test"]
    assert view["alerts"]["heartbeat_hours"] == 24
    assert view["webhook"]["delivery_url"].endswith(f"/hooks/woocommerce/{flow_id}")
    assert [c["id"] for c in view["cursors"]] == ["src"]
    assert view["trigger_problems"] == []


async def test_cursor_edit_and_backfill(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await posted_flow(client, tmp_path)
    url = f"/api/flows/{flow_id}/automation"
    assert (await client.put(f"{url}/cursors/src", json={"value": "yesterday"})).status_code == 400
    moved = await client.put(f"{url}/cursors/src", json={"value": "2026-11-01T00:00:00"})
    assert moved.status_code == 200 and moved.json()[0]["value"] == "2026-11-01T00:00:00"
    reset = await client.put(f"{url}/cursors/src", json={"value": None})
    assert reset.json()[0]["value"] is None
    assert (await client.post(f"{url}/backfill", json={})).status_code == 400
    run = await client.post(f"{url}/backfill", json={"record_ids": ["item:1", "item:3"]})
    assert run.status_code == 201, run.text
    assert run.json()["trigger"] == "backfill"


async def test_erase_and_health(client: httpx.AsyncClient, tmp_path: Path) -> None:
    await posted_flow(client, tmp_path)
    assert (await client.post("/api/privacy/erase", json={"email": "not-an-address"})).status_code == 400
    report = await client.post("/api/privacy/erase", json={"email": "nobody@example.com"})
    assert report.status_code == 200 and report.json()["entries"] == 0
    health = (await client.get("/api/health/flows")).json()
    assert health["flows"][0]["name"] == "test flow" and health["queue_depth"] >= 0


async def test_webhook_registration_answers_plainly(client: httpx.AsyncClient, tmp_path: Path) -> None:
    missing = await client.post("/api/flows/nope/automation/webhook")
    assert missing.status_code == 404
    assert (await client.delete("/api/flows/nope/automation/webhook")).status_code == 404
    flow_id = await posted_flow(client, tmp_path)  # reads a file: there is no store to register webhooks at
    refused = await client.post(f"/api/flows/{flow_id}/automation/webhook")
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("the webhook could not be registered: ")
    removed = await client.delete(f"/api/flows/{flow_id}/automation/webhook")
    assert removed.status_code == 200 and removed.json() == {"removed": []}
