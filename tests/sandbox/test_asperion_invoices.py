"""Asperion simulator: sales invoices (validation, booked totals, VAT rule, processing, headers list, files)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")


def _invoice(lines: list[dict[str, Any]], /, **header: Any) -> dict[str, Any]:
    body = {
        "date": "2024-01-22T00:00:00",
        "bookyear": 2024,
        "bookperiod": 1,
        "journalId": "70",
        "debtorCustomerNumber": "9999",
        "description": "Webshop order 1001",
        "invoiceNumber": "",
        "paymentConditionId": 1,
        "lines": {"_data": lines},
    }
    body.update(header)
    return body


def _line(amount: Any, vat_code: Any = "H21", ledger: Any = 8000, **extra: Any) -> dict[str, Any]:
    return {"description": "Regel", "amount": amount, "ledgerAccountId": ledger, "vatCode": vat_code, **extra}


def test_created_invoice_is_a_concept_with_booked_totals(asp: Api) -> None:
    body = _invoice(
        [
            _line(100.00, vatAmount=21.00, description="Product A"),
            _line(41.32, "L9", vatAmount=3.72, description="Boek"),
            _line(4.13, ledger=8300, description="Verzendkosten"),
        ],
        amountExclVat=1,
        vatAmount=2,
        amountInclVat=3,
        status=7,
        invoiceNumber="F-1",
    )
    answer = asp.post("/v1/salesinvoiceswithlines", json=body)
    assert answer.status_code == 201, answer.text
    invoice = answer.json()
    assert "_data" not in invoice
    assert (invoice["status"], invoice["invoiceNumber"]) == (1, "")
    assert invoice["amountExclVat"] == pytest.approx(145.45)
    assert invoice["vatAmount"] == pytest.approx(21.00 + 3.72 + 0.87)
    assert invoice["amountInclVat"] == pytest.approx(145.45 + 25.59)
    assert invoice["lines"]["_meta"] == {"totalCount": 3}
    line = invoice["lines"]["_data"][0]
    assert set(line) == {
        "id", "description", "amount", "ledgerAccountId", "vatCode", "vatAmount", "costCenterId", "costUnitId",
    }  # fmt: skip
    assert invoice["paymentDueDate"] == "2024-01-22T00:00:00"
    assert invoice["_meta"]["self"] == f"{asp.url}/v1/salesinvoiceswithlines/{invoice['id']}"

    totals = asp.sim.invoice_totals(invoice["id"])
    assert totals["amountExclVat"] == Decimal("145.45")
    assert totals["vatAmount"] == Decimal("25.59")
    assert totals["amountInclVat"] == Decimal("171.04")
    assert totals["vatByCode"] == {"H21": Decimal("21.87"), "L9": Decimal("3.72")}
    assert totals["netByCode"] == {"H21": Decimal("104.13"), "L9": Decimal("41.32")}
    assert asp.sim.tenant(1001).invoices[invoice["id"]]["amountInclVat"] == Decimal("171.04")
    assert asp.get(f"/v1/salesinvoiceswithlines/{invoice['id']}").json() == invoice


def test_money_goes_out_as_exact_json_numbers(asp: Api) -> None:
    answer = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(100, vatAmount=21)]))
    assert '"amountExclVat":100.00' in answer.text
    assert '"amountInclVat":121.00' in answer.text


@pytest.mark.parametrize(
    ("given", "stored"),
    [(None, "2.63"), ("2.63", "2.63"), ("2.62", "2.62"), ("2.64", "2.64"), ("2.61", "2.63"), ("3.00", "2.63")],
)
def test_line_vat_within_a_cent_is_kept_else_computed(asp: Api, given: str | None, stored: str) -> None:
    # 12.50 × 21 % = 2.625 → round half up → 2.63
    line = _line(Decimal("12.50"))
    if given is not None:
        line["vatAmount"] = Decimal(given)
    body = _invoice([line])
    answer = asp.client.post(
        "/v1/salesinvoiceswithlines",
        content=_dump(body),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 201
    invoice = asp.sim.tenant(1001).invoices[answer.json()["id"]]
    assert invoice["lines"][0]["vatAmount"] == Decimal(stored)
    assert invoice["vatAmount"] == Decimal(stored)


def _dump(body: dict[str, Any]) -> bytes:
    return msgspec.json.Encoder(decimal_format="number").encode(body)


def test_numbers_as_strings_are_read(asp: Api) -> None:
    answer = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line("12.50", ledger="8000", vatAmount="2.62")]))
    assert answer.status_code == 201, answer.text
    line = answer.json()["lines"]["_data"][0]
    assert (line["amount"], line["ledgerAccountId"], line["vatAmount"]) == (12.5, 8000, 2.62)


def test_oss_and_zero_rates(asp: Api) -> None:
    body = _invoice([_line(50, "OSS-DE-19", 8100), _line(Decimal("9.99"), "OSS-FR-5.5", 8100), _line(80, "ICP", 8100)])
    answer = asp.client.post(
        "/v1/salesinvoiceswithlines", content=_dump(body), headers={"Content-Type": "application/json"}
    )
    invoice = answer.json()
    totals = asp.sim.invoice_totals(invoice["id"])
    assert totals["vatByCode"] == {"OSS-DE-19": Decimal("9.50"), "OSS-FR-5.5": Decimal("0.55"), "ICP": Decimal("0.00")}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"debtorCustomerNumber": "12345"}, "DebtorCustomerNumber"),
        ({"journalId": "99"}, "JournalId"),
        ({"journalId": "90"}, "JournalId"),
        ({"paymentConditionId": 9}, "PaymentConditionId"),
        ({"date": None}, "Date"),
        ({"date": "22-01-2024"}, "$.date"),
        ({"bookperiod": 13}, "Bookperiod"),
        ({"lines": {"_data": []}}, "Lines"),
        ({"lines": None}, "Lines"),
        ({"lines": [_line(10)]}, "$.lines"),
        ({"lines": {"_data": [_line(10, ledger=4711)]}}, "Lines[0].LedgerAccountId"),
        ({"lines": {"_data": [_line(10, "BTW21")]}}, "Lines[0].VatCode"),
        ({"lines": {"_data": [_line(10, "", 8100)]}}, "Lines[0].VatCode"),
        ({"lines": {"_data": [_line(10, articleId=999)]}}, "Lines[0].ArticleId"),
        ({"lines": {"_data": [_line(10, costCenterId=77)]}}, "Lines[0].CostCenterId"),
        ({"lines": {"_data": [_line(10, costUnitId=77)]}}, "Lines[0].CostUnitId"),
        ({"lines": {"_data": [{"description": "x", "vatCode": "H21", "ledgerAccountId": 8000}]}}, "Lines[0].Amount"),
        ({"lines": {"_data": [_line("tien")]}}, "$.lines._data[0].amount"),
        ({"lines": {"_data": [_line(10, ledger=8000.5)]}}, "$.lines._data[0].ledgerAccountId"),
        ({"lines": {"_data": [_line(10, vat_code=21)]}}, "$.lines._data[0].vatCode"),
    ],
)
def test_invalid_invoices_are_400_with_the_field_and_store_nothing(asp: Api, change: dict, field: str) -> None:
    answer = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(10)], **change))
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["errors"], answer.json()["errors"]
    assert asp.sim.tenant(1001).invoices == {}
    assert asp.get("/v1/salesinvoiceswithlines").json()["_meta"]["totalCount"] == 0


def test_a_disabled_ledger_account_cannot_be_booked_on(asp: Api) -> None:
    asp.sim.tenant(1001).ledger_accounts[8200]["disabled"] = True
    answer = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(10, "EXP", 8200)]))
    assert answer.status_code == 400
    assert answer.json()["errors"]["Lines[0].LedgerAccountId"] == ["Grootboekrekening 8200 is geblokkeerd."]
    asp.sim.reset()
    assert asp.sim.tenant(1001).ledger_accounts[8200]["disabled"] is False


def test_defaults_from_ledger_article_and_debtor(asp: Api) -> None:
    asp.sim.seed_articles(
        [{"code": "BOEK-1", "description": "Kookboek", "salesPrice": "18.35", "ean": "9789000000001", "salesTypeId": 2}]
    )
    article = asp.get("/v1/articles", params={"Code": "BOEK-1"}).json()["_data"][0]
    debtor = asp.post("/v1/debtors", json={"name": "Zakelijk", "paymentConditionId": 3}).json()
    body = _invoice(
        [
            {"articleId": article["id"], "quantity": 2},
            {"description": "Zonder btw-code", "amount": 10, "ledgerAccountId": 8000},
        ],
        debtorCustomerNumber=debtor["customerNumber"],
        paymentConditionId=None,
    )
    invoice = asp.post("/v1/salesinvoiceswithlines", json=body).json()
    first, second = invoice["lines"]["_data"]
    assert (first["description"], first["amount"], first["vatCode"], first["ledgerAccountId"]) == (
        "Kookboek",
        36.70,
        "L9",
        8000,
    )
    assert (first["quantity"], first["unitPrice"], first["articleId"]) == (2, 18.35, article["id"])
    assert first["vatAmount"] == pytest.approx(3.30)
    assert second["vatCode"] == "H21"
    assert invoice["paymentConditionId"] == 3
    assert invoice["paymentDueDate"] == "2024-02-21T00:00:00"


def test_validate_only_stores_nothing(asp: Api) -> None:
    answer = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(10)]), params={"validateOnly": "true"})
    assert answer.status_code == 200
    assert answer.json()["amountInclVat"] == 12.10
    assert asp.sim.tenant(1001).invoices == {}


def test_process_invoice_numbers_and_books_it(asp: Api) -> None:
    first = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(10)])).json()
    second = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(20)])).json()
    processed = asp.sim.process_invoice(second["id"])
    assert processed["status"] == 3 and processed["invoiceNumber"] == "202400001"
    assert processed["amountInclVat"] == 24.2
    assert asp.sim.process_invoice(first["id"])["invoiceNumber"] == "202400002"
    assert asp.sim.process_invoice(first["id"])["invoiceNumber"] == "202400002"
    found = asp.get(
        "/v1/salesinvoiceswithlines", params={"InvoiceNumber": "202400001", "InvoiceNumber_comparison": "Equals"}
    )
    assert [item["id"] for item in found.json()["_data"]] == [second["id"]]
    with pytest.raises(KeyError):
        asp.sim.process_invoice(424242)


def test_headers_list_and_lookup_by_description(asp: Api) -> None:
    for number in (1001, 10010, 2002):
        asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(10)], description=f"Webshop order {number}"))
    headers = asp.get("/v1/salesinvoices", params={"Description": "order 1001"}).json()
    assert [item["description"] for item in headers["_data"]] == ["Webshop order 1001", "Webshop order 10010"]
    assert all("lines" not in item for item in headers["_data"])
    assert headers["_data"][0]["_meta"]["self"].startswith(f"{asp.url}/v1/salesinvoices/")
    with_lines = asp.get("/v1/salesinvoiceswithlines", params={"Description": "order 2002"}).json()["_data"]
    assert with_lines[0]["lines"]["_meta"]["totalCount"] == 1
    assert asp.get("/v1/salesinvoices", params={"AmountInclVat": "12.10"}).json()["_meta"]["totalCount"] == 3
    assert asp.get("/v1/salesinvoices", params={"Date_from": "2024-01-23"}).json()["_meta"]["totalCount"] == 0
    default_debtor_id = asp.get("/v1/debtors").json()["_data"][0]["id"]
    assert asp.get("/v1/salesinvoices", params={"DebtorId": default_debtor_id}).json()["_meta"]["totalCount"] == 3


def test_attach_a_pdf(asp: Api) -> None:
    invoice = asp.post("/v1/salesinvoiceswithlines", json=_invoice([_line(10)])).json()
    pdf = b"%PDF-1.4\n% fake invoice\n"
    answer = asp.post(
        f"/v1/salesinvoiceswithlines/{invoice['id']}/file", files={"File": ("factuur.pdf", pdf, "application/pdf")}
    )
    assert answer.status_code == 201, answer.text
    meta = answer.json()
    assert (meta["name"], meta["extension"], meta["size"], meta["type"]) == (
        "factuur.pdf",
        ".pdf",
        len(pdf),
        "application/pdf",
    )
    for key in (
        "id",
        "createdOn",
        "fileUrl",
        "fullImageUrl",
        "thumbnail1Url",
        "thumbnail2Url",
        "thumbnail3Url",
        "_meta",
    ):
        assert key in meta
    assert asp.client.get(meta["fileUrl"]).content == pdf
    missing = asp.post(f"/v1/salesinvoiceswithlines/{invoice['id']}/file", files={"Other": ("x.pdf", pdf)})
    assert missing.status_code == 400 and "File" in missing.json()["errors"]
    assert asp.post("/v1/salesinvoiceswithlines/999/file", files={"File": ("x.pdf", pdf)}).status_code == 404
    trial = asp.post(
        f"/v1/salesinvoiceswithlines/{invoice['id']}/file",
        files={"File": ("proef.pdf", pdf)},
        params={"validateOnly": "true"},
    )
    assert trial.status_code == 200
    assert len(asp.sim.tenant(1001).files) == 1
