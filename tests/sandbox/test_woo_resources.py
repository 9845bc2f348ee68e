"""Products, variations, customers, coupons and the store configuration endpoints over real HTTP."""

from __future__ import annotations

import httpx


def test_product_crud_trash_and_duplicate_sku(woo: httpx.Client) -> None:
    created = woo.post(
        "/products",
        json={
            "name": "Thee &amp; Co <em>bio</em>",
            "regular_price": "4.95",
            "sku": "TH-1",
            "global_unique_id": "8712345678906",
            "manage_stock": True,
            "stock_quantity": 5,
        },
    )
    assert created.status_code == 201
    product = created.json()
    assert created.headers["location"] == product["_links"]["self"][0]["href"]
    assert product["price"] == "4.95" and product["stock_status"] == "instock" and product["type"] == "simple"
    assert product["name"] == "Thee &amp; Co <em>bio</em>" and product["global_unique_id"] == "8712345678906"
    for key in (
        "permalink",
        "price_html",
        "dimensions",
        "categories",
        "images",
        "attributes",
        "meta_data",
        "tax_class",
    ):
        assert key in product
    dup = woo.post("/products", json={"name": "x", "sku": "TH-1"})
    assert dup.status_code == 400 and dup.json()["code"] == "product_invalid_sku"
    updated = woo.put(f"/products/{product['id']}", json={"stock_quantity": 0, "sale_price": "3.95"}).json()
    assert updated["stock_status"] == "outofstock" and updated["price"] == "3.95" and updated["on_sale"] is True
    assert woo.put("/products/999999", json={"name": "x"}).json()["code"] == "woocommerce_rest_product_invalid_id"
    assert woo.put("/products/999999", json={"name": "x"}).status_code == 400
    assert woo.get("/products/999999").status_code == 404
    assert woo.delete(f"/products/{product['id']}").json()["status"] == "trash"
    assert woo.delete(f"/products/{product['id']}").status_code == 410
    assert woo.delete(f"/products/{product['id']}", params={"force": "true"}).status_code == 200
    assert woo.get(f"/products/{product['id']}").status_code == 404
    bad_type = woo.post("/products", json={"name": "x", "type": "bundle"})
    assert bad_type.status_code == 400 and bad_type.json()["data"]["params"]["type"]


def test_variations_and_their_batch(woo: httpx.Client) -> None:
    parent = woo.post(
        "/products",
        json={
            "name": "T-shirt",
            "type": "variable",
            "attributes": [{"id": 0, "name": "Maat", "variation": True, "options": ["S", "M"]}],
        },
    ).json()
    made = woo.post(
        f"/products/{parent['id']}/variations",
        json={"regular_price": "20.00", "sku": "TS-S", "attributes": [{"id": 0, "name": "Maat", "option": "S"}]},
    )
    assert made.status_code == 201
    variation = made.json()
    assert variation["type"] == "variation" and variation["parent_id"] == parent["id"] and variation["price"] == "20.00"
    assert woo.get(f"/products/{parent['id']}").json()["variations"] == [variation["id"]]
    batch = woo.post(
        f"/products/{parent['id']}/variations/batch",
        json={
            "create": [{"regular_price": "21.00", "sku": "TS-M", "attributes": [{"name": "Maat", "option": "M"}]}],
            "update": [{"id": variation["id"], "manage_stock": True, "stock_quantity": 7}],
        },
    ).json()
    assert batch["create"][0]["sku"] == "TS-M"
    assert batch["update"][0]["stock_quantity"] == 7 and batch["update"][0]["stock_status"] == "instock"
    assert woo.delete(f"/products/{parent['id']}/variations/{variation['id']}").status_code == 501
    gone = woo.delete(f"/products/{parent['id']}/variations/{variation['id']}", params={"force": True})
    assert gone.status_code == 200
    assert woo.get(f"/products/{parent['id']}/variations/{variation['id']}").json()["code"] == (
        "woocommerce_rest_product_variation_invalid_id"
    )


