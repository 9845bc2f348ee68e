"""Ports on the canvas: a filter's kept/discarded and a router's outputs are labelled, wired one by one and saved by
name; an old step offers its upgrade."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, Watch, shot
from tests.browser.test_canvas import doc, drag_wire, make_flow, node
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser

COUNTRY_NL = {"all": [{"field": "billing.country", "op": "equals", "value": "NL"}]}
FLOW = {
    "format": "koppel.flow/1",
    "name": "Dutch orders booked, the others mailed",
    "nodes": [
        {"id": "orders", "type": "woocommerce.orders", "config": {"connection": "woocommerce"}, "position": [40, 160]},
        {
            "id": "only_nl",
            "type": "filter",
            "version": 2,
            "config": {"label": "Only Dutch orders", "conditions": COUNTRY_NL},
            "position": [320, 160],
        },
        {"id": "invoice", "type": "map.order_to_invoice", "config": {"connection": "asperion"}, "position": [640, 40]},
        {
            "id": "tell",
            "type": "email.send",
            "config": {"to": "shop@example.com", "subject": "Order {{ number }}", "body": "Not booked"},
            "position": [640, 300],
        },
    ],
    "edges": [
        {"from": "orders", "to": "only_nl"},
        {"from": "only_nl", "from_port": "kept", "to": "invoice", "to_port": "in"},
    ],
}


def open_flow(page: Any, live_server: LiveServer, document: dict[str, Any], lang: str = "en") -> str:
    """Log in (in ``lang``), store ``document`` as a flow and open it on the canvas; returns the flow id."""
    page.set_viewport_size({"width": 1366, "height": 900})
    first_run_and_login(page, live_server.url)
    if lang != "en":
        page.get_by_label("Language").select_option(lang)
        expect(page.locator("html")).to_have_attribute("lang", lang)
    flow_id = make_flow(live_server, document)
    page.goto(f"{live_server.url}/flows/{flow_id}")
    expect(node(page, "tell")).to_be_visible()
    return flow_id


def saved(live_server: LiveServer, flow_id: str) -> dict[str, Any]:
    from engine import store

    async def go(db: Any) -> dict[str, Any]:
        return dict((await store.get_version(db, flow_id)).document)

    return dict(live_server.db_call(go))


def test_wire_a_filters_discarded_output_and_save(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    flow_id = open_flow(page, live_server, FLOW)
    filter_step = node(page, "only_nl")
    kept = filter_step.get_by_label("Output kept")
    discarded = filter_step.get_by_label("Output discarded")
    expect(kept).to_have_attribute("data-label", "kept")
    expect(discarded).to_have_attribute("data-label", "discarded")
    expect(node(page, "orders").locator(".output[data-label]")).to_have_count(0)  # one output: no label

    drag_wire(page, "only_nl", "tell", discarded)
    wires = {(e["from"], e.get("from_port"), e["to"]) for e in doc(page)["edges"]}
    assert ("only_nl", "discarded", "tell") in wires and ("only_nl", "kept", "invoice") in wires
    expect(page.get_by_role("button", name="Wire from Only Dutch orders (discarded) to Send e-mail")).to_have_count(1)
    shot(page, "ports-filter-discarded")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#unsaved")).to_be_hidden()

    document = saved(live_server, flow_id)
    edges = [{k: e.get(k) for k in ("from", "from_port", "to", "to_port")} for e in document["edges"]]
    assert {"from": "only_nl", "from_port": "discarded", "to": "tell", "to_port": "in"} in edges
    assert {"from": "only_nl", "from_port": "kept", "to": "invoice", "to_port": "in"} in edges
    assert {"from": "orders", "from_port": "out", "to": "only_nl", "to_port": "in"} in edges
    assert {n["id"]: n["version"] for n in document["nodes"]}["only_nl"] == 2

    # reopened, each wire is back on its own output
    page.reload()
    expect(node(page, "tell")).to_be_visible()
    wires = {(e["from"], e.get("from_port"), e["to"]) for e in doc(page)["edges"]}
    assert {("only_nl", "discarded", "tell"), ("only_nl", "kept", "invoice")} <= wires
    assert not watch.errors, watch.errors


def test_a_router_grows_an_output_per_rule_and_an_old_filter_is_upgraded(
    live_server: LiveServer, watched_page: tuple[Any, Watch]
) -> None:
    page, watch = watched_page
    document = {
        **FLOW,
        "nodes": [
            FLOW["nodes"][0],
            {
                "id": "split",
                "type": "router",
                "config": {"routes": [{"output": "netherlands", "conditions": COUNTRY_NL}]},
                "position": [320, 160],
            },
            *FLOW["nodes"][2:],
            {
                "id": "old",
                "type": "filter",
                "config": {"conditions": [{"field": "status", "op": "equals", "value": "completed"}]},
                "position": [940, 40],
            },
        ],
        "edges": [
            {"from": "orders", "to": "split"},
            {"from": "split", "from_port": "netherlands", "to": "invoice", "to_port": "in"},
            {"from": "split", "from_port": "otherwise", "to": "tell", "to_port": "in"},
            {"from": "invoice", "to": "old"},
        ],
    }
    flow_id = open_flow(page, live_server, document)
    router = node(page, "split")
    expect(router.get_by_label("Output netherlands")).to_be_visible()
    expect(router.get_by_label("Output otherwise")).to_be_visible()

    router.click()
    form = page.locator("#node-config")
    expect(form.get_by_role("heading", name="Router")).to_be_visible()
    form.get_by_role("button", name="Add output").click()
    form.get_by_label("Output name").last.fill("belgium")
    new_output = form.locator(".route-row").last
    new_output.get_by_role("button", name="Add rule").click()
    new_output.get_by_label("Field", exact=True).fill("billing.country")
    new_output.get_by_role("textbox", name="Value", exact=True).fill("BE")
    new_output.get_by_role("textbox", name="Value", exact=True).dispatch_event("change")
    expect(router.locator(".output")).to_have_count(3)
    labels = router.locator(".output").evaluate_all("(os) => os.map((o) => o.dataset.label)")
    assert labels == ["netherlands", "belgium", "otherwise"]
    wires = {(e["from"], e.get("from_port"), e["to"]) for e in doc(page)["edges"]}
    assert {("split", "netherlands", "invoice"), ("split", "otherwise", "tell")} <= wires  # kept by name
    config = next(n for n in doc(page)["nodes"] if n["id"] == "split")["config"]
    assert [r["output"] for r in config["routes"]] == ["netherlands", "belgium"]
    assert config["routes"][1]["conditions"] == {"all": [{"field": "billing.country", "op": "equals", "value": "BE"}]}
    shot(page, "ports-router")

    # the old filter (saved before versions) says so, and Upgrade rewrites it
    node(page, "old").click()
    expect(form.get_by_text("This step uses an older version of its type.")).to_be_visible()
    form.get_by_role("button", name="Upgrade").click()
    expect(page.locator("#node-config").get_by_text("This step uses an older version of its type.")).to_have_count(0)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#unsaved")).to_be_hidden()
    stored = {n["id"]: n for n in saved(live_server, flow_id)["nodes"]}
    assert stored["old"]["version"] == 2
    assert stored["old"]["config"]["conditions"] == {"all": [{"field": "status", "op": "equals", "value": "completed"}]}
    assert [r["output"] for r in stored["split"]["config"]["routes"]] == ["netherlands", "belgium"]
    assert not watch.errors, watch.errors


def test_output_labels_read_in_dutch(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    open_flow(page, live_server, FLOW, lang="nl")
    filter_step = node(page, "only_nl")
    expect(filter_step.get_by_label("Uitvoer behouden")).to_have_attribute("data-label", "behouden")
    expect(filter_step.get_by_label("Uitvoer afgewezen")).to_have_attribute("data-label", "afgewezen")
    shot(page, "ports-filter-nl")
    assert not watch.errors, watch.errors
