"""Asperion simulator: journal entries (balanced lines, references, settlement of sales invoices, filters)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")


def _entry(lines: list[dict[str, Any]], /, **header: Any) -> dict[str, Any]:
    body = {
        "journalId": "90",
        "date": "2024-01-22T00:00:00",
        "bookyear": 2024,
        "bookperiod": 1,
        "description": "Betaling order 1001",
        "lines": {"_data": lines},
    }
    body.update(header)
    return body


def _line(amount: float, ledger: int, **extra: Any) -> dict[str, Any]:
    return {
        "bookingDate": "2024-01-22T00:00:00",
        "description": "regel",
        "amount": amount,
        "ledgerAccountId": ledger,
        "vatCode": "",
        "vatAmount": 0,
        "costCenterId": 0,
        **extra,
    }


def _invoice(asp: Api, amount: float) -> dict[str, Any]:
    body = {
        "date": "2024-01-20",
        "journalId": "70",
        "debtorCustomerNumber": "9999",
        "description": "Webshop order 1001",
        "lines": {"_data": [{"amount": amount, "ledgerAccountId": 8000, "vatCode": "H21"}]},
    }
    answer = asp.post("/v1/salesinvoiceswithlines", json=body)
    assert answer.status_code == 201
    return answer.json()


def test_balanced_entry_is_stored_and_returned_itself(asp: Api) -> None:
    answer = asp.post("/v1/journalentrieswithlines", json=_entry([_line(100.00, 1300), _line(-100.00, 8000)]))
    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert "_data" not in entry
    assert (entry["journalId"], entry["bookyear"], entry["bookperiod"]) == ("90", 2024, 1)
    assert [line["amount"] for line in entry["lines"]["_data"]] == [100.0, -100.0]
    assert entry["lines"]["_meta"] == {"totalCount": 2}
    assert set(entry["lines"]["_data"][0]) == {
        "id", "amount", "bookingDate", "description", "ledgerAccountId", "vatCode", "vatAmount", "costCenterId",
        "debtorId", "creditorId", "salesInvoiceId", "purchaseInvoiceId",
    }  # fmt: skip
    assert asp.get(f"/v1/journalentrieswithlines/{entry['id']}").json() == entry


def test_unbalanced_entry_is_a_400_and_nothing_is_stored(asp: Api) -> None:
    answer = asp.post(
        "/v1/journalentrieswithlines",
        json=_entry([_line(100.00, 1300), _line(-99.99, 8000)]),
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["Lines"] == ["The lines of a journal entry must add up to 0; they add up to 0.01."]
    assert asp.sim.tenant(1001).journal_entries == {}


@pytest.mark.parametrize(
    ("lines", "header", "field"),
    [
        ([_line(1, 1300), _line(-1, 4711)], {}, "Lines[1].LedgerAccountId"),
        ([_line(1, 1300, vatCode="XX"), _line(-1, 8000)], {}, "Lines[0].VatCode"),
        ([_line(1, 1300, salesInvoiceId=999), _line(-1, 8000)], {}, "Lines[0].SalesInvoiceId"),
        ([_line(1, 1300, debtorId=999), _line(-1, 8000)], {}, "Lines[0].DebtorId"),
        ([_line(1, 1300, costCenterId=99), _line(-1, 8000)], {}, "Lines[0].CostCenterId"),
        ([_line(1, 1300, creditorId=5), _line(-1, 8000)], {}, "Lines[0].CreditorId"),
        ([_line(1, 1300), _line(-1, 8000)], {"journalId": "55"}, "JournalId"),
        ([_line(1, 1300), _line(-1, 8000)], {"date": None}, "Date"),
        ([], {}, "Lines"),
    ],
)
def test_invalid_entries_are_400_with_the_field(asp: Api, lines: list, header: dict, field: str) -> None:
    answer = asp.post("/v1/journalentrieswithlines", json=_entry(lines, **header))
    assert answer.status_code == 400
    assert field in answer.json()["errors"], answer.json()["errors"]
    assert asp.sim.tenant(1001).journal_entries == {}


def test_payment_settles_the_invoice_partially_then_fully(asp: Api) -> None:
    invoice = _invoice(asp, 100)  # 121.00 incl. VAT
    partial = _entry([_line(50.00, 1100), _line(-50.00, 1300, salesInvoiceId=invoice["id"])], journalId="10")
    assert asp.post("/v1/journalentrieswithlines", json=partial).status_code == 201
    after_partial = asp.get(f"/v1/salesinvoiceswithlines/{invoice['id']}").json()
    assert after_partial["status"] == 1
    assert asp.sim.invoice_totals(invoice["id"])["paidAmount"] == 50

    rest = _entry([_line(71.00, 1100), _line(-71.00, 1300, salesInvoiceId=invoice["id"])], journalId="10")
    assert asp.post("/v1/journalentrieswithlines", json=rest).status_code == 201
    paid = asp.get(f"/v1/salesinvoiceswithlines/{invoice['id']}").json()
    assert paid["status"] == 7
    assert asp.get("/v1/salesinvoices", params={"Status": 7}).json()["_meta"]["totalCount"] == 1


def test_a_payment_named_on_the_debit_side_also_settles(asp: Api) -> None:
    invoice = _invoice(asp, 10)  # 12.10
    entry = _entry([_line(12.10, 1110, salesInvoiceId=invoice["id"]), _line(-12.10, 1300)], journalId="10")
    assert asp.post("/v1/journalentrieswithlines", json=entry).status_code == 201
    assert asp.sim.tenant(1001).invoices[invoice["id"]]["status"] == 7


def test_validate_only_settles_nothing(asp: Api) -> None:
    invoice = _invoice(asp, 10)
    entry = _entry([_line(12.10, 1110), _line(-12.10, 1300, salesInvoiceId=invoice["id"])])
    answer = asp.post("/v1/journalentrieswithlines", json=entry, params={"validateOnly": "true"})
    assert answer.status_code == 200
    assert asp.sim.tenant(1001).invoices[invoice["id"]]["status"] == 1
    assert asp.sim.tenant(1001).journal_entries == {}


def test_filters(asp: Api) -> None:
    asp.post("/v1/journalentrieswithlines", json=_entry([_line(1, 1300), _line(-1, 8000)], description="Dag 1"))
    asp.post(
        "/v1/journalentrieswithlines",
        json=_entry(
            [_line(2, 1000), _line(-2, 1300)],
            journalId="10",
            description="Bank",
            sourceDocumentNumber="AF-77",
            date="2024-02-03",
            bookperiod=2,
        ),
    )
    assert asp.get("/v1/journalentrieswithlines", params={"JournalId": "10"}).json()["_meta"]["totalCount"] == 1
    assert asp.get("/v1/journalentrieswithlines", params={"BookPeriod": 2}).json()["_meta"]["totalCount"] == 1
    assert asp.get("/v1/journalentrieswithlines", params={"BookYear": 2024}).json()["_meta"]["totalCount"] == 2
    assert asp.get("/v1/journalentrieswithlines", params={"Date": "2024-02-03"}).json()["_meta"]["totalCount"] == 1
    found = asp.get("/v1/journalentrieswithlines", params={"SourceDocumentNumber": "AF-77"}).json()["_data"]
    assert [item["description"] for item in found] == ["Bank"]
    assert asp.get("/v1/journalentrieswithlines", params={"Description": "dag"}).json()["_meta"]["totalCount"] == 1


def test_a_refund_settles_a_credit_invoice(asp: Api) -> None:
    credit = _invoice(asp, -12.50)
    assert credit["vatAmount"] == -2.63  # half up, away from zero, like the positive case
    assert credit["amountInclVat"] == -15.13
    refund = _entry([_line(-15.13, 1100), _line(15.13, 1300, salesInvoiceId=credit["id"])], journalId="10")
    assert asp.post("/v1/journalentrieswithlines", json=refund).status_code == 201
    assert asp.sim.tenant(1001).invoices[credit["id"]]["status"] == 7
