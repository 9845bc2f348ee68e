"""After booking (mappings.md "After booking"): orders that change, get cancelled, or were never invoiced, on the
sandbox over real HTTP — each checked on the Asperion side to the cent.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine.db import Database
from engine.models import IdempotencyEntry, LogEntry
from engine.reconcile_run import reconcile
from engine.templates import get_template
from nodes.accounting import cents
from nodes.maps.payment_to_mutation import DEFAULT_PAYMENT_ACCOUNTS, payment_account
from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D
from tests.templates.sandbox_runs import (
    BOOKED_STATUSES,
    booked_lines,
    by_description,
    connections,
    expected_lines,
    lines_of,
    run_template,
    tenant,
    totals,
    woo_orders,
)

pytestmark = pytest.mark.slow

TEMPLATE = "orders-to-sales-invoices"


@pytest.fixture(name="shop")
def fx_shop() -> Any:
    with running_sandbox(orders=30, customers=10, products=10, seed=5) as url:
        yield url


async def _put(store: SandboxURL, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
        answer = await http.put(f"{store}/woocommerce/wp-json/wc/v3/{path}", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _refund(store: SandboxURL, order_id: int, amount: str) -> dict[str, Any]:
    """A refund made in the shop (not through the gateway)."""
    async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
        answer = await http.post(
            f"{store}/woocommerce/wp-json/wc/v3/orders/{order_id}/refunds",
            json={"amount": amount, "reason": "Kapot", "api_refund": False},
        )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _book_everything(db: Database, store: SandboxURL) -> None:
    """Invoices, then payments: nothing fails or waits."""
    for name in (TEMPLATE, "payments-to-financial-mutations"):
        counts, problems = await run_template(db, name, store)
        assert counts["failed"] == 0 and counts["waiting"] == 0, (name, problems)


async def _differences(db: Database, store: SandboxURL, order: dict[str, Any]) -> list[dict[str, Any]]:
    """What the reconciliation finds wrong with the order's books (its booking day)."""
    day = (order.get("date_paid") or order["date_created"])[:10]
    report = await reconcile(db, connections(store), day, day, from_file=True)
    return [d.as_dict() for d in report.differences if d.order_number == order["number"]]


def _plain_order(store: SandboxURL) -> dict[str, Any]:
    """A booked EUR order without refunds or coupons whose first line can be changed."""
    return next(
        o for o in woo_orders(store)
        if o["status"] in BOOKED_STATUSES and not o.get("refunds") and not o["coupon_lines"]
        and o["currency"] == "EUR" and o["line_items"]
    )  # fmt: skip


def _invoices(store: SandboxURL, number: str) -> dict[str, dict[str, Any]]:
    return {d: i for d, i in by_description(tenant(store).invoices.values()).items() if d.startswith(number)}


def _order_totals(order: dict[str, Any]) -> tuple[Decimal, Decimal]:
    return D(order["total"]) - D(order["total_tax"]), D(order["total_tax"])


async def _entries(db: Database, source_id: str) -> list[LogEntry]:
    async with db.session() as session:
        rows = await session.execute(
            select(LogEntry).where(LogEntry.source_id == source_id, LogEntry.node_id == "book").order_by(LogEntry.id)
        )
        return list(rows.scalars())


