"""The engine runs flows record by record: isolation, counts, logs, idempotency, cursors, dry runs, cancel."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import tests.engine.fakes as fakes
from engine.db import Database
from engine.models import Cursor, IdempotencyEntry, LogEntry, Run
from engine.service import cancel_run, create_run, execute_run
from nodes.registry import register

for _cls in (fakes.FakeSource, fakes.FakeFilter, fakes.FakeMap, fakes.FakeTarget):
    register(_cls)


def delivered(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def run_document(db: Database, document: dict[str, Any], **params: Any) -> Run:
    run = await create_run(db, document=document, params=params, connections={})
    finished = await execute_run(db, run.id)
    assert finished is not None
    return finished


async def entries(db: Database, run_id: str) -> list[LogEntry]:
    async with db.session() as session:
        return list((await session.execute(select(LogEntry).where(LogEntry.run_id == run_id))).scalars())


async def test_every_record_is_delivered_once_with_counts_and_logs(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 45)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    run = await run_document(db, doc)
    assert run.status == "succeeded"
    assert run.counts() == {"read": 45, "ok": 45, "skipped": 0, "waiting": 0, "failed": 0}
    assert sorted(line["ref"] for line in delivered(tmp_path / "out.jsonl")) == sorted(
        f"item:{i}" for i in range(1, 46)
    )
    logged = await entries(db, run.id)
    assert len(logged) == 45 and {e.status for e in logged} == {"ok"}
    journey = logged[0].detail
    assert journey is not None
    assert [step["node"] for step in journey["steps"]] == ["src", "keep", "map"]
    assert journey["request"]["label"] == "Plain" and journey["response"]["n"] >= 1


async def test_one_bad_record_does_not_stop_the_others(db: Database, tmp_path: Path) -> None:
    items = fakes.write_items(tmp_path / "in.json", 10)
    items[2]["broken"] = True
    items[3]["kind"] = "exotic"
    (tmp_path / "in.json").write_text(json.dumps(items))
    doc = fakes.flow_document(
        tmp_path / "in.json", tmp_path / "out.jsonl", filter={"max_value": 9}, target={"fail_values": [5]}
    )
    run = await run_document(db, doc)
    assert run.counts() == {"read": 10, "ok": 6, "skipped": 1, "waiting": 1, "failed": 2}
    assert run.status == "partial"
    by_key = {e.record_key: e for e in await entries(db, run.id)}
    assert by_key["#3"].status == "failed" and by_key["#3"].message == "broken record" and by_key["#3"].node_id == "map"
    assert by_key["#4"].status == "waiting" and by_key["#4"].detail["missing"] == {"table": "table", "key": "exotic"}
    assert by_key["#5"].status == "failed" and by_key["#5"].message == "the target refuses value 5"
    assert by_key["#10"].status == "skipped" and by_key["#10"].message == "value 10 is above 9"
    assert len(delivered(tmp_path / "out.jsonl")) == 6


async def test_running_twice_delivers_nothing_twice(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 12)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    await run_document(db, doc)
    async with db.session() as session:
        await session.execute(Cursor.__table__.delete())
        await session.commit()
    second = await run_document(db, doc)
    assert second.counts()["ok"] == 0 and second.counts()["skipped"] == 12
    assert len(delivered(tmp_path / "out.jsonl")) == 12
    messages = {e.message for e in await entries(db, second.id)}
    assert messages == {f"already delivered as {n}" for n in range(1, 13)}


async def test_target_is_asked_when_the_idempotency_map_is_silent(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 3)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    await run_document(db, doc)
    async with db.session() as session:
        await session.execute(IdempotencyEntry.__table__.delete())
        await session.execute(Cursor.__table__.delete())
        await session.commit()
    again = await run_document(db, doc)
    assert again.counts()["skipped"] == 3
    assert len(delivered(tmp_path / "out.jsonl")) == 3
    assert {e.message.split(" as ")[0] for e in await entries(db, again.id)} == {"already exists"}


async def test_incremental_cursor_reads_only_what_changed(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 20)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    await run_document(db, doc)
    async with db.session() as session:
        assert (await session.execute(select(Cursor.value))).scalar_one() == "20"
    items = json.loads((tmp_path / "in.json").read_text())
    items.append({"id": 21, "value": 21, "modified": 21, "kind": "plain"})
    (tmp_path / "in.json").write_text(json.dumps(items))
    run = await run_document(db, doc)
    assert run.counts()["read"] == 1 and run.counts()["ok"] == 1


async def test_dry_run_writes_nothing(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 5)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    run = await run_document(db, doc, dry_run=True, limit=3)
    assert run.counts() == {"read": 3, "ok": 3, "skipped": 0, "waiting": 0, "failed": 0}
    assert delivered(tmp_path / "out.jsonl") == []
    logged = await entries(db, run.id)
    assert all(e.message == "dry run: would send" and e.detail["request"]["label"] == "Plain" for e in logged)
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Cursor))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(IdempotencyEntry))).scalar_one() == 0


async def test_cancel_stops_a_running_run(db: Database, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("KOPPEL_HEARTBEAT_S", "0.05")
    fakes.write_items(tmp_path / "in.json", 200)
    doc = fakes.flow_document(
        tmp_path / "in.json", tmp_path / "out.jsonl", source={"delay_ms": 50}, settings={"concurrency": 2}
    )
    run = await create_run(db, document=doc, connections={})
    task = asyncio.create_task(execute_run(db, run.id))
    async with asyncio.timeout(10):
        while not delivered(tmp_path / "out.jsonl"):
            await asyncio.sleep(0.02)
    await cancel_run(db, run.id)
    finished = await asyncio.wait_for(task, 10)
    assert finished is not None and finished.status == "cancelled"
    assert 0 < len(delivered(tmp_path / "out.jsonl")) < 200


async def test_invalid_document_fails_the_run_with_the_problems(db: Database, tmp_path: Path) -> None:
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    doc["edges"].append({"from": "out", "to": "src"})
    run = await run_document(db, doc)
    assert run.status == "failed"
    assert run.error is not None and run.error.startswith("invalid flow:")


async def test_expected_count_is_recorded_for_the_progress_bar(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 7)
    run = await run_document(db, fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl"))
    assert run.expected_count == 7


def test_snapshots_are_capped_and_secrets_redacted() -> None:
    from engine.logsink import snapshot

    assert snapshot({"a": 1, "nested": {"client_secret": "s3cr3t", "list": [{"Authorization": "Bearer x"}]}}) == {
        "a": 1,
        "nested": {"client_secret": "***", "list": [{"Authorization": "***"}]},
    }
    big = snapshot({"text": "x" * 50_000}, limit=1000)
    assert big["_truncated"] is True and len(big["preview"]) == 1000 and big["size"] > 50_000


def test_log_details_are_encoded_once_redacted_and_capped_part_by_part() -> None:
    import json
    from decimal import Decimal

    from engine.logsink import encode_detail

    small = {"input": {"total": Decimal("12.10"), "name": "Zoë"}, "message": "ok"}
    assert json.loads(encode_detail(small)) == {"input": {"total": "12.10", "name": "Zoë"}, "message": "ok"}

    secret = {"request": {"headers": {"Authorization": "Bearer abc"}, "client_secret": "s3"}, "response": None}
    assert "abc" not in encode_detail(secret) and "s3" not in encode_detail(secret)

    # Too long as a whole: each snapshot is capped on its own, the small ones stay whole.
    detail = {
        "input": {"text": "x" * 3000},
        "steps": [{"node": "map", "output": {"text": "y" * 3000}}, {"node": "filter", "unchanged": True}],
        "request": {"id": 1},
        "error": {"message": "boom"},
    }
    capped = json.loads(encode_detail(detail, limit=2000))
    assert capped["input"]["_truncated"] is True and len(capped["input"]["preview"]) == 2000
    assert capped["steps"][0]["output"]["_truncated"] is True and capped["steps"][1] == {
        "node": "filter",
        "unchanged": True,
    }
    assert capped["request"] == {"id": 1} and capped["error"] == {"message": "boom"}


async def test_a_record_reaching_a_target_by_two_wires_is_delivered_once(db: Database, tmp_path: Path) -> None:
    fakes.write_items(tmp_path / "in.json", 6)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    doc["edges"].append({"from": "src", "to": "map"})
    doc["nodes"][2]["merge"] = True
    trial = await run_document(db, doc, dry_run=True)
    would_send = [e for e in await entries(db, trial.id) if e.node_id == "out"]
    assert len(would_send) == 6  # a test run says each record would be sent once
    run = await run_document(db, doc)
    assert run.status == "succeeded"
    refs = [line["ref"] for line in delivered(tmp_path / "out.jsonl")]
    assert sorted(refs) == sorted(f"item:{i}" for i in range(1, 7))
    assert run.counts()["ok"] == 6
    at_target = [e for e in await entries(db, run.id) if e.node_id == "out"]
    assert len(at_target) == 6  # not a second "already exists" line per record


async def test_one_line_per_record_a_side_branch_that_did_not_apply_is_not_logged(db: Database, tmp_path: Path) -> None:
    items = fakes.write_items(tmp_path / "in.json", 8)
    doc = fakes.flow_document(tmp_path / "in.json", tmp_path / "out.jsonl")
    # a side branch (like "refunds → credit invoices") that applies to no record at all
    doc["nodes"] += [
        {"id": "side", "type": "test.filter", "config": {"max_value": -1}},
        {"id": "side_map", "type": "test.map", "config": {"table": {"plain": "Plain"}}},
        {"id": "side_out", "type": "test.target", "config": {"path": str(tmp_path / "side.jsonl")}},
    ]
    doc["edges"] += [
        {"from": "src", "to": "side"},
        {"from": "side", "to": "side_map"},
        {"from": "side_map", "to": "out"},
    ]
    doc["edges"][-1] = {"from": "side_map", "to": "side_out"}
    doc["nodes"][1]["config"] = {"max_value": sorted(i["value"] for i in items)[3]}  # the main filter keeps 4
    run = await run_document(db, doc)
    logged = await entries(db, run.id)
    per_record: dict[str, list[str]] = {}
    for entry in logged:
        per_record.setdefault(entry.source_id, []).append(entry.status)
    assert len(per_record) == 8 and all(len(statuses) == 1 for statuses in per_record.values()), per_record
    assert run.counts()["ok"] == sum(s == ["ok"] for s in per_record.values()) == 4
    assert run.counts()["skipped"] == sum(s == ["skipped"] for s in per_record.values()) == 4
    skipped = [e for e in logged if e.status == "skipped"]
    assert {e.node_id for e in skipped} == {"keep"}  # the main branch's reason, not the side branch's
