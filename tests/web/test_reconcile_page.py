"""The reconciliation page on a booked sandbox shop: balanced, then a deleted invoice shows its order with a link to
its record, the CSV names it, Dutch reads Dutch, and a bad period is refused in words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine import store
from engine.db import Database
from engine.service import create_run, execute_run
from engine.templates import get_template
from tests.templates.sandbox_runs import connections, tenant, woo_orders
from tests.templates.test_reconcile_sandbox import fx_shop, simulate
from tests.web.conftest import Site

__all__ = ("fx_shop",)

pytestmark = pytest.mark.slow


async def book(site: Site, shop: str) -> None:
    """Stored connections to the sandbox, and the invoice and payment templates run on them."""
    db = Database(site.database_url)
    try:
        for name, spec in connections(shop).items():
            fields = {k: v for k, v in spec.items() if k != "app"}
            await store.save_connection(db, name=name, app=spec["app"], fields=fields)
        for template in ("orders-to-sales-invoices", "payments-to-financial-mutations"):
            run = await create_run(db, document=get_template(template), trigger="test")
            finished = await execute_run(db, run.id)
            assert finished is not None and finished.failed_count == 0 and finished.waiting_count == 0
    finally:
        await db.dispose()


def query(first: str, last: str) -> str:
    return f"woocommerce=woocommerce&asperion=asperion&date_from={first}&date_to={last}"


async def test_the_page_shows_balance_then_the_order_whose_invoice_was_deleted(site: Site, shop: Any) -> None:
    first, last = simulate(shop)
    await book(site, shop)

    page = site.client.get(f"/reconcile?{query(first, last)}")
    assert page.status_code == 200
    assert 'class="recon-status balanced"' in page.text and "No differences" in page.text
    assert '<svg class="recon-chart"' in page.text and 'role="img"' in page.text
    assert '<a href="/reconcile" aria-current="page">Reconciliation</a>' in page.text

    administration = tenant(shop)
    victim = next(i for i in administration.invoices.values() if str(i["description"]).startswith("WooCommerce order"))
    number = str(victim["description"]).removeprefix("WooCommerce order ")
    order_id = next(o["id"] for o in woo_orders(shop) if str(o["number"]) == number)
    del administration.invoices[victim["id"]]

    fragment = site.client.get(f"/reconcile?{query(first, last)}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="reconcile-result"')
    assert 'class="recon-status differences"' in fragment.text
    row = re.search(r"<tr>\s*<td[^>]*>Order not booked</td>\s*<td[^>]*><a href=\"([^\"]+)\"[^>]*>Order (\S+)</a>",
                    fragment.text)  # fmt: skip
    assert row and row.groups() == (f"/reconcile/orders/{order_id}", number), fragment.text[-3000:]

    link = site.client.get(row.group(1), follow_redirects=False)
    assert link.status_code == 303 and link.headers["location"].startswith("/logs/")
    record = site.client.get(link.headers["location"])
    # opened by its address: a page of its own, titled by the order's number, its readable table showing the id
    assert record.status_code == 200 and f"Record {number}" in record.text, record.text[:500]
    assert re.search(rf"<th[^>]*>\s*Id\s*</th>\s*<td[^>]*>\s*{order_id}\s*</td>", record.text), record.text[:3000]
    assert record.text.lstrip().startswith("<!doctype html>") and "Back to the run" in record.text
    # clicked on the page: the link loads the record into the page's drawer (htmx follows the 303 itself)
    assert f'hx-get="/reconcile/orders/{order_id}" hx-target="#drawer"' in fragment.text
    in_drawer = site.client.get(row.group(1), headers={"HX-Request": "true"})
    assert in_drawer.status_code == 200 and "HX-Redirect" not in in_drawer.headers
    assert in_drawer.text.lstrip().startswith('<div class="drawer-inner" role="dialog"')
    assert f"Record {number}" in in_drawer.text and "close-drawer" in in_drawer.text

    exported = site.client.get(f"/reconcile.csv?{query(first, last)}")
    assert exported.headers["content-type"].startswith("text/csv")
    assert f"difference,not_booked,,{number},{order_id}," in exported.text
    assert exported.text.startswith("section,kind,rate,order_number,order_id,shop,books")

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    site.client.post("/lang", data={"lang": "nl", "next": "/reconcile", "csrf_token": csrf.group(1)})
    dutch = site.client.get(f"/reconcile?{query(first, last)}")
    assert "Aansluiting" in dutch.text and "Bestelling niet geboekt" in dutch.text


def test_the_page_refuses_a_bad_period_and_an_unknown_order(site: Site) -> None:
    backwards = site.client.get("/reconcile?date_from=2026-12-02&date_to=2026-12-01")
    assert backwards.status_code == 400 and "The period ends before it starts." in backwards.text
    in_place = site.client.get("/reconcile?date_from=2026-12-02&date_to=2026-12-01", headers={"HX-Request": "true"})
    assert in_place.status_code == 200 and 'role="alert">The period ends before it starts.' in in_place.text
    nonsense = site.client.get("/reconcile.csv?date_from=yesterday&date_to=2026-12-01")
    assert nonsense.status_code == 400 and "Pick a first and a last day." in nonsense.text
    unknown = site.client.get("/reconcile/orders/424242")
    assert unknown.status_code == 404 and "No run has read WooCommerce order 424242 yet." in unknown.text
    empty = site.client.get("/reconcile")
    assert empty.status_code == 200 and "Add a WooCommerce and an Asperion connection first." in empty.text
