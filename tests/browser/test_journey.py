"""The issue's journey in a real browser, using only visible labels: log in, connections, template, canvas, runs."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, ARTIFACTS, LiveServer, Watch, shot, speak

pytestmark = pytest.mark.browser


WANTED_FILTER = (
    '{"conditions":{"all":[{"field":"billing.country","op":"equals","value":"NL"}]},"label":"Dutch customers"}'
)


def _wait(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def first_run_and_login(page: Any, url: str) -> None:
    """First visit creates the admin; afterwards log out and log in again."""
    page.goto(url + "/")
    if "/setup" in page.url:
        page.get_by_label("E-mail address").fill(ADMIN[0])
        page.get_by_label("Password", exact=True).fill(ADMIN[1])
        page.get_by_label("Password again").fill(ADMIN[1])
        shot(page, "01-setup")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("E-mail address").fill(ADMIN[0])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail address or password")
    page.get_by_label("Password").fill(ADMIN[1])
    shot(page, "02-login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def open_run(page: Any, url: str, run_id: str, width: int, lang: str) -> None:
    """Log in at ``width`` px, speak ``lang`` and open the run's page."""
    page.set_viewport_size({"width": width, "height": 900})
    first_run_and_login(page, url)
    speak(page, lang)
    page.goto(f"{url}/runs/{run_id}")


def fresh_refresh_token(identity_url: str) -> str:
    """A new Asperion refresh token from the simulator's authorization-code flow (what "connect Asperion" yields:
    refresh tokens rotate, so the initial demo token may already be used by the demo connection)."""
    import httpx

    from sandbox import credentials as c

    callback = "http://127.0.0.1/callback"
    approved = httpx.get(
        identity_url + "/connect/authorize",
        params={"response_type": "code", "client_id": c.ASPERION_CLIENT_ID, "redirect_uri": callback},
        follow_redirects=False,
        timeout=30,
    )
    code = httpx.URL(approved.headers["location"]).params["code"]
    tokens = httpx.post(
        identity_url + "/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback,
            "client_id": c.ASPERION_CLIENT_ID,
            "client_secret": c.ASPERION_CLIENT_SECRET,
        },
        timeout=30,
    ).json()
    return str(tokens["refresh_token"])


def add_connections(page: Any, url: str) -> None:
    from sandbox import credentials as c

    base = url + "/sandbox"
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="Add a WooCommerce store").click()
    page.get_by_label("Name").fill("shop")
    page.get_by_label("Store address").fill(base + "/woocommerce")
    page.get_by_label("Consumer key").fill(c.WOO_RW_KEY)
    page.get_by_label("Consumer secret").fill(c.WOO_RW_SECRET)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    # the secret is write-only: never sent back to the browser
    assert c.WOO_RW_SECRET not in page.content()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection works", timeout=30_000)
    shot(page, "03-connection-woocommerce")

    page.get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="Add an Asperion administration").click()
    page.get_by_label("Name").fill("books")
    page.get_by_label("API address").fill(base + "/asperion")
    page.get_by_label("Identity address").fill(base + "/asperion")
    page.get_by_label("Client id").fill(c.ASPERION_CLIENT_ID)
    page.get_by_label("Client secret").fill(c.ASPERION_CLIENT_SECRET)
    page.get_by_label("Refresh token").fill(fresh_refresh_token(base + "/asperion"))
    page.get_by_label("Administration (tenant) id").fill(str(c.ASPERION_DEFAULT_TENANT))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection works", timeout=30_000)
    assert c.ASPERION_CLIENT_SECRET not in page.content()
    page.get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name=re.compile("^shop"))).to_be_visible()
    shot(page, "04-connections")


def create_flow_from_template(page: Any) -> str:
    page.get_by_role("link", name="Templates", exact=True).click()
    shot(page, "05-templates")
    card = page.get_by_role("article", name="Orders → sales invoices")
    card.get_by_role("link", name="Use this template", exact=True).click()
    page.get_by_label("Name of the new flow").fill("Shop orders → invoices")
    page.get_by_label(re.compile(r"Which connection for WooCommerce")).select_option("shop")
    page.get_by_label(re.compile(r"Which connection for Asperion")).select_option("books")
    page.get_by_role("button", name="Create flow").click()
    expect(page.locator("#drawflow .drawflow-node").first).to_be_visible()
    return str(page.url)


def node_box(page: Any, doc_id: str) -> Any:
    return page.locator(f'#drawflow .drawflow-node[data-doc-id="{doc_id}"]')


def connect(page: Any, src: str, dst: str) -> None:
    out = node_box(page, src).locator(".output").first.bounding_box()
    inp = node_box(page, dst).locator(".input").first.bounding_box()
    page.mouse.move(out["x"] + out["width"] / 2, out["y"] + out["height"] / 2)
    page.mouse.down()
    page.mouse.move(inp["x"] + inp["width"] / 2, inp["y"] + inp["height"] / 2, steps=12)
    page.mouse.up()


