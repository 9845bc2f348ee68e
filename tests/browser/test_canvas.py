"""Wiring a user can trust: wires selected and removed by keyboard, two wires into one step refused and shown on the
node, one error for one bad value, a readable opening zoom, labels and summaries, undo/redo, copy/paste, the
unsaved-changes guard and the empty flow's hint (English and Dutch, 1366 px and 390 px)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, LiveServer, Watch, shot, speak
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser

FLOW = {
    "format": "koppel.flow/1",
    "name": "Coffee and tea to invoices",
    "nodes": [
        {
            "id": "orders",
            "type": "woocommerce.orders",
            "config": {"connection": "woocommerce", "statuses": ["processing", "completed"]},
            "position": [40, 120],
        },
        {
            "id": "only_nl",
            "type": "filter",
            "config": {
                "label": "Only Dutch orders",
                "conditions": {"all": [{"field": "billing.country", "op": "equals", "value": "NL"}]},
            },
            "position": [320, 120],
        },
        {"id": "invoice", "type": "map.order_to_invoice", "config": {"connection": "asperion"}, "position": [600, 120]},
        {"id": "debtor", "type": "asperion.lookup_debtor", "config": {"connection": "asperion"}, "position": [880, 0]},
        {"id": "book", "type": "asperion.sales_invoice", "config": {"connection": "asperion"}, "position": [1160, 120]},
    ],
    "edges": [
        {"from": "orders", "to": "only_nl"},
        {"from": "only_nl", "to": "invoice"},
        {"from": "invoice", "to": "debtor"},
        {"from": "debtor", "to": "book"},
    ],
}


def make_flow(live_server: LiveServer, document: dict[str, Any]) -> str:
    from engine import store

    async def go(db: Any) -> str:
        flow = await store.create_flow(db, document, note="test")
        return str(flow.id)

    return str(live_server.db_call(go))


def doc(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("window.koppelFlow.toDocument()"))


def edges(page: Any) -> set[tuple[str, str]]:
    return {(e["from"], e["to"]) for e in doc(page)["edges"]}


def node(page: Any, doc_id: str) -> Any:
    return page.locator(f'#drawflow .drawflow-node[data-doc-id="{doc_id}"]')


def drag_wire(page: Any, from_id: str, to_id: str, output: Any = None) -> None:
    """Press on the step's output (its first, or the ``output`` given) and let go on the other step's input."""
    out = (output if output is not None else node(page, from_id).locator(".output").first).bounding_box()
    into = node(page, to_id).locator(".input").first.bounding_box()
    page.mouse.move(out["x"] + out["width"] / 2, out["y"] + out["height"] / 2)
    page.mouse.down()
    page.mouse.move(into["x"] + 2, into["y"] + 2, steps=8)
    page.mouse.move(into["x"] + into["width"] / 2, into["y"] + into["height"] / 2, steps=2)
    page.mouse.up()


def readable_text(page: Any) -> float:
    """The smallest rendered font size (px) of the node text at the canvas's current zoom."""
    return float(
        page.evaluate(
            """() => {
              const z = window.koppelFlow.zoom();
              let least = 1e9;
              document.querySelectorAll('#drawflow .drawflow-node .node-box *').forEach((e) => {
                if (!e.textContent.trim() || e.hidden) return;
                least = Math.min(least, parseFloat(getComputedStyle(e).fontSize) * z);
              });
              return least;
            }"""
        )
    )


