"""The JSON API: login required, secrets write-only, flows versioned, runs with logs and a live stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

import tests.engine.fakes as fakes
from nodes.registry import register

for _cls in (fakes.FakeSource, fakes.FakeFilter, fakes.FakeMap, fakes.FakeTarget):
    register(_cls)


async def test_health_needs_no_login(client: httpx.AsyncClient) -> None:
    del client.headers["Authorization"]
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_api_requires_login(client: httpx.AsyncClient) -> None:
    del client.headers["Authorization"]
    assert (await client.get("/api/flows")).status_code == 401
    client.headers["Authorization"] = "Bearer kp_wrong"
    assert (await client.get("/api/flows")).status_code == 401


async def test_openapi_schema_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/api/flows" in response.json()["paths"]


async def test_connection_secrets_are_write_only(client: httpx.AsyncClient) -> None:
    body = {
        "name": "shop",
        "app": "woocommerce",
        "fields": {"url": "https://shop.example", "consumer_key": "ck_abc", "consumer_secret": "cs_very_secret"},
    }
    created = await client.post("/api/connections", json=body)
    assert created.status_code == 201, created.text
    assert "cs_very_secret" not in created.text
    assert created.json()["secrets_set"]["consumer_secret"] is True
    conn_id = created.json()["id"]
    listed = await client.get("/api/connections")
    assert "cs_very_secret" not in listed.text
    # Updating without the secret keeps the stored one.
    body["fields"] = {"url": "https://shop2.example", "consumer_key": "ck_abc", "consumer_secret": ""}
    updated = await client.put(f"/api/connections/{conn_id}", json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["settings"]["url"] == "https://shop2.example"
    assert updated.json()["secrets_set"]["consumer_secret"] is True


async def test_bad_connection_gets_clear_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/connections", json={"name": "x", "app": "nope", "fields": {}})
    assert response.status_code == 400
    assert "app: must be one of" in response.text
    assert "woocommerce, asperion, mollie" in response.text and "'nope' is not one of them" in response.text


async def test_the_connection_app_lists_the_registered_applications(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    app = schema["components"]["schemas"]["ConnectionIn"]["properties"]["app"]
    assert {"woocommerce", "asperion", "mollie", "httpapi"} <= set(app["enum"])
    assert "mollie" in app["description"] and "'woocommerce' or 'asperion'" not in app["description"]


async def _make_flow(client: httpx.AsyncClient, tmp_path: Path, count: int = 5, **config: Any) -> str:
    fakes.write_items(tmp_path / "in.json", count)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl", **config)
    response = await client.post("/api/flows", json={"document": doc, "note": "first"})
    assert response.status_code == 201, response.text
    assert response.json()["problems"] == []
    return str(response.json()["id"])


async def test_each_save_is_a_new_version_and_old_ones_restore(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await _make_flow(client, tmp_path)
    doc = (await client.get(f"/api/flows/{flow_id}")).json()["document"]
    doc["name"] = "renamed"
    saved = await client.put(f"/api/flows/{flow_id}", json={"document": doc, "note": "rename"})
    assert saved.json()["version"] == 2
    versions = (await client.get(f"/api/flows/{flow_id}/versions")).json()
    assert [(v["number"], v["note"]) for v in versions] == [(2, "rename"), (1, "first")]
    restored = await client.post(f"/api/flows/{flow_id}/versions/1/restore")
    assert restored.json()["version"] == 3
    assert (await client.get(f"/api/flows/{flow_id}")).json()["document"]["name"] == "test flow"


async def test_validate_returns_problems(client: httpx.AsyncClient, tmp_path: Path) -> None:
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    doc["nodes"][1]["type"] = "bogus"
    response = await client.post("/api/flows/validate", json=doc)
    assert response.json()["valid"] is False
    assert {"node": "keep", "field": "type", "message": 'unknown node type "bogus"'} in response.json()["problems"]


async def _wait_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            run: dict[str, Any] = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] in {"succeeded", "failed", "partial", "cancelled"}:
                return run
            await asyncio.sleep(0.05)


async def test_run_logs_entry_journey_and_retry(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await _make_flow(client, tmp_path, count=8, target={"fail_values": [4]})
    started = await client.post(f"/api/flows/{flow_id}/runs", json={})
    assert started.status_code == 201, started.text
    run = await _wait_run(client, started.json()["id"])
    assert run["counts"] == {"read": 8, "ok": 7, "skipped": 0, "waiting": 0, "failed": 1}
    failed = (await client.get(f"/api/runs/{run['id']}/logs", params={"status": "failed"})).json()["entries"]
    assert [e["record_key"] for e in failed] == ["#4"]
    entry = (await client.get(f"/api/logs/{failed[0]['id']}")).json()
    assert entry["detail"]["input"]["id"] == 4 and entry["message"] == "the target refuses value 4"
    searched = (await client.get(f"/api/runs/{run['id']}/logs", params={"q": "#7"})).json()["entries"]
    assert [e["record_key"] for e in searched] == ["#7"]
    retry = await client.post(f"/api/runs/{run['id']}/retry-failed")
    assert retry.status_code == 201
    assert retry.json()["params"]["record_ids"] == ["item:4"]
    retried = await _wait_run(client, retry.json()["id"])
    assert retried["counts"]["read"] == 1 and retried["counts"]["failed"] == 1
    listed = (await client.get("/api/runs", params={"flow_id": flow_id})).json()
    assert listed["total"] == 2 and [r["id"] for r in listed["runs"]] == [retried["id"], run["id"]]
    only = (await client.get("/api/runs", params={"flow_id": flow_id, "status": retried["status"]})).json()
    assert only["total"] == 1 and [r["id"] for r in only["runs"]] == [retried["id"]]
    second = (await client.get("/api/runs", params={"flow_id": flow_id, "per_page": 1, "page": 2})).json()
    assert second["total"] == 2 and [r["id"] for r in second["runs"]] == [run["id"]]


async def test_sse_stream_sends_entries_and_closes(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await _make_flow(client, tmp_path, count=6)
    run_id = (await client.post(f"/api/flows/{flow_id}/runs", json={})).json()["id"]
    await _wait_run(client, run_id)
    response = await client.get(f"/api/runs/{run_id}/events")
    events = [block for block in response.text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    entries = [json.loads(b.split("data: ", 1)[1]) for b in events if b.startswith("id:") or "event: entry" in b]
    assert len(entries) == 6
    assert events[-1].startswith("event: close")


async def test_dry_run_from_the_api_writes_nothing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await _make_flow(client, tmp_path, count=4)
    run = (await client.post(f"/api/flows/{flow_id}/runs", json={"dry_run": True, "limit": 2})).json()
    finished = await _wait_run(client, run["id"])
    assert finished["counts"]["ok"] == 2 and finished["trigger"] == "test"
    assert not (tmp_path / "out.jsonl").exists()


async def test_flow_settings_follow_the_automation_rules(client: httpx.AsyncClient, tmp_path: Path) -> None:
    flow_id = await _make_flow(client, tmp_path)
    bad = await client.put(f"/api/flows/{flow_id}/settings", json={"trigger": {"type": "cron", "cron": "every day"}})
    assert bad.status_code == 400 and "trigger.cron" in bad.text
    unknown = await client.put(f"/api/flows/{flow_id}/settings", json={"settings": {"colour": "red"}})
    assert unknown.status_code == 400 and "unknown settings: colour" in unknown.text
    good = await client.put(
        f"/api/flows/{flow_id}/settings",
        json={
            "trigger": {"type": "cron", "cron": "*/15 * * * *"},
            "settings": {"max_parallel_runs": 2},
            "active": True,
        },
    )
    assert good.status_code == 200, good.text
    assert good.json()["trigger"] == {"type": "cron", "cron": "*/15 * * * *"}
    assert good.json()["settings"]["max_parallel_runs"] == 2 and good.json()["active"] is True