async def test_a_changed_order_updates_its_concept_waits_once_final_and_its_correction_is_booked(
    db: Database, shop: SandboxURL
) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    order = _plain_order(shop)
    source_id, base = f"order:{order['id']}", f"WooCommerce order {order['number']}"
    first = _invoices(shop, base)[base]

    # unchanged: skipped with the invoice it is booked as
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 0
    assert (await _entries(db, source_id))[-1].message == f"already booked as sales invoice {first['id']}"

    # a note only: the books are not touched
    await _put(shop, f"orders/{order['id']}", {"customer_note": "Please ring twice"})
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 0
    assert "nothing that touches the books" in (await _entries(db, source_id))[-1].message

    # one more of the first line while the invoice is a concept: updated in place, to the cent
    item = order["line_items"][0]
    changed = await _put(
        shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 1}]}
    )
    assert D(changed["total"]) > D(order["total"])
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["ok"] == 1 and counts["waiting"] == 0, problems
    invoices = _invoices(shop, base)
    assert list(invoices) == [base] and invoices[base]["id"] == first["id"]
    assert booked_lines(invoices[base]) == expected_lines(changed)
    assert totals(booked_lines(invoices[base])) == _order_totals(changed)
    assert "updated in place" in (await _entries(db, source_id))[-1].message

    # processed by the bookkeeper (final), then changed again: it waits, Asperion untouched
    shop.app.asperion.process_invoice(first["id"])
    final_lines = booked_lines(tenant(shop).invoices[first["id"]])
    again = await _put(
        shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"]}]}
    )
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id])
    assert counts["waiting"] == 1 and counts["ok"] == 0, problems
    waiting = (await _entries(db, source_id))[-1]
    assert waiting.status == "waiting" and waiting.message.startswith("changed after booking")
    side_by_side = waiting.detail["changed_after_booking"]
    assert (side_by_side["booked"]["incl_vat"], side_by_side["now"]["incl_vat"]) == (changed["total"], again["total"])
    assert waiting.detail["action"] == "book_correction"
    assert list(_invoices(shop, base)) == [base]

    # "Book the correction": a credit of the final invoice and the order booked anew
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id], book_corrections=[source_id])
    assert counts["ok"] == 1 and counts["waiting"] == 0, problems
    invoices = _invoices(shop, base)
    credit = invoices[f"{base} (correction 1 credit)"]
    assert booked_lines(credit) == [(-a, -v, code, ledger) for a, v, code, ledger in final_lines]
    correction = invoices[f"{base} (correction 1)"]
    assert booked_lines(correction) == expected_lines(again)
    assert credit["debtorCustomerNumber"] == correction["debtorCustomerNumber"] == first["debtorCustomerNumber"]
    ex = sum((totals(booked_lines(i))[0] for i in invoices.values()), Decimal(0))
    vat = sum((totals(booked_lines(i))[1] for i in invoices.values()), Decimal(0))
    assert (ex, vat) == _order_totals(again)  # net of the correction, the books hold the order as it is now

    # with the setting "automatic", the next change of a final booking is corrected at once
    shop.app.asperion.process_invoice(correction["id"])
    third = await _put(
        shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 2}]}
    )
    document = get_template(TEMPLATE)
    next(node for node in document["nodes"] if node["id"] == "book")["config"]["corrections"] = "automatic"
    counts, problems = await run_template(db, TEMPLATE, shop, document=document, record_ids=[source_id])
    assert counts["ok"] == 1, problems
    invoices = _invoices(shop, base)
    assert booked_lines(invoices[f"{base} (correction 2 credit)"]) == [
        (-a, -v, code, ledger) for a, v, code, ledger in booked_lines(correction)
    ]
    assert booked_lines(invoices[f"{base} (correction 2)"]) == expected_lines(third)
    assert len(invoices) == 5


async def test_cancelled_after_booking_gets_one_full_credit_and_never_invoiced_is_skipped(
    db: Database, shop: SandboxURL
) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    order = _plain_order(shop)
    base = f"WooCommerce order {order['number']}"
    booked = _invoices(shop, base)[base]
    await _put(shop, f"orders/{order['id']}", {"status": "cancelled"})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{order['id']}"])
    assert counts["ok"] == 1 and counts["failed"] == 0, problems
    credit = _invoices(shop, base)[f"{base} cancelled"]
    assert booked_lines(credit) == [(-a, -v, code, ledger) for a, v, code, ledger in booked_lines(booked)]
    assert credit["debtorCustomerNumber"] == booked["debtorCustomerNumber"]
    assert sum(totals(booked_lines(credit)), Decimal(0)) == -D(order["total"])
    # read again (a later run, a new Koppel database): credited once
    counts, _ = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{order['id']}"])
    assert counts["ok"] == 0 and len(_invoices(shop, base)) == 2

    # an order cancelled before it was ever invoiced: skipped, nothing waits, no debtor is made for it
    debtors_before = len(tenant(shop).debtors)
    never = next(o for o in woo_orders(shop) if o["status"] in ("pending", "on-hold") and o["customer_id"])
    await _put(shop, f"orders/{never['id']}", {"status": "cancelled"})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[f"order:{never['id']}"])
    assert counts["ok"] == 0 and counts["waiting"] == 0 and counts["failed"] == 0, problems
    assert not _invoices(shop, f"WooCommerce order {never['number']}")
    assert len(tenant(shop).debtors) == debtors_before