def test_wiring_you_can_trust(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    page.set_viewport_size({"width": 1366, "height": 900})
    first_run_and_login(page, live_server.url)
    flow_id = make_flow(live_server, FLOW)
    page.goto(f"{live_server.url}/flows/{flow_id}")
    expect(node(page, "book")).to_be_visible()
    # readable at its opening zoom; the filter shows its label and what it checks, the source its statuses
    assert readable_text(page) >= 12
    expect(node(page, "only_nl")).to_contain_text("Only Dutch orders")
    expect(node(page, "only_nl")).to_contain_text("billing.country equals NL")
    expect(node(page, "orders")).to_contain_text("status is processing or completed")
    shot(page, "canvas-1366-en")

    # a bypass beside the filter: refused, and the problem is on the step
    drag_wire(page, "orders", "invoice")
    assert ("orders", "invoice") in edges(page)
    expect(page.locator("#unsaved")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(node(page, "invoice").locator(".node-problem")).to_contain_text("more than one wire leads into this step")
    shot(page, "canvas-two-wires")

    # the wire is reached by keyboard, shows it is selected, and Delete removes it
    wire = page.get_by_role("button", name="Wire from WooCommerce orders to Order → sales invoice")
    wire.focus()
    expect(wire).to_have_attribute("aria-pressed", "true")
    expect(wire).to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("Delete")
    assert ("orders", "invoice") not in edges(page)
    assert ("only_nl", "invoice") in edges(page)

    # undo brings it back, redo removes it again
    page.locator("#drawflow").focus()
    page.keyboard.press("Control+z")
    assert ("orders", "invoice") in edges(page)
    page.keyboard.press("Control+Shift+z")
    assert ("orders", "invoice") not in edges(page)

    # another wire, removed with Backspace
    page.get_by_role("button", name="Wire from Lookup default debtor to Asperion sales invoice").focus()
    page.keyboard.press("Backspace")
    assert ("debtor", "book") not in edges(page)
    page.keyboard.press("Control+z")
    assert ("debtor", "book") in edges(page)

    # one bad value, one error: on its field and its node, and no wiring echoes
    node(page, "only_nl").click()
    form = page.locator("#node-config")
    expect(form.get_by_role("heading", name="Filter")).to_be_visible()
    form.get_by_label("Operator").select_option(label="is greater than — takes a number or date")
    form.get_by_label("Value", exact=True).fill("tien euro")
    page.get_by_role("button", name="Save", exact=True).click()
    problems = page.locator("#save-result .problems li")
    expect(problems).to_have_count(1)
    expect(problems.first).to_contain_text("only_nl")
    expect(node(page, "only_nl")).to_have_class(re.compile(r"\bhas-problem\b"))
    expect(page.locator("#node-config .field-error")).to_have_count(1)
    shot(page, "canvas-one-error")
    form = page.locator("#node-config")
    form.get_by_label("Value", exact=True).fill("10")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#save-result .problems")).to_have_count(0)

    # copy and paste a step
    before = len(doc(page)["nodes"])
    node(page, "only_nl").click()
    page.locator("#drawflow").focus()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    assert len(doc(page)["nodes"]) == before + 1
    pasted = [n for n in doc(page)["nodes"] if n["id"] == "filter"]
    assert pasted and pasted[0]["config"]["label"] == "Only Dutch orders"

    # leaving with unsaved changes asks first
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_timeout(300)  # give a navigation the chance to happen
    assert any(d.startswith("beforeunload") for d in watch.dialogs), watch.dialogs
    assert f"/flows/{flow_id}" in page.url
    assert not watch.errors, watch.errors


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "nl")])
def test_an_empty_flow_explains_how_to_start(
    live_server: LiveServer, watched_page: tuple[Any, Watch], width: int, lang: str
) -> None:
    page, watch = watched_page
    page.set_viewport_size({"width": width, "height": 900})
    first_run_and_login(page, live_server.url)
    if lang == "nl":
        page.get_by_label("Language").select_option("nl")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
    flow_id = make_flow(live_server, {"format": "koppel.flow/1", "name": "Empty", "nodes": [], "edges": []})
    page.goto(f"{live_server.url}/flows/{flow_id}")
    hint = page.locator("#canvas-empty")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Begin met een bron" if lang == "nl" else "Start with a source")
    expect(page.locator("#save-result .problems")).to_have_count(0)
    add = "Toevoegen WooCommerce-bestellingen" if lang == "nl" else "Add WooCommerce orders"
    page.get_by_role("button", name=add).click()
    expect(hint).to_be_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot(page, f"canvas-empty-{width}-{lang}")
    assert not watch.errors, watch.errors


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "en"), (1366, "nl"), (390, "nl")])
def test_filter_fields_read_as_names_and_a_mistyped_field_is_pointed_out(
    live_server: LiveServer, watched_page: tuple[Any, Watch], width: int, lang: str
) -> None:
    page, watch = watched_page
    page.set_viewport_size({"width": width, "height": 900})
    first_run_and_login(page, live_server.url)
    speak(page, lang)
    flow_id = make_flow(live_server, FLOW)
    page.goto(f"{live_server.url}/flows/{flow_id}?node=only_nl")
    form = page.locator("#node-config")
    expect(form.locator(".cond-rule")).to_have_count(1)
    # the field picker offers the sample records' fields by friendly name, without API links
    options = form.locator("datalist option")
    expect(options.first).to_be_attached(timeout=20_000)
    labels = options.evaluate_all("(os) => os.map((o) => o.label)")
    values = options.evaluate_all("(os) => os.map((o) => o.value)")
    # the names in the page's language: "Factuuradres → Land" on a Dutch page
    billing, country = ("Billing", "Billing → Country") if lang == "en" else ("Factuuradres", "Factuuradres → Land")
    assert country in labels
    assert not [v for v in values if "_links" in v]
    field = form.get_by_label("Field" if lang == "en" else "Veld", exact=True)
    warning = form.locator(".cond-field-warning")
    expect(warning).to_be_hidden()
    field.fill("categorie.naam")
    expect(warning).to_be_visible()
    field.fill("billing.country")
    expect(warning).to_be_hidden()
    # the grouped picker: sections by the first part of the name; picking fills the field
    picker = form.get_by_label("Pick a field" if lang == "en" else "Kies een veld")
    expect(picker.locator(f'optgroup[label="{billing}"] option', has_text=country)).to_have_count(1)
    field.fill("categorie.naam")
    picker.select_option(label=country)
    expect(field).to_have_value("billing.country")
    expect(warning).to_be_hidden()
    # the operators say what they take, and so does the value box
    operator = form.get_by_label("Operator" if lang == "en" else "Vergelijking")
    takes = "is one of — takes a list" if lang == "en" else "is een van — vraagt een lijst"
    expect(operator.locator("option", has_text=takes)).to_have_count(1)
    operator.select_option("in")
    value = form.get_by_label("Value" if lang == "en" else "Waarde", exact=True)
    expect(value).to_have_attribute(
        "placeholder",
        "several values, separated by commas" if lang == "en" else "meerdere waarden, gescheiden door komma's",
    )
    # a list is shown as chips, each removable
    value.fill("NL, BE, DE")
    chips = form.get_by_role("list", name="Values" if lang == "en" else "Waarden").get_by_role("listitem")
    expect(chips).to_have_text(["NL ×", "BE ×", "DE ×"])
    form.get_by_role("button", name=("Remove value" if lang == "en" else "Waarde verwijderen") + " BE").click()
    expect(value).to_have_value("NL, DE")
    expect(chips).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"filter-fields-{width}-{lang}")
    assert doc(page)["nodes"][1]["config"]["conditions"]["all"][0] == {
        "field": "billing.country",
        "op": "in",
        "value": ["NL", "DE"],
    }
    assert not watch.errors, watch.errors


