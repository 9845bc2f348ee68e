"""The inbox: only records a person can act on, grouped by what they wait for, fixed and retried in place."""

from __future__ import annotations

import re
from typing import Any

from engine import store
from engine.db import Database
from engine.models import LogEntry, Run
from tests.web.conftest import Site
from tests.web.test_pages import _create_from_template


async def _seed(database_url: str, flow_id: str) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session, session.begin():
            real: list[str] = []
            for trigger, params, orders in (
                ("manual", {}, ["order:31", "order:32"]),
                ("schedule", {}, ["order:31", "order:33"]),  # order 31 waits again in a later run: listed once
                ("test", {"dry_run": True}, ["order:99"]),  # a test run never reaches the inbox
            ):
                run = Run(flow_id=flow_id, document={}, status="partial", trigger=trigger, params=params)
                session.add(run)
                await session.flush()
                if trigger != "test":
                    real.append(run.id)
                for source_id in orders:
                    number = source_id.split(":")[1]
                    session.add(
                        LogEntry(
                            run_id=run.id,
                            flow_id=flow_id,
                            node_id="invoice",
                            record_key=f"#{number}",
                            source_id=source_id,
                            status="waiting",
                            message="needs mapping: payment_conditions has no row for 'klarna'",
                            detail={"missing": {"table": "payment_conditions", "key": "klarna"}},
                        )
                    )
            session.add(
                LogEntry(
                    run_id=real[0],
                    flow_id=flow_id,
                    node_id="book",
                    record_key="#40",
                    source_id="order:40",
                    status="failed",
                    message="Asperion refused the invoice: the debtor is blocked",
                    detail={"error": {"message": "the debtor is blocked"}},
                )
            )
    finally:
        await db.dispose()


def test_inbox_groups_fills_and_retries_in_place(site: Site) -> None:
    import asyncio

    flow_id = _create_from_template(site)
    asyncio.run(_seed(site.database_url, flow_id))
    page = site.client.get("/inbox").text
    groups = re.findall(r'<h3 id="group-\w+-title">(.*?)</h3>', page, flags=re.S)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", g)).strip() for g in groups]
    assert texts == [
        "3 records: klarna → Payment condition per payment method",
        "1 record: Asperion refused the invoice: the debtor is blocked",
    ], texts
    assert "#99" not in page  # the test run's record
    assert page.count(">#31<") == 1
    ident = re.search(r'name="group" value="([^"]+)"', page)
    assert ident
    answer = site.client.post("/inbox/fill", data={"group": ident.group(1), "value": "3"}, headers=site.htmx())
    assert "Retrying 3 records" in answer.text, answer.text
    run_id = re.search(r'href="/runs/(\w+)"', answer.text)
    assert run_id

    async def check() -> tuple[Any, Any]:
        db = Database(site.database_url)
        try:
            async with db.session() as session:
                run = await session.get(Run, run_id.group(1))
            version = await store.get_version(db, flow_id)
            return run, version
        finally:
            await db.dispose()

    run, version = asyncio.run(check())
    assert sorted(run.params["record_ids"]) == ["order:31", "order:32", "order:33"]
    invoice = next(n for n in version.document["nodes"] if n["id"] == "invoice")
    assert invoice["config"]["payment_conditions"]["klarna"] == "3"
    empty = site.client.post("/inbox/fill", data={"group": ident.group(1), "value": ""}, headers=site.htmx())
    assert "Fill in the value first." in empty.text or "no longer wait" in empty.text