async def test_a_refund_of_an_order_never_invoiced_is_skipped_first(db: Database) -> None:
    """Refunded before the first run, with a payment method no table knows: no wait, no debtor, no credit."""
    with running_sandbox(orders=30, customers=10, products=10, seed=5) as shop:
        order = next(o for o in woo_orders(shop) if o["status"] in BOOKED_STATUSES and o["customer_id"])
        async with httpx.AsyncClient(auth=(WOO_RW_KEY, WOO_RW_SECRET), timeout=10) as http:
            answer = await http.post(
                f"{shop}/woocommerce/wp-json/wc/v3/orders/{order['id']}/refunds",
                json={"amount": order["total"], "reason": "Retour", "api_refund": False},
            )
        assert answer.status_code == 201, answer.text
        await _put(shop, f"orders/{order['id']}", {"payment_method": "klarna"})
        document = get_template(TEMPLATE)
        for node in document["nodes"]:
            if node["id"] in ("invoice", "credit"):
                node["config"]["payment_conditions"].pop("*")  # "klarna" would need a mapping
        emails = {d["emailAddress"] for d in tenant(shop).debtors.values()}
        counts, problems = await run_template(
            db, TEMPLATE, shop, document=document, record_ids=[f"order:{order['id']}"]
        )
        assert counts["waiting"] == 0 and counts["failed"] == 0 and counts["ok"] == 0, problems
        assert not _invoices(shop, f"WooCommerce order {order['number']}")
        assert {d["emailAddress"] for d in tenant(shop).debtors.values()} == emails


# -- payments and settlement ----------------------------------------------------------------------------------------

PAYMENTS = "payments-to-financial-mutations"


def _entries_of(store: SandboxURL, number: str) -> dict[str, dict[str, Any]]:
    return {d: e for d, e in by_description(tenant(store).journal_entries.values()).items() if number in d}


def _amounts(entry: dict[str, Any]) -> list[tuple[Decimal, int]]:
    return sorted((D(line["amount"]), int(line["ledgerAccountId"])) for line in booked_entry_lines(entry))


def booked_entry_lines(entry: dict[str, Any]) -> list[dict[str, Any]]:
    lines = entry.get("lines") or []
    return list(lines.get("_data") or []) if isinstance(lines, dict) else list(lines)


def _paid_order(store: SandboxURL, method: str | None = None) -> dict[str, Any]:
    return next(
        o for o in woo_orders(store)
        if o["status"] in BOOKED_STATUSES and o.get("date_paid") and not o.get("refunds") and not o["coupon_lines"]
        and o["currency"] == "EUR" and (method is None or o["payment_method"] == method) and D(o["total"])
    )  # fmt: skip


async def test_a_provider_fee_goes_to_payment_costs_and_only_the_net_to_the_clearing_account(
    db: Database, shop: SandboxURL
) -> None:
    order = _paid_order(shop, "stripe")
    meta = [{"key": "_stripe_fee", "value": "0.85"}, {"key": "_stripe_net", "value": "whatever"}]
    order = await _put(shop, f"orders/{order['id']}", {"meta_data": meta})
    await _book_everything(db, shop)
    entry = _entries_of(shop, f"order {order['number']} ")[
        f"Payment WooCommerce order {order['number']} ({order['transaction_id']})"
    ]
    total = D(order["total"])
    assert _amounts(entry) == sorted([(total - D("0.85"), 1100), (D("0.85"), 4500), (-total, 1300)])
    invoice = _invoices(shop, f"WooCommerce order {order['number']}")[f"WooCommerce order {order['number']}"]
    assert invoice["status"] == 7  # paid in full: the fee is a cost, not an open amount


async def test_a_payment_that_differs_waits_and_settles_the_corrected_invoice(db: Database, shop: SandboxURL) -> None:
    counts, problems = await run_template(db, TEMPLATE, shop)
    assert counts["failed"] == 0, problems
    order = _paid_order(shop)
    base, source_id = f"WooCommerce order {order['number']}", f"order:{order['id']}"
    first = _invoices(shop, base)[base]
    shop.app.asperion.process_invoice(first["id"])
    item = order["line_items"][0]
    changed = await _put(
        shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 1}]}
    )
    counts, problems = await run_template(db, PAYMENTS, shop, record_ids=[source_id])
    assert counts["waiting"] == 1 and counts["ok"] == 0, problems
    assert problems[0].split(": waiting ")[1].startswith(f"paid amount differs: {changed['total']} paid")
    assert not _entries_of(shop, f"order {order['number']} ")

    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id], book_corrections=[source_id])
    assert counts["ok"] == 1, problems
    counts, problems = await run_template(db, PAYMENTS, shop, record_ids=[source_id])
    assert counts["ok"] == 1 and counts["waiting"] == 0, problems
    correction = _invoices(shop, base)[f"{base} (correction 1)"]
    (entry,) = _entries_of(shop, f"order {order['number']} ").values()
    settled = [line for line in booked_entry_lines(entry) if line.get("salesInvoiceId")]
    assert [(line["salesInvoiceId"], D(line["amount"])) for line in settled] == [
        (correction["id"], -D(changed["total"]))
    ]
    assert tenant(shop).invoices[correction["id"]]["status"] == 7


