"""One line per record in plain sentences: a run of the invoice template on the demo shop, some of its payment
methods without a payment condition, read in the run log in English and Dutch at 1366 and 390 px (axe-core too).
Each row says an outcome as a person would ("Booked as sales invoice 3 for Daan Bakker, €55.94"), no record is
also listed as skipped beside its outcome, the counters agree with the rows, and no row shows a Python repr."""

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
    "en": {
        "ok": r"^Booked as (sales|credit) invoice \d+ for .+, -?€\d+\.\d\d$",
        "waiting": r'^payment method ".+" has no payment condition yet$',
        "skipped": r'Status is ".+", expected one of "processing", "completed"',
    },
    "nl": {
        "ok": r"^Geboekt als (verkoop|credit)factuur \d+ voor .+, -?€[\u00a0 ]\d+,\d\d$",
        "waiting": r'^betaalmethode „.+" heeft nog geen betalingsconditie$',
        "skipped": r'Status is „.+", verwacht: een van „processing", „completed"',
    },
}


@pytest.fixture(scope="module")
def finished_run(live_server: LiveServer) -> str:
    async def go(db: Any) -> str:  # only bank transfers have a payment condition: the others wait
        return await run_invoice_template(db, name="Orders to invoices (log)", conditions={"bacs": "2"}, limit=30)

    return str(live_server.db_call(go))


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "en"), (1366, "nl"), (390, "nl")])
def test_one_plain_sentence_per_record(
    live_server: LiveServer, watched_page: tuple[Any, Watch], finished_run: str, width: int, lang: str
) -> None:
    page, watch = watched_page
    open_run(page, live_server.url, finished_run, width, lang)
    rows = page.locator(".log-row")
    expect(rows.first).to_be_visible()
    messages: dict[str, list[str]] = {}
    outcomes: dict[str, list[str]] = {}  # record → the statuses of its rows
    for row in rows.all():
        status = str(row.get_attribute("class")).split("status-")[1].split()[0]
        messages.setdefault(status, []).append(row.locator(".message").inner_text().strip())
        outcomes.setdefault(row.locator("td").nth(1).inner_text().strip(), []).append(status)
    for status, pattern in SENTENCES[lang].items():
        assert any(re.search(pattern, m) for m in messages.get(status, [])), (status, messages.get(status))
    every = [m for found in messages.values() for m in found]
    assert not [m for m in every if re.search(r"'[^'\s][^']*'|\bNone\b|\bTrue\b|\[\]|book_credit", m)], every
    # one row per record (an order booked and its refund credited: one row saying both), and the counters count
    # records by their outcome, the most serious first
    counts = {
        key: int(page.locator(f".counts div:nth-child({n}) dd").inner_text().replace(".", "").replace(",", ""))
        for n, key in ((1, "read"), (2, "ok"), (3, "skipped"), (4, "waiting"), (5, "failed"))
    }
    assert counts["read"] == len(outcomes)
    final = [next(s for s in ("failed", "waiting", "ok", "skipped") if s in statuses) for statuses in outcomes.values()]
    assert {k: counts[k] for k in ("ok", "skipped", "waiting", "failed")} == {
        k: final.count(k) for k in ("ok", "skipped", "waiting", "failed")
    }
    assert all(len(statuses) == 1 for statuses in outcomes.values()), outcomes
    shot(page, f"run-log-{width}-{lang}")
    page.screenshot(path=str(ARTIFACTS / f"run-log-{width}-{lang}-top.png"))  # what the first screen shows
    assert check(page, "run") == []
    assert not watch.errors, watch.errors
