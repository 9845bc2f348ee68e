"""Asperion simulator: Equals lookups answered from an index agree with a full scan, also after changes."""

from __future__ import annotations

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")


def _find(asp: Api, email: str) -> list[str]:
    answer = asp.get("/v1/debtors", params={"EmailAddress": email, "EmailAddress_comparison": "Equals"})
    assert answer.status_code == 200
    return [d["name"] for d in answer.json()["_data"]]


def test_equals_lookups_see_new_and_changed_records(asp: Api) -> None:
    first = asp.post("/v1/debtors", json={"name": "Anna", "emailAddress": "anna@example.nl"}).json()
    assert _find(asp, "ANNA@example.nl") == ["Anna"]  # case-insensitive, as SQL Server compares
    asp.post("/v1/debtors", json={"name": "Anna Twee", "emailAddress": "anna@example.nl"})
    assert _find(asp, "anna@example.nl") == ["Anna", "Anna Twee"]
    assert _find(asp, "nobody@example.nl") == []
    changed = {**first, "emailAddress": "anna.new@example.nl"}
    changed.pop("_meta", None)
    assert asp.put(f"/v1/debtors/{first['id']}", json=changed).status_code == 200
    assert _find(asp, "anna.new@example.nl") == ["Anna"]
    assert _find(asp, "anna@example.nl") == ["Anna Twee"]
    # Contains still means contains.
    contains = asp.get("/v1/debtors", params={"EmailAddress": "anna"}).json()["_data"]
    assert sorted(d["name"] for d in contains) == ["Anna", "Anna Twee"]


def test_invoice_description_equals_is_exact(asp: Api) -> None:
    for number in ("1", "10", "100"):
        body = {
            "date": "2024-01-22",
            "debtorCustomerNumber": "9999",
            "journalId": "70",
            "description": f"WooCommerce order {number}",
            "lines": {"_data": [{"description": "x", "amount": 10, "ledgerAccountId": 8000, "vatCode": "H21"}]},
        }
        assert asp.post("/v1/salesinvoiceswithlines", json=body).status_code == 201
    exact = asp.get(
        "/v1/salesinvoices", params={"Description": "WooCommerce order 1", "Description_comparison": "Equals"}
    ).json()["_data"]
    assert [i["description"] for i in exact] == ["WooCommerce order 1"]
    assert len(asp.get("/v1/salesinvoices", params={"Description": "WooCommerce order 1"}).json()["_data"]) == 3