async def test_a_payment_booked_before_a_correction_moves_onto_the_corrected_invoice(
    db: Database, shop: SandboxURL
) -> None:
    await _book_everything(db, shop)
    order = _paid_order(shop)
    base, source_id = f"WooCommerce order {order['number']}", f"order:{order['id']}"
    first = _invoices(shop, base)[base]
    assert tenant(shop).invoices[first["id"]]["status"] == 7  # paid before the order changed
    shop.app.asperion.process_invoice(first["id"])
    item = order["line_items"][0]
    changed = await _put(
        shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 1}]}
    )
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id], book_corrections=[source_id])
    assert counts["ok"] == 1, problems
    assert "its payment of" in (await _entries(db, source_id))[-1].message
    invoices = _invoices(shop, base)
    credit, correction = invoices[f"{base} (correction 1 credit)"], invoices[f"{base} (correction 1)"]
    paid = D(order["total"])
    move = _entries_of(shop, f"{base} (correction 1)")[
        f"{base} (correction 1): payment moved from sales invoice {tenant(shop).invoices[first['id']]['invoiceNumber']}"
    ]
    assert move["journalId"] == "90"
    assert sorted((line["salesInvoiceId"], D(line["amount"]), line["ledgerAccountId"]) for line in lines_of(move)) == (
        sorted([(credit["id"], paid, 1300), (correction["id"], -paid, 1300)])
    )
    # the credit is settled, the corrected invoice paid as far as the payment goes: only the increase is open
    assert tenant(shop).invoices[credit["id"]]["status"] == 7
    assert tenant(shop).invoices[correction["id"]]["_paidAmount"] == paid
    assert D(changed["total"]) - paid == D(tenant(shop).invoices[correction["id"]]["amountInclVat"]) - paid > 0

    # the payments run books only what the order's payment grew by, onto the correction: paid in full, once
    entries = len(tenant(shop).journal_entries)
    counts, problems = await run_template(db, PAYMENTS, shop, record_ids=[source_id])
    assert counts["ok"] == 1 and counts["failed"] == 0 and counts["waiting"] == 0, problems
    assert len(tenant(shop).journal_entries) == entries + 1
    grown = D(changed["total"]) - paid
    payment = f"Payment WooCommerce order {order['number']}" + (
        f" ({order['transaction_id']})" if order.get("transaction_id") else ""
    )
    difference = _entries_of(shop, f"order {order['number']} ")[f"{payment} (difference 1)"]
    bank = int(payment_account(DEFAULT_PAYMENT_ACCOUNTS, order["payment_method"]))
    assert _amounts(difference) == sorted([(grown, bank), (-grown, 1300)])
    assert [line["salesInvoiceId"] for line in booked_entry_lines(difference) if line.get("salesInvoiceId")] == [
        correction["id"]
    ]
    assert tenant(shop).invoices[correction["id"]]["_paidAmount"] == D(changed["total"])
    assert tenant(shop).invoices[correction["id"]]["status"] == 7
    assert "the difference is booked as journal entry" in (await _entries(db, source_id))[-1].message
    assert await _differences(db, shop, order) == []  # one payment (and its difference) settling what stands
    counts, problems = await run_template(db, PAYMENTS, shop, record_ids=[source_id])
    assert counts["ok"] == 0 and len(tenant(shop).journal_entries) == entries + 1, problems  # read again: nothing

    # edited back down without a refund: the payment moves on once more and overpays; the payments run waits
    shop.app.asperion.process_invoice(correction["id"])
    await _put(shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"]}]})
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=[source_id], book_corrections=[source_id])
    assert counts["ok"] == 1, problems
    second = _invoices(shop, base)[f"{base} (correction 2)"]
    assert tenant(shop).invoices[second["id"]]["_paidAmount"] == D(changed["total"])
    assert len(tenant(shop).journal_entries) == entries + 2  # the move
    counts, problems = await run_template(db, PAYMENTS, shop, record_ids=[source_id])
    assert counts["waiting"] == 1 and counts["ok"] == 0, problems
    assert problems[0].split(": waiting ")[1].startswith(f"paid amount differs: {changed['total']} paid")
    assert len(tenant(shop).journal_entries) == entries + 2  # no money paid back that never went back


