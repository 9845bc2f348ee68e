"""The Mollie simulator: key auth and Mollie's error shape, HAL paging, and an account consistent with the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.credentials import MOLLIE_API_KEY, WOO_RW_KEY, WOO_RW_SECRET
from sandbox.server import build_sandbox
from tests.sandbox.server import SandboxURL, running_sandbox

AUTH = {"Authorization": f"Bearer {MOLLIE_API_KEY}"}


@pytest.fixture(name="shop", scope="module")
def fx_shop() -> Iterator[SandboxURL]:
    with running_sandbox(orders=300, customers=60, products=15, seed=7) as url:
        yield url


@pytest.fixture(name="mollie")
def fx_mollie(shop: SandboxURL) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{shop}/mollie/v2", headers=AUTH, timeout=30) as client:
        yield client


def walk(client: httpx.Client, path: str, kind: str, limit: int = 250) -> list[dict[str, Any]]:
    """Every item of a list, following ``_links.next``."""
    items: list[dict[str, Any]] = []
    url: str | None = f"{str(client.base_url).rstrip('/')}{path}?limit={limit}"
    while url:
        body = client.get(url).json()
        assert body["count"] == len(body["_embedded"][kind]) <= limit
        items.extend(body["_embedded"][kind])
        url = body["_links"]["next"]["href"] if body["_links"]["next"] else None
    return items


def D(amount: dict[str, str]) -> Decimal:
    assert set(amount) == {"currency", "value"} and len(amount["value"].split(".")[1]) == 2
    return Decimal(amount["value"])


def mollie_orders(shop: SandboxURL) -> list[dict[str, Any]]:
    woo = shop.app.woo
    orders = [o for oid in woo.orders.ids() if (o := woo.orders.get(oid)) is not None]
    return [
        o
        for o in orders
        if o["payment_method"].startswith("mollie_wc_gateway_") and o["date_paid"] and o["transaction_id"]
    ]


def test_the_api_key_is_required_and_errors_have_mollies_shape(shop: SandboxURL, mollie: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer test_wrong"}, {"Authorization": f"Basic {MOLLIE_API_KEY}"}):
        refused = httpx.get(f"{shop}/mollie/v2/payments", headers=headers)
        assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/hal+json")
        body = refused.json()
        assert (body["status"], body["title"]) == (401, "Unauthorized Request")
        assert body["detail"] and body["_links"]["documentation"]["href"].startswith("https://docs.mollie.com")
    missing = mollie.get("/payments/tr_nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "No payment exists with token tr_nope."
    for limit in ("0", "251", "ten"):
        bad = mollie.get("/settlements", params={"limit": limit})
        assert bad.status_code == 400 and bad.json()["field"] == "limit"
    assert mollie.get("/payments", params={"from": "tr_nope"}).json()["field"] == "from"
    assert mollie.post("/payments", json={}).status_code == 405
    assert mollie.get("/nothing-here").status_code == 404


def test_lists_page_newest_first_with_from_and_limit(mollie: httpx.Client) -> None:
    whole = walk(mollie, "/payments", "payments")
    paged = walk(mollie, "/payments", "payments", limit=7)
    assert [p["id"] for p in paged] == [p["id"] for p in whole] and len({p["id"] for p in whole}) == len(whole) > 14
    assert [p["createdAt"] for p in whole] == sorted((p["createdAt"] for p in whole), reverse=True)
    second = mollie.get("/payments", params={"from": whole[7]["id"], "limit": 7}).json()
    assert [p["id"] for p in second["_embedded"]["payments"]] == [p["id"] for p in whole[7:14]]
    assert "from=" + whole[0]["id"] in second["_links"]["previous"]["href"]
    assert second["_links"]["next"]["href"].endswith(f"from={whole[14]['id']}&limit=7")
    first = mollie.get("/payments", params={"limit": 7}).json()
    assert first["_links"]["previous"] is None and first["_links"]["self"]["type"] == "application/hal+json"


def test_every_order_paid_through_mollie_has_its_payment_and_refunds(shop: SandboxURL, mollie: httpx.Client) -> None:
    orders = mollie_orders(shop)
    assert len(orders) > 20
    payments = {p["id"]: p for p in walk(mollie, "/payments", "payments")}
    assert set(payments) == {o["transaction_id"] for o in orders}
    refunded = 0
    for order in orders:
        payment = mollie.get(f"/payments/{order['transaction_id']}").json()
        assert payment["metadata"] == {"order_id": order["id"]}  # what the Mollie WooCommerce plugin sends
        assert payment["amount"] == {"currency": "EUR", "value": order["total"]}
        assert (payment["description"], payment["method"], payment["status"]) == (
            f"Order {order['number']}",
            "ideal",
            "paid",
        )
        assert datetime.fromisoformat(payment["paidAt"]).strftime("%Y-%m-%dT%H:%M:%S") == order["date_paid_gmt"]
        woo_refunds = sorted(Decimal(r["total"]) for r in order["refunds"])
        if woo_refunds:
            refunded += 1
            listed = mollie.get(payment["_links"]["refunds"]["href"]).json()["_embedded"]["refunds"]
            assert sorted(-D(r["amount"]) for r in listed) == woo_refunds
            assert all(r["paymentId"] == payment["id"] and r["id"].startswith("re_") for r in listed)
        assert D(payment["amountRemaining"]) == D(payment["amount"]) + sum(woo_refunds, Decimal(0))
    assert refunded


def test_settlements_add_up_and_hold_what_they_settled(mollie: httpx.Client) -> None:
    settlements = walk(mollie, "/settlements", "settlements", limit=10)
    assert len(settlements) > 20 and all(s["id"].startswith("stl_") for s in settlements)
    chargebacks = 0
    seen: set[str] = set()
    for settlement in settlements:
        assert datetime.fromisoformat(settlement["createdAt"]).weekday() == 0  # closed on Monday: weekly payouts
        revenue = costs = Decimal(0)
        for year, months in settlement["periods"].items():
            for month, period in months.items():
                assert len(year) == 4 and len(month) == 2
                revenue += sum((D(line["amountGross"]) for line in period["revenue"]), Decimal(0))
                for line in period["costs"]:
                    assert D(line["amountGross"]) == D(line["amountNet"]) + D(line["amountVat"])
                    assert D(line["amountVat"]) == (D(line["amountNet"]) * Decimal("0.21")).quantize(Decimal("0.01"))
                    costs += D(line["amountGross"])
        assert D(settlement["amount"]) == revenue - costs
        members = {
            kind: walk(mollie, f"/settlements/{settlement['id']}/{kind}", kind)
            for kind in ("payments", "refunds", "chargebacks")
        }
        settled = sum((D(m["settlementAmount"]) for items in members.values() for m in items), Decimal(0))
        assert settled == revenue
        assert all(m["settlementId"] == settlement["id"] for items in members.values() for m in items)
        ids = {m["id"] for items in members.values() for m in items}
        assert not ids & seen
        seen |= ids
        chargebacks += len(members["chargebacks"])
        assert mollie.get(settlement["_links"]["self"]["href"]).json()["reference"] == settlement["reference"]
    assert chargebacks
    open_one = mollie.get("/settlements/open").json()
    assert open_one["status"] == "open" and open_one["settledAt"] is None
    assert open_one["id"] not in {s["id"] for s in settlements}


def test_the_account_is_deterministic_from_the_seed() -> None:
    def settlements(seed: int) -> str:
        app, _ = build_sandbox(orders=120, seed=seed)
        book = app.mounted["mollie"].book
        return json.dumps([book.settlements, book.payments], sort_keys=True)

    assert settlements(3) == settlements(3)
    assert settlements(3) != settlements(4)


def test_the_account_follows_the_store() -> None:
    with running_sandbox(products=3, customers=1) as base:
        mollie = httpx.Client(base_url=f"{base}/mollie/v2", headers=AUTH)
        assert mollie.get("/payments").json()["count"] == 0
        product = httpx.get(f"{base}/woocommerce/wp-json/wc/v3/products", auth=(WOO_RW_KEY, WOO_RW_SECRET)).json()[0]
        made = httpx.post(
            f"{base}/woocommerce/wp-json/wc/v3/orders",
            auth=(WOO_RW_KEY, WOO_RW_SECRET),
            json={
                "payment_method": "mollie_wc_gateway_ideal",
                "set_paid": True,
                "transaction_id": "tr_NewOrder01",
                "billing": {"first_name": "Anna", "last_name": "de Vries", "email": "anna@example.nl", "country": "NL"},
                "line_items": [{"product_id": product["id"], "quantity": 2}],
            },
        ).json()
        payment = mollie.get("/payments/tr_NewOrder01").json()
        assert payment["metadata"]["order_id"] == made["id"] and payment["amount"]["value"] == made["total"]
        assert httpx.post(f"{base}/_sandbox/reset").status_code == 200
        assert mollie.get("/payments").json()["count"] == 0
        about = httpx.get(f"{base}/_sandbox").json()
        assert about["mollie"] == f"{base}/mollie/v2"  # the sandbox's own mount list (sandbox/mounts.py)
        assert about["connections"]["mollie"] == {"app": "mollie", "url": f"{base}/mollie", "api_key": MOLLIE_API_KEY}
        mollie.close()


def test_faults_and_statistics_reach_the_mollie_simulator() -> None:
    with running_sandbox() as base, httpx.Client(base_url=base) as control:
        faults = control.put("/_sandbox/faults", json={"rate_limit_per_s": 1, "target": "mollie"})
        assert faults.status_code == 200, faults.text
        answers = [httpx.get(f"{base}/mollie/v2/payments", headers=AUTH) for _ in range(3)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and all(a.headers.get("retry-after") for a in limited)
        assert (
            httpx.get(f"{base}/woocommerce/wp-json/wc/v3/orders", auth=(WOO_RW_KEY, WOO_RW_SECRET)).status_code == 200
        )
        stats = control.get("/_sandbox/stats").json()
        assert stats["requests"]["GET /mollie/v2/payments"] == 3 and stats["faults"]["rate_limited"] == len(limited)
        refused = control.put("/_sandbox/faults", json={"target": "paypal"})
        assert refused.status_code == 400 and "asperion or mollie" in refused.text
