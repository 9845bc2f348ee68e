"""Orders over real HTTP: creation with WooCommerce totals, updates, trash/delete, refunds, notes, batch, errors."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.sandbox.test_woo_auth import fixture


def make_product(woo: httpx.Client, **fields: object) -> dict:
    body = {"name": "Koffiebonen", "regular_price": "12.10", "sku": "KB-1", **fields}
    answer = woo.post("/products", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def nl_address(**extra: str) -> dict:
    return {
        "first_name": "Eva",
        "last_name": "de Vries",
        "address_1": "Kerkstraat 1",
        "city": "Utrecht",
        "postcode": "3511 AA",
        "country": "NL",
        "email": "eva@example.nl",
        **extra,
    }


def total_identity(order: dict) -> None:
    lines = sum(Decimal(li["total"]) for li in order["line_items"])
    fees = sum(Decimal(f["total"]) for f in order["fee_lines"])
    assert Decimal(order["total"]) == lines + Decimal(order["shipping_total"]) + fees + Decimal(order["total_tax"])
    assert Decimal(order["total_tax"]) == Decimal(order["cart_tax"]) + Decimal(order["shipping_tax"])
    tax_lines = sum(Decimal(t["tax_total"]) + Decimal(t["shipping_tax_total"]) for t in order["tax_lines"])
    assert tax_lines == Decimal(order["total_tax"])


def test_create_returns_201_location_and_wc_totals(woo: httpx.Client) -> None:
    product = make_product(woo)  # 12.10 incl. 21 % (the shop enters prices with tax) = 10.00 ex
    book = make_product(woo, name="Kookboek", regular_price="21.80", sku="BK-1", tax_class="reduced-rate")
    answer = woo.post(
        "/orders",
        json={
            "billing": nl_address(),
            "shipping": nl_address(),
            "payment_method": "bacs",
            "set_paid": True,
            "line_items": [{"product_id": product["id"], "quantity": 3}, {"product_id": book["id"], "quantity": 1}],
            "shipping_lines": [{"method_id": "flat_rate", "method_title": "PostNL", "total": "4.95"}],
            "fee_lines": [{"name": "Inpakken", "total": "1.00", "tax_status": "taxable"}],
        },
    )
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert answer.headers["location"].endswith(f"/wp-json/wc/v3/orders/{order['id']}")
    assert order["status"] == "processing" and order["date_paid"] and order["created_via"] == "rest-api"
    assert order["prices_include_tax"] is True and order["currency"] == "EUR" and order["currency_symbol"] == "€"
    coffee, cookbook = order["line_items"]
    assert (coffee["subtotal"], coffee["total"], coffee["total_tax"], coffee["price"]) == ("30.00", "30.00", "6.30", 10)
    assert (cookbook["total"], cookbook["total_tax"]) == ("20.00", "1.80")
    assert order["shipping_lines"][0]["total_tax"] == "1.04"
    assert order["fee_lines"][0]["total_tax"] == "0.21"
    assert order["cart_tax"] == "8.31" and order["shipping_tax"] == "1.04"
    assert order["total"] == "65.30"
    assert {t["label"] for t in order["tax_lines"]} == {"BTW 21%", "BTW 9%"}
    total_identity(order)
    assert woo.get(f"/orders/{order['id']}").json() == order


def test_coupons_percent_fixed_cart_fixed_product(woo: httpx.Client) -> None:
    product = make_product(woo, regular_price="24.20")  # 20.00 ex
    for code, kind, amount in (
        ("tien", "percent", "10"),
        ("vijf", "fixed_cart", "6.05"),
        ("twee", "fixed_product", "2.42"),
    ):
        assert woo.post("/coupons", json={"code": code, "discount_type": kind, "amount": amount}).status_code == 201
    results = {}
    for code in ("tien", "vijf", "twee"):
        order = woo.post(
            "/orders",
            json={
                "billing": nl_address(),
                "line_items": [{"product_id": product["id"], "quantity": 2}],
                "coupon_lines": [{"code": code}],
            },
        ).json()
        total_identity(order)
        results[code] = (
            order["discount_total"],
            order["discount_tax"],
            order["total"],
            order["coupon_lines"][0]["discount"],
        )
    # gross 48.40: 10 % = 4.84 incl → 4.00 ex + 0.84 tax; 6.05 incl → 5.00 ex; 2.42 × 2 incl → 4.00 ex
    assert results["tien"] == ("4.00", "0.84", "43.56", "4.00")
    assert results["vijf"] == ("5.00", "1.05", "42.35", "5.00")
    assert results["twee"] == ("4.00", "0.84", "43.56", "4.00")
    unknown = woo.post(
        "/orders", json={"line_items": [{"product_id": product["id"]}], "coupon_lines": [{"code": "nope"}]}
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "woocommerce_rest_invalid_coupon"


def test_taxes_follow_the_customer_country_and_exemption(woo: httpx.Client) -> None:
    product = make_product(woo)
    de = woo.post(
        "/orders", json={"billing": nl_address(country="DE"), "line_items": [{"product_id": product["id"]}]}
    ).json()
    assert de["line_items"][0]["total_tax"] == "1.90" and de["tax_lines"][0]["rate_percent"] == 19
    us = woo.post(
        "/orders", json={"billing": nl_address(country="US"), "line_items": [{"product_id": product["id"]}]}
    ).json()
    assert us["total_tax"] == "0.00" and us["tax_lines"] == []
    b2b = woo.post(
        "/orders",
        json={
            "billing": nl_address(country="BE", company="Peeters BV"),
            "line_items": [{"product_id": product["id"]}],
            "meta_data": [
                {"key": "is_vat_exempt", "value": "yes"},
                {"key": "_billing_vat_number", "value": "BE0123456789"},
            ],
        },
    ).json()
    assert b2b["total_tax"] == "0.00" and b2b["total"] == "10.00"
    assert {m["key"]: m["value"] for m in b2b["meta_data"]}["_billing_vat_number"] == "BE0123456789"
    assert all(isinstance(m["id"], int) for m in b2b["meta_data"])


def test_create_errors(woo: httpx.Client) -> None:
    no_ref = woo.post("/orders", json={"line_items": [{"quantity": 1}]})
    assert no_ref.status_code == 400 and no_ref.json()["code"] == "woocommerce_rest_required_product_reference"
    bad_customer = woo.post("/orders", json={"customer_id": 999})
    assert bad_customer.json()["code"] == "woocommerce_rest_invalid_customer_id"
    bad_status = woo.post("/orders", json={"status": "shipped"})
    assert bad_status.status_code == 400 and bad_status.json()["code"] == "rest_invalid_param"
    not_json = woo.post("/orders", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["code"] == "rest_invalid_json"


def test_missing_id_is_404_on_get_and_delete_but_400_on_update(woo: httpx.Client) -> None:
    assert woo.get("/orders/424242").json() == fixture("error-404-order-invalid-id.json")
    assert woo.delete("/orders/424242").status_code == 404
    update = woo.put("/orders/424242", json={"status": "completed"})
    assert update.status_code == 400 and update.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_update_status_and_items_recalculates(woo: httpx.Client) -> None:
    product = make_product(woo)
    order = woo.post("/orders", json={"billing": nl_address(), "line_items": [{"product_id": product["id"]}]}).json()
    assert order["status"] == "pending" and order["needs_payment"] is True
    line = order["line_items"][0]
    updated = woo.put(
        f"/orders/{order['id']}", json={"status": "completed", "line_items": [{"id": line["id"], "quantity": 4}]}
    ).json()
    assert updated["status"] == "completed" and updated["date_completed"] is not None
    assert updated["line_items"][0]["quantity"] == 4 and updated["total"] == "48.40"
    assert updated["date_modified_gmt"] >= order["date_modified_gmt"]
    total_identity(updated)


def test_trash_then_410_then_force_delete(woo: httpx.Client) -> None:
    order = woo.post("/orders", json={}).json()
    trashed = woo.delete(f"/orders/{order['id']}")
    assert trashed.status_code == 200 and trashed.json()["status"] == "trash"
    assert [o["id"] for o in woo.get("/orders").json()] == []
    assert [o["id"] for o in woo.get("/orders", params={"status": "trash"}).json()] == [order["id"]]
    again = woo.delete(f"/orders/{order['id']}")
    assert again.status_code == 410 and again.json()["code"] == "woocommerce_rest_already_trashed"
    assert woo.delete(f"/orders/{order['id']}", params={"force": "true"}).status_code == 200
    assert woo.get(f"/orders/{order['id']}").status_code == 404


def test_refunds_partial_and_full(woo: httpx.Client) -> None:
    product = make_product(woo)
    order = woo.post(
        "/orders",
        json={
            "billing": nl_address(),
            "payment_method": "stripe",
            "set_paid": True,
            "line_items": [{"product_id": product["id"], "quantity": 2}],
        },
    ).json()
    line = order["line_items"][0]
    partial = woo.post(
        f"/orders/{order['id']}/refunds",
        json={
            "reason": "kapot",
            "line_items": [
                {
                    "id": line["id"],
                    "quantity": 1,
                    "refund_total": "10.00",
                    "refund_tax": [{"id": line["taxes"][0]["id"], "refund_total": "2.10"}],
                }
            ],
        },
    )
    assert partial.status_code == 201, partial.text
    refund = partial.json()
    assert refund["amount"] == "12.10" and refund["refunded_payment"] is True
    assert refund["line_items"][0]["total"] == "-10.00"
    assert refund["line_items"][0]["meta_data"][0]["key"] == "_refunded_item_id"
    after = woo.get(f"/orders/{order['id']}").json()
    assert after["refunds"] == [{"id": refund["id"], "reason": "kapot", "total": "-12.10"}]
    assert after["status"] == "processing"
    too_much = woo.post(f"/orders/{order['id']}/refunds", json={"amount": "50.00"})
    assert too_much.status_code == 500 and too_much.json()["code"] == "woocommerce_rest_cannot_create_order_refund"
    rest = woo.post(f"/orders/{order['id']}/refunds", json={"amount": "12.10", "reason": "rest"}).json()
    assert woo.get(f"/orders/{order['id']}").json()["status"] == "refunded"
    listed = woo.get(f"/orders/{order['id']}/refunds")
    assert [r["id"] for r in listed.json()] == [rest["id"], refund["id"]]
    assert woo.get(f"/orders/{refund['id']}").status_code == 404  # refunds are not orders
    assert woo.delete(f"/orders/{order['id']}/refunds/{rest['id']}").status_code == 501
    assert woo.delete(f"/orders/{order['id']}/refunds/{rest['id']}", params={"force": True}).status_code == 200


def test_refund_needs_a_gateway_that_refunds(woo: httpx.Client) -> None:
    order = woo.post("/orders", json={"payment_method": "bacs", "fee_lines": [{"name": "x", "total": "10"}]}).json()
    manual = woo.post(f"/orders/{order['id']}/refunds", json={"amount": "1.00"})
    assert manual.status_code == 500
    assert "does not support automatic refunds" in manual.json()["message"]
    assert woo.post(f"/orders/{order['id']}/refunds", json={"amount": "1.00", "api_refund": False}).status_code == 201


def test_notes(woo: httpx.Client) -> None:
    order = woo.post("/orders", json={}).json()
    created = woo.post(f"/orders/{order['id']}/notes", json={"note": "Pakket verzonden", "customer_note": True})
    assert created.status_code == 201
    note = created.json()
    assert note["note"] == "Pakket verzonden" and note["customer_note"] is True
    assert [n["id"] for n in woo.get(f"/orders/{order['id']}/notes").json()] == [note["id"]]
    assert woo.get(f"/orders/{order['id']}/notes", params={"type": "internal"}).json() == []
    assert woo.post(f"/orders/{order['id']}/notes", json={}).json()["code"] == "rest_missing_callback_param"
    assert woo.delete(f"/orders/{order['id']}/notes/{note['id']}", params={"force": True}).status_code == 200


def test_batch_with_per_item_errors_and_413(woo: httpx.Client) -> None:
    existing = woo.post("/orders", json={}).json()
    answer = woo.post(
        "/orders/batch",
        json={
            "create": [{"status": "on-hold"}, {"status": "bogus"}],
            "update": [{"id": existing["id"], "status": "completed"}, {"id": 999999, "status": "completed"}],
            "delete": [existing["id"] + 1000],
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["create"][0]["status"] == "on-hold" and body["create"][1]["id"] == 0
    assert body["create"][1]["error"]["code"] == "rest_invalid_param"
    assert body["update"][0]["status"] == "completed"
    assert body["update"][1] == fixture("batch-update-partial-error-1.json")["update"][0]
    assert body["delete"][0]["error"]["code"] == "woocommerce_rest_shop_order_invalid_id"
    too_big = woo.post("/orders/batch", json={"create": [{}] * 60, "update": [{"id": 1}] * 41})
    assert too_big.status_code == 413
    assert too_big.json() == fixture("error-413-batch-too-large.json")


@pytest.mark.parametrize("per_page", ["0", "101", "abc"])
def test_per_page_bounds(woo: httpx.Client, per_page: str) -> None:
    answer = woo.get("/orders", params={"per_page": per_page})
    assert answer.status_code == 400
    assert answer.json()["code"] == "rest_invalid_param"
    if per_page == "101":
        assert answer.json() == fixture("error-400-per-page-out-of-bounds.json")


def test_remove_lines_and_fields_filter(woo: httpx.Client) -> None:
    a = make_product(woo)
    b = make_product(woo, name="Thee", sku="TH-9", regular_price="6.05")
    order = woo.post(
        "/orders", json={"billing": nl_address(), "line_items": [{"product_id": a["id"]}, {"product_id": b["id"]}]}
    ).json()
    first, second = order["line_items"]
    kept = woo.put(f"/orders/{order['id']}", json={"line_items": [{"id": first["id"], "quantity": 0}]}).json()
    assert [li["id"] for li in kept["line_items"]] == [second["id"]] and kept["total"] == "6.05"
    meta_only = woo.put(
        f"/orders/{order['id']}",
        json={"line_items": [{"id": second["id"], "meta_data": [{"key": "gift", "value": "ja"}]}]},
    ).json()
    assert meta_only["line_items"][0]["meta_data"][-1]["display_key"] == "gift"
    emptied = woo.put(f"/orders/{order['id']}", json={"line_items": [{"id": second["id"], "product_id": None}]}).json()
    assert emptied["line_items"] == [] and emptied["total"] == "0.00"
    few = woo.get(f"/orders/{order['id']}", params={"_fields": "id,status,billing.country"}).json()
    assert set(few) == {"id", "status", "billing", "_links"} and few["billing"] == {"country": "NL"}
    listed = woo.get("/orders", params={"_fields": "id,total"}).json()
    assert {k for o in listed for k in o} == {"id", "total", "_links"}


def test_status_changes_and_refunds_leave_system_notes(woo: httpx.Client) -> None:
    order = woo.post("/orders", json={"payment_method": "paypal", "fee_lines": [{"name": "f", "total": "10"}]}).json()
    woo.put(f"/orders/{order['id']}", json={"status": "processing"})
    woo.post(f"/orders/{order['id']}/refunds", json={"amount": order["total"], "reason": "retour"})
    notes = [n["note"] for n in woo.get(f"/orders/{order['id']}/notes").json()]
    assert notes == [
        "Order status changed from Processing to Refunded.",
        f"Refunded €{order['total']} – retour",
        "Order status changed from Pending payment to Processing.",
    ]
