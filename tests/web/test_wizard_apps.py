"""The wizard's connection steps come from the connector registry and the templates: Mollie gets its own step that
can be skipped, and a connector registered in a test gets a step (and a button on the connections page) with nothing
in web/ changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine import store
from engine.db import Database
from nodes.base import NodeConfig
from tests.engine.fakes import FakeSource
from tests.web.conftest import Site
from tests.web.test_wizard import CLOSED, _connections, _flows, _form

MOLLIE = "mollie-settlements-to-bank"


def _steps(page: str) -> list[str]:
    nav = re.search(r'<ol class="wizard-steps".*?</ol>', page, re.S)
    assert nav, page[:500]
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li[^>]*>(.*?)</li>", nav.group(0), re.S)]


def _checkbox(page: str, template: str) -> str:
    found = re.search(rf'<input type="checkbox" id="t-{re.escape(template)}"[^>]*>', page)
    assert found, f"no choice for {template}"
    return found.group(0)


async def _save(site: Site, name: str, app: str, fields: dict[str, Any]) -> None:
    db = Database(site.database_url)
    try:
        await store.save_connection(db, name=name, app=app, fields=fields)
    finally:
        await db.dispose()


async def test_mollie_has_its_own_step_that_can_be_skipped_and_its_flow_waits_for_it(site: Site) -> None:
    await _connections(site)
    books = site.client.get("/wizard/asperion?woo=shop&asp=books")
    assert _steps(books.text) == ["WooCommerce", "Asperion", "Mollie", "Flows", "Questions", "Test run", "Activate"]
    step = site.client.get("/wizard/mollie?woo=shop&asp=books")
    assert step.status_code == 200 and "Connect your Mollie account" in step.text
    assert "API key" in step.text and 'aria-current="step">Mollie</li>' in step.text
    assert "Only some flows need Mollie: Mollie settlements → bank." in step.text
    skip = re.search(r'<a class="button" href="([^"]+)">Skip</a>', step.text)
    assert skip and skip.group(1).replace("&amp;", "&") == "/wizard/flows?woo=shop&asp=books"
    # skipped: the Mollie flow is shown but cannot be chosen, and says why
    flows = site.client.get(skip.group(1).replace("&amp;", "&"))
    assert "disabled" in _checkbox(flows.text, MOLLIE) and "Connect Mollie first." in flows.text
    assert _steps(flows.text)[:3] == ["WooCommerce", "Asperion", "Mollie (skipped)"]
    assert "disabled" not in _checkbox(flows.text, "orders-to-sales-invoices")
    refused = site.client.get(f"/wizard/questions?woo=shop&asp=books&t={MOLLIE}")
    assert "Choose at least one flow." in refused.text
    # a wrong key is refused in the step itself, the typed address stays
    typed = {"app": "mollie", "woo": "shop", "asp": "books", "name": "pay", "url": CLOSED, "api_key": "nope"}
    bad = site.client.post("/wizard/connection?go=next", data=typed, headers=site.htmx())
    assert "Please fix:" in bad.text and "must start with test_ or live_" in bad.text and CLOSED in bad.text
    # connected: the Mollie flow is offered, asked about and made with the chosen connections
    await _save(site, "pay", "mollie", {"url": CLOSED, "api_key": "test_abc"})
    state = "woo=shop&asp=books&mollie=pay"
    offered = site.client.get(f"/wizard/flows?{state}")
    assert "disabled" not in _checkbox(offered.text, MOLLIE) and "Connect Mollie first." not in offered.text
    asked = site.client.get(f"/wizard/questions?{state}&t={MOLLIE}")
    assert "From which payout date on?" in asked.text
    assert '<input type="hidden" name="mollie" value="pay">' in asked.text
    answers = [("woo", "shop"), ("asp", "books"), ("mollie", "pay"), ("t", MOLLIE)]
    made = site.client.post("/wizard/create", data=_form(answers), headers=site.htmx())
    target = made.headers.get("HX-Redirect", "")
    assert target.startswith("/wizard/test?") and "mollie=pay" in target, made.text[:500]
    (flow, document), *_ = (await _flows(site, parse_qs(urlsplit(target).query)["flow"])).values()
    assert flow.template == MOLLIE
    configs = {n["id"]: n["config"] for n in document["nodes"]}
    assert configs["settlements"]["connection"] == "pay"
    assert {c["connection"] for i, c in configs.items() if i != "settlements"} == {"books"}


def test_the_skip_and_the_reason_speak_dutch(site: Site) -> None:
    site.client.post("/lang", data={"lang": "nl", "next": "/wizard", "csrf_token": site.csrf})
    step = site.client.get("/wizard/mollie?woo=shop&asp=books")
    assert "Koppel je Mollie-account" in step.text and ">Overslaan</a>" in step.text
    assert "Alleen sommige flows hebben Mollie nodig: Mollie-uitbetalingen → bank." in step.text
    flows = site.client.get("/wizard/flows?woo=shop&asp=books")
    assert "Koppel eerst Mollie." in flows.text
    shop = site.client.get("/wizard")
    assert "7 van de 8 flows hebben WooCommerce nodig." in shop.text


# --- an application registered by a test ----------------------------------------------------------------------

FAKE_TEMPLATE = "zz-fake-to-nowhere"


@pytest.fixture
def fake_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A connector package ``zz_fake`` on the connectors' search path, a source node using it, and a template."""
    import engine.templates as templates
    import nodes.connectors
    import nodes.connectors.registry as registry
    import nodes.registry
    from nodes.connectors.base import ConnectionRef

    package = tmp_path / "zz_fake"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from nodes.connectors.mollie.connector import MollieConnector\n"
        "class FakeConnector(MollieConnector):\n"
        "    app = 'zz_fake'\n"
        "    label = 'Fakebooks'\n"
        "    position = 25\n"
        "    connect_title = ''\n"
        "    add_title = ''\n"
        "CONNECTOR = FakeConnector()\n"
    )
    monkeypatch.setattr(nodes.connectors, "__path__", [*nodes.connectors.__path__, str(tmp_path)])
    registry.connectors.cache_clear()

    class FakeAppConnection(ConnectionRef[Any]):
        app = "zz_fake"

    class FakeAppConfig(NodeConfig):
        connection: FakeAppConnection = FakeAppConnection.field("The fake application to read.")

    class FakeAppSource(FakeSource):
        type = "test.zz_fake_source"
        config_model = FakeAppConfig

    monkeypatch.setitem(nodes.registry._registry(), FakeAppSource.type, FakeAppSource)
    document = {
        "format": "koppel.flow/1",
        "name": "Fake to nowhere",
        "nodes": [{"id": "read", "type": FakeAppSource.type, "config": {"connection": "zz_fake"}}],
        "edges": [],
    }
    info = {"title": "Fake to nowhere", "description": "Reads the fake application.", "position": 999, "questions": []}
    listed, fetch = templates.list_templates, templates.get_template  # the real ones, around the fake
    monkeypatch.setitem(templates.TEMPLATE_INFO, FAKE_TEMPLATE, info)
    monkeypatch.setattr(templates, "list_templates", lambda: [*listed(), FAKE_TEMPLATE])
    monkeypatch.setattr(templates, "get_template", lambda name: {**document} if name == FAKE_TEMPLATE else fetch(name))
    try:
        yield
    finally:
        monkeypatch.undo()
        registry.connectors.cache_clear()


