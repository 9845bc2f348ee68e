"""``mollie-settlements-to-bank``: a month of sandbox settlements booked, and the clearing account reconciled."""

from __future__ import annotations

import calendar
import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from engine.db import Database
from engine.service import create_run, execute_run
from engine.templates import get_template
from nodes.base import RecordFailed
from nodes.maps.mollie_settlement_to_mutation import SettlementBookingSettings, build_settlement_entry
from sandbox.credentials import MOLLIE_API_KEY, WOO_RW_KEY, WOO_RW_SECRET
from sandbox.woocommerce.life import LifeRates, simulate
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D
from tests.templates.sandbox_runs import BOOKED_STATUSES, connections, lines_of, run_template, tenant

CLEARING, BANK, DEBTORS, COSTS, INPUT_VAT = 1100, 1000, 1300, 4500, 1520


@pytest.fixture(name="shop")
def fx_shop() -> Iterator[SandboxURL]:
    with running_sandbox(orders=300, customers=60, products=15, seed=7) as url:
        yield url


def _with_mollie(base: str) -> dict[str, Any]:
    return {**connections(base), "mollie": {"app": "mollie", "url": f"{base}/mollie", "api_key": MOLLIE_API_KEY}}


def _months(shop: SandboxURL) -> dict[str, dict[str, list[str]]]:
    """Per month of payout: the payments, refunds and chargebacks its paid-out settlements settled."""
    book = shop.app.mounted["mollie"].book
    months: dict[str, dict[str, list[str]]] = {}
    for settlement in book.settlements.values():
        if settlement["status"] == "paidout":
            month = months.setdefault(settlement["settledAt"][:7], {"payments": [], "refunds": [], "chargebacks": []})
            for kind, ids in book.members[settlement["id"]].items():
                month[kind].extend(ids)
    return months


def _orders(shop: SandboxURL) -> dict[int, dict[str, Any]]:
    return {o["id"]: o for oid in shop.app.woo.orders.ids() if (o := shop.app.woo.orders.get(oid))}


def _balance(shop: SandboxURL, account: int) -> Decimal:
    return sum(
        (
            D(line["amount"])
            for entry in tenant(shop).journal_entries.values()
            for line in lines_of(entry)
            if line["ledgerAccountId"] == account
        ),
        Decimal(0),
    )


async def _book_month(db: Database, shop: SandboxURL, month: str) -> dict[str, Decimal]:
    """Book the invoices and payments of the orders Mollie settled in ``month``, then the month's settlements.

    Returns what was settled (payments, refunds, chargebacks, from Mollie's own lists, to the cent), the payments
    of orders the payments template does not read (``unbooked``) and what that template put on the clearing account.
    """
    book = shop.app.mounted["mollie"].book
    members = _months(shop)[month]
    settlements = [s for s in book.settlements.values() if s["status"] == "paidout" and s["settledAt"][:7] == month]
    orders = _orders(shop)
    paid_orders = [book.payments[pid]["metadata"]["order_id"] for pid in members["payments"]]
    assert all(orders[oid]["transaction_id"] in members["payments"] for oid in paid_orders)

    # The shop's side first: invoices and payments of the orders Mollie settled this month (booked on 1100).
    ids = [f"order:{oid}" for oid in paid_orders]
    counts, problems = await run_template(db, "orders-to-sales-invoices", shop, record_ids=ids)
    assert counts["failed"] == 0, problems
    counts, problems = await run_template(db, "payments-to-financial-mutations", shop, record_ids=ids)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    booked_payments = _balance(shop, CLEARING)

    # Mollie's side: the month of settlements, one bank-journal entry each.
    last_day = calendar.monthrange(int(month[:4]), int(month[5:]))[1]
    window = {"modified_after": f"{month}-01T00:00:00", "modified_before": f"{month}-{last_day}T23:59:59"}
    document = get_template("mollie-settlements-to-bank")
    run = await create_run(db, document=document, trigger="test", params=window, connections=_with_mollie(shop))
    finished = await execute_run(db, run.id)
    assert finished is not None and finished.counts()["ok"] == len(settlements), finished.counts()
    entries = {e["description"]: e for e in tenant(shop).journal_entries.values()}
    for settlement in settlements:
        entry = entries[f"Mollie settlement {settlement['reference']}"]
        lines = lines_of(entry)
        assert sum((D(line["amount"]) for line in lines), Decimal(0)) == 0
        assert entry["date"][:10] == settlement["settledAt"][:10] and entry["journalId"] == "10"
        assert D(next(x["amount"] for x in lines if x["ledgerAccountId"] == BANK)) == D(settlement["amount"]["value"])
        costs = [x for x in lines if x["ledgerAccountId"] == COSTS]
        vat = [x for x in lines if x["ledgerAccountId"] == INPUT_VAT]
        charged = any(p["costs"] for months in settlement["periods"].values() for p in months.values())
        assert len(costs) == len(vat) == (1 if charged else 0), lines
        for cost, tax in zip(costs, vat, strict=True):
            assert cost["vatCode"] == "VH21" and D(cost["vatAmount"]) == D(tax["amount"])
            assert D(tax["amount"]) == (D(cost["amount"]) * 21 / 100).quantize(D("0.01"))
    assert _balance(shop, BANK) == sum((D(s["amount"]["value"]) for s in settlements), Decimal(0))
    again = await execute_run(db, (await create_run(db, document=document, trigger="test", params=window,
                                                    connections=_with_mollie(shop))).id)  # fmt: skip
    assert again is not None and again.counts()["ok"] == 0 and again.counts()["skipped"] == len(settlements)

    # Every euro Mollie settled, to the cent, from Mollie's own lists (not from the periods the map read).
    result = {kind: sum((abs(D(getattr(book, kind)[i]["settlementAmount"]["value"])) for i in ids_), Decimal(0))
              for kind, ids_ in members.items()}  # fmt: skip
    result["unbooked"] = sum(
        (
            D(book.payments[pid]["settlementAmount"]["value"])
            for pid in members["payments"]
            if orders[book.payments[pid]["metadata"]["order_id"]]["status"] not in BOOKED_STATUSES
        ),
        Decimal(0),
    )
    result["booked_payments"] = booked_payments
    assert booked_payments == result["payments"] - result["unbooked"] > 0
    return result