def test_products_batch_partial_errors(woo: httpx.Client) -> None:
    answer = woo.post(
        "/products/batch",
        json={"create": [{"name": "A", "sku": "A-1"}, {"name": "B", "sku": "A-1"}], "delete": [123456]},
    ).json()
    assert answer["create"][0]["sku"] == "A-1"
    assert answer["create"][1]["id"] == 0 and answer["create"][1]["error"]["code"] == "product_invalid_sku"
    assert answer["delete"][0]["error"]["data"]["status"] == 400


def test_customers_crud(woo: httpx.Client) -> None:
    created = woo.post(
        "/customers",
        json={
            "email": "jan@example.nl",
            "first_name": "Jan",
            "last_name": "Jansen",
            "billing": {"country": "NL", "city": "Zwolle"},
        },
    )
    assert created.status_code == 201
    customer = created.json()
    assert (
        customer["role"] == "customer"
        and customer["billing"]["city"] == "Zwolle"
        and customer["billing"]["phone"] == ""
    )
    assert customer["username"] == "jan" and customer["avatar_url"].startswith("https://")
    dup = woo.post("/customers", json={"email": "jan@example.nl"})
    assert dup.status_code == 400 and dup.json()["code"] == "registration-error-email-exists"
    changed = woo.put(f"/customers/{customer['id']}", json={"shipping": {"country": "BE"}}).json()
    assert changed["shipping"]["country"] == "BE"
    missing = woo.get("/customers/99999")
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_invalid_id"
    assert woo.delete(f"/customers/{customer['id']}").status_code == 501
    assert woo.delete(f"/customers/{customer['id']}", params={"force": True}).status_code == 200


def test_store_configuration(woo: httpx.Client) -> None:
    general = {o["id"]: o["value"] for o in woo.get("/settings/general").json()}
    assert general["woocommerce_currency"] == "EUR" and general["woocommerce_default_country"] == "NL"
    tax = {o["id"]: o["value"] for o in woo.get("/settings/tax").json()}
    assert tax["woocommerce_prices_include_tax"] == "yes"
    rates = woo.get("/taxes", params={"per_page": 100}).json()
    nl = {(r["class"], r["rate"]) for r in rates if r["country"] == "NL"}
    assert nl == {("standard", "21.0000"), ("reduced-rate", "9.0000"), ("zero-rate", "0.0000")}
    assert {"DE", "FR", "BE", "AT"} <= {r["country"] for r in rates}
    assert [c["slug"] for c in woo.get("/taxes/classes").json()] == ["standard", "reduced-rate", "zero-rate"]
    zones = woo.get("/shipping/zones").json()
    assert zones[0]["id"] == 0 and len(zones) >= 3
    methods = {m["method_id"] for z in zones for m in woo.get(f"/shipping/zones/{z['id']}/methods").json()}
    assert methods == {"flat_rate", "free_shipping", "local_pickup"}
    assert woo.get("/shipping/zones/1/locations").json()[0]["code"] == "NL"
    gateways = {g["id"] for g in woo.get("/payment_gateways").json()}
    assert gateways == {"bacs", "cheque", "cod", "paypal", "stripe", "mollie_wc_gateway_ideal"}
    countries = {c["code"] for c in woo.get("/data/countries").json()}
    assert {"NL", "BE", "DE", "FR", "GB", "US"} <= countries
    status = woo.get("/system_status").json()
    assert status["settings"]["currency"] == "EUR" and status["environment"]["home_url"].endswith("/woocommerce")
    assert woo.get("/settings/nope").status_code == 404