async def test_a_zero_order_needs_no_payment_even_without_a_bank_account(db: Database, shop: SandboxURL) -> None:
    order = _paid_order(shop)
    free = {
        **order, "id": 9001, "number": "9001", "payment_method": "", "payment_method_title": "", "total": "0.00",
        "total_tax": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00", "cart_tax": "0.00", "fee_lines": [],
        "shipping_lines": [], "tax_lines": [], "coupon_lines": [], "refunds": [],
        "line_items": [{**order["line_items"][0], "total": "0.00", "total_tax": "0.00", "subtotal": "0.00",
                        "subtotal_tax": "0.00", "taxes": []}],
    }  # fmt: skip
    shop.app.woo.import_payloads([free], [], [])
    document = get_template(PAYMENTS)
    next(node for node in document["nodes"] if node["id"] == "payment")["config"]["payment_accounts"].pop("*", None)
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=["order:9001"])
    assert counts["failed"] == 0 and counts["waiting"] == 0, problems
    counts, problems = await run_template(db, PAYMENTS, shop, document=document, record_ids=["order:9001"])
    assert counts["waiting"] == 0 and counts["failed"] == 0 and counts["ok"] == 0, problems
    assert not _entries_of(shop, "order 9001")


async def test_a_refund_paid_back_settles_its_credit_and_a_cancellation_reverses_the_payment(
    db: Database, shop: SandboxURL
) -> None:
    await _book_everything(db, shop)
    refunded = _paid_order(shop)
    refund = await _refund(shop, refunded["id"], "10.00")
    cancelled = next(
        o for o in woo_orders(shop)
        if o["id"] != refunded["id"] and o["status"] in BOOKED_STATUSES and o.get("date_paid") and not o.get("refunds")
        and o["currency"] == "EUR" and D(o["total"])
    )  # fmt: skip
    await _put(shop, f"orders/{cancelled['id']}", {"status": "cancelled"})
    await _book_everything(db, shop)

    number = refunded["number"]
    credit = _invoices(shop, f"WooCommerce refund {refund['id']} of order {number}")[
        f"WooCommerce refund {refund['id']} of order {number}"
    ]
    back = _entries_of(shop, f"order {number} paid back")[
        f"Refund {refund['id']} of WooCommerce order {number} paid back"
    ]
    assert back["date"].startswith(refund["date_created"][:10])
    bank = payment_account(DEFAULT_PAYMENT_ACCOUNTS, refunded["payment_method"])
    assert _amounts(back) == sorted([(-D("10.00"), bank), (D("10.00"), 1300)])
    assert tenant(shop).invoices[credit["id"]]["status"] == 7  # the credit invoice does not stay open

    base = f"WooCommerce order {cancelled['number']}"
    cancel_credit = _invoices(shop, base)[f"{base} cancelled"]
    payment_text = f"Payment WooCommerce order {cancelled['number']}"
    reversal = _entries_of(shop, f"{payment_text} reversed")[f"{payment_text} reversed"]
    payment = next(e for d, e in _entries_of(shop, payment_text).items() if not d.endswith("reversed"))
    assert _amounts(reversal) == sorted((-amount, ledger) for amount, ledger in _amounts(payment))
    assert tenant(shop).invoices[cancel_credit["id"]]["status"] == 7

    # run again: every reversal once
    entries = len(tenant(shop).journal_entries)
    counts, problems = await run_template(
        db, PAYMENTS, shop, record_ids=[f"order:{refunded['id']}", f"order:{cancelled['id']}"]
    )
    assert counts["ok"] == 0 and counts["failed"] == 0, problems
    assert len(tenant(shop).journal_entries) == entries