def _mollie_orders(shop: SandboxURL) -> list[dict[str, Any]]:
    return [
        o for o in _orders(shop).values()
        if str(o["payment_method"]).startswith("mollie_wc_gateway_") and o.get("date_paid")
    ]  # fmt: skip


async def _book_shop(db: Database, shop: SandboxURL) -> None:
    """What the shop's own flows book, as they would on their schedule: invoices (credits, cancellations), then
    payments (refunds paid back, reversals), of the orders paid through Mollie (other providers have other clearing
    accounts and no Mollie settlement)."""
    ids = [f"order:{o['id']}" for o in _mollie_orders(shop)]
    for name in ("orders-to-sales-invoices", "payments-to-financial-mutations"):
        counts, problems = await run_template(db, name, shop, record_ids=ids)
        assert counts["failed"] == 0 and counts["waiting"] == 0, (name, problems)


async def _pay_back_cancelled(shop: SandboxURL) -> int:
    """The shop pays back, through Mollie, what it still holds of every cancelled order (as a shop must)."""
    count = 0
    for order in _mollie_orders(shop):
        left = D(order["total"]) - sum((-D(r["total"]) for r in order.get("refunds") or []), Decimal(0))
        if order["status"] == "cancelled" and left > 0:
            refund = {"amount": format(left, "f"), "reason": "Geannuleerd", "api_refund": True}
            async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
                answer = await http.post(f"{shop}/woocommerce/wp-json/wc/v3/orders/{order['id']}/refunds", json=refund)
            assert answer.status_code == 201, answer.text
            count += 1
    return count


def _close_every_week(shop: SandboxURL) -> None:
    """One more Mollie payment, 16 days after everything else: every earlier week's settlement is paid out."""
    woo = shop.app.woo
    newest = max(o["date_modified_gmt"] for o in _orders(shop).values())
    refunds = [r for o in _orders(shop).values() for ref in o.get("refunds") or [] if (r := woo.refunds.get(ref["id"]))]
    newest = max([newest, *(r["date_created_gmt"] for r in refunds)])
    when = (datetime.fromisoformat(newest) + timedelta(days=16)).strftime("%Y-%m-%dT%H:%M:%S")
    marker = copy.deepcopy(_mollie_orders(shop)[0])
    marker.update(id=99_999, number="99999", transaction_id="tr_closesweeks1", refunds=[], status="processing")
    for key in ("date_paid", "date_created", "date_modified"):
        marker[key] = marker[f"{key}_gmt"] = when
    woo.import_payloads([marker], [], [])