def edges(page: Any) -> list[tuple[str, str]]:
    doc = page.evaluate("window.koppelFlow.toDocument()")
    return [(e["from"], e["to"]) for e in doc["edges"]]


def add_filter_on_canvas(page: Any) -> None:
    """Drag a filter from the palette, wire it between the status filter and the invoice map, configure it."""
    before = edges(page)
    assert ("status", "invoice") in before, before
    canvas = page.locator("#drawflow").bounding_box()
    page.get_by_role("button", name="Fit").click()
    page.locator('.palette-item[data-type="filter"]').drag_to(
        page.locator("#drawflow"), target_position={"x": canvas["width"] / 2, "y": canvas["height"] - 90}
    )
    new = node_box(page, "filter")
    expect(new).to_be_visible()
    # remove the old wire status → invoice: click it, press Delete
    status_id = page.evaluate("window.koppelFlow.byDocId['status']")
    invoice_id = page.evaluate("window.koppelFlow.byDocId['invoice']")
    path = page.locator(f"#drawflow .connection.node_out_node-{status_id}.node_in_node-{invoice_id} path")
    path.dispatch_event("mousedown")
    path.dispatch_event("mouseup")
    page.locator("#drawflow").focus()
    page.keyboard.press("Delete")
    _wait(lambda: ("status", "invoice") not in edges(page), 5, "the old wire to go")
    connect(page, "status", "filter")
    connect(page, "filter", "invoice")
    _wait(lambda: {("status", "filter"), ("filter", "invoice")} <= set(edges(page)), 5, "the new wires")
    # configure it: billing.country equals NL
    new.click()
    form = page.locator("#node-config")
    expect(form.get_by_role("heading", name="Filter")).to_be_visible()
    form.get_by_role("button", name="Add rule").click()
    rule = form.locator(".cond-rule").last
    rule.get_by_label("Field", exact=True).fill("billing.country")
    rule.get_by_label("Operator").select_option("equals")
    rule.get_by_label("Value", exact=True).fill("NL")
    form.get_by_label("Label").fill("Dutch customers")
    _wait(
        lambda: (
            page.evaluate(
                "(() => { const n = window.koppelFlow.toDocument().nodes.find(n => n.id === 'filter');"
                " return JSON.stringify(n.config, (k, v) => (v === null ? undefined : v)); })()"
            )
            == WANTED_FILTER
        ),
        5,
        "the filter config on the node",
    )
    # the field picker offers the paths of sample records read from the shop
    expect(form.locator("datalist option[value='billing.country']")).to_have_count(1, timeout=30_000)
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Fit").click()


def check_invoice_form(page: Any) -> None:
    """Selects and mapping tables of the invoice step are filled live from the Asperion and WooCommerce connections."""
    node_box(page, "invoice").click()
    form = page.locator("#node-config")
    expect(form.get_by_role("heading", name="Order → sales invoice")).to_be_visible()
    journal = form.get_by_label("Sales journal")
    _wait(lambda: journal.locator("option").count() > 2, 30, "journals from Asperion")
    expect(form.locator("#dl-vat_codes-values option").first).to_be_attached(timeout=30_000)
    expect(form.locator("#dl-payment_conditions-keys option").first).to_be_attached(timeout=30_000)
    shot(page, "08b-editor-invoice-form")
    form.locator('[data-field="payment_conditions"]').scroll_into_view_if_needed()
    page.locator("#side-panel").screenshot(path=str(ARTIFACTS / "08c-invoice-mapping-tables.png"))


def save(page: Any, note: str) -> None:
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#save-result")).to_contain_text("Saved as version")


