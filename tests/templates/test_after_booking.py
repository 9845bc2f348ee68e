"""After booking (mappings.md "After booking"): orders that change, get cancelled, or were never invoiced, on the
sandbox over real HTTP — each checked on the Asperion side to the cent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engine.db import Database
from engine.models import LogEntry
from engine.templates import get_template
from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.conftest import D
from tests.templates.sandbox_runs import (
    BOOKED_STATUSES,
    booked_lines,
    by_description,
    expected_lines,
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