async def test_a_cancellation_after_a_partial_refund_credits_and_reverses_only_what_is_left(
    db: Database, shop: SandboxURL
) -> None:
    await _book_everything(db, shop)
    order = _paid_order(shop)
    number, source_id = order["number"], f"order:{order['id']}"
    refund = await _refund(shop, order["id"], "10.00")
    for name in (TEMPLATE, PAYMENTS):  # the refund credited and paid back
        counts, problems = await run_template(db, name, shop, record_ids=[source_id])
        assert counts["ok"] == 1 and counts["failed"] == 0, (name, problems)
    await _put(shop, f"orders/{order['id']}", {"status": "cancelled"})
    for name in (TEMPLATE, PAYMENTS):
        counts, problems = await run_template(db, name, shop, record_ids=[source_id])
        assert counts["ok"] == 1 and counts["failed"] == 0, (name, problems)

    base = f"WooCommerce order {number}"
    booked = _invoices(shop, base)[base]
    refund_credit = _invoices(shop, f"WooCommerce refund {refund['id']} of order {number}")[
        f"WooCommerce refund {refund['id']} of order {number}"
    ]
    cancelled = _invoices(shop, base)[f"{base} cancelled"]
    total = D(order["total"])
    assert sum(totals(booked_lines(cancelled)), Decimal(0)) == -(total - D("10.00"))
    assert sorted(booked_lines(cancelled)) == sorted(
        [(-a, -v, code, ledger) for a, v, code, ledger in booked_lines(booked)]
        + [(-a, -v, code, ledger) for a, v, code, ledger in booked_lines(refund_credit)]
    )
    # the order's books are at zero, VAT code by VAT code
    per_code: dict[str, Decimal] = {}
    for invoice in (booked, refund_credit, cancelled):
        for amount, vat, code, _ in booked_lines(invoice):
            per_code[code] = per_code.get(code, Decimal(0)) + amount + vat
    assert set(per_code.values()) == {Decimal("0.00")}

    # the payment is reversed net of the refund paid back: the bank gives back only what it still holds
    bank = payment_account(DEFAULT_PAYMENT_ACCOUNTS, order["payment_method"])
    payment_text = f"Payment WooCommerce order {number}"
    reversal = _entries_of(shop, f"{payment_text} reversed")[f"{payment_text} reversed"]
    assert _amounts(reversal) == sorted([(-(total - D("10.00")), bank), (total - D("10.00"), 1300)])
    assert tenant(shop).invoices[cancelled["id"]]["status"] == 7
    assert await _differences(db, shop, order) == []
    in_bank = sum(
        (a for e in _entries_of(shop, f"order {number} ").values() for a, ledger in _amounts(e) if ledger == bank),
        Decimal(0),
    )
    assert in_bank == Decimal("0.00")

    # read again, and refunded in full after the cancellation: credited and reversed once
    invoices, entries = len(tenant(shop).invoices), len(tenant(shop).journal_entries)
    for name in (TEMPLATE, PAYMENTS):
        counts, problems = await run_template(db, name, shop, record_ids=[source_id])
        assert counts["ok"] == 0 and counts["failed"] == 0, (name, problems)
    await _refund(shop, order["id"], format(total - D("10.00"), "f"))
    assert shop.app.woo.orders.get(order["id"])["status"] == "refunded"
    for name in (TEMPLATE, PAYMENTS):
        counts, problems = await run_template(db, name, shop, record_ids=[source_id])
        assert counts["ok"] == 0 and counts["failed"] == 0 and counts["waiting"] == 0, (name, problems)
    assert (len(tenant(shop).invoices), len(tenant(shop).journal_entries)) == (invoices, entries)


# -- foreign currency and VAT details --------------------------------------------------------------------------------


def _copy(order: dict[str, Any], new_id: int, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(order), "id": new_id, "number": str(new_id), "refunds": [], **changes}


async def test_an_order_in_pounds_is_converted_never_booked_at_face_value(db: Database, shop: SandboxURL) -> None:
    order = _paid_order(shop)
    with_meta = _copy(order, 9101, currency="GBP")
    with_meta["meta_data"] = [
        *with_meta["meta_data"],
        {"id": 1, "key": "_base_currency_exchange_rate", "value": "1.1712"},
    ]
    without = _copy(order, 9102, currency="GBP")
    shop.app.woo.import_payloads([with_meta, without], [], [])
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=["order:9101", "order:9102"])
    assert counts["ok"] == 1 and counts["waiting"] == 1, problems
    day = (without.get("date_paid") or without["date_created"])[:10]
    assert problems == [f"invoice order:9102: waiting exchange rate GBP on {day}: add it to the rate table"]

    def converted(rate: Decimal, source: dict[str, Any]) -> list[tuple[Decimal, Decimal, str, int]]:
        return [(cents(a * rate), cents(v * rate), code, ledger) for a, v, code, ledger in expected_lines(source)]

    booked = _invoices(shop, "WooCommerce order 9101")["WooCommerce order 9101"]
    assert booked_lines(booked) == converted(D("1.1712"), with_meta)
    first_line = (
        booked["lines"][0]["description"]
        if isinstance(booked["lines"], list)
        else booked["lines"]["_data"][0]["description"]
    )
    assert first_line.endswith(f"(order total GBP {order['total']} at 1.1712)")
    ex, vat = totals(booked_lines(booked))
    assert abs(ex + vat - cents(D(order["total"]) * D("1.1712"))) <= D("0.005") * len(expected_lines(order))

    document = get_template(TEMPLATE)
    for node in document["nodes"]:
        if node["id"] in ("invoice", "credit"):
            node["config"]["exchange_rates"] = {"GBP:2020-01-01": "1.10", f"GBP:{day}": "1.15"}
    counts, problems = await run_template(db, TEMPLATE, shop, document=document, record_ids=["order:9102"])
    assert counts["ok"] == 1, problems
    assert booked_lines(_invoices(shop, "WooCommerce order 9102")["WooCommerce order 9102"]) == converted(
        D("1.15"), without
    )


