"""Deleting a flow asks what happens to its runs: kept (without the flow) or removed with their logs."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from engine.db import Database
from engine.models import Flow, LogEntry, Run
from tests.web.conftest import Site
from tests.web.test_pages import _create_from_template, _seed_run


async def _counts(database_url: str, flow_id: str, run_id: str) -> tuple[int, int, int, int]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            flows = (await session.execute(select(func.count()).where(Flow.id == flow_id))).scalar_one()
            runs = (await session.execute(select(func.count()).where(Run.id == run_id))).scalar_one()
            logs = (await session.execute(select(func.count()).where(LogEntry.run_id == run_id))).scalar_one()
            open_ = (
                await session.execute(
                    select(func.count()).where(LogEntry.run_id == run_id, LogEntry.resolved.is_(False))
                )
            ).scalar_one()
        return flows, runs, logs, open_
    finally:
        await db.dispose()


def test_delete_keeps_or_removes_the_runs(site: Site) -> None:
    kept = _create_from_template(site, "Kept runs")
    kept_run, _ = asyncio.run(_seed_run(site.database_url, kept))
    gone = _create_from_template(site, "Removed runs")
    gone_run, _ = asyncio.run(_seed_run(site.database_url, gone))

    refused = site.client.post(f"/flows/{kept}/delete", data={}, headers=site.htmx())
    assert "Choose whether the flow&#39;s runs are kept or removed." in refused.text
    assert asyncio.run(_counts(site.database_url, kept, kept_run))[0] == 1

    site.client.post(f"/flows/{kept}/delete", data={"runs": "keep"}, headers=site.htmx())
    flows, runs, logs, open_ = asyncio.run(_counts(site.database_url, kept, kept_run))
    assert (flows, runs, logs) == (0, 1, 3) and open_ == 1  # the ok entry stays open; waiting/failed left the inbox
    assert site.client.get(f"/runs/{kept_run}").status_code == 200

    site.client.post(f"/flows/{gone}/delete", data={"runs": "remove"}, headers=site.htmx())
    assert asyncio.run(_counts(site.database_url, gone, gone_run))[:3] == (0, 0, 0)
    assert "Kept runs" not in site.client.get("/inbox").text


def test_import_refuses_what_is_not_a_flow(site: Site) -> None:
    answer = site.client.post(
        "/flows/import", files={"file": ("x.json", b"{not json", "application/json")}, headers=site.htmx()
    )
    assert "not valid JSON" in answer.text
    answer = site.client.post(
        "/flows/import", files={"file": ("x.json", b'{"name": "x"}', "application/json")}, headers=site.htmx()
    )
    assert "This is not a Koppel flow" in answer.text
