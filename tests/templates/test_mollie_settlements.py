"""``mollie-settlements-to-bank``: a month of sandbox settlements booked, and the clearing account reconciled."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from engine.db import Database
from engine.service import create_run, execute_run
from engine.templates import get_template
from nodes.base import RecordFailed
from nodes.maps.mollie_settlement_to_mutation import SettlementBookingSettings, build_settlement_entry
from sandbox.credentials import MOLLIE_API_KEY
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D
from tests.templates.sandbox_runs import BOOKED_STATUSES, connections, lines_of, run_template, tenant

CLEARING, BANK, DEBTORS, COSTS, INPUT_VAT = 1100, 1000, 1300, 4500, 1520


@pytest.fixture(name="shop", scope="module")
def fx_shop() -> Iterator[SandboxURL]:
    with running_sandbox(orders=300, customers=60, products=15, seed=7) as url:
        yield url


def _with_mollie(base: str) -> dict[str, Any]:
    return {**connections(base), "mollie": {"app": "mollie", "url": f"{base}/mollie", "api_key": MOLLIE_API_KEY}}


def _busiest_month(shop: SandboxURL) -> str:
    """The month whose paid-out settlements hold the most refunds and chargebacks (both, when a month has both)."""
    book = shop.app.mollie.book
    score: Counter[str] = Counter()
    kinds: dict[str, set[str]] = {}
    for settlement in book.settlements.values():
        if settlement["status"] != "paidout":
            continue
        month = settlement["settledAt"][:7]
        members = book.members[settlement["id"]]
        score[month] += len(members["refunds"]) + len(members["chargebacks"])
        kinds.setdefault(month, set()).update(k for k in ("refunds", "chargebacks") if members[k])
    return max(score, key=lambda m: (len(kinds[m]), score[m]))


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


async def test_a_month_of_settlements_books_one_balanced_entry_each_and_reconciles_the_clearing_account(
    db: Database, shop: SandboxURL
) -> None:
    book = shop.app.mollie.book
    month = _busiest_month(shop)
    settlements = [s for s in book.settlements.values() if s["status"] == "paidout" and s["settledAt"][:7] == month]
    members = {
        k: [m for s in settlements for m in book.members[s["id"]][k]] for k in ("payments", "refunds", "chargebacks")
    }
    assert members["refunds"] and members["chargebacks"], month  # the month shows every kind of movement
    orders = {o["id"]: o for oid in shop.app.woo.orders.ids() if (o := shop.app.woo.orders.get(oid))}
    paid_orders = [book.payments[pid]["metadata"]["order_id"] for pid in members["payments"]]
    assert all(orders[oid]["transaction_id"] in members["payments"] for oid in paid_orders)

    # The shop's side first: invoices and payments of the orders Mollie settled this month (booked on 1100).
    ids = [f"order:{oid}" for oid in paid_orders]
    counts, problems = await run_template(db, "orders-to-sales-invoices", shop, record_ids=ids)
    assert counts["failed"] == 0, problems
    counts, problems = await run_template(db, "payments-to-financial-mutations", shop, record_ids=ids)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    booked_payments = _balance(shop, CLEARING)
    assert booked_payments > 0

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

    # Every euro Mollie settled, to the cent, from Mollie's own lists (not from the periods the map read).
    settled = {kind: sum((abs(D(getattr(book, kind)[i]["settlementAmount"]["value"])) for i in ids_), Decimal(0))
               for kind, ids_ in members.items()}  # fmt: skip
    unbooked = sum(
        (
            D(book.payments[pid]["settlementAmount"]["value"])
            for pid in members["payments"]
            if orders[book.payments[pid]["metadata"]["order_id"]]["status"] not in BOOKED_STATUSES
        ),
        Decimal(0),
    )
    assert booked_payments == settled["payments"] - unbooked
    # What stays on the clearing account is exactly what no flow books yet: money refunded (the refund's own
    # payment mutation), minus payments of orders the payments template does not read (fully refunded ones).
    assert _balance(shop, CLEARING) == settled["refunds"] - unbooked
    assert _balance(shop, DEBTORS) == -booked_payments + settled["chargebacks"]
    assert _balance(shop, BANK) == sum((D(s["amount"]["value"]) for s in settlements), Decimal(0))

    again = await execute_run(db, (await create_run(db, document=document, trigger="test", params=window,
                                                    connections=_with_mollie(shop))).id)  # fmt: skip
    assert again is not None and again.counts()["ok"] == 0 and again.counts()["skipped"] == len(settlements)


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
