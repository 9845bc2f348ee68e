"""Asperion simulator: articles (read-only stock, unique codes, ActiveState), sales orders moving stock (inTrade)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")


def _article(asp: Api, code: str, **fields: Any) -> dict[str, Any]:
    answer = asp.post("/v1/articles", json={"code": code, "description": f"Artikel {code}", "salesPrice": 10, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _order(article_id: int, quantity: float, /, **header: Any) -> dict[str, Any]:
    body = {
        "debtorCustomerNumber": "9999",
        "date": "2024-03-01",
        "description": "Webshop order 5001",
        "lines": {"_data": [{"articleId": article_id, "quantity": quantity}]},
    }
    body.update(header)
    return body


def _stock(asp: Api, code: str) -> tuple[float, float]:
    article = asp.get("/v1/articles", params={"Code": code, "Code_comparison": "Equals"}).json()["_data"][0]
    return article["currentStock"], article["reservedStock"]


def test_create_and_update_articles(asp: Api) -> None:
    article = _article(asp, "SKU-1", ean="8712345678906", salesTypeId=2, salesPrice=12.5)
    assert set(article) == {
        "id", "code", "description", "longDescription", "ean", "salesPrice", "salesTypeId", "unit", "currentStock",
        "reservedStock", "active", "dateLastChange", "_meta",
    }  # fmt: skip
    assert (article["currentStock"], article["reservedStock"], article["salesPrice"]) == (0, 0, 12.5)
    changed = {key: value for key, value in article.items() if key not in ("currentStock", "reservedStock", "_meta")}
    changed["description"] = "Nieuw"
    answer = asp.put(f"/v1/articles/{article['id']}", json=changed)
    assert answer.status_code == 200 and answer.json()["description"] == "Nieuw"
    stored = asp.sim.tenant(1001).article_by_code("sku-1")
    assert stored is not None and stored["description"] == "Nieuw"


@pytest.mark.parametrize("field", ["currentStock", "reservedStock", "CurrentStock"])
def test_stock_is_read_only_in_writes(asp: Api, field: str) -> None:
    posted = asp.post("/v1/articles", json={"code": "S", "description": "x", field: 5})
    assert posted.status_code == 400
    assert field[0].upper() + field[1:] in posted.json()["errors"]
    article = _article(asp, "T")
    put = asp.put(f"/v1/articles/{article['id']}", json={"code": "T", "description": "x", field: 5})
    assert put.status_code == 400
    assert _stock(asp, "T") == (0, 0)


def test_article_validation_and_duplicates(asp: Api) -> None:
    _article(asp, "DUP")
    assert asp.post("/v1/articles", json={"code": "dup", "description": "y"}).status_code == 409
    assert asp.post("/v1/articles", json={"code": "VERZEND", "description": "y"}).status_code == 409
    bad = asp.post("/v1/articles", json={"description": "geen code", "salesTypeId": 42})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"Code", "SalesTypeId"}
    other = _article(asp, "OTHER")
    assert asp.put(f"/v1/articles/{other['id']}", json={"code": "DUP", "description": "z"}).status_code == 409


def test_only_active_articles_unless_active_state(asp: Api) -> None:
    _article(asp, "OLD", active=False)
    codes = {item["code"] for item in asp.get("/v1/articles").json()["_data"]}
    assert codes == {"VERZEND"}
    everything = asp.get("/v1/articles", params={"ActiveState": "All"}).json()["_data"]
    assert {item["code"] for item in everything} == {"VERZEND", "OLD"}
    inactive = asp.get("/v1/articles", params={"ActiveState": "Inactive"}).json()["_data"]
    assert [item["code"] for item in inactive] == ["OLD"]


def test_seed_articles_and_set_stock(asp: Api) -> None:
    added = asp.sim.seed_articles(
        [
            {"code": "WOO-1", "description": "Mok", "salesPrice": "8.26", "ean": "8712345000011"},
            {"code": "WOO-2", "description": "Thee", "salesPrice": 4.50, "ean": "", "salesTypeId": 2},
            {"code": "WOO-1", "description": "again", "salesPrice": "1", "ean": ""},
        ]
    )
    assert [item["code"] for item in added] == ["WOO-1", "WOO-2"]
    listed = asp.get("/v1/articles", params={"Code": "WOO", "orderBy": "code"}).json()["_data"]
    assert [(item["code"], item["salesPrice"], item["salesTypeId"]) for item in listed] == [
        ("WOO-1", 8.26, 1),
        ("WOO-2", 4.5, 2),
    ]
    asp.sim.set_stock("WOO-1", 12, 3)
    assert _stock(asp, "WOO-1") == (12, 3)
    asp.sim.reset()
    assert asp.get("/v1/articles").json()["_meta"]["totalCount"] == 1


def test_open_order_reserves_and_delivery_takes_from_stock(asp: Api) -> None:
    article = _article(asp, "MOK")
    asp.sim.set_stock("MOK", 10)
    answer = asp.post("/v1/SalesOrderWithLines", json=_order(article["id"], 3))
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert order["status"] == "open"
    assert order["orderNumber"]
    line = order["lines"]["_data"][0]
    assert (line["unitPrice"], line["amount"], line["vatCode"], line["ledgerAccountId"]) == (10, 30, "H21", 8000)
    assert _stock(asp, "MOK") == (10, 3)

    delivered = {**order, "status": "delivered"}
    delivered.pop("_meta")
    assert asp.put(f"/v1/SalesOrderWithLines/{order['id']}", json=delivered).status_code == 200
    assert _stock(asp, "MOK") == (7, 0)

    direct = asp.post("/v1/salesorderwithlines", json=_order(article["id"], 2, status="delivered"))
    assert direct.status_code == 201
    assert _stock(asp, "MOK") == (5, 0)
    assert asp.get("/v1/SalesOrderWithLines", params={"Status": "delivered"}).json()["_meta"]["totalCount"] == 2


def test_sales_order_validation(asp: Api) -> None:
    article = _article(asp, "X")
    cases = [
        (_order(999, 1), "Lines[0].ArticleId"),
        (_order(article["id"], 0), "Lines[0].Quantity"),
        (_order(article["id"], 1, debtorCustomerNumber="nobody"), "DebtorCustomerNumber"),
        (_order(article["id"], 1, status="shipped"), "Status"),
        (_order(article["id"], 1, lines={"_data": []}), "Lines"),
    ]
    for body, field in cases:
        answer = asp.post("/v1/SalesOrderWithLines", json=body)
        assert answer.status_code == 400, body
        assert field in answer.json()["errors"]
    assert _stock(asp, "X") == (0, 0)
    assert asp.post("/v1/SalesOrderWithLines", json=_order(article["id"], 1, orderNumber="A-1")).status_code == 201
    assert asp.post("/v1/SalesOrderWithLines", json=_order(article["id"], 1, orderNumber="A-1")).status_code == 409
    trial = asp.post("/v1/SalesOrderWithLines", json=_order(article["id"], 5), params={"validateOnly": "true"})
    assert trial.status_code == 200
    assert _stock(asp, "X") == (0, 1)


def test_sales_orders_need_in_trade(asp: Api) -> None:
    headers = {"X-Tenant-Id": "1002"}
    assert asp.get("/v1/SalesOrderWithLines", headers=headers).status_code == 403
    assert asp.post("/v1/SalesOrderWithLines", json=_order(1, 1), headers=headers).status_code == 403
