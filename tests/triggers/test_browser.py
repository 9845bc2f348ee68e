"""The flow page's automation settings in a real browser: trigger, webhook, cursor, alerts, retention, privacy,
backfill and erase, each shown and changed through visible labels."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from engine import store
from engine.models import Cursor, Flow
from engine.templates import get_template
from tests.browser.conftest import (  # noqa: F401 (fixtures)
    ADMIN,
    LiveServer,
    Watch,
    browser,
    live_server,
    shot,
    watched_page,
)
from web.auth import create_user, user_count

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
"""The first catch-up run (200 demo orders) runs while the page is used: writes may wait for SQLite's lock."""


def _db(server: LiveServer, make: Any) -> Any:
    """``server.db_call`` in a thread of its own (Playwright's sync API keeps an event loop in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(server.db_call, make).result(timeout=60)


def _login(page: Any, server: LiveServer) -> None:
    async def ensure_user(db: Any) -> None:
        if await user_count(db) == 0:
            await create_user(db, ADMIN[0], ADMIN[1], is_admin=True)

    _db(server, ensure_user)
    page.goto(server.url + "/login")
    page.get_by_label("E-mail address").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=WAIT_MS)


def _flow(server: LiveServer) -> str:
    async def make(db: Any) -> str:
        flow = await store.create_flow(db, {**get_template("orders-to-sales-invoices"), "name": "Automated books"})
        return flow.id

    return str(_db(server, make))


def _stored(server: LiveServer, flow_id: str) -> tuple[Flow, list[Cursor]]:
    async def load(db: Any) -> tuple[Flow, list[Cursor]]:
        from sqlalchemy import select

        async with db.session() as session:
            flow = await session.get(Flow, flow_id)
            cursors = list((await session.execute(select(Cursor).where(Cursor.flow_key == flow_id))).scalars())
        return flow, cursors

    result: tuple[Flow, list[Cursor]] = _db(server, load)
    return result


def _wait_until_no_run_is_going(server: LiveServer, flow_id: str, timeout_s: float = 30.0) -> None:
    """Wait for the flow's own runs (its catch-up fires as soon as it is switched on) to end: a backfill of a busy
    flow is refused with a message instead of opening a run page."""
    import time

    from sqlalchemy import func, select

    from engine.models import Run

    async def going(db: Any) -> int:
        async with db.session() as session:
            query = select(func.count()).where(Run.flow_id == flow_id, Run.status.in_(("queued", "running")))
            return int((await session.execute(query)).scalar_one())

    deadline = time.monotonic() + timeout_s
    while _db(server, going):
        assert time.monotonic() < deadline, "the flow's runs did not end"
        time.sleep(0.1)


def test_automation_settings_on_the_flow_page(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:  # noqa: F811
    page, watch = watched_page
    _login(page, live_server)
    flow_id = _flow(live_server)
    page.goto(f"{live_server.url}/flows/{flow_id}")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="WooCommerce webhook")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".delivery-url")).to_have_text(
        f"{live_server.url}/hooks/woocommerce/{flow_id}", timeout=WAIT_MS
    )

    # trigger: webhook + active (the basic settings form), then the catch-up appears
    page.get_by_label("Trigger", exact=True).select_option("webhook")
    page.get_by_label("Active (runs by its trigger)").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Also read what changed every (minutes, 0 = never)")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".next-fire[data-kind=catch_up]")).to_be_visible(timeout=WAIT_MS)

    # webhook: registered on the (demo) store, which pings Koppel
    page.get_by_role("button", name="Register webhook on the store").click()
    expect(page.locator(".webhook-hooks")).to_contain_text("order.created", timeout=WAIT_MS)
    expect(page.locator(".webhook-hooks")).to_contain_text("active", timeout=WAIT_MS)
    shot(page, "automation-webhook")

    # cursor of the orders source
    cursor = page.locator(".cursor-form").first
    cursor.get_by_role("textbox").fill("not a date")
    cursor.get_by_role("button", name="Save position").click()
    expect(page.get_by_role("alert")).to_contain_text("give a date and time", timeout=WAIT_MS)
    page.locator(".cursor-form").first.get_by_role("textbox").fill("2026-11-01T00:00:00")
    page.locator(".cursor-form").first.get_by_role("button", name="Save position").click()
    expect(page.get_by_role("status").filter(has_text="The next run reads from 2026-11-01T00:00:00")).to_be_visible(
        timeout=WAIT_MS
    )

    # alerts, retention, privacy, catch-up
    page.get_by_label("Also read what changed every (minutes, 0 = never)").fill("30")
    page.get_by_label("Send alerts for this flow").check()
    page.get_by_label("E-mail to (comma-separated)").fill("ops@shop.test, boss@shop.test")
    page.get_by_label("No successful run for (hours, 0 = off)").fill("24")
    page.get_by_label("Records wait for a mapping").uncheck()
    page.get_by_label("Keep record snapshots for (days)").fill("7")
    page.get_by_label("Leave names, e-mail addresses, phone numbers and addresses out of stored snapshots").check()
    page.get_by_role("button", name="Save automation").click()
    expect(page.get_by_role("status").filter(has_text="Automation settings saved.")).to_be_visible(timeout=WAIT_MS)
    shot(page, "automation-saved")

    flow, cursors = _stored(live_server, flow_id)
    assert flow.trigger == {"type": "webhook", "catch_up_every_s": 1800}
    assert flow.active is True
    assert flow.settings["alerts"]["emails"] == ["ops@shop.test", "boss@shop.test"]
    assert flow.settings["alerts"]["heartbeat_hours"] == 24 and flow.settings["alerts"]["waiting"] is False
    assert flow.settings["retention_days"] == 7
    assert flow.settings["privacy"] == {"redact_personal": True}
    assert [(c.node_id, c.value) for c in cursors] == [("orders", "2026-11-01T00:00:00")]

    # what was saved is shown after a reload
    page.reload()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("E-mail to (comma-separated)")).to_have_value(
        "ops@shop.test, boss@shop.test", timeout=WAIT_MS
    )
    expect(page.get_by_label("Keep record snapshots for (days)")).to_have_value("7", timeout=WAIT_MS)
    expect(page.locator(".cursor-form").first.get_by_role("textbox")).to_have_value(
        "2026-11-01T00:00:00", timeout=WAIT_MS
    )

    # erase a person (confirm dialog accepted), then a backfill opens its run
    page.get_by_label("E-mail address of the person").fill("nobody@example.com")
    page.get_by_role("button", name="Erase").click()
    expect(page.get_by_role("status").filter(has_text="Nothing stored mentions this address.")).to_be_visible(
        timeout=WAIT_MS
    )
    page.get_by_label("Or these records (one a line, e.g. order:1234)").fill("order:1\norder:2")
    _wait_until_no_run_is_going(live_server, flow_id)
    page.get_by_role("button", name="Start backfill").click()
    page.wait_for_url(f"{live_server.url}/runs/*")

    # the dashboard's health card lists the flow with how it runs
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Health")).to_be_visible(timeout=WAIT_MS)
    row = page.locator(f".health tr[data-flow='{flow_id}']")
    expect(row).to_contain_text("Automated books", timeout=WAIT_MS)
    expect(row).to_contain_text("webhook + catch-up", timeout=WAIT_MS)
    shot(page, "automation-health")
    assert watch.errors == [] and watch.dialogs == []
