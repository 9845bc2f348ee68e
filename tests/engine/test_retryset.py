"""Automatic recovery: a record that failed on a transient error is read again by id by later runs (with backoff)
until it is delivered; after the allowed attempts it lands in the inbox; other failures are never retried."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

import tests.engine.fakes as fakes
from engine import store
from engine.db import Database
from engine.models import Cursor, LogEntry, RetryRecord, Run
from engine.retryset import RetryPolicy
from engine.service import execute_run
from nodes.base import Delivery, Record
from nodes.connectors.http import ServerError, Unreachable
from nodes.registry import register
from tests.engine.test_runner import delivered, entries, run_document


class FlakyTarget(fakes.FakeTarget):
    """The test target, whose application fails the first deliveries of some values with a transient error
    (counted across runs in ``<path>.flaky``: value → failures still to come)."""

    type = "test.flaky_target"

    def _flaky(self) -> tuple[Path, dict[str, int]]:
        assert isinstance(self.config, fakes.FakeTargetConfig)
        path = Path(self.config.path + ".flaky")
        return path, json.loads(path.read_text()) if path.exists() else {}

    async def send(self, record: Record, payload: dict[str, Any]) -> Delivery:
        path, left = self._flaky()
        value = str(record.data["value"])
        if left.get(value, 0) > 0:
            left[value] -= 1
            path.write_text(json.dumps(left))
            if int(value) % 2:
                raise ServerError(503, "The application answered 503: Service Unavailable (POST /things)")
            raise Unreachable(0, "The application cannot be reached: no answer in time (POST /things)")
        return await super().send(record, payload)


for _cls in (fakes.FakeSource, fakes.FakeFilter, fakes.FakeMap, fakes.FakeTarget, FlakyTarget):
    register(_cls)


def _document(tmp_path: Path, items: int, flaky: dict[int, int], **settings: Any) -> dict[str, Any]:
    fakes.write_items(tmp_path / "in.json", items)
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.flaky").write_text(json.dumps({str(k): v for k, v in flaky.items()}))
    document = fakes.flow_document(tmp_path / "in.json", out, settings=settings)
    document["nodes"][-1]["type"] = "test.flaky_target"
    return document


async def _retry_rows(db: Database) -> list[RetryRecord]:
    async with db.session() as session:
        return list((await session.execute(select(RetryRecord).order_by(RetryRecord.source_id))).scalars())


def test_the_policy_comes_from_the_flow_settings() -> None:
    assert RetryPolicy.of({}) == RetryPolicy(5, (60.0, 300.0, 1800.0, 7200.0))
    assert RetryPolicy.of({"retry_attempts": 3, "retry_backoff_s": 10}) == RetryPolicy(3, (10.0,))
    assert RetryPolicy.of({"retry_attempts": "many", "retry_backoff_s": ["x"]}) == RetryPolicy()
    policy = RetryPolicy.of({"retry_backoff_s": [60, 300]})
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 9)] == [60, 300, 300, 300]


async def test_a_transient_failure_is_retried_by_the_next_run_and_delivered_once(db: Database, tmp_path: Path) -> None:
    doc = _document(tmp_path, 20, {4: 1, 7: 1}, retry_backoff_s=0)
    first = await run_document(db, doc)
    assert first.status == "partial"
    assert first.counts() == {"read": 20, "ok": 18, "skipped": 0, "waiting": 0, "failed": 2}
    assert first.params["retries"] == {"retried": 0, "recovered": 0, "pending": 2, "gave_up": 0}
    failed = [e for e in await entries(db, first.id) if e.status == "failed"]
    assert {e.source_id for e in failed} == {"item:4", "item:7"}
    for entry in failed:
        assert "will be retried automatically by a later run (attempt 1 of 5" in entry.message
        assert entry.resolved, "a record waiting for its automatic retry is not in the inbox"
    assert [(r.source_id, r.attempts) for r in await _retry_rows(db)] == [("item:4", 1), ("item:7", 1)]
    async with db.session() as session:
        cursor = (await session.execute(select(Cursor.value))).scalar()
    assert cursor == "20", "the cursor moves on; the retry set keeps the failed records"

    second = await run_document(db, doc)
    assert second.status == "succeeded"
    assert second.counts() == {"read": 2, "ok": 2, "skipped": 0, "waiting": 0, "failed": 0}
    assert second.params["retries"] == {"retried": 2, "recovered": 2, "pending": 0, "gave_up": 0}
    assert await _retry_rows(db) == []
    refs = [line["ref"] for line in delivered(tmp_path / "out.jsonl")]
    assert sorted(refs) == sorted(f"item:{i}" for i in range(1, 21)), "each record delivered exactly once"

    third = await run_document(db, doc)
    assert third.counts()["read"] == 0 and "retries" not in third.params


async def test_a_record_its_source_no_longer_returns_leaves_the_set(db: Database, tmp_path: Path) -> None:
    doc = _document(tmp_path, 5, {2: 1, 3: 1}, retry_backoff_s=0)
    await run_document(db, doc)
    assert [r.source_id for r in await _retry_rows(db)] == ["item:2", "item:3"]
    items = json.loads((tmp_path / "in.json").read_text())
    (tmp_path / "in.json").write_text(json.dumps([i for i in items if i["id"] != 3]))  # deleted in the application
    second = await run_document(db, doc)
    assert second.counts()["read"] == 1 and second.params["retries"]["recovered"] == 1
    assert await _retry_rows(db) == []


async def test_the_backoff_is_respected(db: Database, tmp_path: Path) -> None:
    doc = _document(tmp_path, 5, {2: 1})  # default backoff: the first retry after a minute
    first = await run_document(db, doc)
    assert first.counts()["failed"] == 1
    [row] = await _retry_rows(db)
    assert 55 <= (row.next_at - row.updated_at).total_seconds() <= 65
    second = await run_document(db, doc)
    assert second.counts()["read"] == 0, "not due yet: nothing is read again"
    assert [r.attempts for r in await _retry_rows(db)] == [1]


async def test_after_the_allowed_attempts_the_record_goes_to_the_inbox(db: Database, tmp_path: Path) -> None:
    doc = _document(tmp_path, 6, {3: 10, 5: 10}, retry_backoff_s=0, retry_attempts=3)
    doc["nodes"][-1]["config"]["fail_values"] = [6]  # refused by the application: never retried automatically
    flow = await store.create_flow(db, doc)
    runs: list[Run] = []
    for _ in range(4):
        run = await store.start_flow_run(db, flow.id, enqueue=False)
        finished = await execute_run(db, run.id)
        assert finished is not None
        runs.append(finished)
    assert [r.params.get("retries", {}).get("pending") for r in runs] == [2, 2, 0, None]
    assert runs[2].params["retries"]["gave_up"] == 2
    assert runs[3].counts()["read"] == 0, "given up: not read again"
    assert await _retry_rows(db) == []
    async with db.session() as session:
        open_failures = list(
            (
                await session.execute(select(LogEntry).where(LogEntry.status == "failed", LogEntry.resolved.is_(False)))
            ).scalars()
        )
    # the inbox holds each given-up record once (its last attempt, with its reason) and the refused one
    assert sorted((e.source_id, e.run_id) for e in open_failures) == sorted(
        [("item:3", runs[2].id), ("item:5", runs[2].id), ("item:6", runs[0].id)]
    )
    last = next(e for e in open_failures if e.source_id == "item:3")
    assert "503" in last.message and "gave up after 3 automatic attempts" in last.message
    refused = next(e for e in open_failures if e.source_id == "item:6")
    assert "refuses" in refused.message and "retried" not in refused.message


async def _run_to_end(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            run = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] not in ("queued", "running"):
                return dict(run)
            await asyncio.sleep(0.05)


async def test_the_inbox_lists_a_given_up_record_and_its_retry_delivers_it(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    doc = _document(tmp_path, 3, {2: 5}, retry_backoff_s=0, retry_attempts=1)
    flow_id = (await client.post("/api/flows", json={"document": doc})).json()["id"]
    started = await client.post(f"/api/flows/{flow_id}/runs", json={})
    assert started.status_code == 201, started.text
    first = await _run_to_end(client, started.json()["id"])
    assert first["counts"]["failed"] == 1
    assert first["params"]["retries"] == {"retried": 0, "recovered": 0, "pending": 0, "gave_up": 1}
    run_page = await client.get(f"/runs/{first['id']}")
    assert "Automatic retries" in run_page.text and "gave up (see the inbox)" in run_page.text
    inbox = (await client.get("/api/inbox")).json()["entries"]
    assert [(e["source_id"], e["status"]) for e in inbox] == [("item:2", "failed")]
    assert "gave up after 1 automatic attempts" in inbox[0]["message"]
    page = await client.get("/inbox")
    assert page.status_code == 200 and "Retry these 1" in page.text
    # the cause is gone; Retry reads that one record again (the cursor stays) and delivers it
    (tmp_path / "out.jsonl.flaky").write_text("{}")
    retried = await client.post(f"/inbox/{inbox[0]['id']}/retry", headers={"HX-Request": "true"})
    assert retried.status_code in (200, 303), retried.text
    async with asyncio.timeout(30):
        while (await client.get("/api/inbox")).json()["entries"]:
            await asyncio.sleep(0.05)
    refs = [line["ref"] for line in delivered(tmp_path / "out.jsonl")]
    assert sorted(refs) == ["item:1", "item:2", "item:3"]
