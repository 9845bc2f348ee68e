"""The setup wizard's pages: each step renders with labelled fields, answers land in the flows, activation works."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from engine import store
from engine.db import Database
from engine.models import Flow, Run
from tests.conftest import free_port
from tests.web.conftest import Site

CLOSED = f"http://127.0.0.1:{free_port()}"
"""A loopback address nobody listens on: the connection test fails at once."""


def _labelled(page: str) -> None:
    """Every visible input, select and textarea has a <label for=...>."""
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="(?:hidden|checkbox)")[^>]*\bid="([^"]+)"', page)
    assert ids, "no fields"
    for field_id in ids:
        assert f'for="{field_id}"' in page, f"field {field_id} has no label"


async def _connections(site: Site) -> None:
    db = Database(site.database_url)
    try:
        await store.save_connection(
            db, name="shop", app="woocommerce", fields={"url": CLOSED, "consumer_key": "ck_x", "consumer_secret": "s"}
        )
        await store.save_connection(
            db,
            name="books",
            app="asperion",
            fields={
                "url": CLOSED,
                "identity_url": CLOSED,
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
            },
        )
    finally:
        await db.dispose()


async def _flows(site: Site, ids: list[str]) -> dict[str, tuple[Flow, dict[str, Any]]]:
    db = Database(site.database_url)
    try:
        out = {}
        for flow_id in ids:
            flow = await store.get_flow(db, flow_id)
            out[str(flow.template)] = (flow, (await store.get_version(db, flow_id)).document)
        return out
    finally:
        await db.dispose()


async def _all_flows(site: Site) -> list[Flow]:
    db = Database(site.database_url)
    try:
        async with db.session() as session:
            return list((await session.execute(select(Flow))).scalars())
    finally:
        await db.dispose()


def _form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _config(document: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n["config"] for n in document["nodes"] if n["id"] == node_id)


def test_the_wizard_is_linked_and_step_one_asks_for_the_store(site: Site) -> None:
    dashboard = site.client.get("/")
    assert 'href="/wizard"' in dashboard.text and "Set up Koppel step by step" in dashboard.text
    page = site.client.get("/wizard")
    assert page.status_code == 200
    assert "Connect your WooCommerce store" in page.text
    for text in ("Store address", "Consumer key", "Consumer secret", "Test connection", "Next"):
        assert text in page.text
    assert 'aria-current="step"' in page.text
    _labelled(page.text)


def test_a_connection_that_fails_is_shown_and_nothing_is_lost(site: Site) -> None:
    form = {
        "app": "woocommerce",
        "name": "myshop",
        "url": CLOSED,
        "consumer_key": "ck_typed_by_hand",
        "consumer_secret": "cs_secret",
    }
    answer = site.client.post("/wizard/connection?go=next", data=form, headers=site.htmx())
    assert answer.status_code == 200 and "HX-Redirect" not in answer.headers
    assert "Connection failed." in answer.text
    assert 'value="ck_typed_by_hand"' in answer.text and CLOSED in answer.text
    assert "cs_secret" not in answer.text  # secrets are write-only
    stored_id = re.search(r'name="id" value="([^"]+)"', answer.text)
    assert stored_id, "the saved connection is kept so that a retry updates it"
    # a bad address is refused before saving, with the typed values still there
    bad = site.client.post(
        "/wizard/connection?go=test", data={**form, "url": "ftp://x", "id": stored_id.group(1)}, headers=site.htmx()
    )
    assert "Please fix:" in bad.text and "must start with https://" in bad.text
    assert 'value="ck_typed_by_hand"' in bad.text


async def test_steps_answers_land_in_the_flows_and_activation_switches_them_on(site: Site) -> None:
    await _connections(site)
    # step 1 with an existing connection, and step 2
    picked = site.client.get("/wizard?woo=shop")
    assert '<option value="shop" selected>' in picked.text
    step2 = site.client.get("/wizard/asperion?woo=shop")
    assert "Connect your Asperion administration" in step2.text and "Refresh token" in step2.text
    _labelled(step2.text)
    # step 3: the templates with their descriptions; nothing chosen is refused
    step3 = site.client.get("/wizard/flows?woo=shop&asp=books")
    assert "Orders → sales invoices" in step3.text and "guest orders go to my default debtor" in step3.text
    assert step3.text.count('type="checkbox"') == 8
    nothing = site.client.get("/wizard/questions?woo=shop&asp=books")
    assert "Choose at least one flow." in nothing.text
    both = site.client.get("/wizard/questions?woo=shop&asp=books&t=orders-to-sales-invoices&t=orders-to-sales-orders")
    assert "Choose sales invoices or sales orders for your orders, not both" in both.text
    assert both.text.count(" checked>") == 2  # the choice is kept
    # step 4: the questions, prefilled
    chosen = "t=orders-to-sales-invoices&t=products-to-articles&t=customers-to-debtors"
    step4 = site.client.get(f"/wizard/questions?woo=shop&asp=books&{chosen}")
    month_ago = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    assert "Which order statuses should be read?" in step4.text
    assert f'type="date" value="{month_ago}"' in step4.text  # the shop cannot be asked: 30 days back
    assert 'value="9999"' in step4.text
    assert "Which products: only published ones, or any status?" in step4.text
    assert "No questions: this flow works as it is." in step4.text
    _labelled(step4.text)
    fields = re.findall(r'id="q-orders-to-sales-invoices-(q\d+-([a-z_]+))"', step4.text)
    names = {field: f"orders-to-sales-invoices:{name}" for name, field in fields}
    product_field = re.search(r'name="(products-to-articles:q\d+-status)"', step4.text)
    assert product_field and {"statuses", "start_date", "guests_to_default", "default_debtor"} <= set(names)
    answers: list[tuple[str, str]] = [
        ("woo", "shop"),
        ("asp", "books"),
        ("t", "orders-to-sales-invoices"),
        ("t", "products-to-articles"),
        ("t", "customers-to-debtors"),
        (names["statuses"], "completed"),
        (names["statuses"], "refunded"),
        (names["start_date"], "not a date"),
        (names["default_debtor"], "1234"),
        (product_field.group(1), "any"),
    ]
    # a wrong answer is shown next to its question, the other answers stay
    wrong = site.client.post("/wizard/create", data=_form(answers), headers=site.htmx())
    assert wrong.status_code == 200 and "HX-Redirect" not in wrong.headers
    assert "Some answers are not valid" in wrong.text and 'class="field-error"' in wrong.text
    assert 'value="1234"' in wrong.text and 'value="not a date"' in wrong.text
    assert not await _all_flows(site)
    answers = [(k, "2026-01-01" if v == "not a date" else v) for k, v in answers]
    made = site.client.post("/wizard/create", data=_form(answers), headers=site.htmx())
    target = made.headers.get("HX-Redirect", "")
    assert target.startswith("/wizard/test?"), made.text[:500]
    flow_ids = parse_qs(urlsplit(target).query)["flow"]
    flows = await _flows(site, flow_ids)
    assert set(flows) == {"orders-to-sales-invoices", "products-to-articles", "customers-to-debtors"}
    invoice_flow, invoices = flows["orders-to-sales-invoices"]
    assert invoice_flow.name == "Orders → sales invoices" and not invoice_flow.active
    orders = _config(invoices, "orders")
    assert orders["statuses"] == ["completed", "refunded"] and orders["start_date"] == "2026-01-01"
    assert orders["connection"] == "shop"
    for debtor in ("debtor", "refund_debtor"):
        assert _config(invoices, debtor)["guests_to_default"] is False  # unticked
        assert _config(invoices, debtor)["default_debtor"] == "1234"
        assert _config(invoices, debtor)["connection"] == "books"
    assert _config(flows["products-to-articles"][1], "products")["status"] == "any"
    # step 5: a dry test run of each flow on its first 3 records, polled by the page
    db = Database(site.database_url)
    try:
        async with db.session() as session:
            runs = list((await session.execute(select(Run).where(Run.flow_id.in_(flow_ids)))).scalars())
    finally:
        await db.dispose()
    assert {r.flow_id for r in runs} == set(flow_ids)
    assert all(r.trigger == "test" and r.params.get("dry_run") and r.params.get("limit") == 3 for r in runs)
    step5 = site.client.get(target)
    assert step5.status_code == 200
    assert step5.text.count(">Test run</button>") == 3
    for run in runs:
        assert f'hx-get="/runs/{run.id}/test-result"' in step5.text
    next_link = re.search(r'href="(/wizard/activate\?[^"]+)"', step5.text)
    assert next_link
    # Back: the answers given are shown, and answering again changes the same flows (no second set)
    back = re.search(r'href="(/wizard/questions\?[^"]+)"', step5.text)
    assert back
    again = site.client.get(back.group(1).replace("&amp;", "&"))
    assert 'value="1234"' in again.text and 'type="date" value="2026-01-01"' in again.text
    batch = re.search(r'name="batch" value="([^"]+)"', again.text)
    assert batch and ("batch", batch.group(1)) not in answers
    changed = [(k, "5678" if v == "1234" else v) for k, v in answers] + [("batch", batch.group(1))]
    redone = site.client.post("/wizard/create", data=_form(changed), headers=site.htmx())
    assert parse_qs(urlsplit(redone.headers["HX-Redirect"]).query)["flow"] == flow_ids
    assert len(await _all_flows(site)) == 3
    _flow, invoices = (await _flows(site, flow_ids))["orders-to-sales-invoices"]
    assert _config(invoices, "debtor")["default_debtor"] == "5678"
    # step 6: schedule (every 15 minutes unless changed) and switch on
    step6 = site.client.get(next_link.group(1).replace("&amp;", "&"))
    assert step6.text.count('value="15"') == 3 and ">Activate</button>" in step6.text
    _labelled(step6.text)
    form = [("flow", fid) for fid in flow_ids] + [(f"every-{fid}", "15") for fid in flow_ids]
    refused = site.client.post(
        "/wizard/activate",
        data=_form([*form[:-1], (f"every-{flow_ids[-1]}", "0")]),
        headers=site.htmx(),
    )
    assert "Give a whole number of minutes, at least 1." in refused.text
    assert not any(f.active for f, _ in (await _flows(site, flow_ids)).values())
    form[-1] = (f"every-{flow_ids[-1]}", "60")
    done = site.client.post("/wizard/activate", data=_form(form), headers=site.htmx())
    assert done.headers["HX-Redirect"].startswith("/wizard/activate?")
    after = await _flows(site, flow_ids)
    for flow, _doc in after.values():
        assert flow.active
        expected = 3600 if flow.id == flow_ids[-1] else 900
        assert flow.trigger == {"type": "interval", "every_s": expected}
    final = site.client.get(done.headers["HX-Redirect"])
    assert "Your flows are active" in final.text and 'href="/"' in final.text and "Go to the dashboard" in final.text


def test_the_wizard_speaks_dutch(site: Site) -> None:
    site.client.post("/lang", data={"lang": "nl", "next": "/wizard", "csrf_token": site.csrf})
    page = site.client.get("/wizard")
    assert "Koppel instellen" in page.text and "Verbinding testen" in page.text and "Volgende" in page.text
    assert ">Instellen</a>" in page.text


async def test_answers_of_one_flow_never_leak_into_another(site: Site) -> None:
    await _connections(site)
    chosen = "t=orders-to-sales-invoices&t=payments-to-financial-mutations"
    step4 = site.client.get(f"/wizard/questions?woo=shop&asp=books&{chosen}")
    inputs = set(re.findall(r'name="([a-z-]+:q\d+-[a-z_]+)"', step4.text))
    statuses_inv = next(n for n in inputs if n.startswith("orders-to-sales-invoices:") and n.endswith("-statuses"))
    statuses_pay = next(
        n for n in inputs if n.startswith("payments-to-financial-mutations:") and n.endswith("-statuses")
    )
    assert statuses_inv != statuses_pay  # each flow asks its own question
    answers = [
        ("woo", "shop"),
        ("asp", "books"),
        ("t", "orders-to-sales-invoices"),
        ("t", "payments-to-financial-mutations"),
        (statuses_inv, "processing"),
        (statuses_inv, "completed"),
        (statuses_inv, "refunded"),
        (statuses_pay, "completed"),
    ]
    made = site.client.post("/wizard/create", data=_form(answers), headers=site.htmx())
    target = made.headers.get("HX-Redirect", "")
    assert target.startswith("/wizard/test?"), made.text[:500]
    flows = await _flows(site, parse_qs(urlsplit(target).query)["flow"])
    assert _config(flows["orders-to-sales-invoices"][1], "orders")["statuses"] == [
        "processing",
        "completed",
        "refunded",
    ]
    assert _config(flows["payments-to-financial-mutations"][1], "orders")["statuses"] == ["completed"]