def test_tax_rate_crud_and_use(woo: httpx.Client) -> None:
    rate = woo.post("/taxes", json={"country": "CH", "rate": "8.1", "name": "MWST", "class": "standard"})
    assert rate.status_code == 201 and rate.json()["rate"] == "8.1000"
    product = woo.post("/products", json={"name": "P", "regular_price": "12.10"}).json()
    order = woo.post(
        "/orders", json={"billing": {"country": "CH"}, "line_items": [{"product_id": product["id"]}]}
    ).json()
    assert order["line_items"][0]["total_tax"] == "0.81" and order["tax_lines"][0]["label"] == "MWST"
    assert woo.delete(f"/taxes/{rate.json()['id']}").status_code == 501
    assert woo.delete(f"/taxes/{rate.json()['id']}", params={"force": True}).status_code == 200
    assert woo.post("/taxes", json={"country": "CH", "rate": "1", "class": "luxury"}).status_code == 400


def test_coupons_crud(woo: httpx.Client) -> None:
    coupon = woo.post("/coupons", json={"code": "Zomer25", "discount_type": "percent", "amount": "25"})
    assert coupon.status_code == 201 and coupon.json()["code"] == "zomer25"
    assert woo.post("/coupons", json={"code": "zomer25"}).status_code == 400
    assert [c["code"] for c in woo.get("/coupons").json()] == ["zomer25"]
    assert woo.get("/coupons/987654").status_code == 404


def test_stock_is_reduced_on_payment_restored_on_cancel_and_restocked_by_refunds(woo: httpx.Client) -> None:
    product = woo.post(
        "/products",
        json={"name": "Molen", "regular_price": "12.10", "sku": "ML-1", "manage_stock": True, "stock_quantity": 10},
    ).json()
    order = woo.post(
        "/orders",
        json={
            "payment_method": "stripe",
            "set_paid": True,
            "line_items": [{"product_id": product["id"], "quantity": 3}],
        },
    ).json()
    assert woo.get(f"/products/{product['id']}").json()["stock_quantity"] == 7
    assert {m["key"]: m["value"] for m in order["line_items"][0]["meta_data"]}["_reduced_stock"] == "3"
    line = order["line_items"][0]
    woo.post(
        f"/orders/{order['id']}/refunds",
        json={"line_items": [{"id": line["id"], "quantity": 1, "refund_total": "10.00"}], "api_restock": True},
    )
    assert woo.get(f"/products/{product['id']}").json()["stock_quantity"] == 8
    second = woo.post(
        "/orders", json={"status": "on-hold", "line_items": [{"product_id": product["id"], "quantity": 8}]}
    )
    assert woo.get(f"/products/{product['id']}").json()["stock_status"] == "outofstock"
    woo.put(f"/orders/{second.json()['id']}", json={"status": "cancelled"})
    assert woo.get(f"/products/{product['id']}").json()["stock_quantity"] == 8


def test_variable_price_follows_variations_head_and_foreign_namespace(woo: httpx.Client) -> None:
    parent = woo.post("/products", json={"name": "Trui", "type": "variable"}).json()
    assert parent["price"] == ""
    for price in ("30.00", "25.00"):
        woo.post(f"/products/{parent['id']}/variations", json={"regular_price": price})
    assert woo.get(f"/products/{parent['id']}").json()["price"] == "25.00"
    head = woo.head("/products")
    assert head.status_code == 200 and head.content == b"" and head.headers["x-wp-total"] == "1"
    foreign = woo.get(str(woo.base_url).replace("/wc/v3", "/wp/v2") + "/posts")
    assert foreign.status_code == 401
    assert foreign.json()["message"] == "The provided API key cannot be used to access this endpoint."


def test_categories_from_products_and_created(woo: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"products": 16, "seed": 1})
    cats = woo.get("/products/categories", params={"per_page": 100}).json()
    assert len(cats) >= 5 and all(c["count"] >= 1 for c in cats)
    assert sum(c["count"] for c in cats) == 16
    one = woo.get(f"/products/categories/{cats[0]['id']}").json()
    assert one["name"] == cats[0]["name"]
    missing = woo.get("/products/categories/99999")
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_term_invalid"
    made = woo.post("/products/categories", json={"name": "Thee & Koffie"})
    assert made.status_code == 201 and made.json()["count"] == 0