async def test_a_registered_connector_gets_its_own_step_with_nothing_in_web_changed(site: Site, fake_app: None) -> None:
    await _connections(site)
    step = site.client.get("/wizard/zz_fake?woo=shop&asp=books")
    assert step.status_code == 200
    assert _steps(step.text)[:4] == ["WooCommerce", "Asperion", "Fakebooks", "Mollie"]
    assert "<h2>Connect Fakebooks</h2>" in step.text and 'aria-current="step">Fakebooks</li>' in step.text
    assert 'for="w-api_key"' in step.text and 'name="app" value="zz_fake"' in step.text
    # the step's form saves and tests a connection of the fake application
    typed = {"app": "zz_fake", "woo": "shop", "asp": "books", "name": "fake", "url": CLOSED, "api_key": "test_x"}
    tried = site.client.post("/wizard/connection?go=next", data=typed, headers=site.htmx())
    assert "HX-Redirect" not in tried.headers and "Connection failed." in tried.text
    db = Database(site.database_url)
    try:
        assert (await store.get_connection(db, "fake")).app == "zz_fake"
    finally:
        await db.dispose()
    # it sits between Asperion and Mollie: skipping leads to Mollie, whose Back leads to it
    skip = re.search(r'<a class="button" href="([^"]+)">Skip</a>', step.text)
    assert skip and skip.group(1).startswith("/wizard/mollie?")
    mollie = site.client.get(skip.group(1).replace("&amp;", "&"))
    back = re.search(r'<a class="button" href="([^"]+)">Back</a>', mollie.text)
    assert back and back.group(1).startswith("/wizard/zz_fake?")
    flows = site.client.get("/wizard/flows?woo=shop&asp=books")
    assert "disabled" in _checkbox(flows.text, FAKE_TEMPLATE) and "Connect Fakebooks first." in flows.text
    chosen = site.client.get("/wizard/flows?woo=shop&asp=books&zz_fake=fake")
    assert "disabled" not in _checkbox(chosen.text, FAKE_TEMPLATE)
    # the connections page offers it too, with its own form
    page = site.client.get("/connections")
    assert '<a class="button" href="/connections/new?app=zz_fake">Add a Fakebooks connection</a>' in page.text
    assert "Add a Mollie account" in page.text and "Add an HTTP API connection" in page.text
    form = site.client.get("/connections/new?app=zz_fake")
    assert "New connection: Fakebooks" in form.text and 'for="f-api_key"' in form.text
