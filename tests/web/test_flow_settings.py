"""The flow page's settings form refuses what the automation rules refuse, and keeps what it does not show."""

from __future__ import annotations

import asyncio

from engine.db import Database
from engine.models import Flow
from tests.web.conftest import Site
from tests.web.test_pages import _create_from_template


def _flow(site: Site, flow_id: str) -> Flow:
    async def read() -> Flow:
        db = Database(site.database_url)
        try:
            async with db.session() as session:
                flow = await session.get(Flow, flow_id)
                assert flow is not None
                return flow
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_bad_cron_is_refused_and_nothing_changes(site: Site) -> None:
    flow_id = _create_from_template(site)
    before = _flow(site, flow_id).trigger
    answer = site.client.post(
        f"/flows/{flow_id}/settings", data={"trigger_type": "cron", "cron": "every day"}, headers=site.htmx()
    )
    assert "not a valid cron expression" in answer.text
    assert _flow(site, flow_id).trigger == before


def test_good_settings_are_saved(site: Site) -> None:
    flow_id = _create_from_template(site)
    answer = site.client.post(
        f"/flows/{flow_id}/settings",
        data={"trigger_type": "interval", "every_minutes": "15", "max_parallel_runs": "2", "active": "on"},
        headers=site.htmx(),
    )
    assert "Settings saved" in answer.text
    flow = _flow(site, flow_id)
    assert flow.trigger == {"type": "interval", "every_s": 900}
    assert flow.settings["max_parallel_runs"] == 2 and flow.active is True
