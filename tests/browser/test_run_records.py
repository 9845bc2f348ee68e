"""One row per record, read in a browser: in a run of the invoice template on the demo shop, the order that was
paid and partly refunded is booked as a sales invoice and credited in the same run; the run log shows it as one
row whose sentence names both bookings, and opening that row shows both steps in the drawer (English and Dutch,
at 1366 and 390 px)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, LiveServer, Watch, shot
from tests.browser.test_journey import open_run
from tests.browser.test_screens import check
from tests.demo_runs import run_invoice_template

pytestmark = pytest.mark.browser

SENTENCES = {
    "en": (r"Booked as sales invoice \d+ for .+, €\d+\.\d\d", r"Booked as credit invoice \d+ for .+, -€\d+\.\d\d"),
    "nl": (
        r"Geboekt als verkoopfactuur \d+ voor .+, €[\u00a0 ]\d+,\d\d",
        r"Geboekt als creditfactuur \d+ voor .+, -€[\u00a0 ]\d+,\d\d",
    ),
}


@pytest.fixture(scope="module")
def finished_run(live_server: LiveServer) -> str:
    async def go(db: Any) -> str:
        methods = ("bacs", "cheque", "cod", "paypal", "stripe", "mollie_wc_gateway_ideal")
        return await run_invoice_template(
            db, name="Orders to invoices (rows)", conditions=dict.fromkeys(methods, "2"), limit=40
        )

    return str(live_server.db_call(go))


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "en"), (1366, "nl"), (390, "nl")])
def test_a_booked_and_credited_order_is_one_row_and_its_drawer_shows_both(
    live_server: LiveServer, watched_page: tuple[Any, Watch], finished_run: str, width: int, lang: str
) -> None:
    page, watch = watched_page
    open_run(page, live_server.url, finished_run, width, lang)
    invoice, credit = SENTENCES[lang]
    later = credit.replace("Geboekt", "geboekt").replace("Booked", "booked")  # the second part of one sentence
    row = page.locator(".log-row", has_text=re.compile(later))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(re.compile(invoice))
    expect(row).to_have_class(re.compile(r"\bstatus-ok\b"))  # the record's outcome: both bookings delivered
    row.get_by_role("button", name=re.compile(r"^Details")).click()
    drawer = page.locator("#drawer")
    messages = drawer.locator(".journey-step .message")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_have_text(re.compile(invoice))
    expect(messages.nth(1)).to_have_text(re.compile(credit))
    shot(page, f"run-record-drawer-{width}-{lang}")
    page.screenshot(path=str(ARTIFACTS / f"run-record-drawer-{width}-{lang}-top.png"))  # what the reader sees
    assert check(page, "run") == []
    assert not watch.errors, watch.errors
