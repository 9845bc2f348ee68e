"""Hostile input gets a clear 4xx naming the field, never a 500; an unexpected error shows only an error id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.db import migrate_sync
from engine.settings import Settings
from tests.conftest import api_client
from web.app import create_app

HUGE = "9" * 30


@pytest.fixture(params=["sqlite", "postgres"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on SQLite and on PostgreSQL (which refuses NUL characters and overflows BIGINT itself)."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        await asyncio.to_thread(migrate_sync, url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KOPPEL_DEMO", raising=False)
    async with api_client(create_app(Settings.from_env())) as test_client:
        yield test_client


def _names(response: httpx.Response) -> str:
    body = response.json()
    return " ".join([str(body.get("detail", ""))] + [str(e) for e in body.get("extra") or []])


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/inbox?before_id={HUGE}", "before_id"),
        (f"/api/logs/{HUGE}", "entry_id"),
        (f"/api/runs/abc/logs?before_id={HUGE}", "before_id"),
        (f"/api/runs/abc/logs?after_id={HUGE}", "after_id"),
        (f"/api/runs?page={HUGE}", "page"),
        ("/api/runs?page=0", "page"),
        ("/api/runs?page=-3", "page"),
        ("/api/runs?per_page=0", "per_page"),
        ("/api/runs/abc/logs?limit=100000", "limit"),
        ("/api/health/flows?days=100000", "days"),
        (f"/api/audit?before_id={HUGE}", "before_id"),
    ],
)
async def test_numbers_out_of_range_are_refused_with_the_parameter_named(
    client: httpx.AsyncClient, url: str, field: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 400, response.text
    assert field in _names(response)


async def test_nul_characters_are_refused_before_the_database(client: httpx.AsyncClient) -> None:
    flow = await client.post(
        "/api/flows", json={"document": {"format": "koppel.flow/1", "name": "bad\u0000name", "nodes": []}}
    )
    assert flow.status_code == 400 and "document.name" in _names(flow) and "NUL" in _names(flow)
    query = await client.get("/api/runs", params={"status": "ok\x00"})
    assert query.status_code == 400 and "status" in _names(query)
    connection = await client.post("/api/connections", json={"name": "x\u0000", "app": "woocommerce"})
    assert connection.status_code == 400 and "name" in _names(connection)


async def test_deeply_nested_json_is_refused(client: httpx.AsyncClient) -> None:
    body = "[" * 50_000 + "]" * 50_000
    response = await client.post("/api/flows/validate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nested deeper" in response.text


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"format": "koppel.flow/1", "name": "x", "nodes": [], "trigger": "abc"}, "document.trigger"),
        ({"format": "koppel.flow/1", "name": "x", "nodes": [], "settings": [1]}, "document.settings"),
        ({"format": "koppel.flow/1", "name": 5, "nodes": []}, "document.name"),
        ({"format": "koppel.flow/1", "name": "x", "nodes": "all"}, "document.nodes"),
    ],
)
async def test_flow_document_outline_is_checked(client: httpx.AsyncClient, document: Any, field: str) -> None:
    response = await client.post("/api/flows", json={"document": document})
    assert response.status_code == 400, response.text
    assert field in _names(response)


async def test_flow_settings_are_validated_like_every_other_problem(client: httpx.AsyncClient) -> None:
    document = {"format": "koppel.flow/1", "name": "x", "nodes": [], "settings": {"concurrency": "many"}}
    answer = await client.post("/api/flows/validate", json=document)
    assert answer.status_code == 200
    problems = answer.json()["problems"]
    assert {"node": None, "field": "settings.concurrency", "message": "must be a whole number from 1 to 64"} in problems
    trigger = await client.post("/api/flows/validate", json={**document, "settings": {}, "trigger": "abc"})
    assert any(p["field"] == "trigger" for p in trigger.json()["problems"])


async def test_run_dates_must_be_dates(client: httpx.AsyncClient) -> None:
    flow = await client.post("/api/flows", json={"template": "orders-to-sales-invoices"})
    assert flow.status_code == 201
    flow_id = flow.json()["id"]
    response = await client.post(f"/api/flows/{flow_id}/runs", json={"modified_after": "yesterday-ish"})
    assert response.status_code == 400
    assert "modified_after" in _names(response) and "is not a date" in _names(response)
    backfill = await client.post(f"/api/flows/{flow_id}/automation/backfill", json={"modified_after": "yesterday-ish"})
    assert backfill.status_code == 400 and "modified_after" in _names(backfill)


async def test_settings_of_the_wrong_type_are_refused(client: httpx.AsyncClient) -> None:
    flow = await client.post("/api/flows", json={"template": "orders-to-sales-invoices"})
    flow_id = flow.json()["id"]
    response = await client.put(f"/api/flows/{flow_id}/settings", json={"settings": [1]})
    assert response.status_code == 400 and "settings" in _names(response)
    automation = await client.put(f"/api/flows/{flow_id}/automation", json={"max_parallel_runs": 10**30})
    assert automation.status_code == 400 and "max_parallel_runs" in _names(automation)


async def test_an_unexpected_error_shows_an_error_id_and_logs_the_traceback(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from engine import store

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(store, "list_connections", broken)
    with caplog.at_level(logging.ERROR, logger="koppel.web.errors"):
        response = await client.get("/api/connections")
    assert response.status_code == 500
    body = response.json()
    error_id = body["error_id"]
    assert error_id in body["detail"] and "Traceback" not in response.text and "fire" not in response.text
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None, "the traceback is in the log under the same id"
