"""A 30-day soak: a seeded sandbox shop lives for 30 days (``POST /_sandbox/simulate``, one day at a time, 12 new
orders a day plus edits, cancellations, refunds, foreign currencies, business guests), and every template a shop
would have active runs once a day, as a daily schedule would start it. The shop books sales invoices in one
Asperion administration (1002) and sales orders in the other (1001, inTrade: stock moves there), as two shops would
each choose one. Afterwards the books are reconciled here, from the raw WooCommerce, Asperion and Mollie data read
over HTTP (not with Koppel's reconciliation), then every flow runs again on a new, empty Koppel database and must
book nothing, and the reconciliation page shows the period balanced, then an invoice deleted by hand.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine import store
from engine.db import Database, migrate_sync
from engine.models import LogEntry
from engine.service import create_run, execute_run
from engine.templates import get_template
from sandbox.asperion.salesorders import create_sales_order
from sandbox.control import connections as sandbox_connections
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.soak.shop import (
    BOOKED,
    CANCELLED,
    CLEARING_METHODS,
    ECHO_KEY,
    FEE_KEYS,
    ZERO,
    Asperion,
    Woo,
    books_by_order,
    eur,
    lines_of,
    meta,
    mollie_all,
    money,
    order_lines,
    rate_of,
    refund_lines,
)
from tests.web.conftest import Site

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DAYS, ORDERS_PER_DAY, SEED = 30, 12, 2026
INVOICES, SALES_ORDERS = 1002, 1001
"""The two administrations: sales invoices (inBalance) and sales orders (inTrade, where stock moves)."""


def flows() -> list[tuple[str, dict[str, Any], int]]:
    """(name, flow document, administration) of every template a shop has active, in the order of a day."""

    def named(template: str, suffix: str = "") -> dict[str, Any]:
        document = get_template(template)
        document["name"] = template + suffix
        return document

    invoices = named("orders-to-sales-invoices")
    for node in invoices["nodes"]:
        if node["type"] == "asperion.sales_invoice" and "corrections" in node["config"]:
            node["config"]["corrections"] = "automatic"  # the shop's setting: corrections need no click
    return [
        (name, document, INVOICES)
        for name, document in (
            ("products-to-articles", named("products-to-articles")),
            ("customers-to-debtors", named("customers-to-debtors")),
            ("orders-to-sales-invoices", invoices),
            ("payments-to-financial-mutations", named("payments-to-financial-mutations")),
            ("mollie-settlements-to-bank", named("mollie-settlements-to-bank")),
        )
    ] + [
        (name, document, SALES_ORDERS)
        for name, document in (
            ("products-to-articles (sales orders)", named("products-to-articles", " (sales orders)")),
            ("orders-to-sales-orders", named("orders-to-sales-orders")),
            ("asperion-orders-to-woocommerce", named("asperion-orders-to-woocommerce")),
            ("stock-to-woocommerce", named("stock-to-woocommerce")),
        )
    ]


def connections_for(base: str, tenant: int) -> dict[str, dict[str, Any]]:
    found = sandbox_connections(base)
    found["asperion"] = {**found["asperion"], "tenant_id": tenant}
    return found


async def run_all(db: Database, base: str, stats: Counter[str], problems: list[str]) -> None:
    for name, document, tenant in flows():
        run = await create_run(db, document=document, trigger="schedule", connections=connections_for(base, tenant))
        finished = await execute_run(db, run.id)
        assert finished is not None and finished.status in ("succeeded", "failed"), (name, finished)
        counts = finished.counts()
        stats[f"{name}: ok"] += counts["ok"]
        stats["runs"] += 1
        if counts["failed"]:
            async with db.session() as session:
                rows = await session.execute(
                    select(LogEntry).where(LogEntry.run_id == run.id, LogEntry.status == "failed")
                )
                problems += [f"{name} {row.node_id} {row.source_id}: {row.message}" for row in rows.scalars()]


def hand_made_sales_orders(shop: SandboxURL, count: int) -> list[int]:
    """Phone orders a person types into the sales-order administration: they belong in the shop."""
    assert shop.app.asperion is not None
    administration = shop.app.asperion.tenants[SALES_ORDERS]
    articles = [a for a in administration.articles.values() if a["code"] != "VERZEND"]
    body = {"debtorCustomerNumber": "9999", "date": "2026-11-30", "description": "Telefonische bestelling",
            "lines": {"_data": [{"articleId": articles[0]["id"], "quantity": 1}]}}  # fmt: skip
    return [
        create_sales_order(administration, shop.app.asperion.counters, body, validate_only=False)["id"]
        for _ in range(count)
    ]


def bookkeeper_token(shop: SandboxURL) -> str:
    """The bookkeeper's own script connects to Asperion (the identity host accepts the initial token again)."""
    assert shop.app.asperion is not None
    shop.app.asperion.tokens.reset()
    return Asperion.token(shop)


