"""The order templates against the sandbox over real HTTP: what Asperion booked equals what WooCommerce sold.

Each test seeds a store, runs a template as ``koppel flow run`` does (``create_run`` + ``execute_run``) and compares
the simulators' state afterwards with an expectation computed from the WooCommerce data alone (``sandbox_runs``):
debtor kinds, lines, VAT codes, revenue accounts and totals to the cent. Running a template again books nothing twice.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import delete

from engine.db import Database
from engine.models import Cursor, IdempotencyEntry, TargetTrust
from engine.templates import get_template
from nodes.accounting import cents
from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D, fixture_orders, load
from tests.templates.sandbox_runs import (
    BOOKED_STATUSES,
    ESSENTIAL_CASES,
    booked_lines,
    by_description,
    cases,
    expected_debtor_kind,
    expected_lines,
    lines_of,
    run_template,
    tenant,
    totals,
    vat_number,
    woo_orders,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", [7, 11, 23], indirect=True)
async def test_orders_to_sales_invoices_books_every_order_to_the_cent(db: Database, store: SandboxURL) -> None:
    counts, problems = await run_template(db, "orders-to-sales-invoices", store)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    administration = tenant(store)
    invoices = by_description(administration.invoices.values())
    debtors = {d["customerNumber"]: d for d in administration.debtors.values()}
    orders = [o for o in woo_orders(store) if o["status"] in BOOKED_STATUSES]
    assert set().union(*(cases(o) for o in orders)) >= ESSENTIAL_CASES
    for order in orders:
        invoice = invoices[f"WooCommerce order {order['number']}"]
        lines = booked_lines(invoice)
        assert lines == expected_lines(order), order["number"]
        assert totals(lines) == (D(order["total"]) - D(order["total_tax"]), D(order["total_tax"])), order["number"]
        kind = expected_debtor_kind(order)
        debtor = debtors[invoice["debtorCustomerNumber"]]
        if kind is None:
            assert invoice["debtorCustomerNumber"] == "9999"
        else:
            assert debtor.get("debtorKindId") == kind, order["number"]
            assert debtor["emailAddress"] == order["billing"]["email"].strip().lower()
            if not order.get("customer_id"):  # a business guest: its own company debtor with the VAT number
                assert (debtor["name"], debtor["vatNumber"]) == (order["billing"]["company"], vat_number(order))
        for refund in order.get("refunds") or []:
            credit = invoices[f"WooCommerce refund {refund['id']} of order {order['number']}"]
            ex, vat = totals(booked_lines(credit))
            assert ex + vat == D(refund["total"]), (order["number"], refund["id"])
    refunds = sum(len(o.get("refunds") or []) for o in orders)
    assert len(invoices) == len(orders) + refunds

    # again, reading every order (not only what changed): the idempotency map skips them all
    everything = get_template("orders-to-sales-invoices")
    everything["nodes"][0]["config"]["incremental"] = False
    again, problems = await run_template(db, "orders-to-sales-invoices", store, document=everything)
    read = [o for o in woo_orders(store) if o["status"] in {*BOOKED_STATUSES, "refunded", "cancelled", "failed"}]
    assert again["failed"] == 0 and again["ok"] == 0, (again, problems)
    assert again["skipped"] == again["read"] == len(read), (again, sorted(o["id"] for o in read))
    assert len(administration.invoices) == len(orders) + refunds

    # and with the run history lost (a new Koppel database on the same administration): Asperion itself is asked
    async with db.session() as session, session.begin():
        await session.execute(delete(IdempotencyEntry))
        await session.execute(delete(Cursor))
        await session.execute(delete(TargetTrust))
    again, problems = await run_template(db, "orders-to-sales-invoices", store)
    assert again["failed"] == 0 and again["ok"] == 0, (again, problems)
    assert len(administration.invoices) == len(orders) + refunds


async def test_payments_settle_the_booked_invoices(db: Database, store: SandboxURL) -> None:
    counts, problems = await run_template(db, "orders-to-sales-invoices", store)
    assert counts["failed"] == 0, problems
    counts, problems = await run_template(db, "payments-to-financial-mutations", store)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    administration = tenant(store)
    entries = by_description(administration.journal_entries.values())
    invoices = by_description(administration.invoices.values())
    paid = [o for o in woo_orders(store) if o["status"] in BOOKED_STATUSES and o.get("date_paid")]
    assert paid
    for order in paid:
        description = f"Payment WooCommerce order {order['number']}"
        if order.get("transaction_id"):
            description += f" ({order['transaction_id']})"
        entry = entries[description]
        amounts = sorted(D(line["amount"]) for line in lines_of(entry))
        assert amounts == [-D(order["total"]), D(order["total"])]
        invoice = invoices[f"WooCommerce order {order['number']}"]
        assert any(line.get("salesInvoiceId") == invoice["id"] for line in lines_of(entry))
    again, _ = await run_template(db, "payments-to-financial-mutations", store)
    assert again["ok"] == 0
    assert len(administration.journal_entries) == len(entries)


async def test_orders_to_sales_orders(db: Database, store: SandboxURL) -> None:
    counts, problems = await run_template(db, "orders-to-sales-orders", store)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    sales_orders = by_description(tenant(store).sales_orders.values())
    refunded_items = 0
    for order in (o for o in woo_orders(store) if o["status"] in BOOKED_STATUSES):
        booked = sales_orders[f"WooCommerce order {order['number']}"]
        # Items refunded came back (WooCommerce restocks them): the sales order holds what the customer kept.
        refunds = [store.app.woo.refunds[r["id"]] for r in order.get("refunds") or []]
        back = [x for r in refunds for key in ("line_items", "shipping_lines", "fee_lines") for x in r[key]]
        refunded_items += len(back)
        net = D(order["total"]) - D(order["total_tax"]) + sum((D(x["total"]) for x in back), Decimal(0))
        assert sum((D(x["amount"]) for x in lines_of(booked)), Decimal(0)) == net, order["number"]
    assert refunded_items  # the store has orders with refunded items


async def test_coupons_as_separate_lines_book_the_same_totals(db: Database, store: SandboxURL) -> None:
    document = get_template("orders-to-sales-invoices")
    invoice_node = next(node for node in document["nodes"] if node["type"] == "map.order_to_invoice")
    invoice_node["config"]["coupons_as_lines"] = True
    counts, problems = await run_template(db, "orders-to-sales-invoices", store, document=document)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    invoices = by_description(tenant(store).invoices.values())
    with_coupons = [o for o in woo_orders(store) if o["status"] in BOOKED_STATUSES and o["coupon_lines"]]
    assert with_coupons
    for order in with_coupons:
        invoice = invoices[f"WooCommerce order {order['number']}"]
        lines = booked_lines(invoice)
        assert totals(lines) == (D(order["total"]) - D(order["total_tax"]), D(order["total_tax"])), order["number"]
        coupon_lines = [x for x in lines_of(invoice) if x["description"].startswith("Coupon ")]
        assert coupon_lines and all(D(x["amount"]) < 0 for x in coupon_lines)
        assert {x["description"] for x in coupon_lines} <= {f"Coupon {c['code']}" for c in order["coupon_lines"]}


async def test_needs_mapping_waits_then_a_filled_row_books_on_retry(db: Database, store: SandboxURL) -> None:
    document = get_template("orders-to-sales-invoices")
    invoice_node = next(node for node in document["nodes"] if node["type"] == "map.order_to_invoice")
    conditions = invoice_node["config"]["payment_conditions"]
    del conditions["*"]
    counts, problems = await run_template(db, "orders-to-sales-invoices", store, document=document)
    orders = [o for o in woo_orders(store) if o["status"] in BOOKED_STATUSES]
    unmapped = {o["payment_method"] for o in orders} - set(conditions)
    parked = [o for o in orders if o["payment_method"] in unmapped]
    assert unmapped and counts["failed"] == 0
    assert counts["waiting"] == len(parked), problems
    # the invoice waits for its row; a refund of such an order waits for the invoice
    assert all("has no payment condition yet" in line or "waiting for the sales invoice" in line for line in problems)
    booked_now = by_description(tenant(store).invoices.values())
    assert all(f"WooCommerce order {o['number']}" not in booked_now for o in parked)

    for method in unmapped:
        conditions[method] = "3"  # 30 dagen
    waiting_ids = sorted({line.split()[1].rstrip(":") for line in problems if ": waiting" in line})
    counts, problems = await run_template(
        db, "orders-to-sales-invoices", store, document=document, record_ids=waiting_ids
    )
    assert counts["waiting"] == 0 and counts["failed"] == 0, (counts, problems, waiting_ids)
    invoices = by_description(tenant(store).invoices.values())
    for order in parked:
        assert f"WooCommerce order {order['number']}" in invoices, (counts, waiting_ids, order["id"], problems)
        assert invoices[f"WooCommerce order {order['number']}"]["paymentConditionId"] == 3


async def test_dry_run_of_every_order_template_writes_nothing(db: Database, store: SandboxURL) -> None:
    for name in ("orders-to-sales-invoices", "orders-to-sales-orders", "customers-to-debtors", "products-to-articles"):
        counts, problems = await run_template(db, name, store, dry_run=True)
        assert counts["failed"] == 0 and counts["waiting"] == 0, (name, problems)
        assert counts["ok"] > 0, name
    administration = tenant(store)
    assert not administration.invoices and not administration.sales_orders
    assert [d["customerNumber"] for d in administration.debtors.values()] == ["9999"]


async def test_fixture_orders_imported_into_the_sandbox(db: Database) -> None:
    """The real-shaped fixture orders, stored verbatim in the sandbox store, booked by the template."""
    with running_sandbox() as store:
        fixtures = fixture_orders()
        orders = [fixtures[name] for name in ("synthetic-b2b-eu", "order-example-1", "webhook-order-created-1")]
        orders.append(fixtures["list-orders-page-723"])
        store.app.woo.import_payloads(orders, [], [])
        detailed = load("refund-synthetic-partial-eur")
        store.app.woo.refunds[5020] = {**store.app.woo.refunds[5020], **detailed}  # its lines, not only the amount

        document = get_template("orders-to-sales-invoices")
        invoice_node = next(node for node in document["nodes"] if node["id"] == "invoice")
        invoice_node["config"]["exchange_rates"] = {"USD:2017-01-01": "0.5"}  # the USD orders: never at face value
        next(node for node in document["nodes"] if node["id"] == "credit")["config"]["exchange_rates"] = {
            "USD:2017-01-01": "0.5"
        }
        counts, problems = await run_template(db, "orders-to-sales-invoices", store, document=document)
        assert counts["failed"] == 0, problems
        # 727: a US order taxed at 7.5 % waits for a vat_codes row "US:7.5" (outside the EU a rate takes the
        # domestic code of that rate, and NL has no 7.5 %)
        assert [line for line in problems if "waiting" in line] == [
            'invoice order:727: waiting no VAT code for country US at 7.5% (vat_codes row "US:7.5")'
        ]
        invoices = by_description(tenant(store).invoices.values())
        debtors = {d["customerNumber"]: d for d in tenant(store).debtors.values()}
        for order in orders:
            if order["id"] == 727:
                assert "WooCommerce order 727" not in invoices
                continue
            invoice = invoices[f"WooCommerce order {order['number']}"]
            rate = D("0.5") if order["currency"] == "USD" else D(1)
            expected = [
                (cents(a * rate), cents(v * rate), code, ledger) for a, v, code, ledger in expected_lines(order)
            ]
            assert booked_lines(invoice) == expected, order["number"]
            kind = expected_debtor_kind(order)
            assert debtors[invoice["debtorCustomerNumber"]].get("debtorKindId") == kind
        b2b = debtors[invoices["WooCommerce order 5012"]["debtorCustomerNumber"]]
        assert (b2b["name"], b2b["attentionTo"], b2b["vatNumber"]) == (
            "Müller & Söhne GmbH",
            "Jürgen Müller",
            "DE123456789",
        )

        credit = invoices["WooCommerce refund 5020 of order 5012"]
        assert booked_lines(credit) == [(D("-16.81"), D("-3.19"), "OSS-DE-19", 8100)]
        combined = invoices["WooCommerce refund 724, 726 of order 723"]  # two refunds new at the same time
        assert sum(totals(booked_lines(combined)), Decimal(0)) == D("-9.50")  # USD 19.00 at 0.5
        assert {line[2] for line in booked_lines(combined)} == {"EXP"}


async def test_an_invoiced_order_refunded_later_gets_its_credit_invoice(db: Database) -> None:
    with running_sandbox(orders=40, customers=10, products=10, seed=3) as store:
        counts, problems = await run_template(db, "orders-to-sales-invoices", store)
        assert counts["failed"] == 0 and counts["waiting"] == 0, problems
        # a booked, paid order without refunds, refunded in full afterwards (its status becomes "refunded")
        order = next(
            o for o in woo_orders(store)
            if o["status"] in BOOKED_STATUSES and not o.get("refunds") and o["payment_method"] != "cod"
        )  # fmt: skip
        async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
            answer = await http.post(
                f"{store}/woocommerce/wp-json/wc/v3/orders/{order['id']}/refunds",
                json={"amount": order["total"], "reason": "Retour", "api_refund": False},
            )
        assert answer.status_code == 201, answer.text
        assert store.app.woo.orders.get(order["id"])["status"] == "refunded"

        counts, problems = await run_template(db, "orders-to-sales-invoices", store)
        assert counts["failed"] == 0 and counts["waiting"] == 0, problems
        invoices = by_description(tenant(store).invoices.values())
        credit = invoices[f"WooCommerce refund {answer.json()['id']} of order {order['number']}"]
        assert sum(totals(booked_lines(credit)), Decimal(0)) == -D(order["total"])
        original = invoices[f"WooCommerce order {order['number']}"]
        assert {line[2] for line in booked_lines(credit)} <= {line[2] for line in booked_lines(original)}
        assert credit["debtorCustomerNumber"] == original["debtorCustomerNumber"]