async def test_an_order_with_curcy_rates_is_converted_at_its_own_currency_rate(db: Database, shop: SandboxURL) -> None:
    """CURCY keeps ``wmc_order_info``: per currency its settings at checkout, ``rate`` per unit of the main currency."""
    order = _paid_order(shop)
    curcy = _copy(order, 9111, currency="GBP")
    info = {"EUR": {"rate": "1", "is_main": "1", "pos": "left"}, "GBP": {"rate": "0.8538", "is_main": "0"}}
    curcy["meta_data"] = [*curcy["meta_data"], {"id": 1, "key": "wmc_order_info", "value": info}]
    other_main = _copy(order, 9112, currency="GBP")  # rates against dollars: no use for euro books
    dollars = {"USD": {"rate": "1", "is_main": "1"}, "GBP": {"rate": "0.79", "is_main": "0"}}
    other_main["meta_data"] = [*other_main["meta_data"], {"id": 1, "key": "wmc_order_info", "value": dollars}]
    shop.app.woo.import_payloads([curcy, other_main], [], [])
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=["order:9111", "order:9112"])
    assert counts["ok"] == 1 and counts["waiting"] == 1, problems
    assert [p.split(": waiting ")[1] for p in problems] == [
        f"exchange rate GBP on {(other_main.get('date_paid') or other_main['date_created'])[:10]}: add it to the rate "
        "table"
    ]
    rate = (Decimal(1) / D("0.8538")).quantize(Decimal("0.000001"))  # 1.171234: GBP 1 is EUR 1.17
    booked = _invoices(shop, "WooCommerce order 9111")["WooCommerce order 9111"]
    assert booked_lines(booked) == [
        (cents(a * rate), cents(v * rate), code, ledger) for a, v, code, ledger in expected_lines(curcy)
    ]
    assert lines_of(booked)[0]["description"].endswith(f"(order total GBP {order['total']} at 1.171234)")


