"""WooCommerceClient over httpx.MockTransport: auth, paging, totals, batches, the connection test, options."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nodes.connectors.http import ApiError, RetryPolicy, ValidationFailed
from nodes.connectors.woocommerce import WooCommerceClient

URL = "https://shop.example.test"
CK, CS = "ck_test_key_0001", "cs_test_secret_0001"


async def _nosleep(_: float) -> None:
    return None


def client(handler: Callable[[httpx.Request], httpx.Response], **opts: Any) -> WooCommerceClient:
    opts.setdefault("retry", RetryPolicy(max_attempts=2))
    return WooCommerceClient(URL, CK, CS, transport=httpx.MockTransport(handler), sleep=_nosleep, **opts)


def paged(items: list[dict[str, Any]], request: httpx.Request, *, headers: bool = True) -> httpx.Response:
    page = int(request.url.params.get("page", 1))
    per = int(request.url.params.get("per_page", 10))
    chunk = items[(page - 1) * per : page * per]
    total_pages = (len(items) + per - 1) // per
    h = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(total_pages)} if headers else {}
    if not headers:  # WooCommerce core sends rel="prev" and rel="next" only
        links = [f'<{URL}/wp-json/wc/v3/orders?page={page - 1}>; rel="prev"'] if page > 1 else []
        if page < total_pages:
            links.append(f'<{URL}/wp-json/wc/v3/orders?page={page + 1}>; rel="next"')
        if links:
            h["Link"] = ", ".join(links)
    return httpx.Response(200, json=chunk, headers=h)


async def test_basic_auth_and_base_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 5})

    wc = client(handler)
    assert await wc.get("orders/5") == {"id": 5}
    request = seen[0]
    assert request.url.path == "/wp-json/wc/v3/orders/5"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{CK}:{CS}".encode()).decode()
    assert CS not in str(request.url)


def test_plain_http_only_on_loopback() -> None:
    with pytest.raises(ValueError, match="HTTPS"):
        WooCommerceClient("http://shop.example.nl", CK, CS)
    WooCommerceClient("http://127.0.0.1:8100/woocommerce", CK, CS)


async def test_pages_are_lazy_and_follow_total_pages() -> None:
    orders = [{"id": i} for i in range(1, 251)]
    requests: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        return paged(orders, request)

    wc = client(handler)
    pages = wc.pages("orders", {"status": ["processing", "completed"], "orderby": "id", "order": "asc"})
    first = await anext(pages)
    assert len(first) == 100 and len(requests) == 1  # nothing fetched ahead
    rest = [page async for page in pages]
    assert [len(p) for p in rest] == [100, 50]
    assert requests[0].params["status"] == "processing,completed"
    assert requests[0].params["per_page"] == "100"
    assert [u.params["page"] for u in requests] == ["1", "2", "3"]


async def test_pages_follow_link_next_without_totals() -> None:
    orders = [{"id": i} for i in range(1, 201)]
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return paged(orders, request, headers=False)

    ids = [o["id"] async for page in client(handler).pages("orders") for o in page]
    assert ids == list(range(1, 201)) and calls == 2


async def test_total_reads_x_wp_total() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["per_page"] == "1"
        return httpx.Response(200, json=[{"id": 1}], headers={"X-WP-Total": "1234", "X-WP-TotalPages": "1234"})

    assert await client(handler).total("orders", {"status": "processing"}) == 1234


async def test_modified_pages_never_skip_when_objects_change_during_the_read() -> None:
    # 5 objects share one second with the page boundary; one object changes while the read goes on.
    store = [{"id": i, "date_modified_gmt": f"2024-01-01T10:00:{i // 3:02d}"} for i in range(1, 13)]
    bumped = False

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal bumped
        params = request.url.params
        after = params.get("modified_after")
        rows = sorted(store, key=lambda o: (o["date_modified_gmt"], o["id"]))
        rows = [o for o in rows if after is None or o["date_modified_gmt"] > after]
        per, page = int(params["per_page"]), int(params["page"])
        chunk = rows[(page - 1) * per : page * per]
        if not bumped and chunk:
            bumped = True
            store[0]["date_modified_gmt"] = "2024-01-01T11:00:00"  # modified by someone else mid-read
        return httpx.Response(200, json=[dict(o) for o in chunk])

    seen = [o["id"] async for page in client(handler).modified_pages("orders", per_page=4) for o in page]
    assert set(seen) == set(range(1, 13))
    assert len(seen) == len(set(seen)) + 1  # only the object modified mid-read comes again


async def test_batch_splits_into_chunks_and_surfaces_item_errors() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        answer: dict[str, list[Any]] = {}
        for item in body.get("update", []):
            if item["id"] == 7:
                answer.setdefault("update", []).append(
                    {
                        "id": 7,
                        "error": {
                            "code": "woocommerce_rest_product_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                )
            else:
                answer.setdefault("update", []).append({"id": item["id"], "stock_quantity": item["stock_quantity"]})
        for pid in body.get("delete", []):
            answer.setdefault("delete", []).append({"id": pid})
        return httpx.Response(200, json=answer)

    updates = [{"id": i, "stock_quantity": i} for i in range(1, 231)]
    result = await client(handler).batch("products", update=updates, delete=[900, 901])
    assert [sum(len(v) for v in b.values()) for b in bodies] == [100, 100, 32]
    assert len(result.updated) == 229 and len(result.deleted) == 2
    assert len(result.errors) == 1
    error = result.errors[0]
    assert (error.action, error.index, error.id, error.message) == ("update", 6, 7, "Invalid ID.")


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> httpx.Response:
    return httpx.Response(401, json={"code": code, "message": message, "data": {"status": 401}})


@pytest.mark.parametrize(
    ("answer", "expect"),
    [
        (_auth_error("Consumer secret is invalid."), "secret is wrong"),
        (
            _auth_error("Sorry, you cannot list resources.", "woocommerce_rest_cannot_view"),
            "does not know this consumer key",
        ),
        (
            httpx.Response(404, json={"code": "rest_no_route", "message": "No route", "data": {"status": 404}}),
            "WooCommerce installed",
        ),
        (httpx.Response(404, text="<html><body>Not Found</body></html>"), "does not look like a WooCommerce store"),
        (httpx.Response(200, text="<html>a blog</html>"), "does not look like a WooCommerce store"),
    ],
)
async def test_connection_test_explains_failures(answer: httpx.Response, expect: str) -> None:
    result = await client(lambda r: answer).test()
    assert not result.ok
    assert expect in result.message
    assert CS not in result.message


async def test_connection_test_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    result = await client(handler).test()
    assert not result.ok and "cannot be reached" in result.message and "resolved" in result.message


@pytest.mark.parametrize("writable", [True, False])
async def test_connection_test_detects_write_permission_without_writing(writable: bool) -> None:
    posts: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[], headers={"X-WP-Total": "0"})
        posts.append(request.content)
        if writable:
            return httpx.Response(200, json={})
        return _auth_error("The API key provided does not have write permissions.")

    result = await client(handler).test()
    assert result.ok and result.can_write is writable
    assert posts == [b"{}"]  # an empty batch: nothing to write


async def test_validation_errors_carry_field_messages() -> None:
    body = {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): per_page",
        "data": {"status": 400, "params": {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}},
    }
    with pytest.raises(ValidationFailed) as info:
        await client(lambda r: httpx.Response(400, json=body)).get("orders", {"per_page": 101})
    assert "per_page" in info.value.field_errors
    assert "between 1" in info.value.message


async def test_option_lists() -> None:
    answers = {
        "/wp-json/wc/v3/reports/orders/totals": [{"slug": "processing", "name": "Processing", "total": 3}],
        "/wp-json/wc/v3/payment_gateways": [{"id": "bacs", "title": "Direct bank transfer", "enabled": True}],
        "/wp-json/wc/v3/shipping_methods": [{"id": "flat_rate", "title": "Flat rate"}],
        "/wp-json/wc/v3/taxes/classes": [{"slug": "standard", "name": "Standard rate"}],
        "/wp-json/wc/v3/data/countries": [{"code": "NL", "name": "Netherlands", "states": []}],
    }
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json=answers[request.url.path])

    wc = client(handler)
    assert await wc.options("order_statuses") == [{"value": "processing", "label": "Processing"}]
    assert await wc.options("payment_gateways") == [{"value": "bacs", "label": "Direct bank transfer"}]
    assert await wc.options("shipping_methods") == [{"value": "flat_rate", "label": "Flat rate"}]
    assert await wc.options("tax_classes") == [{"value": "standard", "label": "Standard rate"}]
    assert await wc.options("countries") == [{"value": "NL", "label": "Netherlands"}]
    await wc.payment_gateways()
    assert len(calls) == 5  # cached per client


async def test_order_statuses_fall_back_to_core_list() -> None:
    statuses = await client(
        lambda r: httpx.Response(404, json={"code": "rest_no_route", "message": "x"})
    ).order_statuses()
    assert {s["slug"] for s in statuses} >= {"processing", "completed", "on-hold"}


async def test_redirects_are_not_followed_and_explained() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "https://www.shop.example.test/wp-json/wc/v3/orders?x=1"})

    result = await client(handler).test()
    assert not result.ok
    assert "redirected the request to https://www.shop.example.test/wp-json/wc/v3/orders" in result.message
    assert "final address" in result.message


async def test_modified_pages_refuses_a_store_ignoring_the_filter() -> None:
    rows = [{"id": i, "date_modified_gmt": f"2024-01-01T10:00:{i:02d}"} for i in range(1, 9)]

    def handler(request: httpx.Request) -> httpx.Response:  # an old store: modified_after does nothing
        page, per = int(request.url.params["page"]), int(request.url.params["per_page"])
        return httpx.Response(200, json=rows[(page - 1) * per : page * per])

    with pytest.raises(ApiError, match="ignores the modified_after filter"):
        async for _ in client(handler).modified_pages("orders", per_page=3):
            pass
