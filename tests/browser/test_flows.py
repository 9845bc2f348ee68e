"""Managing flows from the UI: rename, duplicate, export, import and delete (runs kept or removed, asked)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, LiveServer, Watch, shot
from tests.browser.test_canvas import FLOW, make_flow
from tests.browser.test_journey import first_run_and_login

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "Settings": "Settings",
        "Name": "Name",
        "Rename": "Rename",
        "Duplicate flow": "Duplicate flow",
        "Export as JSON": "Export as JSON",
        "Keep": "Keep its runs and their logs",
        "Remove": "Remove its runs and their logs too",
        "Delete flow": "Delete flow",
        "Import summary": "Import a flow from a JSON file",
        "Flow file": "Flow file (JSON)",
        "Import": "Import",
    },
    "nl": {
        "Settings": "Instellingen",
        "Name": "Naam",
        "Rename": "Hernoemen",
        "Duplicate flow": "Flow dupliceren",
        "Export as JSON": "Exporteren als JSON",
        "Keep": "De runs en hun logs bewaren",
        "Remove": "De runs en hun logs ook verwijderen",
        "Delete flow": "Flow verwijderen",
        "Import summary": "Een flow importeren uit een JSON-bestand",
        "Flow file": "Flowbestand (JSON)",
        "Import": "Importeren",
    },
}


def flows_named(live_server: LiveServer) -> list[str]:
    from sqlalchemy import select

    from engine.models import Flow

    async def go(db: Any) -> list[str]:
        async with db.session() as session:
            return [str(n) for n in (await session.execute(select(Flow.name))).scalars()]

    return list(live_server.db_call(go))


@pytest.mark.parametrize(("width", "lang"), [(1366, "en"), (390, "nl")])
def test_rename_duplicate_export_import_delete(
    live_server: LiveServer, watched_page: tuple[Any, Watch], width: int, lang: str
) -> None:
    page, watch = watched_page
    words = WORDS[lang]
    page.set_viewport_size({"width": width, "height": 900})
    first_run_and_login(page, live_server.url)
    page.get_by_label(re.compile(r"^(Language|Taal)$")).select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    flow_id = make_flow(live_server, {**FLOW, "name": f"Manage me {lang}"})
    page.goto(f"{live_server.url}/flows/{flow_id}")
    page.get_by_role("link", name=words["Settings"], exact=True).click()

    # rename
    page.get_by_label(words["Name"], exact=True).fill(f"Coffee orders {lang}")
    page.get_by_role("button", name=words["Rename"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Coffee orders {lang}")

    # export: the file is the flow document
    page.get_by_role("link", name=words["Settings"], exact=True).click()
    with page.expect_download() as info:
        page.get_by_role("link", name=words["Export as JSON"]).click()
    exported = ARTIFACTS / f"exported-{lang}.json"
    info.value.save_as(exported)
    document = json.loads(exported.read_text())
    assert document["name"] == f"Coffee orders {lang}" and len(document["nodes"]) == 5

    # duplicate: a new flow opens, named as a copy
    page.get_by_role("button", name=words["Duplicate flow"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Coffee orders {lang} (copy)")
    assert f"/flows/{flow_id}" not in page.url

    # import the exported file from the dashboard
    page.goto(live_server.url + "/")
    page.get_by_text(words["Import summary"]).click()
    page.get_by_label(words["Flow file"]).set_input_files(str(exported))
    page.get_by_role("button", name=words["Import"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Coffee orders {lang}")
    expect(page.locator("#drawflow .drawflow-node")).to_have_count(5)
    assert flows_named(live_server).count(f"Coffee orders {lang}") == 2

    # delete asks what happens to the runs
    page.goto(f"{live_server.url}/flows/{flow_id}")
    page.get_by_role("link", name=words["Settings"], exact=True).click()
    page.get_by_label(words["Keep"]).check()
    shot(page, f"flow-manage-{width}-{lang}")
    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the settings tab scrolls sideways by {wide} px"
    page.get_by_role("button", name=words["Delete flow"]).click()  # the confirm() is accepted by the fixture
    page.wait_for_url(re.compile(r"/\?deleted=1$"))
    assert flows_named(live_server).count(f"Coffee orders {lang}") == 1
    assert not watch.errors, watch.errors