async def test_vat_details_older_store_rates_eu_business_without_number_and_business_guests(
    db: Database, shop: SandboxURL
) -> None:
    order = next(o for o in woo_orders(shop) if o["id"] == 39)  # NL, one line at 9 %
    assert [t["rate_percent"] for t in order["tax_lines"]] == [9]
    older = _copy(order, 9201)
    line = older["line_items"][0]
    line["total"], line["total_tax"], line["subtotal"], line["subtotal_tax"] = "0.95", "0.09", "0.95", "0.09"
    line["taxes"] = [{"id": 28, "total": "0.09", "subtotal": "0.09"}]  # 9.47 % computed from the rounded cents
    older["shipping_lines"], older["fee_lines"] = [], []
    older["tax_lines"] = [{**order["tax_lines"][0], "tax_total": "0.09", "rate_percent": None}]
    older["total"], older["total_tax"] = "1.04", "0.09"
    deleted = _copy(older, 9202)
    deleted["tax_lines"] = [{**older["tax_lines"][0], "rate_id": 4242}]
    deleted["line_items"][0]["taxes"] = [{"id": 4242, "total": "0.09", "subtotal": "0.09"}]
    deleted["line_items"][0]["total_tax"] = deleted["line_items"][0]["subtotal_tax"] = "0.09"
    deleted["line_items"][0]["total"] = deleted["line_items"][0]["subtotal"] = "1.00"  # 9.00 → no rounding
    deleted["line_items"][0]["taxes"][0]["total"] = "0.0895"
    deleted["line_items"][0]["total_tax"] = "0.09"
    deleted["total"] = "1.09"
    business = _copy(order, 9203, customer_id=0)
    business["billing"] = {**order["billing"], "company": "Müller GmbH", "country": "DE", "email": "einkauf@mueller.de"}
    business["shipping"] = {**order["shipping"], "country": "DE"}
    business["meta_data"] = [{"id": 1, "key": "_eu_vat_id", "value": "DE123456789"}]  # a key Koppel does not know
    for item in business["line_items"]:
        item["total_tax"] = item["subtotal_tax"] = "0.00"
        item["taxes"] = []
    business["shipping_lines"], business["fee_lines"], business["tax_lines"] = [], [], []
    business["total_tax"] = "0.00"
    business["total"] = format(sum((D(i["total"]) for i in business["line_items"]), Decimal(0)), "f")
    guest = _copy(business, 9204)
    guest["billing"] = {**business["billing"], "email": "buchhaltung@beispiel.de", "company": "Beispiel AG"}
    guest["meta_data"] = [{"id": 1, "key": "_billing_vat_number", "value": "DE987654321"}]
    shop.app.woo.import_payloads([older, deleted, business, guest], [], [])

    ids = ["order:9201", "order:9202", "order:9203", "order:9204"]
    counts, problems = await run_template(db, TEMPLATE, shop, record_ids=ids)
    assert (counts["ok"], counts["waiting"], counts["failed"]) == (3, 1, 0), problems
    # the store says rate 28 is 9 % (not the computed 9.47 %); a deleted rate snaps to the nearest NL rate (8.95 → 9)
    assert booked_lines(_invoices(shop, "WooCommerce order 9201")["WooCommerce order 9201"]) == [
        (D("0.95"), D("0.09"), "L9", 8000)
    ]
    assert booked_lines(_invoices(shop, "WooCommerce order 9202")["WooCommerce order 9202"]) == [
        (D("1.00"), D("0.09"), "L9", 8000)
    ]
    # an EU business whose VAT number sits under an unknown key waits (never domestic 0 %)
    assert [p for p in problems if "9203" in p] == [
        "invoice order:9203: waiting EU business without a recognised VAT number: no VAT code for country DE at 0% "
        '(vat_codes row "DE:0", or add the meta key that holds the number)'
    ]
    assert not _invoices(shop, "WooCommerce order 9203")
    # a guest with a company and a VAT number gets a company debtor with that number, booked reverse charge
    invoice = _invoices(shop, "WooCommerce order 9204")["WooCommerce order 9204"]
    debtor = next(d for d in tenant(shop).debtors.values() if d["customerNumber"] == invoice["debtorCustomerNumber"])
    assert (debtor["name"], debtor["vatNumber"], debtor["debtorKindId"]) == ("Beispiel AG", "DE987654321", "B2B-EU")
    assert {code for _, _, code, _ in booked_lines(invoice)} == {"ICP"}
    assert totals(booked_lines(invoice)) == (D(guest["total"]), D("0.00"))


async def test_a_correction_replaces_the_idempotency_entry_on_postgresql(pg_db: Database) -> None:
    with running_sandbox(orders=12, customers=5, products=6, seed=5) as shop:
        counts, problems = await run_template(pg_db, TEMPLATE, shop)
        assert counts["failed"] == 0, problems
        order = _plain_order(shop)
        base, source_id = f"WooCommerce order {order['number']}", f"order:{order['id']}"
        shop.app.asperion.process_invoice(_invoices(shop, base)[base]["id"])
        item = order["line_items"][0]
        changed = await _put(
            shop, f"orders/{order['id']}", {"line_items": [{"id": item["id"], "quantity": item["quantity"] + 1}]}
        )
        counts, problems = await run_template(
            pg_db, TEMPLATE, shop, record_ids=[source_id], book_corrections=[source_id]
        )
        assert counts["ok"] == 1, problems
        correction = _invoices(shop, base)[f"{base} (correction 1)"]
        async with pg_db.session() as session:
            entry = await session.get(IdempotencyEntry, ("file:orders-to-sales-invoices", "book", source_id))
        assert entry is not None and entry.target_id == str(correction["id"])
        assert json.loads(entry.fingerprint or "{}")["incl_vat"] == changed["total"]
        counts, _ = await run_template(pg_db, TEMPLATE, shop, record_ids=[source_id])
        assert counts["ok"] == 0
        assert (await _entries(pg_db, source_id))[-1].message == f"already booked as sales invoice {correction['id']}"
