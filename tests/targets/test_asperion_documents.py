"""Sales invoices, sales orders and journal entries delivered to the Asperion simulator over HTTP, exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.base import Record
from nodes.connectors.http import AuthError
from nodes.targets.asperion_financial_mutation import FinancialMutationTarget
from nodes.targets.asperion_sales_invoice import SalesInvoiceTarget
from nodes.targets.asperion_sales_order import SalesOrderTarget
from tests.targets.conftest import LoseAnswers, Sandbox, deliver, inner_transport, make_target


def invoice(number: str = "1001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2026-01-05",
        "description": f"WooCommerce order {number}",
        "journalId": "70",
        "debtorCustomerNumber": "9999",
        "paymentConditionId": 1,
        "lines": [
            {"description": "2 × Mok", "amount": 20.0, "vatAmount": 4.2, "vatCode": "H21", "ledgerAccountId": 8000},
            {"description": "Verzending", "amount": 4.95, "vatAmount": 1.04, "vatCode": "H21", "ledgerAccountId": 8300},
        ],
    }
    body.update(changes)
    return body


def record(data: dict[str, Any], number: str = "1001") -> Record:
    return Record(key=number, source_id=f"order:{number}", data=data, source={"id": int(number), "number": number})


async def invoices(asperion: Any) -> list[dict[str, Any]]:
    return [item async for page in asperion.pages("/v1/salesinvoiceswithlines") for item in page]


async def test_invoice_is_booked_once_and_found_again(asperion: Any) -> None:
    target = make_target(SalesInvoiceTarget, {"asperion": asperion}, connection="asperion")
    first = await deliver(target, record(invoice()))
    assert first.status == "ok", first.message
    assert first.delivery is not None
    assert first.message == f"Booked as sales invoice {first.target_id}, €30.19"
    booked = await invoices(asperion)
    assert len(booked) == 1
    assert booked[0]["debtorCustomerNumber"] == "9999"
    assert booked[0]["amountInclVat"] == pytest.approx(30.19)
    again = await deliver(target, record(invoice()))
    assert (again.status, again.target_id) == ("skipped", first.target_id)
    assert len(await invoices(asperion)) == 1


async def test_a_description_that_only_contains_the_number_is_another_invoice(asperion: Any) -> None:
    target = make_target(SalesInvoiceTarget, {"asperion": asperion})
    assert (await deliver(target, record(invoice("10010"), "10010"))).status == "ok"
    # Asperion's filter matches "WooCommerce order 1001" inside "... 10010": the exact check must not.
    assert (await deliver(target, record(invoice("1001")))).status == "ok"
    assert len(await invoices(asperion)) == 2


async def test_refused_invoice_fails_with_asperions_field_errors(asperion: Any) -> None:
    target = make_target(SalesInvoiceTarget, {"asperion": asperion})
    bad = invoice(debtorCustomerNumber="424242")
    outcome = await deliver(target, record(bad))
    assert outcome.status == "failed"
    assert outcome.message.startswith("sales invoice refused: Asperion answered 400")
    assert "DebtorCustomerNumber" in outcome.message
    assert await invoices(asperion) == []


async def test_invoice_without_debtor_or_lines_fails_before_sending(asperion: Any) -> None:
    target = make_target(SalesInvoiceTarget, {"asperion": asperion})
    no_debtor = await deliver(target, record(invoice(debtorCustomerNumber=None)), dry_run=True)
    assert (no_debtor.status, no_debtor.message) == ("failed", "The sales invoice has no debtor")
    no_lines = await deliver(target, record(invoice(lines=[])))
    assert (no_lines.status, no_lines.message) == ("failed", "The sales invoice has no lines")


async def test_dry_run_shows_the_payload_and_writes_nothing(asperion: Any) -> None:
    target = make_target(SalesInvoiceTarget, {"asperion": asperion}, dry_run=True)
    outcome = await deliver(target, record(invoice()), dry_run=True)
    assert outcome.status == "would send"
    assert outcome.payload is not None and outcome.payload["description"] == "WooCommerce order 1001"
    assert await invoices(asperion) == []


async def test_a_lost_answer_is_confirmed_instead_of_posted_twice(fresh: Sandbox) -> None:
    transport = LoseAnswers(inner_transport(fresh), "POST", "/v1/salesinvoiceswithlines")
    asperion = fresh.client("asperion", transport=transport)
    try:
        target = make_target(SalesInvoiceTarget, {"asperion": asperion})
        outcome = await deliver(target, record(invoice()))
        assert outcome.status == "ok"
        assert "confirmed after the answer was lost" in outcome.message
        assert transport.left == 0
        assert len(await invoices(asperion)) == 1
    finally:
        await asperion.aclose()


async def test_wrong_credentials_propagate_as_an_auth_error(fresh: Sandbox) -> None:
    asperion = fresh.client("asperion", client_secret="wrong-secret")
    try:
        target = make_target(SalesInvoiceTarget, {"asperion": asperion})
        with pytest.raises(AuthError) as failure:
            await deliver(target, record(invoice()))
        assert "wrong-secret" not in str(failure.value)
    finally:
        await asperion.aclose()


async def test_sales_order_is_created_once(asperion: Any) -> None:
    target = make_target(SalesOrderTarget, {"asperion": asperion})
    shipping = await asperion.find_article_by_code("VERZEND")
    line = {"articleId": shipping["id"], "description": "Verzending", "quantity": 1, "unitPrice": 4.95, "amount": 4.95}
    body: dict[str, Any] = {"date": "2026-01-05", "description": "WooCommerce order 2002"}
    body["debtorCustomerNumber"] = "9999"
    body["lines"] = [{**line, "vatCode": "H21", "ledgerAccountId": 8300}]
    first = await deliver(target, record(body, "2002"))
    assert first.status == "ok", first.message
    again = await deliver(target, record(body, "2002"))
    assert (again.status, again.target_id) == ("skipped", first.target_id)
    orders = [item async for page in asperion.pages("/v1/SalesOrderWithLines") for item in page]
    assert len(orders) == 1


def payment(amount: float = 30.19, description: str = "Payment WooCommerce order 1001 (tx-1)") -> dict[str, Any]:
    return {
        "journalId": "10",
        "date": "2026-01-06",
        "description": description,
        "lines": [
            {"description": "iDEAL", "amount": amount, "ledgerAccountId": 1100},
            {"description": "Order 1001", "amount": -30.19, "ledgerAccountId": 1300},
        ],
    }


async def test_journal_entry_is_booked_once_per_journal(asperion: Any) -> None:
    target = make_target(FinancialMutationTarget, {"asperion": asperion})
    first = await deliver(target, record(payment()))
    assert first.status == "ok", first.message
    again = await deliver(target, record(payment()))
    assert (again.status, again.target_id) == ("skipped", first.target_id)
    entries = [item async for page in asperion.pages("/v1/journalentrieswithlines") for item in page]
    assert [e["description"] for e in entries] == ["Payment WooCommerce order 1001 (tx-1)"]


async def test_unbalanced_journal_entry_fails_before_sending(asperion: Any) -> None:
    target = make_target(FinancialMutationTarget, {"asperion": asperion})
    outcome = await deliver(target, record(payment(amount=30.0)))
    assert outcome.status == "failed"
    assert outcome.message == "The journal entry does not balance: its lines sum to -0.19, not 0"
