"""A newcomer walks the setup wizard in a real browser against the demo sandbox, using only visible labels."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, LiveServer, Watch, shot, speak

pytestmark = pytest.mark.browser


def _log_in(page: Any, url: str) -> None:
    page.goto(url + "/")
    if "/setup" in page.url:
        page.get_by_label("E-mail address").fill(ADMIN[0])
        page.get_by_label("Password", exact=True).fill(ADMIN[1])
        page.get_by_label("Password again").fill(ADMIN[1])
        page.get_by_role("button", name="Create account").click()
    elif "/login" in page.url:
        page.get_by_label("E-mail address").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def fill_asperion(page: Any, sandbox: str, name: str) -> None:
    """Fill the Asperion step with the sandbox's administration."""
    from sandbox import credentials as c

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("API address").fill(sandbox + "/asperion")
    page.get_by_label("Identity address").fill(sandbox + "/asperion")
    page.get_by_label("Client id").fill(c.ASPERION_CLIENT_ID)
    page.get_by_label("Client secret").fill(c.ASPERION_CLIENT_SECRET)
    page.get_by_label("Refresh token").fill(c.ASPERION_INITIAL_REFRESH_TOKEN)
    page.get_by_label("Administration (tenant) id").fill(str(c.ASPERION_DEFAULT_TENANT))


def _flow_state(live_server: LiveServer) -> list[tuple[str, bool, dict[str, Any], dict[str, Any]]]:
    from sqlalchemy import select

    from engine import store
    from engine.models import Flow

    async def read(db: Any) -> list[tuple[str, bool, dict[str, Any], dict[str, Any]]]:
        async with db.session() as session:
            flows = list((await session.execute(select(Flow).where(Flow.template.is_not(None)))).scalars())
        out = []
        for flow in flows:
            document = (await store.get_version(db, flow.id)).document
            out.append((flow.name, flow.active, dict(flow.trigger or {}), document))
        return out

    result: list[tuple[str, bool, dict[str, Any], dict[str, Any]]] = live_server.db_call(read)
    return result


