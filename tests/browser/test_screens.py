"""Every screen at 1366 px and 390 px, in English and Dutch: no sideways scrolling and no serious or critical
axe-core finding (axe-core comes from npm, node_modules/, and is only ever loaded by this test). A screenshot of each
page is saved in tests/artifacts/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, Watch, shot
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, str]:
    """A flow from a template with a finished run holding an ok, a failed and a waiting record."""
    from engine import store
    from engine.templates import get_template
    from tests.web.test_pages import _seed_run

    async def go(db: Any) -> str:
        document = {**get_template("orders-to-sales-invoices"), "name": "Orders to invoices"}
        flow = await store.create_flow(db, document, note="created from template")
        return str(flow.id)

    flow_id = str(live_server.db_call(go))
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        run_id, log_id = pool.submit(asyncio.run, _seed_run(live_server.database_url, flow_id)).result(timeout=60)
    return {"flow": flow_id, "run": run_id, "log": str(log_id)}


def pages(seeded: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("dashboard", "/"),
        ("templates", "/templates"),
        ("template-use", "/templates/orders-to-sales-invoices/use"),
        ("connections", "/connections"),
        ("connection-new", "/connections/new?app=asperion"),
        ("runs", "/runs"),
        ("run", f"/runs/{seeded['run']}"),
        ("inbox", "/inbox"),
        ("wizard", "/wizard"),
        ("tokens", "/account/tokens"),
        ("editor", f"/flows/{seeded['flow']}"),
        ("flow-runs", f"/flows/{seeded['flow']}/runs"),
    ]


def check(page: Any, name: str) -> list[str]:
    """What is wrong with the page as shown: sideways scrolling, serious/critical axe findings."""
    wrong = []
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        wide = page.evaluate(
            """() => Array.from(document.querySelectorAll('body *'))
                 .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
                 .slice(0, 4).map((e) => e.tagName + '.' + e.className)"""
        )
        wrong.append(f"{name}: {width[0]} px wide at {width[1]} px ({', '.join(wide)})")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.id + ': ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '));
        }"""
    )
    wrong += [f"{name}: {v}" for v in found]
    return wrong


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "en"), (1366, "nl"), (390, "nl")])
def test_every_screen_fits_and_passes_axe(
    live_server: LiveServer, watched_page: tuple[Any, Watch], seeded: dict[str, str], width: int, lang: str
) -> None:
    assert AXE.exists(), "npm ci installs axe-core"
    page, watch = watched_page
    page.set_viewport_size({"width": width, "height": 900})
    first_run_and_login(page, live_server.url)
    page.get_by_label(re.compile(r"^(Language|Taal)$")).select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    wrong: list[str] = []
    for name, path in pages(seeded):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        shot(page, f"screen-{name}-{width}-{lang}")
        wrong += check(page, name)
    # the record drawer and the login page
    page.goto(f"{live_server.url}/runs/{seeded['run']}")
    page.locator(".log-row").first.get_by_role("button", name=re.compile("^Details")).click()
    expect(page.locator("#drawer.open")).to_be_visible()
    shot(page, f"screen-drawer-{width}-{lang}")
    wrong += check(page, "drawer")
    page.keyboard.press("Escape")
    expect(page.locator("#drawer.open")).to_have_count(0)
    page.get_by_role("button", name="Log out" if lang == "en" else "Uitloggen").click()
    expect(page.get_by_label("E-mail address" if lang == "en" else "E-mailadres")).to_be_visible()
    shot(page, f"screen-login-{width}-{lang}")
    wrong += check(page, "login")
    assert not wrong, json.dumps(wrong, indent=1)
    assert not watch.errors, watch.errors
