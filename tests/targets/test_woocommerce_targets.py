"""WooCommerce targets against the store simulator over HTTP: order status, stock, customers, orders."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from nodes.base import Record
from nodes.connectors.http import AuthError, NotFound, RetryPolicy, Unreachable
from nodes.targets.woocommerce_customer import CustomerTarget
from nodes.targets.woocommerce_order import OrderTarget
from nodes.targets.woocommerce_order_status import OrderStatusTarget
from nodes.targets.woocommerce_stock import StockTarget
from tests.targets.conftest import Sandbox, deliver, make_target


async def seed(sandbox: Sandbox, **counts: int) -> None:
    async with sandbox.control() as control:
        answer = await control.post("/_sandbox/seed", json={"orders": 0, "customers": 0, "products": 0, **counts})
        assert answer.status_code == 200, answer.text


async def products_or_skip(woocommerce: Any) -> list[dict[str, Any]]:
    try:
        return list(await woocommerce.get("products", {"per_page": 100}))
    except NotFound:
        pytest.skip("the store simulator has no product routes yet")


def booked(order: dict[str, Any]) -> Record:
    """A record after the invoice target: its data is the invoice, the order is where it came from."""
    return Record(
        key=str(order["number"]),
        source_id=f"order:{order['id']}",
        data={"description": f"WooCommerce order {order['number']}", "debtorCustomerNumber": "9999"},
        source=order,
    )


async def test_order_status_is_set_once(fresh: Sandbox, woocommerce: Any) -> None:
    await seed(fresh, orders=4, customers=2)
    order = next(o for o in await woocommerce.get("orders") if o["status"] != "completed")
    target = make_target(OrderStatusTarget, {"woocommerce": woocommerce})
    outcome = await deliver(target, booked(order))
    assert outcome.status == "ok", outcome.message
    assert outcome.message == f"Status of order {order['number']} set to completed (was {order['status']})"
    assert (await woocommerce.get(f"orders/{order['id']}"))["status"] == "completed"
    again = await deliver(target, booked(order))
    assert (again.status, again.message) == ("skipped", f"order {order['number']} is already completed")


async def test_order_status_of_a_missing_order_fails_clearly(woocommerce: Any) -> None:
    target = make_target(OrderStatusTarget, {"woocommerce": woocommerce})
    outcome = await deliver(target, booked({"id": 987654, "number": "987654"}))
    assert (outcome.status, outcome.message) == ("failed", "WooCommerce has no order 987654")


async def test_order_status_refused_value_names_the_parameter(fresh: Sandbox, woocommerce: Any) -> None:
    await seed(fresh, orders=1, customers=1)
    order = (await woocommerce.get("orders"))[0]
    target = make_target(OrderStatusTarget, {"woocommerce": woocommerce}, status="no-such-status")
    outcome = await deliver(target, booked(order))
    assert outcome.status == "failed"
    assert outcome.message.startswith(f"status of order {order['number']} refused: WooCommerce answered 400")
    assert "status" in outcome.message


def stock_record(data: dict[str, Any]) -> Record:
    return Record(key=str(data.get("sku")), source_id=f"article:{data.get('sku')}", data=data)


async def test_stock_is_written_only_when_it_changed(fresh: Sandbox, woocommerce: Any) -> None:
    await seed(fresh, products=6)
    products = await products_or_skip(woocommerce)
    simple = next(p for p in products if p["type"] == "simple" and p["sku"] and not (p["virtual"] or p["downloadable"]))
    target = make_target(StockTarget, {"woocommerce": woocommerce})
    wanted = (simple.get("stock_quantity") or 0) + 7
    outcome = await deliver(target, stock_record({"sku": simple["sku"], "stock_quantity": wanted}))
    assert outcome.status == "ok", outcome.message
    assert outcome.target_id == str(simple["id"])
    stored = await woocommerce.get(f"products/{simple['id']}")
    assert (stored["manage_stock"], stored["stock_quantity"]) == (True, wanted)
    same = await deliver(
        target, stock_record({"sku": simple["sku"], "product_id": simple["id"], "stock_quantity": wanted})
    )
    assert (same.status, same.message) == ("skipped", f"stock of {simple['sku']} unchanged ({wanted})")
    negative = await deliver(target, stock_record({"sku": simple["sku"], "stock_quantity": -3}))
    assert negative.status == "ok"
    assert (await woocommerce.get(f"products/{simple['id']}"))["stock_quantity"] == 0


async def test_stock_of_a_variation_found_by_sku(woocommerce: Any) -> None:
    await products_or_skip(woocommerce)
    shirt = await woocommerce.post(
        "products",
        {
            "name": "Shirt",
            "type": "variable",
            "attributes": [{"name": "Maat", "variation": True, "visible": True, "options": ["M", "L"]}],
        },
    )
    variation = await woocommerce.post(
        f"products/{shirt['id']}/variations",
        {"sku": "SHIRT-M", "regular_price": "20.00", "attributes": [{"name": "Maat", "option": "M"}]},
    )
    target = make_target(StockTarget, {"woocommerce": woocommerce})
    outcome = await deliver(target, stock_record({"sku": "SHIRT-M", "stock_quantity": 41}))
    assert outcome.status == "ok", outcome.message
    assert outcome.target_id == str(variation["id"])
    stored = await woocommerce.get(f"products/{shirt['id']}/variations/{variation['id']}")
    assert (stored["manage_stock"], stored["stock_quantity"]) == (True, 41)
    by_id = {"sku": "SHIRT-M", "product_id": shirt["id"], "variation_id": variation["id"], "stock_quantity": 41}
    assert (await deliver(target, stock_record(by_id))).status == "skipped"


async def test_stock_for_an_sku_the_shop_does_not_sell_is_skipped(woocommerce: Any) -> None:
    await products_or_skip(woocommerce)
    target = make_target(StockTarget, {"woocommerce": woocommerce})
    outcome = await deliver(target, stock_record({"sku": "NO-SUCH-SKU", "stock_quantity": 1}))
    assert (outcome.status, outcome.message) == (
        "skipped",
        "WooCommerce has no product or variation with SKU NO-SUCH-SKU",
    )
    by_id = await deliver(target, stock_record({"sku": "X", "product_id": 999999, "stock_quantity": 1}))
    assert (by_id.status, by_id.message) == ("failed", "WooCommerce has no product 999999")


def customer(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "anna@example.nl",
        "first_name": "Anna",
        "last_name": "Smit",
        "billing": {"first_name": "Anna", "last_name": "Smit", "city": "Utrecht", "country": "NL"},
    }
    body.update(changes)
    return body


def customer_record(data: dict[str, Any]) -> Record:
    return Record(key=data["email"], source_id="debtor:1", data=data)


async def test_customer_is_created_updated_and_left_alone(woocommerce: Any) -> None:
    try:
        await woocommerce.get("customers")
    except NotFound:
        pytest.skip("the store simulator has no customer routes yet")
    target = make_target(CustomerTarget, {"woocommerce": woocommerce})
    created = await deliver(target, customer_record(customer()))
    assert created.status == "ok", created.message
    moved = customer(
        email="Anna@Example.nl", billing={"first_name": "Anna", "last_name": "Smit", "city": "Delft", "country": "NL"}
    )
    updated = await deliver(target, customer_record(moved))
    assert (updated.status, updated.target_id) == ("ok", created.target_id)
    assert updated.message == "customer anna@example.nl updated: billing"
    stored = await woocommerce.get(f"customers/{created.target_id}")
    assert stored["billing"]["city"] == "Delft"
    same = await deliver(target, customer_record(moved))
    assert (same.status, same.message) == ("skipped", "customer anna@example.nl unchanged")


async def test_order_is_created_once_by_its_reference(fresh: Sandbox, woocommerce: Any) -> None:
    await seed(fresh, products=4)
    product = next(p for p in await products_or_skip(woocommerce) if p["type"] == "simple")
    body = {
        "status": "processing",
        "billing": {"first_name": "Anna", "last_name": "Smit", "email": "anna@example.nl", "country": "NL"},
        "line_items": [{"product_id": product["id"], "quantity": 2}],
        "meta_data": [{"key": "_asperion_order_id", "value": "SO-77"}],
    }
    target = make_target(OrderTarget, {"woocommerce": woocommerce})
    record = Record(key="SO-77", source_id="salesorder:77", data=body)
    created = await deliver(target, record)
    assert created.status == "ok", created.message
    again = await deliver(target, Record(key="SO-77", source_id="salesorder:77", data=body))
    assert (again.status, again.target_id) == ("skipped", created.target_id)
    other = await deliver(
        target,
        Record(
            key="SO-7",
            source_id="salesorder:7",
            data={**body, "meta_data": [{"key": "_asperion_order_id", "value": "SO-7"}]},
        ),
    )
    assert other.status == "ok"  # "SO-7" is found inside "SO-77" by the search, but is another order


async def test_order_without_reference_fails_before_sending(woocommerce: Any) -> None:
    target = make_target(OrderTarget, {"woocommerce": woocommerce})
    outcome = await deliver(target, Record(key="x", source_id="salesorder:1", data={"line_items": [{"sku": "A"}]}))
    assert outcome.status == "failed"
    assert outcome.message == "The order has no _asperion_order_id meta field, so it could not be found again"


async def test_order_lines_by_sku_are_resolved_and_missing_skus_named(fresh: Sandbox, woocommerce: Any) -> None:
    await seed(fresh, products=4)
    simple = next(p for p in await products_or_skip(woocommerce) if p["type"] == "simple" and p["sku"])
    meta = [{"key": "_asperion_order_id", "value": "SO-88"}]
    target = make_target(OrderTarget, {"woocommerce": woocommerce})
    missing = {"line_items": [{"sku": "NOPE-1", "quantity": 1}, {"sku": simple["sku"]}, {"sku": "NOPE-2"}]}
    outcome = await deliver(target, Record(key="SO-88", source_id="salesorder:88", data={**missing, "meta_data": meta}))
    assert (outcome.status, outcome.message) == ("failed", "WooCommerce has no product with SKU NOPE-1, NOPE-2")
    body = {"line_items": [{"sku": simple["sku"], "quantity": 3}], "meta_data": meta, "status": "on-hold"}
    created = await deliver(target, Record(key="SO-88", source_id="salesorder:88", data=body))
    assert created.status == "ok", created.message
    assert created.payload is not None and created.payload["line_items"][0]["product_id"] == simple["id"]
    stored = await woocommerce.get(f"orders/{created.target_id}")
    assert [(i["product_id"], i["quantity"]) for i in stored["line_items"]] == [(simple["id"], 3)]
    assert stored["status"] == "on-hold"


async def test_unreachable_store_propagates_with_a_clear_message(fresh: Sandbox) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        woocommerce = fresh.client(
            "woocommerce",
            url=f"http://127.0.0.1:{port}/woocommerce",
            opts={"retry": RetryPolicy(max_attempts=1)},
        )
        try:
            target = make_target(OrderStatusTarget, {"woocommerce": woocommerce})
            with pytest.raises(Unreachable, match=r"WooCommerce at 127\.0\.0\.1:\d+ cannot be reached"):
                await deliver(target, booked({"id": 1, "number": "1"}))
        finally:
            await woocommerce.aclose()


async def test_wrong_woocommerce_secret_propagates_as_auth_error(fresh: Sandbox) -> None:
    woocommerce = fresh.client("woocommerce", consumer_secret="cs_wrong_wrong_wrong")
    try:
        target = make_target(OrderStatusTarget, {"woocommerce": woocommerce})
        with pytest.raises(AuthError, match="401"):
            await deliver(target, booked({"id": 1, "number": "1"}))
    finally:
        await woocommerce.aclose()