async def test_a_lived_month_with_refunds_and_chargebacks_brings_the_clearing_account_to_zero(db: Database) -> None:
    """Four weeks of a living shop (orders, payments, partial and full refunds through Mollie, cancellations), the
    shop's flows run every week, then every settlement Mollie paid out: the clearing account ends at 0.00."""
    with running_sandbox(orders=0, customers=20, products=15, seed=7) as shop:
        for week in range(4):
            simulate(
                shop.app.woo,
                days=7,
                seed=11 + week,
                orders_per_day=12,
                rates=LifeRates(edits=0, foreign=0, refunds=0.25),  # corrections and currencies: tested elsewhere
                now=datetime(2026, 11, 8, tzinfo=UTC) + timedelta(days=7 * week),
            )
            await _book_shop(db, shop)
        assert await _pay_back_cancelled(shop) > 0
        await _book_shop(db, shop)
        _close_every_week(shop)
        assert _balance(shop, CLEARING) > 0  # the payments the flows booked, less the refunds paid back

        run = await create_run(
            db, document=get_template("mollie-settlements-to-bank"), trigger="test", connections=_with_mollie(shop)
        )
        finished = await execute_run(db, run.id)
        assert finished is not None and finished.counts()["failed"] == 0, finished.counts()
        book = shop.app.mounted["mollie"].book
        paid_out = [s for s in book.settlements.values() if s["status"] == "paidout"]
        assert finished.counts()["ok"] == len(paid_out) >= 4
        settled = {
            kind: [i for s in paid_out for i in book.members[s["id"]][kind]] for kind in ("refunds", "chargebacks")
        }
        payment_of = {r: book.refunds[r]["paymentId"] for r in settled["refunds"]}
        partial = [
            r
            for r, p in payment_of.items()
            if D(book.refunds[r]["amount"]["value"]) < D(book.payments[p]["amount"]["value"])
        ]
        assert partial and len(partial) < len(settled["refunds"]) and settled["chargebacks"]  # every kind of movement

        assert _balance(shop, CLEARING) == Decimal("0.00")
        assert _balance(shop, BANK) == sum((D(s["amount"]["value"]) for s in paid_out), Decimal(0))


async def test_a_month_of_settlements_brings_the_clearing_account_to_zero(db: Database, shop: SandboxURL) -> None:
    months = _months(shop)
    orders = _orders(shop)
    book = shop.app.mounted["mollie"].book

    def clean(month: str) -> bool:  # no refunds, and every paid order one the payments template books
        payments = months[month]["payments"]
        statuses = {orders[book.payments[p]["metadata"]["order_id"]]["status"] for p in payments}
        return bool(payments) and not months[month]["refunds"] and statuses <= BOOKED_STATUSES

    month = max((m for m in months if clean(m)), key=lambda m: (bool(months[m]["chargebacks"]), m))
    settled = await _book_month(db, shop, month)
    assert settled["booked_payments"] > 0
    assert _balance(shop, CLEARING) == Decimal("0.00")
    assert _balance(shop, DEBTORS) == -settled["booked_payments"] + settled["chargebacks"]


def _settlement(**changes: Any) -> dict[str, Any]:
    def amount(value: str) -> dict[str, str]:
        return {"currency": "EUR", "value": value}

    settlement: dict[str, Any] = {
        "id": "stl_test",
        "reference": "1234567.2606.01",
        "settledAt": "2026-06-09T06:00:00+00:00",
        "amount": amount("86.80"),
        "periods": {
            "2026": {
                "06": {
                    "revenue": [
                        {"method": "ideal", "count": 2, "amountGross": amount("100.00")},
                        {"method": "refund", "count": 1, "amountGross": amount("-10.00")},
                        {"method": "chargeback", "count": 1, "amountGross": amount("-2.50")},
                    ],
                    "costs": [
                        {
                            "method": "ideal",
                            "count": 2,
                            "amountNet": amount("0.58"),
                            "amountVat": amount("0.12"),
                            "amountGross": amount("0.70"),
                        },
                    ],
                }
            }
        },
    }
    settlement.update(changes)
    return settlement


