"""Webhook deliveries received on a small local server: headers, signature, ping, failure counting, topics."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox.server import read_body, serve_app


class Receiver:
    """An ASGI app that records what it receives and answers with ``status`` (after ``delay`` seconds)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if self.delay:
            await asyncio.sleep(self.delay)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append({"path": scope["path"], "headers": headers, "body": body})
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            assert time.monotonic() < deadline, f"timed out; received {len(self.received)}"
            time.sleep(0.02)
        return self.received


@pytest.fixture(name="receiver")
def fx_receiver() -> Iterator[tuple[Receiver, str]]:
    app = Receiver()
    with serve_app(app) as url:
        yield app, url


def deliveries(received: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [r for r in received if r["headers"].get("x-wc-webhook-topic") == topic]


def test_ping_then_signed_delivery_equal_to_get(woo: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    hook = woo.post(
        "/webhooks",
        json={"name": "Nieuwe order", "topic": "order.created", "delivery_url": url + "/hook", "secret": "test-secret"},
    )
    assert hook.status_code == 201
    webhook = hook.json()
    assert "secret" not in webhook and webhook["status"] == "active" and webhook["resource"] == "order"
    ping = app.wait_for(lambda r: len(r) >= 1)[0]
    assert ping["body"] == f"webhook_id={webhook['id']}".encode()
    assert ping["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert not any(k.startswith("x-wc-webhook") for k in ping["headers"])

    order = woo.post("/orders", json={"billing": {"country": "NL", "email": "a@example.nl"}}).json()
    delivery = app.wait_for(lambda r: deliveries(r, "order.created"))[-1]
    headers = delivery["headers"]
    assert headers["x-wc-webhook-resource"] == "order" and headers["x-wc-webhook-event"] == "created"
    assert headers["x-wc-webhook-id"] == str(webhook["id"])
    assert headers["x-wc-webhook-source"] == str(woo.base_url).split("/wp-json")[0] + "/"
    assert headers["user-agent"].startswith("WooCommerce/") and headers["content-type"] == "application/json"
    assert len(headers["x-wc-webhook-delivery-id"]) == 32
    expected = base64.b64encode(hmac.new(b"test-secret", delivery["body"], hashlib.sha256).digest()).decode()
    assert headers["x-wc-webhook-signature"] == expected
    assert httpx.Response(200, content=delivery["body"]).json() == woo.get(f"/orders/{order['id']}").json()


def test_update_refund_delete_and_product_topics(woo: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    for topic in ("order.updated", "order.deleted", "product.updated", "customer.created"):
        assert woo.post("/webhooks", json={"topic": topic, "delivery_url": url, "secret": "s"}).status_code == 201
    app.wait_for(lambda r: len(r) >= 4)
    order = woo.post("/orders", json={"payment_method": "stripe", "fee_lines": [{"name": "f", "total": "10"}]}).json()
    woo.put(f"/orders/{order['id']}", json={"status": "processing"})
    woo.post(f"/orders/{order['id']}/refunds", json={"amount": "1.00"})
    app.wait_for(lambda r: len(deliveries(r, "order.updated")) >= 2)
    woo.delete(f"/orders/{order['id']}", params={"force": True})
    deleted = app.wait_for(lambda r: deliveries(r, "order.deleted"))
    assert deliveries(deleted, "order.deleted")[0]["body"] == f'{{"id":{order["id"]}}}'.encode()
    parent = woo.post("/products", json={"name": "V", "type": "variable"}).json()
    variation = woo.post(f"/products/{parent['id']}/variations", json={"regular_price": "1.00"}).json()
    woo.put(f"/products/{parent['id']}/variations/{variation['id']}", json={"stock_quantity": 4})
    updated = app.wait_for(lambda r: deliveries(r, "product.updated"))
    assert (
        httpx.Response(200, content=deliveries(updated, "product.updated")[-1]["body"]).json()["id"] == variation["id"]
    )
    woo.post("/customers", json={"email": "k@example.nl"})
    app.wait_for(lambda r: deliveries(r, "customer.created"))
    assert not deliveries(app.received, "order.created")


def test_failures_are_counted_and_disable_after_more_than_five(
    woo: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    app.status = 500
    hook = woo.post("/webhooks", json={"topic": "customer.updated", "delivery_url": url, "secret": "s"}).json()
    customer = woo.post("/customers", json={"email": "f@example.nl"}).json()
    for n in range(6):
        woo.put(f"/customers/{customer['id']}", json={"first_name": f"F{n}"})
        app.wait_for(lambda r, n=n: len(deliveries(r, "customer.updated")) >= n + 1)
    deadline = time.monotonic() + 10
    while woo.get(f"/webhooks/{hook['id']}").json()["status"] != "disabled":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    woo.put(f"/customers/{customer['id']}", json={"first_name": "na"})
    assert woo.get("/customers/" + str(customer["id"])).json()["first_name"] == "na"
    assert len(deliveries(app.received, "customer.updated")) == 6


def test_slow_receiver_does_not_slow_the_post(woo: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    app.delay = 3.0
    woo.post("/webhooks", json={"topic": "order.created", "delivery_url": url, "secret": "s"})
    started = time.monotonic()
    assert woo.post("/orders", json={}).status_code == 201
    assert time.monotonic() - started < 1.5
    app.wait_for(lambda r: deliveries(r, "order.created"))


def test_webhook_crud_and_errors(woo: httpx.Client) -> None:
    bad = woo.post("/webhooks", json={"topic": "order.shipped", "delivery_url": "http://127.0.0.1:9/x"})
    assert bad.status_code == 400 and bad.json()["code"] == "woocommerce_rest_webhook_invalid_topic"
    missing = woo.post("/webhooks", json={"topic": "order.created"})
    assert missing.status_code == 400 and missing.json()["code"] == "rest_missing_callback_param"
    hook = woo.post(
        "/webhooks", json={"topic": "order.created", "delivery_url": "http://127.0.0.1:9/x", "status": "paused"}
    ).json()
    assert [h["id"] for h in woo.get("/webhooks").json()] == [hook["id"]]
    assert woo.put(f"/webhooks/{hook['id']}", json={"name": "renamed"}).json()["name"] == "renamed"
    assert woo.delete(f"/webhooks/{hook['id']}").status_code == 501
    assert woo.delete(f"/webhooks/{hook['id']}", params={"force": True}).status_code == 200
    assert woo.get(f"/webhooks/{hook['id']}").status_code == 404
