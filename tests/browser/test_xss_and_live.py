"""Record data with HTML or <script> is shown as text on every page (a script that runs fails the test); the run
page streams log lines over SSE while the run is going (engine-independent: rows are written straight to the DB)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, Watch, shot
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser

EVIL = "<script>window.__xss = 1; console.log('XSS-MARKER')</script><img src=x onerror=\"alert('XSS-MARKER')\">"


async def _make_flow_and_run(db: Any) -> tuple[str, str]:
    from engine import store
    from engine.models import Run

    document = {
        "format": "koppel.flow/1",
        "name": "Evil " + EVIL,
        "description": EVIL,
        "nodes": [{"id": "orders", "type": "woocommerce.orders", "config": {"connection": "woocommerce"}}],
        "edges": [],
    }
    flow = await store.create_flow(db, document, note=EVIL, created_by="xss@example.nl")
    run = Run(flow_id=flow.id, document=document, status="running", trigger="manual", params={}, expected_count=10)
    async with db.session() as session, session.begin():
        session.add(run)
    return flow.id, run.id


async def _add_entries(
    db: Any, flow_id: str, run_id: str, n: int, status: str, finish: bool = False, start: int = 0
) -> None:
    from engine.models import LogEntry, Run, utcnow

    async with db.session() as session, session.begin():
        for i in range(start, start + n):
            session.add(
                LogEntry(
                    run_id=run_id,
                    flow_id=flow_id,
                    node_id="orders",
                    record_key=f"#{i} {EVIL}",
                    source_id=f"order:{i}",
                    status=status,
                    message=f"failed: {EVIL}",
                    detail={
                        "input": {"billing": {"first_name": EVIL}, "note": EVIL},
                        "steps": [{"node": "orders", "output": {"x": EVIL}}],
                        "request": {"description": EVIL},
                        "response": {"error": EVIL},
                        "error": {"type": "RecordFailed", "message": EVIL},
                        "missing": {"table": EVIL, "key": EVIL},
                    },
                )
            )
        run = await session.get(Run, run_id)
        assert run is not None
        run.read_count += n
        run.failed_count += n if status == "failed" else 0
        run.waiting_count += n if status == "waiting" else 0
        if finish:
            run.status = "partial"
            run.finished_at = utcnow()


def assert_no_script_ran(page: Any, watch: Watch) -> None:
    assert page.evaluate("window.__xss === undefined"), "an injected script ran"
    assert not watch.dialogs, watch.dialogs
    assert not [c for c in watch.console if "XSS-MARKER" in c], watch.console
    assert not watch.errors, watch.errors


def test_record_html_is_text_and_log_streams_live(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    first_run_and_login(page, live_server.url)
    flow_id, run_id = live_server.db_call(_make_flow_and_run)
    page.goto(f"{live_server.url}/runs/{run_id}")
    page.evaluate("window.__sse = 0; document.body.addEventListener('htmx:sseMessage', () => { window.__sse += 1; });")
    expect(page.locator("#run-status")).to_have_text("running")
    # lines written while the page is open arrive over SSE, newest first
    live_server.db_call(lambda db: _add_entries(db, flow_id, run_id, 3, "failed"))
    expect(page.locator("#log-rows tr")).to_have_count(3, timeout=20_000)
    # one row per record: record 2's new line replaces its row (still failed, the most serious), record 3 is new
    # (still live: the stream's rows, not the page read again at the end)
    live_server.db_call(lambda db: _add_entries(db, flow_id, run_id, 2, "waiting", start=2))
    expect(page.locator("#log-rows tr", has_text="#3 ")).to_have_count(1, timeout=20_000)
    expect(page.locator("#log-rows tr")).to_have_count(4)
    expect(page.locator("#log-rows tr", has_text="#2 ")).to_have_count(1)
    expect(page.locator("#log-rows tr", has_text="#2 ")).to_have_class(re.compile(r"\bstatus-failed\b"))
    expect(page.locator("#run-status")).to_have_text("running")
    live_server.db_call(lambda db: _add_entries(db, flow_id, run_id, 0, "waiting", finish=True))
    expect(page.locator("#run-status")).to_have_text("partial", timeout=20_000)
    expect(page.locator("#log-rows tr").first).to_contain_text("waiting")
    expect(page.locator("#log-rows tr").first).to_contain_text("<script>")  # shown as text
    shot(page, "20-run-xss-live")
    # filters, search and paging
    page.get_by_label("Status").select_option("failed")
    expect(page.locator("#log-rows tr")).to_have_count(3)
    page.get_by_label("Status").select_option("")
    page.get_by_label("Search record").fill("#2 ")
    expect(page.locator("#log-rows tr")).to_have_count(1)  # "#2" in both batches: one record
    page.get_by_label("Search record").fill("")
    # the drawer shows every part as text
    page.locator("#log-rows tr").first.get_by_role("button", name=re.compile("Details")).click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text("What came in")
    expect(drawer).to_contain_text("What was sent")
    expect(drawer).to_contain_text("Answer received")
    expect(drawer).to_contain_text("onerror=")
    shot(page, "21-drawer-xss")
    assert_no_script_ran(page, watch)
    for path in ["/", "/runs", f"/flows/{flow_id}/runs", "/inbox", f"/flows/{flow_id}", "/templates", "/connections"]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert_no_script_ran(page, watch)
    page.goto(live_server.url + "/inbox")
    expect(page.locator("main")).to_contain_text("<script>")
    shot(page, "22-inbox")
    page.goto(live_server.url + f"/flows/{flow_id}")
    page.get_by_role("link", name="Versions").click()
    expect(page.locator("#versions")).to_contain_text("<script>")
    assert_no_script_ran(page, watch)
