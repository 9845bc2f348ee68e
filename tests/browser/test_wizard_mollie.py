"""A Mollie shop without WooCommerce walks the setup wizard in a real browser against the demo sandbox: it skips the
WooCommerce step, connects Asperion and Mollie, and test-runs the Mollie settlements flow."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, Watch, shot
from tests.browser.test_wizard import _flow_state, _log_in, fill_asperion

pytestmark = pytest.mark.browser


def test_a_mollie_shop_skips_woocommerce_and_test_runs_its_settlements(
    live_server: LiveServer, watched_page: tuple[Any, Watch]
) -> None:
    from sandbox import credentials as c

    page, watch = watched_page
    sandbox = live_server.url + "/sandbox"
    _log_in(page, live_server.url)
    page.get_by_role("link", name="Set up", exact=True).click()

    # WooCommerce: only some flows need it, so it can be skipped
    expect(page.get_by_role("heading", name="Connect your WooCommerce store")).to_be_visible()
    expect(page.get_by_text("7 of the 8 flows need WooCommerce.", exact=False)).to_be_visible()
    page.get_by_role("link", name="Skip").click()

    # Asperion: every flow needs it, no skipping
    expect(page.get_by_role("heading", name="Connect your Asperion administration")).to_be_visible()
    expect(page.get_by_role("link", name="Skip")).to_have_count(0)
    fill_asperion(page, sandbox, "wizard-books")
    page.get_by_role("button", name="Next").click()

    # Mollie: its own step, from the connector's credentials
    expect(page.get_by_role("heading", name="Connect your Mollie account")).to_be_visible(timeout=30_000)
    page.get_by_label("Name", exact=True).fill("wizard-mollie")
    page.get_by_label("API address").fill(sandbox + "/mollie")
    page.get_by_label("API key").fill(c.MOLLIE_API_KEY)
    shot(page, "wizard-mollie-step")
    page.get_by_role("button", name="Next").click()

    # the flows: those needing WooCommerce wait for it, the Mollie flow can be chosen
    expect(page.get_by_role("heading", name="Which flows do you want?")).to_be_visible(timeout=30_000)
    invoices = page.get_by_role("checkbox", name=re.compile("^Orders → sales invoices"))
    expect(invoices).to_be_disabled()
    expect(page.get_by_text("Connect WooCommerce first.").first).to_be_visible()
    page.get_by_role("checkbox", name=re.compile("^Mollie settlements → bank")).check()
    shot(page, "wizard-mollie-flows")
    page.get_by_role("button", name="Next").click()

    # the question, then the test run on the sandbox's settlements
    expect(page.get_by_role("heading", name="A few questions")).to_be_visible()
    page.get_by_label(re.compile("^From which payout date on")).fill("2020-01-01")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Test run on a few real orders")).to_be_visible()
    result = page.locator(".test-run").first
    expect(result.locator(".badge").first).to_have_text(re.compile("succeeded|partial"), timeout=60_000)
    expect(result).to_contain_text("records read")
    expect(result.locator(".test-record").first).to_be_visible()
    shot(page, "wizard-mollie-test-run")
    (name, active, _trigger, document), *others = _flow_state(live_server)
    assert not others and name == "Mollie settlements → bank" and not active
    configs = {n["id"]: n["config"] for n in document["nodes"]}
    assert configs["settlements"]["connection"] == "wizard-mollie"
    assert configs["settlements"]["settled_from"] == "2020-01-01"
    assert {cfg["connection"] for key, cfg in configs.items() if key != "settlements"} == {"wizard-books"}
    assert not watch.errors and not watch.dialogs, (watch.errors, watch.dialogs)