def test_journey(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    page, watch = watched_page
    url = live_server.url
    first_run_and_login(page, url)
    shot(page, "06-dashboard-empty")
    add_connections(page, url)
    create_flow_from_template(page)
    shot(page, "07-editor-template")
    assert not watch.errors, watch.errors
    add_filter_on_canvas(page)
    shot(page, "08-editor-filter")
    check_invoice_form(page)
    save(page, "only Dutch customers")
    expect(page.locator("#save-result .problems")).to_have_count(0)
    # version list shows who and when
    page.get_by_role("link", name="Versions").click()
    expect(page.locator("#versions")).to_contain_text("only Dutch customers")
    expect(page.locator("#versions")).to_contain_text(ADMIN[0])
    shot(page, "09-versions")
    page.get_by_role("link", name="Canvas").click()
    assert not watch.dialogs, watch.dialogs
    assert not watch.errors, watch.errors


def import_broken_order(url: str) -> str:
    """Add to the sandbox shop a paid Dutch order whose total is 5.00 more than its lines (the invoice's preflight
    refuses it: a failed record) and whose customer note carries HTML and a script."""
    import httpx

    from sandbox import credentials as c

    api = url + "/sandbox/woocommerce/wp-json/wc/v3"
    auth = (c.WOO_RW_KEY, c.WOO_RW_SECRET)
    orders = httpx.get(api + "/orders", params={"per_page": 100, "status": "processing"}, auth=auth, timeout=30).json()
    order = next(o for o in orders if (o.get("billing") or {}).get("country") == "NL" and not o.get("refunds"))
    broken = dict(order)
    broken["id"] = 990001
    broken["number"] = "990001"
    broken["total"] = f"{float(order['total']) + 5:.2f}"
    broken["customer_note"] = "<script>window.__xss = 1</script><b>bold</b>"
    answer = httpx.post(url + "/sandbox/_sandbox/import", json={"orders": [broken]}, timeout=30)
    assert answer.status_code < 300, answer.text
    return "990001"


def test_run_flow(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    """Test run, run now with live log lines, a failed record's drawer, and the UI in Dutch."""
    page, watch = watched_page
    url = live_server.url
    first_run_and_login(page, url)
    page.get_by_role("link", name="Dashboard").click()
    flows = page.locator("table.table tbody tr a", has_text="Shop orders → invoices")
    if flows.count() == 0:
        add_connections(page, url)
        create_flow_from_template(page)
        add_filter_on_canvas(page)
        save(page, "only Dutch customers")
    else:
        flows.first.click()
    page.get_by_label("Records to test").fill("3")
    page.get_by_role("button", name="Test run").click()
    result = page.locator("#test-output .test-run")
    expect(result).to_contain_text("Nothing was written", timeout=30_000)
    expect(result.locator(".badge").first).not_to_have_text(re.compile("queued|running"), timeout=90_000)
    shot(page, "10-test-run")
    expect(result).to_contain_text("records read")
    broken = import_broken_order(url)
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    rows = page.locator("#log-rows tr")
    shot(page, "11-run-start")
    expect(rows.first).to_be_visible(timeout=90_000)
    shot(page, "11-run-live")
    expect(page.locator("#run-status")).to_have_text(re.compile("succeeded|partial|failed"), timeout=180_000)
    shot(page, "12-run-done")
    # once finished, the log is paged (newest first), never one giant table
    older = page.get_by_role("button", name="Older entries")
    expect(older).to_be_visible()
    newest_id = page.locator("#log-rows tr").first.get_attribute("data-id")
    assert page.locator("#log-rows tr").count() <= 100
    older.click()
    expect(page.get_by_role("button", name="Newest")).to_be_visible()
    assert page.locator("#log-rows tr").first.get_attribute("data-id") != newest_id
    page.get_by_label("Search record").fill(broken)
    page.get_by_label("Status").select_option("failed")
    failed = page.locator("#log-rows tr.status-failed")
    expect(failed.first).to_be_visible()
    expect(failed.first).to_contain_text(broken)
    failed.first.get_by_role("button", name=re.compile("Details")).click()
    drawer = page.locator("#drawer")
    expect(drawer.get_by_role("heading", name=re.compile("Record"))).to_be_visible()
    expect(drawer).to_contain_text("What came in")
    expect(drawer).to_contain_text("<script>window.__xss = 1</script>")
    assert page.evaluate("window.__xss === undefined")
    shot(page, "13-record-drawer")
    drawer.get_by_role("button", name="Close").click()
    # retry the failed record: a new run of just that record
    first_run = page.url
    page.get_by_role("button", name="Retry failed records").click()
    page.wait_for_url(lambda u: u != first_run and re.search(r"/runs/[0-9a-f]+$", u) is not None)
    expect(page.locator("#run-status")).to_have_text(re.compile("succeeded|partial|failed"), timeout=60_000)
    expect(page.locator("#run-live")).to_contain_text("records processed")  # only the failed and waiting ones
    assert "retry" in page.locator("h1").inner_text()
    page.get_by_role("link", name="Runs", exact=True).click()
    runs = page.locator("table.table tbody tr", has_text="Shop orders → invoices")
    expect(runs).to_have_count(3)  # test run, run, retry
    shot(page, "15-runs")
    page.get_by_role("link", name="Inbox", exact=True).click()
    shot(page, "16-inbox")
    page.get_by_label("Language").select_option("nl")
    expect(page.get_by_role("link", name="Verbindingen")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Geleverd").first).to_be_visible()
    shot(page, "14-dashboard-nl")
    page.get_by_label("Taal").select_option("en")
    expect(page.get_by_role("link", name="Connections")).to_be_visible()
    assert not watch.dialogs, watch.dialogs
    assert not watch.errors, watch.errors
