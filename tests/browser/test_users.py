"""The owner invites a colleague in the browser; the colleague joins through the link and works within their role."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, Watch, shot
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser

COLLEAGUE = ("colleague@example.nl", "colleague's own password")


def _csrf(page: Any) -> str:
    return str(json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"])


def test_owner_invites_an_editor_and_later_makes_them_a_viewer(
    live_server: LiveServer, watched_page: tuple[Any, Watch], browser: Any
) -> None:
    page, watch = watched_page
    first_run_and_login(page, live_server.url)
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_label("E-mail address").fill(COLLEAGUE[0])
    page.locator("#invite-role").select_option("editor")
    page.get_by_role("button", name="Invite", exact=True).click()
    link = page.locator("#invite-link")
    expect(link).to_contain_text("/invite/")
    invite_url = link.inner_text().strip()
    shot(page, "60-users-invite")

    colleague_context = browser.new_context(locale="en-GB")
    colleague = colleague_context.new_page()
    colleague.set_default_timeout(15_000)
    try:
        colleague.goto(invite_url)
        expect(colleague.get_by_text("You were invited as colleague@example.nl")).to_be_visible()
        colleague.get_by_label("Password", exact=True).fill(COLLEAGUE[1])
        colleague.get_by_label("Password again").fill(COLLEAGUE[1])
        colleague.get_by_role("button", name="Create account").click()
        expect(colleague.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(colleague.get_by_role("link", name="Users")).to_have_count(0)
        colleague.goto(live_server.url + "/users")
        expect(colleague.get_by_text("Only an owner may do this.")).to_be_visible()
        made = colleague.request.post(
            live_server.url + "/api/flows",
            data=json.dumps({"template": "orders-to-sales-invoices"}),
            headers={"X-CSRF-Token": _csrf(colleague), "Content-Type": "application/json"},
        )
        assert made.status == 201, made.text()

        # The owner makes the colleague a viewer: from the next request on, changes are refused.
        page.reload()
        row = page.locator("tr", has_text=COLLEAGUE[0])
        row.get_by_label("Role").select_option("viewer")
        row.get_by_role("button", name="Change role").click()
        expect(page.locator("tr", has_text=COLLEAGUE[0]).get_by_label("Role")).to_have_value("viewer")
        colleague.goto(live_server.url + "/")
        refused = colleague.request.post(
            live_server.url + "/api/flows",
            data=json.dumps({"template": "orders-to-sales-invoices"}),
            headers={"X-CSRF-Token": _csrf(colleague), "Content-Type": "application/json"},
        )
        assert refused.status == 403 and "Viewers may look" in refused.text()

        page.get_by_role("link", name="Audit trail").click()
        expect(page.locator("#audit")).to_contain_text("change role")
        expect(page.locator("#audit")).to_contain_text(COLLEAGUE[0])
        shot(page, "61-audit-trail")
    finally:
        colleague_context.close()
    assert not watch.errors and not watch.dialogs
