"""Canvas details a user relies on: add with the + button, the generic map's field list, remove a step, problems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, Watch, shot
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser


def doc(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("window.koppelFlow.toDocument()"))


def test_build_a_small_flow_by_hand(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    first_run_and_login(page, live_server.url)
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("button", name="New empty flow").click()
    expect(page.locator("#drawflow")).to_be_visible()
    page.get_by_role("button", name="Add WooCommerce customers").click()
    page.get_by_role("button", name="Add Map fields").click()
    form = page.locator("#node-config")
    expect(form.get_by_role("heading", name="Map fields")).to_be_visible()
    form.get_by_role("button", name="Add field").click()
    row = form.locator(".fm-row").last
    row.get_by_label("Target field").fill("emailAddress")
    row.get_by_label("Comes from").select_option("path")
    row.get_by_label("Field, value or formula").fill("email")
    form.get_by_role("button", name="Add field").click()
    row = form.locator(".fm-row").last
    row.get_by_label("Target field").fill("kind")
    row.get_by_label("Comes from").select_option("table")
    row.get_by_label("Field, value or formula").fill("billing.country")
    row.get_by_label('Table (one "key = value" a line)').fill("NL = domestic\nBE = eu")
    row.get_by_label("When there is no value").select_option("needs_mapping")
    shot(page, "30-map-fields")
    config = next(n for n in doc(page)["nodes"] if n["type"] == "map")["config"]
    assert config["fields"] == [
        {"target": "emailAddress", "source": {"kind": "path", "on_missing": "default", "path": "email"}},
        {
            "target": "kind",
            "source": {
                "kind": "table",
                "on_missing": "needs_mapping",
                "key_path": "billing.country",
                "table": {"NL": "domestic", "BE": "eu"},
            },
        },
    ], json.dumps(config)
    # a step that leads nowhere is flagged on the canvas after saving
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#save-result")).to_contain_text("cannot run yet")
    expect(page.locator("#drawflow .drawflow-node.has-problem").first).to_be_visible()
    # + wired the map after the source; a filter dropped onto that wire goes in between
    assert [(e["from"], e["to"]) for e in doc(page)["edges"]] == [("customers", "map")]
    customers_id = page.evaluate("window.koppelFlow.byDocId['customers']")
    map_id = page.evaluate("window.koppelFlow.byDocId['map']")
    wire = page.locator(f"#drawflow .connection.node_out_node-{customers_id}.node_in_node-{map_id} path").bounding_box()
    assert wire
    middle = {"x": wire["x"] + wire["width"] / 2, "y": wire["y"] + wire["height"] / 2}
    canvas = page.locator("#drawflow").bounding_box()
    assert canvas
    page.locator('.palette-item[data-type="filter"]').drag_to(
        page.locator("#drawflow"), target_position={"x": middle["x"] - canvas["x"], "y": middle["y"] - canvas["y"]}
    )
    edges = {(e["from"], e["to"]) for e in doc(page)["edges"]}
    assert edges == {("customers", "filter"), ("filter", "map")}, edges
    shot(page, "31-spliced-filter")
    # remove the map step again
    page.locator('#drawflow .drawflow-node[data-doc-id="map"]').click()
    form.get_by_role("button", name="Remove step").click()
    assert [n["type"] for n in doc(page)["nodes"]] == ["woocommerce.customers", "filter"]
    assert not watch.errors, watch.errors


async def _waiting_record(db: Any) -> str:
    from engine import store
    from engine.models import LogEntry, Run
    from engine.templates import get_template

    flow = await store.create_flow(db, {**get_template("orders-to-sales-invoices"), "name": "Mapping flow"})
    run = Run(flow_id=flow.id, document={}, status="partial", trigger="manual", params={}, waiting_count=1)
    async with db.session() as session, session.begin():
        session.add(run)
        await session.flush()
        session.add(
            LogEntry(
                run_id=run.id,
                flow_id=flow.id,
                node_id="invoice",
                record_key="4711",
                source_id="order:4711",
                status="waiting",
                message="needs mapping: payment_conditions has no row for 'klarna'",
                detail={"missing": {"table": "payment_conditions", "key": "klarna"}},
            )
        )
    return str(flow.id)


def test_inbox_leads_to_the_missing_mapping(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    first_run_and_login(page, live_server.url)
    live_server.db_call(_waiting_record)
    page.get_by_role("link", name="Inbox", exact=True).click()
    row = page.locator("article.inbox-group", has_text="4711")
    expect(row).to_contain_text("klarna")
    row.get_by_role("link", name="Add the mapping").click()
    form = page.locator("#node-config")
    new_row = form.locator(".kv-row.highlight")
    expect(new_row).to_be_visible(timeout=15_000)
    expect(new_row.locator(".kv-key")).to_have_value("klarna")
    new_row.locator(".kv-value").fill("3")
    config = next(n for n in doc(page)["nodes"] if n["id"] == "invoice")["config"]
    assert config["payment_conditions"]["klarna"] == "3"
    shot(page, "32-inbox-mapping")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#save-result")).to_contain_text("Saved as version")
    assert not watch.errors, watch.errors