def test_the_entry_moves_each_part_to_its_account() -> None:
    entry = build_settlement_entry(_settlement(), SettlementBookingSettings())
    by_account = [(x["ledgerAccountId"], D(x["amount"])) for x in entry["lines"]]
    assert by_account == [
        (BANK, D("86.80")),
        (CLEARING, D("-100.00")),
        (CLEARING, D("10.00")),
        (DEBTORS, D("2.50")),
        (COSTS, D("0.58")),
        (INPUT_VAT, D("0.12")),
    ]
    assert entry["description"] == "Mollie settlement 1234567.2606.01" and entry["date"] == "2026-06-09"


def test_a_settlement_that_does_not_add_up_or_differs_from_its_payments_is_not_booked() -> None:
    with pytest.raises(RecordFailed, match=r"does not add up: 86\.81 paid out.*= 86\.80"):
        build_settlement_entry(_settlement(amount={"currency": "EUR", "value": "86.81"}), SettlementBookingSettings())
    settled = {"payments": {"total": "99.99"}, "refunds": {"total": "10.00"}, "chargebacks": {"total": "2.50"}}
    with pytest.raises(RecordFailed, match=r"payments: 99\.99 settled, 100\.00 in its periods"):
        build_settlement_entry(_settlement(settled=settled), SettlementBookingSettings())
    with pytest.raises(RecordFailed, match="in GBP"):
        build_settlement_entry(_settlement(amount={"currency": "GBP", "value": "86.80"}), SettlementBookingSettings())


async def test_an_order_edited_after_its_payout_changes_no_settlement_and_its_difference_stays_on_clearing(
    db: Database,
) -> None:
    """A Mollie payment keeps the amount it was paid for: an order edited upward after its settlement was paid out
    changes neither the payment nor the settlement, the settlements flow books nothing again, and what the order's
    payment grew by (booked by the payments flow onto the correction) is all the clearing account holds."""
    with running_sandbox(orders=0, customers=20, products=15, seed=7) as shop:
        rates = LifeRates(edits=0, cancellations=0, refunds=0, foreign=0)
        simulate(shop.app.woo, days=14, seed=3, orders_per_day=8, rates=rates, now=datetime(2026, 11, 8, tzinfo=UTC))
        await _book_shop(db, shop)
        _close_every_week(shop)
        document = get_template("mollie-settlements-to-bank")
        run = await create_run(db, document=document, trigger="test", connections=_with_mollie(shop))
        finished = await execute_run(db, run.id)
        assert finished is not None and finished.counts()["failed"] == 0, finished.counts()
        assert _balance(shop, CLEARING) == Decimal("0.00")
        book = shop.app.mounted["mollie"].book
        paid_out = {s["id"]: copy.deepcopy(s) for s in book.settlements.values() if s["status"] == "paidout"}
        bank = _balance(shop, BANK)
        assert bank == sum((D(s["amount"]["value"]) for s in paid_out.values()), Decimal(0)) > 0

        settled = {pid for s in paid_out for pid in book.members[s]["payments"]}
        order = next(
            o for o in _mollie_orders(shop)
            if o["transaction_id"] in settled and o["status"] in BOOKED_STATUSES and o["line_items"]
        )  # fmt: skip
        item = order["line_items"][0]
        async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
            answer = await http.put(
                f"{shop}/woocommerce/wp-json/wc/v3/orders/{order['id']}",
                json={"line_items": [{"id": item["id"], "quantity": item["quantity"] + 1}]},
            )
        assert answer.status_code == 200, answer.text
        grown = D(answer.json()["total"]) - D(order["total"])
        assert grown > 0

        book = shop.app.mounted["mollie"].book
        assert D(book.payments[order["transaction_id"]]["amount"]["value"]) == D(order["total"])
        assert {k: s for k, s in book.settlements.items() if k in paid_out} == paid_out

        source_id = f"order:{order['id']}"
        counts, problems = await run_template(
            db, "orders-to-sales-invoices", shop, record_ids=[source_id], book_corrections=[source_id]
        )
        assert counts["ok"] == 1 and counts["failed"] == 0, problems
        counts, problems = await run_template(db, "payments-to-financial-mutations", shop, record_ids=[source_id])
        assert counts["ok"] == 1 and counts["failed"] == 0 and counts["waiting"] == 0, problems
        again = await execute_run(
            db, (await create_run(db, document=document, trigger="test", connections=_with_mollie(shop))).id
        )
        assert again is not None and again.counts()["ok"] == 0 and again.counts()["failed"] == 0, again.counts()
        assert _balance(shop, BANK) == bank
        assert _balance(shop, CLEARING) == grown  # paid on top of the Mollie payment: not settled by Mollie
