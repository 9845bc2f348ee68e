"""Asperion simulator: debtors (create, customer numbers, validation, duplicates, full update, validateOnly)."""

from __future__ import annotations

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")

COMPANY = {
    "name": "Voorbeeld B.V.",
    "attentionTo": "Jan Jansen",
    "address": "Hoofdstraat 1",
    "postCode": "1234 AB",
    "city": "Utrecht",
    "countryCode": "NL",
    "emailAddress": "jan@example.nl",
    "vatNumber": "NL000000000B01",
    "cocNumber": "12345678",
    "debtorKindId": "B2B-NL",
    "paymentConditionId": 2,
}


def test_create_returns_the_object_itself_with_assigned_numbers(asp: Api) -> None:
    answer = asp.post("/v1/debtors", json=COMPANY)
    assert answer.status_code == 201
    debtor = answer.json()
    assert "_data" not in debtor
    assert debtor["customerNumber"] == "10000"
    assert {key: debtor[key] for key in COMPANY} == COMPANY
    assert (debtor["addressLine2"], debtor["comments"], debtor["dateLastChange"]) == (None, None, None)
    assert debtor["dateAdded"][:4].isdigit() and "T" in debtor["dateAdded"]
    assert answer.headers["location"] == debtor["_meta"]["self"]
    assert asp.post("/v1/debtors", json={"name": "Piet"}).json()["customerNumber"] == "10001"
    assert (
        asp.post("/v1/debtors", json={"name": "Eigen", "customerNumber": "10002"}).json()["customerNumber"] == "10002"
    )
    assert asp.post("/v1/debtors", json={"name": "Volgende"}).json()["customerNumber"] == "10003"
    stored = asp.sim.tenant(1001).debtors[debtor["id"]]
    assert stored["vatNumber"] == "NL000000000B01"


def test_the_next_number_is_the_lowest_free_one_also_after_a_number_is_given_up(asp: Api) -> None:
    first, second = (asp.post("/v1/debtors", json={"name": n}).json() for n in ("Een", "Twee"))
    assert asp.post("/v1/debtors", json={"name": "Vijf", "customerNumber": "10003"}).status_code == 201
    assert asp.post("/v1/debtors", json={"name": "Drie"}).json()["customerNumber"] == "10002"
    assert asp.post("/v1/debtors", json={"name": "Vier"}).json()["customerNumber"] == "10004"
    renamed = asp.put(f"/v1/debtors/{first['id']}", json={"name": "Een", "customerNumber": "K-1"})
    assert renamed.status_code == 200 and second["customerNumber"] == "10001"
    assert asp.post("/v1/debtors", json={"name": "Zes"}).json()["customerNumber"] == "10000"  # given up by "Een"
    assert asp.post("/v1/debtors", json={"name": "Zeven"}).json()["customerNumber"] == "10005"


def test_duplicate_customer_number_is_a_409(asp: Api) -> None:
    assert asp.post("/v1/debtors", json={"name": "Een", "customerNumber": "C-1"}).status_code == 201
    duplicate = asp.post(
        "/v1/debtors", json={"name": "Twee", "customerNumber": "C-1"}, headers={"Accept-Language": "en"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"]["CustomerNumber"] == ["A debtor with customer number 'C-1' already exists."]
    assert asp.post("/v1/debtors", json={"name": "Drie", "customerNumber": "9999"}).status_code == 409
    assert asp.get("/v1/debtors").json()["_meta"]["totalCount"] == 2


def test_validation_lists_every_field_error_and_stores_nothing(asp: Api) -> None:
    answer = asp.post(
        "/v1/debtors",
        json={"attentionTo": "x", "debtorKindId": "VIP", "paymentConditionId": 99, "countryCode": "Nederland"},
    )
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"Name", "DebtorKindId", "PaymentConditionId", "CountryCode"}
    typed = asp.post("/v1/debtors", json={"name": "X", "paymentConditionId": "two", "blocked": "no", "city": 5})
    assert typed.status_code == 400
    assert set(typed.json()["errors"]) == {"$.paymentConditionId", "$.blocked", "$.city"}
    assert asp.get("/v1/debtors").json()["_meta"]["totalCount"] == 1


def test_malformed_bodies(asp: Api) -> None:
    broken = asp.client.post("/v1/debtors", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "$" in broken.json()["errors"]
    array = asp.post("/v1/debtors", json=[{"name": "x"}])
    assert array.status_code == 400
    form = asp.client.post("/v1/debtors", data={"name": "x"})
    assert form.status_code == 415


def test_numbers_may_come_as_strings_as_aspnet_web_defaults_allow(asp: Api) -> None:
    debtor = asp.post("/v1/debtors", json={"name": "Tekst", "paymentConditionId": "3"}).json()
    assert debtor["paymentConditionId"] == 3
    assert asp.post("/v1/debtors", json={"name": "Komma", "paymentConditionId": 3.0}).status_code == 400


def test_property_names_match_without_regard_to_case(asp: Api) -> None:
    debtor = asp.post("/v1/debtors", json={"Name": "Hoofdletter", "EmailAddress": "h@example.nl"}).json()
    assert (debtor["name"], debtor["emailAddress"]) == ("Hoofdletter", "h@example.nl")


def test_put_replaces_the_debtor_and_ignores_read_only_fields(asp: Api) -> None:
    debtor = asp.post("/v1/debtors", json=COMPANY).json()
    changed = {**debtor, "city": "Zwolle", "id": 5, "dateAdded": "2000-01-01T00:00:00", "attentionTo": None}
    answer = asp.put(f"/v1/debtors/{debtor['id']}", json=changed)
    assert answer.status_code == 200
    updated = answer.json()
    assert (updated["id"], updated["dateAdded"]) == (debtor["id"], debtor["dateAdded"])
    assert (updated["city"], updated["attentionTo"]) == ("Zwolle", "")
    assert updated["dateLastChange"] is not None
    assert asp.get(f"/v1/debtors/{debtor['id']}").json()["city"] == "Zwolle"

    other = asp.post("/v1/debtors", json={"name": "Ander"}).json()
    clash = asp.put(f"/v1/debtors/{other['id']}", json={"name": "Ander", "customerNumber": debtor["customerNumber"]})
    assert clash.status_code == 409
    assert asp.put("/v1/debtors/424242", json={"name": "x"}).status_code == 404
    assert asp.put(f"/v1/debtors/{debtor['id']}", json={"city": "Geen naam"}).status_code == 400


def test_validate_only_stores_nothing(asp: Api) -> None:
    answer = asp.post("/v1/debtors", json={"name": "Proef"}, params={"validateOnly": "true"})
    assert answer.status_code == 200
    assert answer.json()["name"] == "Proef"
    assert asp.get("/v1/debtors").json()["_meta"]["totalCount"] == 1
    assert asp.post("/v1/debtors", json={}, params={"validateOnly": "true"}).status_code == 400
    assert asp.post("/v1/debtors", json={"name": "Echt"}).json()["customerNumber"] == "10000"


def test_lookup_by_email_needs_an_exact_recheck(asp: Api) -> None:
    asp.post("/v1/debtors", json={"name": "A", "emailAddress": "jan@example.nl"})
    asp.post("/v1/debtors", json={"name": "B", "emailAddress": "marjan@example.nl"})
    found = asp.get("/v1/debtors", params={"EmailAddress": "jan@example.nl"}).json()["_data"]
    assert sorted(item["name"] for item in found) == ["A", "B"]
