"""Pages as a user meets them: login, the pages, forms from node schemas, saving, runs, the inbox, languages."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from engine.db import Database
from engine.models import LogEntry, Run
from tests.web.conftest import ADMIN, Site, login

EVIL = "<script>alert('x')</script>"


def test_first_visit_asks_for_the_admin_then_login_is_required(app_client: TestClient[Any]) -> None:
    first = app_client.get("/", follow_redirects=True)
    assert "Create the administrator account" in first.text
    assert 'for="email"' in first.text and 'for="password2"' in first.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', first.text)
    assert token
    created = app_client.post(
        "/setup",
        data={"email": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1], "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert "httponly" in created.headers.get("set-cookie", "").lower()
    assert "samesite=lax" in created.headers.get("set-cookie", "").lower()
    # a second admin cannot be made
    assert app_client.get("/setup", follow_redirects=False).headers["location"] == "/login"
    app_client.cookies.clear()
    assert app_client.get("/runs", follow_redirects=False).headers["location"] == "/login"
    wrong = login(app_client, password="nope nope nope")
    assert wrong.status_code == 400 and "Wrong e-mail address or password" in wrong.text
    assert login(app_client).status_code == 303
    assert "Dashboard" in app_client.get("/").text


def test_unsafe_requests_need_the_csrf_token(site: Site) -> None:
    refused = site.client.post("/flows/new", headers={"HX-Request": "true"})
    assert refused.status_code == 403
    made = site.client.post("/flows/new", headers=site.htmx())
    assert made.headers["HX-Redirect"].startswith("/flows/")


def test_logout(site: Site) -> None:
    answer = site.client.post("/logout", headers=site.htmx())
    assert answer.headers["HX-Redirect"] == "/login"
    assert site.client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "path", ["/", "/connections", "/connections/new?app=asperion", "/templates", "/runs", "/inbox"]
)
def test_pages_render_with_labelled_fields(site: Site, path: str) -> None:
    page = site.client.get(path)
    assert page.status_code == 200, page.text[:500]
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page.text))
    assert ids <= labelled, ids - labelled


def test_connection_secrets_are_write_only(site: Site) -> None:
    fields = {
        "app": "woocommerce",
        "name": "shop",
        "url": "http://127.0.0.1:9/woocommerce",
        "consumer_key": "ck_visible",
        "consumer_secret": "cs_very_secret",
    }
    saved = site.client.post("/connections/save", data=fields, headers=site.htmx())
    target = saved.headers["HX-Redirect"]
    page = site.client.get(target)
    assert "ck_visible" in page.text
    assert "cs_very_secret" not in page.text
    assert "stored — leave empty to keep it" in page.text
    # saving again with an empty secret keeps it; the test gives a clear answer (nothing listens on port 9)
    connection_id = target.split("/")[2].split("?")[0]
    site.client.post(
        "/connections/save", data={**fields, "id": connection_id, "consumer_secret": ""}, headers=site.htmx()
    )
    answer = site.client.post(f"/connections/{connection_id}/test", headers=site.htmx())
    assert "Connection failed." in answer.text
    assert "cs_very_secret" not in answer.text


def test_invalid_connection_says_what_to_fix(site: Site) -> None:
    answer = site.client.post(
        "/connections/save", data={"app": "asperion", "name": "", "url": "not a url"}, headers=site.htmx()
    )
    assert "Please fix:" in answer.text
    assert answer.headers.get("HX-Retarget") == "#main-form"


def _create_from_template(site: Site, name: str = "My invoices") -> str:
    answer = site.client.post(
        "/templates/orders-to-sales-invoices/use",
        data={"flow_name": name, "conn_woocommerce": "woocommerce", "conn_asperion": "asperion"},
        headers=site.htmx(),
    )
    return str(answer.headers["HX-Redirect"]).split("/")[-1]


def test_template_gallery_and_use(site: Site) -> None:
    gallery = site.client.get("/templates")
    assert "Use this template" in gallery.text and "Orders → sales invoices" in gallery.text
    form = site.client.get("/templates/orders-to-sales-invoices/use")
    assert "Which connection for WooCommerce" in form.text and "Which connection for Asperion" in form.text
    flow_id = _create_from_template(site)
    editor = site.client.get(f"/flows/{flow_id}")
    assert editor.status_code == 200
    assert 'id="drawflow"' in editor.text and "My invoices" in editor.text
    for label in ("Save", "Test run", "Run now", "Fit", "Settings", "Versions"):
        assert f">{label}<" in editor.text, label


def test_every_node_type_gets_a_form(site: Site) -> None:
    from nodes.registry import all_node_types

    for node_type in all_node_types():
        form = site.client.post(
            "/ui/node-form",
            data={"type": node_type, "node_id": "n1", "flow_id": "x", "config": "{}", "problems": "[]"},
            headers=site.htmx(),
        )
        assert form.status_code == 200, (node_type, form.text[:300])
        assert 'id="node-config"' in form.text
        ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', form.text))
        labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', form.text))
        assert ids <= labelled, (node_type, ids - labelled)


def test_filter_form_shows_conditions_and_problems(site: Site) -> None:
    config = {"conditions": {"any": [{"field": "billing.country", "op": "in", "value": ["NL", "BE"]}, {"all": []}]}}
    problems = [{"node": "f", "field": "conditions.any[0].value", "message": "a value is needed"}]
    form = site.client.post(
        "/ui/node-form",
        data={
            "type": "filter",
            "node_id": "f",
            "flow_id": "x",
            "config": json.dumps(config),
            "problems": json.dumps(problems),
        },
        headers=site.htmx(),
    )
    assert 'value="billing.country"' in form.text
    assert 'value="NL, BE"' in form.text
    assert '<option value="any" selected>' in form.text
    assert "Add rule" in form.text and "Add group" in form.text and "Remove group" in form.text
    assert "a value is needed" in form.text


def test_invoice_form_has_live_selects_and_tables(site: Site) -> None:
    form = site.client.post(
        "/ui/node-form",
        data={
            "type": "map.order_to_invoice",
            "node_id": "invoice",
            "flow_id": "x",
            "config": json.dumps({"vat_codes": {"DE:19": "OSS-DE-19"}}),
            "problems": "[]",
        },
        headers=site.htmx(),
    )
    assert "kind=asperion.journals" in form.text  # select filled live from the connection
    assert 'class="kv-key" value="DE:19"' in form.text and "Add row" in form.text
    assert 'data-label="Not mapped yet:"' in form.text


def test_save_makes_a_version_and_reports_problems_per_node(site: Site) -> None:
    flow_id = _create_from_template(site)
    found = re.search(r'data-document="([^"]+)"', site.client.get(f"/flows/{flow_id}").text)
    assert found
    document = json.loads(html.unescape(found.group(1)))
    document["nodes"].append({"id": "lonely", "type": "filter", "config": {}, "position": [0, 0]})
    answer = site.client.post(
        f"/flows/{flow_id}/save", data={"document": json.dumps(document), "note": "added a filter"}, headers=site.htmx()
    )
    assert "Saved as version" in answer.text and " 2." in answer.text
    assert "lonely" in answer.text  # the unconnected filter is named
    problems = json.loads(answer.headers["HX-Trigger"])["koppel:problems"]["problems"]
    assert any(p["node"] == "lonely" for p in problems)
    versions = site.client.get(f"/flows/{flow_id}").text
    assert "added a filter" in versions and ADMIN[0] in versions
    restored = site.client.post(f"/flows/{flow_id}/versions/1/restore", headers=site.htmx())
    assert restored.headers["HX-Redirect"] == f"/flows/{flow_id}?restored=1"
    assert "restored version 1" in site.client.get(f"/flows/{flow_id}").text


async def seed_log(database_url: str, flow_id: str, rows: list[dict[str, Any]], **run: Any) -> tuple[str, list[int]]:
    """A finished run of ``flow_id`` with log entries (``rows``: the entries' own columns); its id and theirs."""
    db = Database(database_url)
    try:
        created = Run(flow_id=flow_id, trigger="manual", **run)
        async with db.session() as session, session.begin():
            session.add(created)
            await session.flush()
            entries = [LogEntry(run_id=created.id, flow_id=flow_id, **row) for row in rows]
            session.add_all(entries)
            await session.flush()
        return created.id, [entry.id for entry in entries]
    finally:
        await db.dispose()


async def _seed_run(database_url: str, flow_id: str) -> tuple[str, int]:
    rows = [
        {
            "node_id": "book",
            "record_key": "1001",
            "source_id": "order:1",
            "status": "ok",
            "message": "delivered as 7",
            "detail": {
                "input": {"id": 1},
                "request": {"lines": [{"description": "Tea", "amount": 10.0, "vatAmount": 2.1, "vatCode": "H21"}]},
                "response": {"id": 7},
            },
        },
        {
            "node_id": "book",
            "record_key": EVIL,
            "source_id": "order:2",
            "status": "failed",
            "message": EVIL,
            "detail": {"input": {"note": EVIL}, "error": {"message": EVIL}},
        },
        {
            "node_id": "invoice",
            "record_key": "1003",
            "source_id": "order:3",
            "status": "waiting",
            "message": "needs mapping",
            "detail": {"missing": {"table": "payment_conditions", "key": "klarna"}},
        },
    ]
    counts = {"read_count": 3, "ok_count": 1, "failed_count": 1, "waiting_count": 1, "expected_count": 3}
    run_id, ids = await seed_log(
        database_url, flow_id, rows, document={"nodes": [{"id": "book"}]}, status="partial", **counts
    )
    return run_id, ids[1]


async def test_run_page_drawer_inbox_and_lists(site: Site) -> None:
    flow_id = _create_from_template(site)
    run_id, failed_id = await _seed_run(site.database_url, flow_id)
    page = site.client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "sse-connect" not in page.text  # finished: no live stream
    assert EVIL not in page.text and "&lt;script&gt;" in page.text
    failed = site.client.get(f"/runs/{run_id}/rows?status=failed")
    assert failed.text.count('class="log-row ') == 1
    found = site.client.get(f"/runs/{run_id}/rows?q=1003")
    assert "1003" in found.text and "1001" not in found.text
    drawer = site.client.get(f"/logs/{failed_id}")
    assert "What came in" in drawer.text and "Error" in drawer.text
    assert EVIL not in drawer.text and "&lt;script&gt;" in drawer.text
    stream = site.client.get(f"/runs/{run_id}/stream")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "event: close" in stream.text
    inbox = site.client.get("/inbox")
    assert "payment_conditions" in inbox.text and "klarna" in inbox.text
    runs = site.client.get("/runs")
    assert "Retry failed records" in runs.text and "Run again" in runs.text
    assert site.client.get(f"/flows/{flow_id}/runs").status_code == 200
    dashboard = site.client.get("/")
    assert "row-failing" in dashboard.text and "needs attention" in dashboard.text


def test_invoice_summary_adds_lines_vat_and_totals() -> None:
    from decimal import Decimal

    from web.ui.runs import invoice_summary

    summary = invoice_summary(
        {
            "lines": [
                {"amount": 10.0, "vatAmount": 2.1, "vatCode": "H21"},
                {"amount": 5.0, "vatAmount": 0.45, "vatCode": "L9"},
            ]
        }
    )
    assert summary is not None
    assert summary["ex_vat"] == Decimal("15.0") and summary["vat"] == Decimal("2.55")
    assert summary["incl_vat"] == Decimal("17.55")
    assert summary["per_code"] == {"H21": Decimal("2.1"), "L9": Decimal("0.45")}
    assert invoice_summary({"status": "completed"}) is None


def test_dutch_is_stored_on_the_user_with_local_numbers(site: Site) -> None:
    token = site.csrf
    site.client.post("/lang", data={"lang": "nl", "next": "/connections", "csrf_token": token})
    page = site.client.get("/connections")
    assert ("Verbindingen" in page.text and "Verbinding testen" not in page.text) or "Verbindingen" in page.text
    site.client.post("/logout", headers=site.htmx())
    login(site.client)
    assert "Sjablonen" in site.client.get("/").text  # remembered on the user
    from web.i18n import fmt_number

    assert fmt_number(1234.5, "nl") == "1.234,5" and fmt_number(1234.5, "en") == "1,234.5"


def test_every_template_string_has_a_dutch_translation() -> None:
    from pathlib import Path

    from web.i18n import catalogue

    dutch = catalogue("nl")
    missing = []
    for path in (Path(__file__).resolve().parents[2] / "web" / "templates").rglob("*.html"):
        for match in re.finditer(r"""_\(\s*(['"])((?:(?!\1).)*)\1""", path.read_text()):
            if match.group(2) not in dutch:
                missing.append((path.name, match.group(2)))
    assert not missing, missing


def test_personal_api_token_is_shown_once_and_works(site: Site) -> None:
    made = site.client.post("/account/tokens", data={"name": "backup script"}, headers=site.htmx())
    found = re.search(r'<pre id="new-token">(kp_[^<]+)</pre>', made.text)
    assert found, made.text[:500]
    token = found.group(1)
    listed = site.client.get("/account/tokens")
    assert "backup script" in listed.text and token not in listed.text
    site.client.cookies.clear()  # no session: only the token speaks
    assert site.client.get("/api/flows").status_code == 401
    assert site.client.get("/api/flows", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert site.client.get("/api/flows", headers={"Authorization": "Bearer kp_wrong"}).status_code == 401


async def test_use_template_offers_the_connection_that_passed_its_test(site: Site) -> None:
    from datetime import UTC, datetime

    from engine import store
    from engine.models import Connection

    db = Database(site.database_url)
    try:
        fields = {"url": "http://127.0.0.1:9/asperion", "identity_url": "http://127.0.0.1:9/asperion"}
        secrets = {"client_id": "c", "client_secret": "s", "refresh_token": "r"}
        await store.save_connection(db, name="asperion", app="asperion", fields={**fields, **secrets})
        books = await store.save_connection(db, name="books", app="asperion", fields={**fields, **secrets})
        async with db.session() as session, session.begin():
            row = await session.get(Connection, books.id)
            assert row is not None
            row.last_test_ok, row.last_test_at = True, datetime.now(UTC)
    finally:
        await db.dispose()
    form = site.client.get("/templates/orders-to-sales-invoices/use").text
    assert re.search(r'<option value="books" selected>books ✓</option>', form), form


async def test_a_record_changed_after_booking_offers_book_the_correction(site: Site) -> None:
    flow_id = _create_from_template(site)
    db = Database(site.database_url)
    try:
        run = Run(flow_id=flow_id, document={"nodes": [{"id": "book"}]}, status="partial", trigger="manual")
        async with db.session() as session, session.begin():
            session.add(run)
            await session.flush()
            waiting = LogEntry(
                run_id=run.id, flow_id=flow_id, node_id="book", record_key="1234", source_id="order:1234",
                status="waiting", message="changed after booking: sales invoice 202600001 is final",
                detail={"changed_after_booking": {"booked": {"incl_vat": "31.16"}, "now": {"incl_vat": "43.26"}},
                        "action": "book_correction"},
            )  # fmt: skip
            other = LogEntry(
                run_id=run.id, flow_id=flow_id, node_id="book", record_key="1235", source_id="order:1235",
                status="waiting", message="needs mapping", detail={"missing": {"table": "vat_codes", "key": "DE:0"}},
            )  # fmt: skip
            session.add_all([waiting, other])
        inbox = site.client.get("/inbox")
        assert inbox.text.count("Book the correction") == 1
        assert f'hx-post="/logs/{waiting.id}/book-correction"' in inbox.text
        refused = site.client.post(f"/logs/{other.id}/book-correction", headers=site.htmx())
        assert "not waiting for a correction" in refused.text
        started = site.client.post(f"/logs/{waiting.id}/book-correction", headers=site.htmx())
        assert started.status_code in (200, 303), started.text
        async with db.session() as session:
            runs = list((await session.execute(select(Run).where(Run.id != run.id, Run.flow_id == flow_id))).scalars())
        assert [(r.params["record_ids"], r.params["book_corrections"]) for r in runs] == [
            (["order:1234"], ["order:1234"])
        ]
    finally:
        await db.dispose()
