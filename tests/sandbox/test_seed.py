"""The seeded shop (``--orders N --customers N --products N --seed S``) is realistic and consistent to the cent."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.sandbox.test_woo_orders import total_identity


def all_pages(woo: httpx.Client, path: str, **params: object) -> list[dict]:
    out: list[dict] = []
    page = 1
    while True:
        answer = woo.get(path, params={"per_page": 100, "page": page, **params})
        out.extend(answer.json())
        if page >= int(answer.headers["x-wp-totalpages"]):
            return out
        page += 1


def ean_ok(code: str) -> bool:
    digits = [int(c) for c in code]
    return len(digits) == 13 and sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def test_seeded_shop_is_realistic_and_consistent(woo: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"orders": 400, "customers": 80, "products": 20, "seed": 11})
    orders = all_pages(woo, "/orders")
    assert len(orders) == 400
    assert {o["status"] for o in orders} == {
        "pending",
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "refunded",
        "failed",
        "checkout-draft",
    }
    assert {o["currency"] for o in orders} == {"EUR"}
    assert any(o["customer_id"] == 0 for o in orders) and any(o["customer_id"] for o in orders)
    assert {o["billing"]["country"] for o in orders} == {"NL", "BE", "DE", "FR", "GB", "US"}
    b2b = [o for o in orders if any(m["key"] == "_billing_vat_number" for m in o["meta_data"])]
    assert b2b and all(o["billing"]["company"] for o in b2b)
    assert {c["discount_type"] for o in orders for c in o["coupon_lines"]} == {"percent", "fixed_cart", "fixed_product"}
    fees = [f for o in orders for f in o["fee_lines"]]
    assert any(Decimal(f["total"]) > 0 for f in fees) and any(Decimal(f["total"]) < 0 for f in fees)
    methods = {s["method_id"] for o in orders for s in o["shipping_lines"]}
    assert methods == {"flat_rate", "free_shipping", "local_pickup"}
    assert {o["payment_method"] for o in orders} >= {"mollie_wc_gateway_ideal", "paypal", "stripe", "bacs"}
    refunded = [o for o in orders if o["refunds"]]
    full = [o for o in refunded if o["status"] == "refunded"]
    partial = [o for o in refunded if o["status"] != "refunded"]
    assert full and partial
    for o in full:
        assert sum(-Decimal(r["total"]) for r in o["refunds"]) == Decimal(o["total"])
    for o in orders:
        total_identity(o)
        for line in o["line_items"]:
            taxes = sum(Decimal(t["total"]) for t in line["taxes"])
            assert abs(taxes - Decimal(line["total_tax"])) < Decimal("0.01")
            assert Decimal(line["total"]) <= Decimal(line["subtotal"])
        discount = sum(Decimal(li["subtotal"]) - Decimal(li["total"]) for li in o["line_items"])
        assert discount == Decimal(o["discount_total"])
        if o["coupon_lines"]:
            assert sum(Decimal(c["discount"]) for c in o["coupon_lines"]) == Decimal(o["discount_total"])
    refund = woo.get(f"/orders/{partial[0]['id']}/refunds").json()[0]
    assert Decimal(refund["amount"]) > 0 and refund["line_items"][0]["meta_data"][0]["key"] == "_refunded_item_id"


def test_seeded_catalogue(woo: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"products": 16, "customers": 30, "seed": 3})
    products = all_pages(woo, "/products")
    names = [p["name"] for p in products]
    assert any("<script>alert(1)</script>" in n and "&amp;" in n for n in names)
    assert any(any(ord(c) > 127 for c in n) for n in names)
    assert {p["type"] for p in products} == {"simple", "variable"}
    assert any(p["virtual"] for p in products) and any(p["downloadable"] for p in products)
    assert {p["tax_class"] for p in products} >= {"", "reduced-rate", "zero-rate"}
    simple = [p for p in products if p["type"] == "simple"]
    assert all(ean_ok(p["global_unique_id"]) for p in simple)
    assert all(p["sku"] for p in products)
    variable = next(p for p in products if p["type"] == "variable")
    variations = woo.get(f"/products/{variable['id']}/variations", params={"per_page": 100}).json()
    assert len(variations) >= 4 and all(ean_ok(v["global_unique_id"]) and v["sku"] for v in variations)
    customers = all_pages(woo, "/customers")
    assert len(customers) == 30 and len({c["email"] for c in customers}) == 30
    vat = [c for c in customers if any(m["key"] == "_billing_vat_number" for m in c["meta_data"])]
    assert vat and all(c["billing"]["company"] for c in vat)