def document_counts(shop: SandboxURL) -> dict[str, int]:
    woo = Woo(shop)
    counts = {
        "woocommerce orders": woo.count("/orders", status="any"),
        "woocommerce customers": woo.count("/customers"),
    }
    token = bookkeeper_token(shop)
    for tenant in (INVOICES, SALES_ORDERS):
        asperion = Asperion(shop, tenant, token)
        paths = ["/debtors", "/articles"]
        paths += (
            ["/salesinvoiceswithlines", "/journalentrieswithlines"] if tenant == INVOICES else ["/salesorderwithlines"]
        )
        counts.update({f"{tenant}{path}": asperion.count(path) for path in paths})
    return counts


async def test_thirty_days_of_a_shop_stay_in_the_books(
    site: Site, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    stats: Counter[str] = Counter()
    problems: list[str] = []
    with running_sandbox(customers=40, products=20, seed=SEED) as shop:
        db = Database(site.database_url)
        started = time.monotonic()
        events: Counter[str] = Counter()
        first = last = ""
        for day in range(DAYS):
            day_of_trade = {"days": 1, "seed": SEED + day, "orders_per_day": ORDERS_PER_DAY}
            async with httpx.AsyncClient(timeout=60) as http:
                answer = await http.post(f"{shop}/_sandbox/simulate", json=day_of_trade)
            done = answer.json()
            assert done["status"] == "simulated", done
            events.update({k: v for k, v in done.items() if isinstance(v, int) and k != "days"})
            first, last = first or done["from"], done["to"]
            if day == DAYS - 1:
                phone = hand_made_sales_orders(shop, 2)
            await run_all(db, shop, stats, problems)
        soak_seconds = time.monotonic() - started
        assert not problems, problems[:20]

        figures = await reconcile_independently(shop, db)
        summary = (f"soak: {DAYS} days {first}..{last}, {ORDERS_PER_DAY} orders/day, {stats['runs']} runs in "
              f"{soak_seconds:.0f} s; shop events {dict(events)}; books {figures}")  # fmt: skip
        print("\n" + summary)
        record_property("soak", summary)  # the figures, also in a JUnit report

        # Koppel's own WooCommerce orders (the phone orders) came in once, and were not booked as shop revenue.
        came_back = [o for o in Woo(shop).orders() if meta(o).get(ECHO_KEY)]
        assert sorted(int(meta(o)[ECHO_KEY]) for o in came_back) == sorted(phone)

        # The same shop, the same administrations, a new and empty Koppel database: nothing new is booked.
        before = document_counts(shop)
        fresh_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        await asyncio.to_thread(migrate_sync, fresh_url)
        fresh = Database(fresh_url)
        assert shop.app.asperion is not None
        shop.app.asperion.tokens.reset()  # "Connect with Asperion" again on the new installation
        again: Counter[str] = Counter()
        await run_all(fresh, shop, again, problems)
        problems += await inbox_problems(fresh)
        await fresh.dispose()
        assert not problems, problems[:20]
        assert document_counts(shop) == before
        booked_again = {
            k: v for k, v in again.items() if v and "ok" in k and not k.startswith(("customers", "products"))
        }
        assert not booked_again, booked_again
        assert await reconcile_independently(shop, db) == figures

        await reconciliation_page(site, db, shop, first, last)
        await db.dispose()


async def reconcile_independently(shop: SandboxURL, db: Database) -> dict[str, Any]:
    """The books against the shop, from the raw data of the three applications."""
    woo = Woo(shop)
    token = bookkeeper_token(shop)
    books_app = Asperion(shop, INVOICES, token)
    orders_app = Asperion(shop, SALES_ORDERS, token)
    orders = woo.orders()
    invoices = books_app.all("/salesinvoiceswithlines")
    entries = books_app.all("/journalentrieswithlines")
    books = books_by_order(invoices, entries)
    shop_orders = [o for o in orders if not meta(o).get(ECHO_KEY)]
    echoes = [o for o in orders if meta(o).get(ECHO_KEY)]

    # No order Koppel created in the shop is read back as new input, in either administration.
    for order in echoes:
        assert str(order["number"]) not in books, f"order {order['number']} came from Asperion and was invoiced"
    sales_orders: dict[str, list[str]] = defaultdict(list)
    for so in orders_app.all("/salesorderwithlines"):
        if m := re.match(r"^WooCommerce order (\S+)$", str(so["description"])):
            sales_orders[m[1]].append(str(so["status"]))
    for order in echoes:
        assert str(order["number"]) not in sales_orders, f"order {order['number']} went back to Asperion"

    expected: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    booked: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    wrong: list[str] = []
    figures: Counter[str] = Counter()
    fees_expected = ZERO
    clearing_expected = ZERO
    for order in shop_orders:
        number, status = str(order["number"]), order["status"]
        mine = books.get(number)
        refunds = woo.refunds(order["id"]) if order.get("refunds") else []
        figures["orders"] += 1
        # The sales-order administration: a standing order has one sales order, delivered once completed (its
        # reservation ends); a cancelled or refunded one reserves no stock.
        standing = {"processing": ["open"], "completed": ["delivered"]}.get(status)
        held = sales_orders.get(number, [])
        if (standing and held != standing) or (not standing and "open" in held):
            wrong.append(f"order {number} ({status}) has sales orders {held or 'none'}")
        # Every order booked exactly once net of corrections: a processing or completed order once, a cancelled
        # one not at all (never booked, or booked and credited in full); a refunded one once if it was booked.
        count = mine.net_count if mine else 0
        if status in BOOKED:
            wanted = {1}
        elif status == "refunded":
            wanted = {0, 1}
        else:
            wanted = {0}
        if count not in wanted:
            wrong.append(f"order {number} ({status}) booked {count} times net")
        # Net and VAT per VAT code: what the shop sold minus what it refunded, in euros at the order's rate.
        shop_lines: list[tuple[str, Decimal, Decimal]] = []
        if status in BOOKED or (status == "refunded" and count):
            shop_lines = list(order_lines(order, order))
            for refund in refunds:
                shop_lines += list(refund_lines(order, refund))
        book_lines = [(x["vatCode"], money(x["amount"]), money(x["vatAmount"]))
                      for inv in (mine.invoices if mine else []) for x in lines_of(inv)]  # fmt: skip
        for code, net, vat in shop_lines:
            expected[code][0] += net
            expected[code][1] += vat
        for code, net, vat in book_lines:
            booked[code][0] += net
            booked[code][1] += vat
        shop_sum = (sum((x[1] for x in shop_lines), ZERO), sum((x[2] for x in shop_lines), ZERO))
        book_sum = (sum((x[1] for x in book_lines), ZERO), sum((x[2] for x in book_lines), ZERO))
        if shop_sum != book_sum:
            wrong.append(
                f"order {number} ({status}, {order['currency']}): shop {shop_sum} books {book_sum} — {trail(mine)}"
            )
        figures["corrections"] += sum(1 for i in (mine.invoices if mine else []) if "(correction" in i["description"]
                                      and "credit)" not in i["description"])  # fmt: skip
        figures["credits"] += sum(1 for i in (mine.invoices if mine else []) if money(i["amountInclVat"]) < 0)

        # Every payment matched: each invoice of a paid order (corrections, credits, refunds) is settled to zero;
        # an unpaid order has nothing settled.
        open_by_invoice = {int(i["id"]): money(i["amountInclVat"]) for i in (mine.invoices if mine else [])}
        for entry in mine.payments if mine else []:
            for x in lines_of(entry):
                if x.get("salesInvoiceId") and int(x["salesInvoiceId"]) in open_by_invoice:
                    open_by_invoice[int(x["salesInvoiceId"])] += money(x["amount"])
        left_open = {k: v for k, v in open_by_invoice.items() if v}
        paid = bool(order.get("date_paid"))
        method = str(order.get("payment_method") or "")
        figures["payments"] += sum(1 for e in (mine.payments if mine else []) if e["description"].startswith("Pay"))
        invoices_of_order = mine.invoices if mine else []
        if paid and count and left_open:
            wrong.append(f"order {number} ({status}): left open {left_open} — {trail(mine)}")
        if not paid and any(open_by_invoice[int(i["id"])] != money(i["amountInclVat"]) for i in invoices_of_order):
            wrong.append(f"order {number} ({status}) is not paid but has settled invoices — {trail(mine)}")

        # Provider fees and what the clearing account should hold for this order.
        if paid and (count or status == "refunded"):
            # The provider's fee is in the order's currency; a payment reversed in full takes its fee with it.
            rate = rate_of(order)
            fee = sum((eur(meta(order).get(k), rate) for k in FEE_KEYS), ZERO) if status not in CANCELLED else ZERO
            fees_expected += fee
            if method.startswith(CLEARING_METHODS):
                # In euros as booked: line by line at the order's rate (a refund paid back likewise).
                total = sum((net + vat for _, net, vat in order_lines(order, order)), ZERO)
                back = sum(
                    (net + vat for r in refunds if r.get("refunded_payment") for _, net, vat in refund_lines(order, r)),
                    ZERO,
                )
                clearing_expected += total - fee + back
        if paid and count and status in BOOKED:
            figures["paid orders"] += 1

    # Mollie's payouts take what they settled off the clearing account, and their costs go on payment costs.
    # Every payout is booked once, at its amount, on the bank account.
    mollie = sandbox_connections(shop)["mollie"]
    for settlement in mollie_all(shop, mollie["api_key"], "/settlements"):
        if settlement["status"] != "paidout":
            continue
        settled = ZERO
        for months in settlement["periods"].values():
            for period in months.values():
                settled += sum(
                    (money(r["amountGross"]["value"]) for r in period["revenue"] if r["method"] != "chargeback"), ZERO
                )
                fees_expected += sum((money(c["amountNet"]["value"]) for c in period["costs"]), ZERO)
        clearing_expected -= settled
        figures["mollie payouts"] += 1
        payout = [e for e in entries if str(e["description"]) == f"Mollie settlement {settlement['reference']}"]
        bank = sum(
            (money(x["amount"]) for e in payout for x in lines_of(e) if str(x["ledgerAccountId"]) == "1000"), ZERO
        )
        if len(payout) != 1:
            wrong.append(f"Mollie payout {settlement['reference']} is booked {len(payout)} times")
        elif bank != money(settlement["amount"]["value"]):
            paid_out = settlement["amount"]["value"]
            wrong.append(f"Mollie payout {settlement['reference']} is booked at {bank}, paid out {paid_out}")

    balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entry in entries:
        for line in lines_of(entry):
            balances[str(line["ledgerAccountId"])] += money(line["amount"])

    rates_booked = {k: tuple(v) for k, v in booked.items() if any(v)}
    rates_shop = {k: tuple(v) for k, v in expected.items() if any(v)}
    if rates_booked != rates_shop:
        wrong.append(f"per VAT code (net, VAT): books {rates_booked} shop {rates_shop}")
    if balances["4500"] != fees_expected:
        wrong.append(f"payment costs 4500: books {balances['4500']}, provider fees {fees_expected}")
    if balances["1100"] != clearing_expected:
        wrong.append(f"clearing account 1100: books {balances['1100']}, should hold {clearing_expected}")
    wrong += await inbox_problems(db)
    assert not wrong, f"{len(wrong)} differences:\n" + "\n".join(wrong[:40])
    figures["revenue ex VAT"] = sum((v[0] for v in booked.values()), ZERO)  # type: ignore[assignment]
    figures["fees"] = fees_expected  # type: ignore[assignment]
    return dict(figures)


def trail(mine: Any) -> str:
    """An order's documents in the books, to read in a failure."""
    if not mine:
        return "nothing booked"
    return "; ".join(
        [f"invoice {i['id']} {i['description']!r} {i['amountInclVat']}" for i in mine.invoices]
        + [f"entry {e['id']} {e['date']} {e['description']!r} " + ", ".join(
            f"{x['ledgerAccountId']}:{x['amount']}@{x.get('salesInvoiceId') or '-'}" for x in lines_of(e))
           for e in mine.payments]
    )  # fmt: skip


async def inbox_problems(db: Database) -> list[str]:
    """What the inbox holds besides records that lack a mapping."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(LogEntry).where(LogEntry.status.in_(("waiting", "failed")), LogEntry.resolved.is_(False))
            )
        ).scalars()
        left = [f"{row.node_id} {row.source_id}: {row.status} {row.message}" for row in rows
                if not (row.status == "waiting" and (row.detail or {}).get("missing"))]  # fmt: skip
    return [f"in the inbox: {x}" for x in left]


def differences(html: str) -> list[tuple[str, str]]:
    """(what, order number) of every difference the page lists."""
    return re.findall(r"<tr>\s*<td[^>]*>([^<]+)</td>\s*<td[^>]*><a href=\"[^\"]+\"[^>]*>Order (\S+)</a>", html)


def readable(html: str) -> str:
    """The result section of the page as text, to read in a failure."""
    result = html[html.find('<section id="reconcile-result"') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", result))[:4000]


async def reconciliation_page(site: Site, db: Database, shop: SandboxURL, first: str, last: str) -> None:
    """The page on the soak's period: balanced; then an invoice deleted by hand shows its order, linked to its
    record."""
    for name, spec in connections_for(shop, INVOICES).items():
        await store.save_connection(
            db, name=name, app=spec["app"], fields={k: v for k, v in spec.items() if k != "app"}
        )
    query = f"woocommerce=woocommerce&asperion=asperion&date_from={first}&date_to={last}"
    assert shop.app.asperion is not None
    shop.app.asperion.tokens.reset()  # the stored connection is connected once ("Connect with Asperion")
    page = site.client.get(f"/reconcile?{query}")
    assert page.status_code == 200
    assert 'class="recon-status balanced"' in page.text, readable(page.text)

    assert shop.app.asperion is not None
    invoices = shop.app.asperion.tenants[INVOICES].invoices
    victim = next(i for i in invoices.values() if re.fullmatch(r"WooCommerce order (\d+)", str(i["description"])))
    number = str(victim["description"]).removeprefix("WooCommerce order ")
    order_id = next(o["id"] for o in Woo(shop).orders() if str(o["number"]) == number)
    del invoices[victim["id"]]  # what a bookkeeper deleting it by hand in Asperion leaves

    page = site.client.get(f"/reconcile?{query}")
    assert 'class="recon-status differences"' in page.text
    assert differences(page.text) == [("Order not booked", number)]
    row = re.search(r"<td[^>]*>Order not booked</td>\s*<td[^>]*><a href=\"([^\"]+)\"[^>]*>Order (\S+)</a>", page.text)
    assert row and row.groups() == (f"/reconcile/orders/{order_id}", number), readable(page.text)
    link = site.client.get(row.group(1), follow_redirects=False)
    assert link.status_code == 303 and link.headers["location"].startswith("/logs/")
    record = site.client.get(link.headers["location"])
    assert record.status_code == 200 and f"Record {number}" in record.text
