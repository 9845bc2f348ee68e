"""The ``/_sandbox`` control endpoints, injected faults, statistics, verbatim import, the Asperion mount."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.conftest import REST
from tests.sandbox.server import SandboxURL
from tests.sandbox.test_woo_auth import fixture


def test_info_and_connections(control: httpx.Client, sandbox: SandboxURL) -> None:
    info = control.get("").json()
    assert info["connections"]["woocommerce"] == {
        "app": "woocommerce",
        "url": f"{sandbox}/woocommerce",
        "consumer_key": WOO_RW_KEY,
        "consumer_secret": WOO_RW_SECRET,
    }
    assert info["connections"]["asperion"]["url"] == f"{sandbox}/asperion"
    assert info["connections"]["asperion"]["tenant_id"] == 1001


def test_seed_is_deterministic_and_reset_empties(woo: httpx.Client, control: httpx.Client) -> None:
    counts = control.post("/seed", json={"orders": 40, "customers": 10, "products": 8, "seed": 5}).json()
    assert (counts["orders"], counts["customers"], counts["products"]) == (40, 10, 8)
    first = woo.get("/orders", params={"per_page": 40}).json()
    assert control.post("/reset").status_code == 200
    for path in ("/orders", "/customers", "/products", "/webhooks", "/coupons"):
        assert woo.get(path).json() == [], path
    assert woo.get("/taxes").json() and woo.get("/payment_gateways").json()  # configuration stays
    control.post("/seed", json={"orders": 40, "customers": 10, "products": 8, "seed": 5})
    assert woo.get("/orders", params={"per_page": 40}).json() == first
    control.post("/reset")
    control.post("/seed", json={"orders": 40, "customers": 10, "products": 8, "seed": 6})
    assert woo.get("/orders", params={"per_page": 40}).json() != first
    assert control.post("/seed", json={"orders": -1}).status_code == 400


def test_latency_and_faults_are_injected_and_counted(woo: httpx.Client, control: httpx.Client) -> None:
    control.delete("/stats")
    assert control.put("/faults", json={"latency_ms": 400}).json()["latency_ms"] == 400
    started = time.monotonic()
    assert woo.get("/orders").status_code == 200
    assert time.monotonic() - started >= 0.4
    fast = time.monotonic()
    assert control.get("/stats").status_code == 200  # control endpoints are never delayed or failed
    assert time.monotonic() - fast < 0.4
    control.put("/faults", json={"latency_ms": 0, "fail_rate": 1})
    failed = woo.get("/orders")
    assert failed.status_code in (500, 502, 503) and failed.json()["data"]["status"] == failed.status_code
    control.put("/faults", json={"fail_rate": 0, "rate_limit_per_s": 1})
    answers = [woo.get("/orders") for _ in range(10)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    control.put("/faults", json={"rate_limit_per_s": 0, "drop_rate": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        woo.get("/orders")
    control.put("/faults", json={"drop_rate": 0, "timeout_rate": 1, "timeout_s": 0.5})
    with pytest.raises(httpx.ReadTimeout):
        woo.get("/orders", timeout=0.2)
    late = woo.get("/orders", timeout=5)
    assert late.status_code == 504
    control.put("/faults", json={"timeout_rate": 0})
    assert woo.get("/orders").status_code == 200
    stats = control.get("/stats").json()
    assert stats["faults"]["latency"] >= 1 and stats["faults"]["failed"] == 1 and stats["faults"]["dropped"] == 1
    assert stats["faults"]["rate_limited"] == len(limited) and stats["faults"]["timeout"] == 2
    assert stats["faults_injected"] == 1 + len(limited) + 1 + 2
    assert control.put("/faults", json={"fail_rate": 2}).status_code == 400
    assert control.put("/faults", json={"explode": 1}).status_code == 400


def test_stats_count_per_method_and_path_template(
    woo: httpx.Client, control: httpx.Client, sandbox: SandboxURL
) -> None:
    control.delete("/stats")
    order = woo.post("/orders", json={}).json()
    woo.get(f"/orders/{order['id']}")
    woo.get("/orders/123456")
    woo.get("/orders")
    httpx.get(sandbox + "/asperion/v1/debtors")
    stats = control.get("/stats").json()
    assert stats["requests"][f"GET {REST}/orders/{{id}}"] == 2
    assert stats["requests"][f"POST {REST}/orders"] == 1 and stats["requests"][f"GET {REST}/orders"] == 1
    assert stats["requests"]["GET /asperion/v1/debtors"] == 1
    assert stats["statuses"]["404"] == 1 and stats["total_requests"] == 5


def test_import_stores_payloads_verbatim(woo: httpx.Client, control: httpx.Client) -> None:
    order = fixture("order-synthetic-b2b-eur-coupon-fee-multitax-refund.json")
    customer = {"id": 87, "email": "einkauf@mueller-soehne.example", "first_name": "Jürgen", "role": "customer"}
    answer = control.post(
        "/import",
        json={
            "orders": [order],
            "customers": [customer],
            "products": [
                {"id": 311, "name": "Kaffeemühle", "sku": "KM-CL/INOX 01", "type": "simple", "status": "publish"}
            ],
        },
    )
    assert answer.status_code == 200
    assert answer.json() | {"orders": 1} == {
        "status": "imported",
        "orders": 1,
        "customers": 1,
        "products": 1,
        "variations": 0,
    }
    stored = woo.get("/orders/5012").json()
    assert {k: v for k, v in stored.items() if k != "_links"} == {k: v for k, v in order.items() if k != "_links"}
    assert stored["_links"]["self"][0]["href"].endswith("/woocommerce/wp-json/wc/v3/orders/5012")
    assert [r["amount"] for r in woo.get("/orders/5012/refunds").json()] == ["20.00"]
    assert woo.get("/products", params={"sku": "KM-CL/INOX 01"}).json()[0]["id"] == 311
    assert woo.get("/customers/87").json()["first_name"] == "Jürgen"
    new = woo.post("/orders", json={}).json()
    assert new["id"] > 5020  # sequences move past imported ids
    assert control.post("/import", json={"orders": [{"status": "x"}]}).status_code == 400


def test_seeding_products_seeds_asperion_articles(
    control: httpx.Client, woo: httpx.Client, sandbox: SandboxURL
) -> None:
    asperion = sandbox.app.asperion
    assert asperion is not None
    control.post("/seed", json={"products": 16, "seed": 2})
    skus = {p["sku"] for p in woo.get("/products", params={"per_page": 100}).json() if p["type"] == "simple"}
    codes = {a["code"] for a in asperion.tenant(1001).articles.values()}
    assert skus <= codes
    assert control.post("/asperion/process/999999").status_code == 404


def test_asperion_invoice_is_processed_through_the_control_endpoint(control: httpx.Client, sandbox: SandboxURL) -> None:
    from sandbox.credentials import ASPERION_CLIENT_ID, ASPERION_CLIENT_SECRET, ASPERION_INITIAL_REFRESH_TOKEN

    token = httpx.post(
        f"{sandbox}/asperion/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
            "client_id": ASPERION_CLIENT_ID,
            "client_secret": ASPERION_CLIENT_SECRET,
        },
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    body = {
        "date": "2026-10-01T00:00:00",
        "bookyear": 2026,
        "bookperiod": 10,
        "journalId": "70",
        "debtorCustomerNumber": "9999",
        "description": "Webshop order 1",
        "invoiceNumber": "",
        "paymentConditionId": 1,
        "lines": {
            "_data": [
                {"description": "Koffie", "amount": 10.0, "ledgerAccountId": 8000, "vatCode": "H21", "vatAmount": 2.1}
            ]
        },
    }
    invoice = httpx.post(f"{sandbox}/asperion/v1/salesinvoiceswithlines", json=body, headers=headers)
    assert invoice.status_code == 201, invoice.text
    processed = control.post(f"/asperion/process/{invoice.json()['id']}")
    assert processed.status_code == 200, processed.text
    assert processed.json()["invoiceNumber"] and processed.json()["status"] == 3


def test_seed_with_orders_only_adds_customers_and_a_catalogue(control: httpx.Client, woo: httpx.Client) -> None:
    counts = control.post("/seed", json={"orders": 60, "seed": 4}).json()
    assert counts["customers"] == 15 and counts["products"] == 16
    assert woo.get("/customers", params={"per_page": 1}).headers["x-wp-total"] == "15"


def test_faults_can_target_one_simulator(woo: httpx.Client, control: httpx.Client, sandbox: SandboxURL) -> None:
    assert control.put("/faults", json={"fail_rate": 1, "target": "asperion"}).json()["target"] == "asperion"
    assert woo.get("/orders").status_code == 200
    assert httpx.get(sandbox + "/asperion/v1/debtors").status_code >= 500
    control.put("/faults", json={"target": "woocommerce"})
    assert woo.get("/orders").status_code >= 500
    assert control.put("/faults", json={"target": "shop"}).status_code == 400
    control.put("/faults", json={"fail_rate": 0, "target": "all"})
