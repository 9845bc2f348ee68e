"""The reconciliation page in Chromium at 390 px: the demo shop booked by the templates, one invoice deleted in
Asperion; the result reads as cards without horizontal scrolling and the order's link opens its record."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from playwright.sync_api import expect

from engine.service import create_run, execute_run
from engine.templates import get_template
from sandbox.credentials import ASPERION_DEFAULT_TENANT
from tests.browser.conftest import ARTIFACTS, LiveServer, shot
from tests.browser.test_journey import first_run_and_login


def book(live_server: LiveServer) -> None:
    async def run_templates(db: Any) -> None:
        for template in ("orders-to-sales-invoices", "payments-to-financial-mutations"):
            run = await create_run(db, document=get_template(template), trigger="test")
            finished = await execute_run(db, run.id)
            assert finished is not None and finished.ok_count > 0  # the demo's one mis-totalled order is refused

    live_server.db_call(run_templates)


def test_reconciliation_at_390_px(live_server: LiveServer, watched_page: tuple[Any, Any]) -> None:
    page, watch = watched_page
    first_run_and_login(page, live_server.url)
    book(live_server)
    sandbox = mounted_sandbox(live_server.app)
    invoices = sandbox.asperion.tenants[ASPERION_DEFAULT_TENANT].invoices
    victim = next(i for i in invoices.values() if str(i["description"]).startswith("WooCommerce order "))
    number = str(victim["description"]).removeprefix("WooCommerce order ")
    del invoices[victim["id"]]

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Reconciliation").click()
    expect(page.get_by_role("heading", name="Reconciliation", exact=True)).to_be_visible()
    first_day = (date.today() - timedelta(days=3 * 365)).isoformat()
    page.get_by_label("First day").fill(first_day)
    page.get_by_role("button", name="Reconcile").click()
    expect(page.locator(".recon-status")).to_contain_text("Differences")
    link = page.get_by_role("link", name=f"Order {number}", exact=True).first
    expect(link).to_be_visible()
    expect(page.get_by_role("img")).to_be_visible()
    assert f"date_from={first_day}" in page.url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    shot(page, "reconcile-390")
    page.screenshot(path=str(ARTIFACTS / "reconcile-390-top.png"), animations="disabled")
    page.locator("svg.recon-chart").screenshot(path=str(ARTIFACTS / "reconcile-390-chart.png"), animations="disabled")
    link.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "reconcile-390-differences.png"), animations="disabled")
    link.click()
    expect(page.get_by_text(f"order:{victim_order_id(sandbox, number)}").first).to_be_visible()
    assert not watch.errors, watch.errors


def victim_order_id(sandbox: Any, number: str) -> int:
    for oid in sandbox.woo.orders.ids():
        order = sandbox.woo.orders.peek(oid)
        if order is not None and str(order["number"]) == number:
            return int(order["id"])
    raise AssertionError(f"no order {number}")


def mounted_sandbox(app: Any) -> Any:
    """The demo's sandbox app, from the handler that mounts it at /sandbox."""
    for route in app.routes:
        handlers = [*getattr(route, "route_handlers", ()), getattr(route, "route_handler", None)]
        for handler in handlers:
            if handler is not None and "sandbox_app" in handler.opt:
                return handler.opt["sandbox_app"]
    raise AssertionError("the demo sandbox is not mounted")
