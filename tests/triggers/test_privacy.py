"""Privacy: redaction of personal fields in snapshots, and erasing one person from every stored log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, select

import tests.engine.fakes as fakes
from engine import store
from engine.db import Database
from engine.models import LogEntry, Run
from engine.privacy import REDACTED, erase_by_email, redact_personal
from engine.service import execute_run
from tests.triggers.conftest import make_flow

FIXTURES = Path("/work/shared/fixtures/woocommerce")


def _order() -> dict[str, Any]:
    path = FIXTURES / "order-example-1.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    return {  # the same shape, in case the shared fixtures are not there
        "id": 727,
        "total": "29.35",
        "billing": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com", "country": "US"},
        "shipping": {"first_name": "John", "last_name": "Doe", "address_1": "969 Market", "country": "US"},
        "line_items": [{"name": "Woo Single #1", "sku": "", "total": "6.00"}],
        "customer_note": "",
    }


def test_redaction_removes_the_person_and_keeps_the_business() -> None:
    order = _order()
    order["customer_note"] = "Call me at john.doe@example.com please"
    redacted = redact_personal(order)
    text = json.dumps(redacted)
    for value in ("John", "Doe", "john.doe@example.com", "969 Market"):
        assert value not in text, value
    assert redacted["billing"]["first_name"] == REDACTED
    assert redacted["billing"]["country"] == order["billing"]["country"]
    assert redacted["total"] == order["total"]
    assert redacted["line_items"][0]["name"] == order["line_items"][0]["name"], "product names are not personal"
    debtor = redact_personal({"name": "Jan Jansen", "emailAddress": "jan@example.nl", "countryCode": "NL"})
    assert debtor == {"name": REDACTED, "emailAddress": REDACTED, "countryCode": "NL"}


async def test_flows_with_privacy_store_redacted_snapshots(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    fakes.write_items(tmp_path / "private.json", 2, billing={"email": "p@example.com", "first_name": "Piet"})
    flow = await make_flow(db, tmp_path, name="private", settings={"privacy": {"redact_personal": True}})
    run = await store.start_flow_run(db, flow.id, enqueue=False)
    await execute_run(db, run.id)
    async with db.session() as session:
        details = [e.detail for e in (await session.execute(select(LogEntry))).scalars()]
    assert len(details) == 2
    assert "p@example.com" not in json.dumps(details) and "Piet" not in json.dumps(details)
    assert details[0]["input"]["billing"]["first_name"] == REDACTED
    assert details[0]["input"]["value"] in (1, 2)


async def _entry(db: Database, run_id: str, flow_id: str | None, key: str, source_id: str, detail: Any) -> None:
    async with db.session() as session, session.begin():
        session.add(
            LogEntry(
                run_id=run_id,
                flow_id=flow_id,
                node_id="n",
                record_key=key,
                source_id=source_id,
                status="failed",
                message=f"could not book {key}",
                detail=detail,
            )
        )


async def test_erase_by_email_removes_one_person_everywhere_and_reports(any_db: Database, tmp_path: Path) -> None:
    db = any_db
    a = await make_flow(db, tmp_path, name="a")
    b = await make_flow(db, tmp_path, name="b")
    runs = {}
    async with db.session() as session, session.begin():
        for name, flow_id in (("a", a.id), ("b", b.id), ("file", None)):
            run = Run(flow_id=flow_id, document={}, status="partial", error=None)
            session.add(run)
            await session.flush()
            runs[name] = run.id
        failed = Run(flow_id=a.id, document={}, status="failed", error="debtor Erase.Me@Example.com refused")
        session.add(failed)
    order = _order()
    order["billing"]["email"] = "erase.me@example.com"
    other = _order()
    other["billing"] = {"first_name": "Keep", "last_name": "Me", "email": "keep@example.com", "country": "NL"}
    await _entry(db, runs["a"], a.id, "1001", "order:1001", {"input": order})
    # a later step of the same record (no e-mail in it, but the person's name): erased too
    await _entry(db, runs["a"], a.id, "1001", "order:1001", {"request": {"name": "John Doe", "amount": 10}})
    await _entry(
        db, runs["b"], b.id, "erase.me@example.com", "customer:9", {"input": {"email": "ERASE.ME@example.com"}}
    )
    await _entry(db, runs["file"], None, "1001", "order:1001", {"input": order})
    await _entry(db, runs["a"], a.id, "1002", "order:1002", {"input": other})

    report = await erase_by_email(db, " Erase.Me@Example.com ")

    assert report.entries == 4
    assert report.flows == {a.id: 2, b.id: 1, "": 1}
    assert report.run_errors == 1
    assert set(report.runs) == {runs["a"], runs["b"], runs["file"], failed.id}
    async with db.session() as session:
        hits = (
            await session.execute(select(LogEntry.id).where(cast(LogEntry.detail, Text).ilike("%erase.me@%")))
        ).all()
        entries = list((await session.execute(select(LogEntry).order_by(LogEntry.id))).scalars())
        error = (await session.execute(select(Run.error).where(Run.id == failed.id))).scalar_one()
    assert hits == []
    assert "erase.me" not in error.lower()
    assert entries[1].detail == {"request": {"name": "[erased]", "amount": 10}}
    assert entries[2].record_key == "[erased]"
    kept = entries[4]
    assert kept.detail == {"input": other}, "someone else's data is untouched"
    assert kept.message == "could not book 1002"
    assert entries[0].detail["input"]["total"] == order["total"], "amounts stay"
