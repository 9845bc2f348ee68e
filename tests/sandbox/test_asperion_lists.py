"""Asperion simulator: list envelope, paging, filters, ``fields``, ``orderBy``, ``metaOnly``, seeded reference data."""

from __future__ import annotations

import pytest

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")


def _debtors(asp: Api, count: int) -> list[dict]:
    created = []
    for index in range(count):
        body = {
            "name": f"Klant {index:03d}",
            "emailAddress": f"klant{index}@example.nl",
            "city": "Utrecht" if index % 2 else "Amsterdam",
            "countryCode": "NL",
            "blocked": index % 5 == 0,
        }
        answer = asp.post("/v1/debtors", json=body)
        assert answer.status_code == 201, answer.text
        created.append(answer.json())
    return created


def test_envelope_shape_and_item_links(asp: Api) -> None:
    body = asp.get("/v1/debtors").json()
    assert set(body) == {"_data", "_meta"}
    assert set(body["_meta"]) == {
        "administrationId",
        "administrationName",
        "profileName",
        "previousPage",
        "nextPage",
        "totalCount",
        "pageCount",
        "self",
    }
    assert body["_meta"]["totalCount"] == 1
    assert (body["_meta"]["previousPage"], body["_meta"]["nextPage"]) == ("", "")
    default = body["_data"][0]
    assert default["customerNumber"] == "9999"
    assert default["name"] == "WooCommerce consumenten"
    assert default["_meta"]["self"] == f"{asp.url}/v1/debtors/{default['id']}"
    assert asp.get(f"/v1/debtors/{default['id']}").json() == default


def test_paging_follows_next_page_to_the_end(asp: Api) -> None:
    _debtors(asp, 60)
    first = asp.get("/v1/debtors").json()
    assert len(first["_data"]) == 25
    assert first["_meta"]["totalCount"] == 61
    assert first["_meta"]["pageCount"] == 3
    seen, url, pages = [], f"{asp.url}/v1/debtors", 0
    while url:
        page = asp.client.get(url).json()
        seen += [item["id"] for item in page["_data"]]
        url = page["_meta"]["nextPage"]
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 61

    second = asp.get("/v1/debtors", params={"page": 2, "pageSize": 30}).json()
    assert second["_meta"]["previousPage"] == f"{asp.url}/v1/debtors?pageSize=30&page=1"
    assert second["_meta"]["nextPage"] == f"{asp.url}/v1/debtors?pageSize=30&page=3"
    last = asp.client.get(second["_meta"]["nextPage"]).json()
    assert len(last["_data"]) == 1 and last["_meta"]["nextPage"] == ""
    past = asp.get("/v1/debtors", params={"page": 9}).json()
    assert past["_data"] == [] and past["_meta"]["nextPage"] == ""
    assert len(asp.get("/v1/debtors", params={"pageSize": 250}).json()["_data"]) == 61


@pytest.mark.parametrize(
    ("params", "field"),
    [({"pageSize": 251}, "PageSize"), ({"pageSize": 0}, "PageSize"), ({"page": 0}, "Page"), ({"page": "x"}, "Page")],
)
def test_invalid_paging_is_a_400(asp: Api, params: dict, field: str) -> None:
    answer = asp.get("/v1/debtors", params=params)
    assert answer.status_code == 400
    assert field in answer.json()["errors"]


def test_string_filters_contain_by_default_and_compare_as_asked(asp: Api) -> None:
    _debtors(asp, 12)
    contains = asp.get("/v1/debtors", params={"EmailAddress": "klant1"}).json()
    assert sorted(item["emailAddress"] for item in contains["_data"]) == [
        "klant10@example.nl",
        "klant11@example.nl",
        "klant1@example.nl",
    ]
    equals = asp.get("/v1/debtors", params={"EmailAddress": "KLANT1@example.nl", "EmailAddress_comparison": "Equals"})
    assert [item["emailAddress"] for item in equals.json()["_data"]] == ["klant1@example.nl"]
    starts = asp.get("/v1/debtors", params={"Name": "klant 00", "Name_comparison": "StartsWith"}).json()
    assert starts["_meta"]["totalCount"] == 10
    ends = asp.get("/v1/debtors", params={"Name": "1", "Name_comparison": "EndsWith"}).json()
    assert sorted(item["name"] for item in ends["_data"]) == ["Klant 001", "Klant 011"]
    not_equals = asp.get("/v1/debtors", params={"City": "Utrecht", "City_comparison": "NotEquals"}).json()
    assert {item["city"] for item in not_equals["_data"]} == {"Amsterdam", ""}
    bad = asp.get("/v1/debtors", params={"Name": "x", "Name_comparison": "Like"})
    assert bad.status_code == 400 and "Name_comparison" in bad.json()["errors"]


def test_number_bool_and_date_filters(asp: Api) -> None:
    created = _debtors(asp, 6)
    blocked = asp.get("/v1/debtors", params={"Blocked": "true"}).json()
    assert {item["name"] for item in blocked["_data"]} == {"Klant 000", "Klant 005"}
    by_id = asp.get("/v1/debtors", params={"Id": created[2]["id"]}).json()
    assert [item["name"] for item in by_id["_data"]] == ["Klant 002"]
    assert asp.get("/v1/debtors", params={"Id": "two"}).status_code == 400
    today = created[0]["dateAdded"][:10]
    assert asp.get("/v1/debtors", params={"DateAdded_from": today}).json()["_meta"]["totalCount"] == 6
    assert asp.get("/v1/debtors", params={"DateAdded_to": "2023-12-31"}).json()["_meta"]["totalCount"] == 0
    assert asp.get("/v1/debtors", params={"DateAdded_to": "2024-01-01"}).json()["_meta"]["totalCount"] == 1
    assert asp.get("/v1/debtors", params={"DateAdded_from": "not-a-date"}).status_code == 400
    percentages = asp.get("/v1/vatcodes", params={"Percentage_from": 19, "Percentage_to": 21, "pageSize": 50}).json()
    assert {item["id"] for item in percentages["_data"]} == {
        "H21",
        "OSS-DE-19",
        "OSS-BE-21",
        "OSS-ES-21",
        "OSS-FR-20",
        "OSS-AT-20",
        "VH21",
    }


