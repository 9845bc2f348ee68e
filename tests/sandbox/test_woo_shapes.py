"""Every object the store returns has (at least) the keys of the documented examples, with the same JSON types.

Fixtures are the official REST docs' examples (2017 field set) — see woocommerce-api.md §3. Lists in our answers
may be empty where the example's are not (no related products, no images...), and settings and payment gateway
option objects may lack keys that only some options have (``options``, ``placeholder``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).with_name("fixtures")
NULLABLE = {
    "stock_quantity",
    "date_on_sale_from",
    "date_on_sale_from_gmt",
    "date_on_sale_to",
    "date_on_sale_to_gmt",
    "image",
    "low_stock_amount",
    "date_paid",
    "date_paid_gmt",
    "date_completed",
    "date_completed_gmt",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def same_shape(fixture: Any, actual: Any, path: str = "$", optional: frozenset[str] = frozenset()) -> None:
    key = path.rsplit(".", 1)[-1]
    if key in NULLABLE and (fixture is None or actual is None):
        return
    assert kind(fixture) == kind(actual), f"{path}: {fixture!r} vs {actual!r}"
    if isinstance(fixture, dict):
        for k, v in fixture.items():
            if k in optional and k not in actual:
                continue
            assert k in actual, f"{path}.{k} missing"
            same_shape(v, actual[k], f"{path}.{k}", optional)
    elif isinstance(fixture, list) and fixture and actual:
        same_shape(fixture[0], actual[0], f"{path}[]", optional)


def test_customer_product_variation_shapes(woo: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"products": 16, "customers": 3, "seed": 1})
    customer = woo.get("/customers").json()[0]
    same_shape(load("customer-example-1.json"), customer)
    same_shape(load("list-customers-page.json")[0], customer)
    products = woo.get("/products", params={"per_page": 100}).json()
    simple = next(p for p in products if p["type"] == "simple")
    variable = next(p for p in products if p["type"] == "variable")
    same_shape(load("product-simple-1.json"), simple)
    same_shape(load("list-products-page.json")[0], simple)
    same_shape(load("product-variable-1.json"), variable)
    variation = woo.get(f"/products/{variable['id']}/variations").json()[0]
    same_shape(load("variation-1.json"), variation)


def test_webhook_refund_note_shapes(woo: httpx.Client) -> None:
    hook = woo.post(
        "/webhooks", json={"topic": "order.updated", "delivery_url": "http://127.0.0.1:9/x", "status": "paused"}
    ).json()
    same_shape(load("webhook-object-1.json"), hook)
    same_shape(load("list-webhooks-page.json")[0], woo.get("/webhooks").json()[0])
    order = woo.post("/orders", json={"payment_method": "stripe", "fee_lines": [{"name": "x", "total": "20"}]}).json()
    refund = woo.post(f"/orders/{order['id']}/refunds", json={"amount": "10.00"}).json()
    same_shape(load("refund-1.json"), refund)
    note = woo.post(f"/orders/{order['id']}/notes", json={"note": "Order ok!!!"}).json()
    same_shape(load("order-note-1.json"), note)


def test_configuration_shapes(woo: httpx.Client) -> None:
    same_shape(load("list-taxes-page.json")[0], woo.get("/taxes").json()[0])
    same_shape(load("list-tax-classes.json")[0], woo.get("/taxes/classes").json()[0])
    same_shape(load("list-shipping-zones.json")[0], woo.get("/shipping/zones").json()[0])
    same_shape(load("shipping-zone-locations-1.json")[0], woo.get("/shipping/zones/1/locations").json()[0])
    methods = {m["method_id"]: m for m in woo.get("/shipping/zones/1/methods").json()}
    for example in load("list-shipping-zone-methods.json"):
        same_shape(example, methods[example["method_id"]], optional=frozenset({"options", "placeholder"}))
    gateways = {g["id"]: g for g in woo.get("/payment_gateways").json()}
    for example in load("list-payment-gateways.json"):
        same_shape(example, gateways[example["id"]], optional=frozenset({"options", "placeholder"}))
    options = {o["id"]: o for o in woo.get("/settings/general").json()}
    for example in load("settings-general-options.json"):
        same_shape(example, options[example["id"]], optional=frozenset({"options", "placeholder"}))
    same_shape(load("system-status-1.json"), woo.get("/system_status").json())
    countries = {c["code"]: c for c in woo.get("/data/countries").json()}
    same_shape(load("data-countries-1.json")[0], countries["US"])