GENERIC = {
    "format": "koppel.flow/1",
    "name": "Orders to a generic map",
    "nodes": [
        FLOW["nodes"][0],  # the same orders source
        {
            "id": "shape",
            "type": "map",
            "config": {"fields": [{"target": "country", "source": {"kind": "path", "path": "billing.country"}}]},
            "position": [320, 120],
        },
    ],
    "edges": [{"from": "orders", "to": "shape"}],
}


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "nl")])
def test_the_generic_map_has_the_same_field_picker(
    live_server: LiveServer, watched_page: tuple[Any, Watch], width: int, lang: str
) -> None:
    page, watch = watched_page
    page.set_viewport_size({"width": width, "height": 900})
    first_run_and_login(page, live_server.url)
    speak(page, lang)
    flow_id = make_flow(live_server, GENERIC)
    page.goto(f"{live_server.url}/flows/{flow_id}?node=shape")
    form = page.locator("#node-config")
    row = form.locator(".fm-row").first
    expect(form.locator("datalist option").first).to_be_attached(timeout=20_000)
    text = row.get_by_label("Field, value or formula" if lang == "en" else "Veld, waarde of formule")
    warning = row.locator(".cond-field-warning")
    expect(warning).to_be_hidden()
    text.fill("categorie.naam")
    expect(warning).to_be_visible()
    picker = row.get_by_label("Pick a field" if lang == "en" else "Kies een veld")
    billing, country, city = ("Billing", "Country", "City") if lang == "en" else ("Factuuradres", "Land", "Plaats")
    expect(picker.locator(f'optgroup[label="{billing}"] option', has_text=f"{billing} → {country}")).to_have_count(1)
    picker.select_option(label=f"{billing} → {city}")
    expect(text).to_have_value("billing.city")
    expect(warning).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"map-fields-{width}-{lang}")
    assert doc(page)["nodes"][1]["config"]["fields"][0]["source"]["path"] == "billing.city"
    assert not watch.errors, watch.errors