def test_unknown_query_keys_are_ignored(asp: Api) -> None:
    assert asp.get("/v1/debtors", params={"Colour": "blue"}).json()["_meta"]["totalCount"] == 1


def test_fields_order_by_and_meta_only(asp: Api) -> None:
    _debtors(asp, 4)
    slim = asp.get("/v1/debtors", params={"fields": "id,Name"}).json()["_data"][0]
    assert set(slim) == {"id", "name", "_meta"}
    names = [item["name"] for item in asp.get("/v1/debtors", params={"orderBy": "name desc"}).json()["_data"]]
    assert names == sorted(names, key=str.lower, reverse=True)
    by_city = asp.get("/v1/debtors", params={"orderBy": "City, -Name"}).json()["_data"]
    assert [(item["city"], item["name"]) for item in by_city] == [
        ("", "WooCommerce consumenten"),
        ("Amsterdam", "Klant 002"),
        ("Amsterdam", "Klant 000"),
        ("Utrecht", "Klant 003"),
        ("Utrecht", "Klant 001"),
    ]
    wrong = asp.get("/v1/debtors", params={"orderBy": "shoeSize"})
    assert wrong.status_code == 400 and "OrderBy" in wrong.json()["errors"]
    meta = asp.get("/v1/debtors", params={"metaOnly": "true"}).json()
    assert meta["_data"] == [] and meta["_meta"]["totalCount"] == 5


def test_seeded_reference_data_is_the_spec_table(asp: Api) -> None:
    def ids(path: str) -> list:
        return [item["id"] for item in asp.get(path, params={"pageSize": 250}).json()["_data"]]

    assert ids("/v1/vatcodes") == [
        "H21", "L9", "N0", "ICP", "EXP", "OSS-DE-19", "OSS-DE-7", "OSS-BE-21", "OSS-BE-6", "OSS-FR-20",
        "OSS-FR-5.5", "OSS-IT-22", "OSS-IT-10", "OSS-ES-21", "OSS-AT-20", "OSS-AT-10", "VH21",
    ]  # fmt: skip
    assert sorted(ids("/v1/ledgeraccounts")) == [1000, 1100, 1110, 1300, 1520, 4500, 8000, 8100, 8200, 8300]
    assert sorted(ids("/v1/journals")) == ["10", "70", "90"]
    conditions = asp.get("/v1/paymentconditions").json()["_data"]
    assert [(item["id"], item["description"]) for item in conditions] == [
        (1, "Direct"),
        (2, "14 dagen"),
        (3, "30 dagen"),
        (4, "Rembours"),
    ]
    assert set(conditions[0]) == {"id", "description", "_meta"}
    assert ids("/v1/debtorkinds") == ["B2B-NL", "B2B-EU", "B2B-WORLD", "B2C"]
    assert [item["code"] for item in asp.get("/v1/articles").json()["_data"]] == ["VERZEND"]
    oss_fr = asp.get("/v1/vatcodes/OSS-FR-5.5").json()
    assert (oss_fr["percentage"], oss_fr["countryCode"], oss_fr["salesCode"]) == (5.5, "FR", True)
    assert set(oss_fr) == {
        "id", "description", "salesCode", "percentage", "isDefault", "validFrom", "validUntil", "countryCode", "_meta",
    }  # fmt: skip
    h21 = asp.get("/v1/vatcodes", params={"Id": "H21", "Id_comparison": "Equals"}).json()["_data"][0]
    assert (h21["percentage"], h21["countryCode"], h21["isDefault"]) == (21, "NL", True)
    ledger = asp.get("/v1/ledgeraccounts/8000").json()
    assert set(ledger) == {"id", "type", "description", "vatCode", "disabled", "rcsfi", "_meta"}
    sales_types = asp.get("/v1/salestypes").json()["_data"]
    assert all(set(item) == {"id", "description", "ledgerAccountId", "vatCode", "_meta"} for item in sales_types)
    for path in ("/v1/costcenters", "/v1/costunits"):
        items = asp.get(path).json()["_data"]
        assert items and all(set(item) == {"id", "description", "conversionCode", "_meta"} for item in items)
    tenant_2 = asp.get("/v1/vatcodes", headers={"X-Tenant-Id": "1002"}).json()["_meta"]["totalCount"]
    assert tenant_2 == 17
    purchase = asp.get("/v1/vatcodes/VH21").json()
    assert (purchase["percentage"], purchase["salesCode"]) == (21, False)


def test_get_by_id_404_as_problem_details(asp: Api) -> None:
    for path in ("/v1/debtors/999999", "/v1/debtors/abc", "/v1/vatcodes/H99", "/v1/salesinvoiceswithlines/5"):
        answer = asp.get(path, headers={"Accept-Language": "en"})
        assert answer.status_code == 404, path
        assert answer.json()["status"] == 404
        assert "was not found" in answer.json()["detail"]
