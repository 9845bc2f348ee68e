"""``POST /_sandbox/simulate``: days of a living shop, deterministic from the seed, and what the simulators support for
the rules after booking (refunds of shipping, concept invoices replaced, processed ones refusing, stock)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from tests.sandbox.asperion_server import Api, asp, asperion_live

__all__ = ("asp", "asperion_live")


def _all_orders(woo: httpx.Client) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    page = 1
    while True:
        got = woo.get("/orders", params={"per_page": 100, "page": page, "orderby": "id", "order": "asc"}).json()
        orders += got
        if len(got) < 100:
            return orders
        page += 1


def _meta(order: dict[str, Any], key: str) -> Any:
    return next((m["value"] for m in order["meta_data"] if m["key"] == key), None)


def test_simulated_days_add_a_living_shop_deterministically(woo: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"orders": 60, "seed": 2})
    before = {o["id"]: o for o in _all_orders(woo)}
    body = {"days": 10, "seed": 7, "orders_per_day": 12, "edit_rate": 0.3, "refund_rate": 0.3}
    done = control.post("/simulate", json=body).json()
    assert done["status"] == "simulated" and done["days"] == 10
    assert done["orders"] == 120
    for kind in ("payments", "completed", "edits", "cancellations", "refunds_partial", "refunds_full"):
        assert done[kind] > 0, kind
    for kind in ("foreign_currency", "b2b_guests", "virtual_orders", "provider_fees"):
        assert done[kind] > 0, kind
    after = _all_orders(woo)
    new = [o for o in after if o["id"] not in before]
    assert len(new) == 120
    # Dates advance day by day within the window the answer names, never before the store's older orders.
    days = sorted({o["date_created_gmt"][:10] for o in new})
    assert days[0] == done["from"] and days[-1] == done["to"] and len(days) == 10
    assert max(o["date_modified_gmt"] for o in before.values()) < min(o["date_created_gmt"] for o in new)
    # Edits of orders that existed: totals moved, and so did date_modified.
    changed = [o for o in after if o["id"] in before and o["total"] != before[o["id"]]["total"]]
    assert changed and all(o["date_modified_gmt"] > before[o["id"]]["date_modified_gmt"] for o in changed)
    # Foreign orders carry the multi-currency plugin's rate; their base total is the converted total.
    foreign = [o for o in new if o["currency"] != "EUR"]
    assert {o["currency"] for o in foreign} <= {"GBP", "USD"} and foreign
    for order in foreign:
        rate = Decimal(_meta(order, "_base_currency_exchange_rate"))
        base = Decimal(_meta(order, "_order_total_base_currency"))
        assert abs(Decimal(order["total"]) * rate - base) <= Decimal("0.02")
    # Payments: Stripe's fee and net in meta, paid date and transaction id set.
    stripe = [o for o in new if o["payment_method"] == "stripe" and o["date_paid"]]
    assert stripe
    for order in stripe:
        # The fee is on the amount paid: an order edited after its payment has a larger total than fee + net.
        fee, net = Decimal(_meta(order, "_stripe_fee")), Decimal(_meta(order, "_stripe_net"))
        paid = fee + net
        assert fee == (paid * Decimal("0.015") + Decimal("0.25")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert paid <= Decimal(order["total"]) and order["transaction_id"].startswith("pi_")
    assert (
        sum(Decimal(_meta(o, "_stripe_fee")) + Decimal(_meta(o, "_stripe_net")) == Decimal(o["total"]) for o in stripe)
        > len(stripe) / 2
    )
    # Business guests: no account, a company and a VAT number; EU ones outside NL zero-rated.
    b2b = [o for o in new if o["customer_id"] == 0 and o["billing"]["company"] and _meta(o, "_billing_vat_number")]
    assert b2b
    assert all(Decimal(o["total_tax"]) == 0 for o in b2b if o["billing"]["country"] in ("BE", "DE", "FR"))
    # A full refund gives back the shipping too, as a shipping line of the refund.
    refunded = [o for o in new + changed if o["status"] == "refunded" and o["shipping_lines"]]
    with_shipping = [
        r
        for o in refunded
        for r in woo.get(f"/orders/{o['id']}/refunds").json()
        if r["shipping_lines"] and Decimal(r["shipping_lines"][0]["total"]) < 0
    ]
    assert with_shipping
    # The same store and body give the same shop.
    control.post("/reset")
    control.post("/seed", json={"orders": 60, "seed": 2})
    assert control.post("/simulate", json=body).json() == done
    assert _all_orders(woo) == after


def test_simulate_refuses_bad_bodies(control: httpx.Client) -> None:
    assert control.post("/simulate", json={"days": 0}).status_code == 400
    assert control.post("/simulate", json={"days": 3, "edit_rate": 2}).status_code == 400
    assert control.post("/simulate", json={"days": -1}).status_code == 400
    assert control.post("/simulate", json=[1]).status_code == 400


def test_simulate_on_an_empty_store_stocks_the_catalogue_first(woo: httpx.Client, control: httpx.Client) -> None:
    done = control.post("/simulate", json={"days": 2, "seed": 1, "orders_per_day": 5}).json()
    assert done["orders"] == 10
    assert len(_all_orders(woo)) == 10 and woo.get("/products").json()


def _invoice(amount: float) -> dict[str, Any]:
    return {
        "date": "2026-11-02T00:00:00",
        "journalId": "70",
        "debtorCustomerNumber": "9999",
        "description": "WooCommerce order 77",
        "lines": {
            "_data": [{"description": "1 × Koffie", "amount": amount, "ledgerAccountId": 8000, "vatCode": "H21"}]
        },
    }


def test_a_concept_invoice_is_replaced_and_a_processed_one_refuses(asp: Api) -> None:
    created = asp.post("/v1/salesinvoiceswithlines", json=_invoice(31.16)).json()
    updated = asp.put(f"/v1/salesinvoiceswithlines/{created['id']}", json=_invoice(43.26))
    assert updated.status_code == 200, updated.text
    again = asp.get(f"/v1/salesinvoiceswithlines/{created['id']}").json()
    assert (again["amountExclVat"], again["vatAmount"], again["status"]) == (43.26, 9.08, 1)
    asp.sim.process_invoice(created["id"])
    refused = asp.put(f"/v1/salesinvoiceswithlines/{created['id']}", json=_invoice(50))
    assert refused.status_code == 409
    assert "kan niet meer worden gewijzigd" in refused.json()["detail"]  # Asperion answers in Dutch by default
    assert asp.get(f"/v1/salesinvoiceswithlines/{created['id']}").json()["amountExclVat"] == 43.26


def test_payment_costs_ledger_and_physical_stock_are_seeded(asp: Api) -> None:
    ledger = asp.get("/v1/ledgeraccounts/4500").json()
    assert ledger["description"] == "Betaalkosten"
    added = asp.sim.seed_articles(
        [
            {"code": "BONEN-1KG", "description": "Bonen", "salesPrice": 20, "currentStock": 14},
            {"code": "EBOOK", "description": "E-book", "salesPrice": 10, "currentStock": None},
        ]
    )
    assert [a["currentStock"] for a in added] == [Decimal(14), None]
    listed = {a["code"]: a for a in asp.get("/v1/articles", params={"pageSize": 250}).json()["_data"]}
    assert listed["BONEN-1KG"]["currentStock"] == 14 and listed["EBOOK"]["currentStock"] is None


def test_a_sales_order_moved_to_delivered_ends_its_reservation(asp: Api) -> None:
    (article,) = asp.sim.seed_articles([{"code": "MOLEN", "description": "Molen", "salesPrice": 50, "currentStock": 9}])
    order = {
        "debtorCustomerNumber": "9999",
        "date": "2026-11-02",
        "description": "WooCommerce order 80",
        "lines": {"_data": [{"articleId": article["id"], "quantity": 2}]},
    }
    created = asp.post("/v1/salesorderwithlines", json=order).json()
    stock = asp.get(f"/v1/articles/{article['id']}").json()
    assert (stock["currentStock"], stock["reservedStock"]) == (9, 2)
    moved = asp.put(f"/v1/salesorderwithlines/{created['id']}", json={**order, "status": "delivered"})
    assert moved.status_code == 200 and moved.json()["status"] == "delivered"
    stock = asp.get(f"/v1/articles/{article['id']}").json()
    assert (stock["currentStock"], stock["reservedStock"]) == (7, 0)