def test_a_newcomer_sets_up_invoices_from_orders(live_server: LiveServer, watched_page: tuple[Any, Watch]) -> None:
    from sandbox import credentials as c

    page, watch = watched_page
    url = live_server.url
    sandbox = url + "/sandbox"
    _log_in(page, url)
    page.get_by_role("link", name="Set up", exact=True).click()

    # 1. WooCommerce: a wrong secret is answered plainly, the typed values stay
    expect(page.get_by_role("heading", name="Connect your WooCommerce store")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("wizard-shop")
    page.get_by_label("Store address").fill(sandbox + "/woocommerce")
    page.get_by_label("Consumer key").fill(c.WOO_RW_KEY)
    page.get_by_label("Consumer secret").fill("cs_wrong")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("Connection failed", timeout=30_000)
    expect(page.get_by_label("Consumer key")).to_have_value(c.WOO_RW_KEY)
    shot(page, "wizard-1-woocommerce-failed")
    page.get_by_label("Consumer secret").fill(c.WOO_RW_SECRET)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status")).to_contain_text("Connection works", timeout=30_000)
    page.get_by_role("button", name="Next").click()

    # 2. Asperion
    expect(page.get_by_role("heading", name="Connect your Asperion administration")).to_be_visible()
    fill_asperion(page, sandbox, "wizard-books")
    shot(page, "wizard-2-asperion")
    page.get_by_role("button", name="Next").click()

    # Mollie: only its own flow needs it, so this shop skips it
    expect(page.get_by_role("heading", name="Connect your Mollie account")).to_be_visible(timeout=30_000)
    page.get_by_role("link", name="Skip").click()

    # 3. choose: nothing chosen is refused, then the invoice flow
    expect(page.get_by_role("heading", name="Which flows do you want?")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one flow.")
    page.get_by_role("checkbox", name=re.compile("^Orders → sales invoices")).check()
    shot(page, "wizard-3-flows")
    page.get_by_role("button", name="Next").click()

    # 4. the questions, prefilled; the statuses come live from the shop
    expect(page.get_by_role("heading", name="A few questions")).to_be_visible()
    statuses = page.get_by_label(re.compile("^Which order statuses should be read"))
    expect(statuses.locator("option", has_text="Completed")).to_have_count(1, timeout=30_000)
    # the start date proposed finds orders (the demo shop's are older than a month), and says how many
    start = page.get_by_label(re.compile("^From which date on"))
    proposed = start.input_value()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", proposed) and proposed < date.today().isoformat()
    count = page.locator(".count-preview")
    expect(count).to_have_text(re.compile(r"^[\d,]+ orders from this date would be processed\.$"), timeout=30_000)
    assert int(count.inner_text().split()[0].replace(",", "")) > 0
    start.fill("2099-01-01")
    expect(count).to_have_text(re.compile("^No orders from this date: the test run would find nothing"))
    start.fill(proposed)
    expect(count).to_have_text(re.compile(r"^[\d,]+ orders from this date would be processed\.$"))
    expect(page.get_by_label(re.compile("^The customer number of that default debtor"))).to_have_value("9999")
    page.get_by_role("checkbox", name=re.compile("^Book orders of guests")).uncheck()
    shot(page, "wizard-4-questions")
    page.get_by_role("button", name="Next").click()

    # 5. the test run of the new flow, polled until it finished
    expect(page.get_by_role("heading", name="Test run on a few real orders")).to_be_visible()
    result = page.locator(".test-run").first
    expect(result.locator(".badge").first).to_have_text(re.compile("succeeded|partial|failed"), timeout=60_000)
    expect(result).to_contain_text("records read")
    expect(result.locator(".test-record").first).to_be_visible()  # the proposed date found orders to try
    # steps by their names, no step id and no "passed on unchanged" lines
    expect(result).not_to_contain_text("passed on unchanged")
    expect(result).not_to_contain_text("book_credit")
    expect(result).not_to_contain_text("refund_debtor")
    shot(page, "wizard-5-test-run")
    flows = _flow_state(live_server)
    assert len(flows) == 1
    name, active, _trigger, document = flows[0]
    assert name == "Orders → sales invoices" and not active
    orders = next(n["config"] for n in document["nodes"] if n["id"] == "orders")
    assert orders["start_date"] == proposed and orders["connection"] == "wizard-shop"
    debtor = next(n["config"] for n in document["nodes"] if n["id"] == "debtor")
    assert debtor["guests_to_default"] is False and debtor["connection"] == "wizard-books"

    # 6. activate every 30 minutes
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_role("heading", name="Activate the flows")).to_be_visible()
    every = page.get_by_label(re.compile("every \\(minutes\\)"))
    expect(every).to_have_value("15")
    every.fill("30")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name="Your flows are active")).to_be_visible()
    shot(page, "wizard-6-active")
    _name, active, trigger, _doc = _flow_state(live_server)[0]
    assert active and trigger == {"type": "interval", "every_s": 1800}
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("link", name="Orders → sales invoices").first).to_be_visible()
    assert not watch.errors and not watch.dialogs, (watch.errors, watch.dialogs)


COUNTED = {
    "en": (r"^[\d,]+ orders from this date would be processed\.$", "^No orders from this date"),
    "nl": (r"^[\d.]+ bestellingen vanaf deze datum zouden worden verwerkt\.$", "^Geen bestellingen vanaf deze datum"),
}


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "en"), (1366, "nl"), (390, "nl")])
def test_the_start_date_finds_orders_and_says_how_many(
    live_server: LiveServer, watched_page: tuple[Any, Watch], width: int, lang: str
) -> None:
    page, watch = watched_page
    page.set_viewport_size({"width": width, "height": 900})
    _log_in(page, live_server.url)
    speak(page, lang)
    # the demo's own connections; the payments flow asks for a start date too, answered on its own
    page.goto(
        f"{live_server.url}/wizard/questions?woo=woocommerce&asp=asperion"
        "&t=orders-to-sales-invoices&t=payments-to-financial-mutations"
    )
    many, none = COUNTED[lang]
    question = "^From which date on" if lang == "en" else "^Vanaf welke datum"
    starts = page.get_by_label(re.compile(question))
    expect(starts).to_have_count(2)
    counts = page.locator(".count-preview")
    for index in range(2):
        expect(counts.nth(index)).to_have_text(re.compile(many), timeout=30_000)
    starts.first.fill("2099-01-01")
    expect(counts.first).to_have_text(re.compile(none))
    expect(counts.nth(1)).to_have_text(re.compile(many))  # the other flow's date is its own
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"wizard-start-date-{width}-{lang}")
    assert not watch.errors, watch.errors
