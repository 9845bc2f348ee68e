"""ApiClient: retries, backoff, Retry-After, concurrency, errors and redaction (httpx.MockTransport, no real waits)."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nodes.connectors.http import (
    ApiClient,
    ApiError,
    AuthError,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    Unreachable,
    ValidationFailed,
    redact,
)

NOW = 1_800_000_000.0


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(handler: Callable[[httpx.Request], Any], **opts: Any) -> tuple[ApiClient, Sleeps]:
    sleeps = Sleeps()
    opts.setdefault("rand", lambda: 1.0)
    client = ApiClient(
        "https://api.example.test/base",
        transport=httpx.MockTransport(handler),
        sleep=sleeps,
        clock=lambda: NOW,
        **opts,
    )
    return client, sleeps


def sequence(*responses: httpx.Response | Exception) -> tuple[Callable[[httpx.Request], httpx.Response], list[str]]:
    seen: list[str] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


async def test_503_with_retry_after_seconds_is_waited_then_succeeds() -> None:
    handler, seen = sequence(httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1}))
    client, sleeps = make(handler)
    assert await client.request_json("GET", "things") == {"ok": 1}
    assert sleeps.calls == [7.0]
    assert seen == ["GET /base/things", "GET /base/things"]


async def test_retry_after_as_http_date() -> None:
    date = email.utils.formatdate(NOW + 12, usegmt=True)
    handler, _ = sequence(httpx.Response(429, headers={"Retry-After": date}), httpx.Response(200, json=[]))
    client, sleeps = make(handler)
    await client.request("GET", "things")
    assert sleeps.calls == [pytest.approx(12.0)]


async def test_post_is_retried_on_429_but_not_after_a_500() -> None:
    handler, seen = sequence(httpx.Response(429), httpx.Response(201, json={"id": 1}))
    client, sleeps = make(handler)
    assert (await client.request_json("POST", "things", json={})) == {"id": 1}
    assert len(seen) == 2

    handler, seen = sequence(httpx.Response(500, json={"message": "boom"}), httpx.Response(201, json={"id": 1}))
    client, sleeps = make(handler)
    with pytest.raises(ServerError) as info:
        await client.request("POST", "things", json={})
    assert len(seen) == 1  # a POST that reached the server is never repeated
    assert "500" in info.value.message and "boom" in info.value.message
    assert sleeps.calls == []


async def test_post_503_only_retried_with_retry_after() -> None:
    handler, seen = sequence(httpx.Response(503))
    client, _ = make(handler)
    with pytest.raises(ServerError):
        await client.request("POST", "things")
    assert len(seen) == 1

    handler, seen = sequence(httpx.Response(503, headers={"Retry-After": "1"}), httpx.Response(200))
    client, _ = make(handler)
    await client.request("POST", "things")
    assert len(seen) == 2


async def test_get_backoff_doubles_with_full_jitter_and_stops_at_max_attempts() -> None:
    handler, seen = sequence(httpx.Response(502))
    client, sleeps = make(handler, retry=RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30, max_total_wait=100))
    with pytest.raises(ServerError) as info:
        await client.request("GET", "things")
    assert len(seen) == 4
    assert sleeps.calls == [0.5, 1.0, 2.0]  # rand() = 1.0 → the ceiling each time
    assert "gave up after 4 attempts" in info.value.message

    client, sleeps = make(handler, rand=lambda: 0.25, retry=RetryPolicy(max_attempts=3, base_delay=1.0))
    with pytest.raises(ServerError):
        await client.request("GET", "things")
    assert sleeps.calls == [0.25, 0.5]


async def test_total_wait_budget_and_too_long_retry_after() -> None:
    handler, seen = sequence(httpx.Response(504))
    client, sleeps = make(handler, retry=RetryPolicy(max_attempts=10, base_delay=1.0, max_total_wait=3.5))
    with pytest.raises(ServerError) as info:
        await client.request("GET", "things")
    assert sum(sleeps.calls) <= 3.5 and len(seen) == 3  # waits 1 + 2, the next 4 would exceed the budget
    assert "exceed" in info.value.message

    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "3600"}))
    client, sleeps = make(handler, retry=RetryPolicy(max_delay=10, max_total_wait=120))
    with pytest.raises(RateLimited) as info:
        await client.request("GET", "things")
    assert sleeps.calls == [] and len(seen) == 1
    assert "asked to wait 3600 s" in info.value.message

    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "45"}), httpx.Response(200))
    client, sleeps = make(handler, retry=RetryPolicy(max_delay=10, max_total_wait=120))
    await client.request("GET", "things")
    assert sleeps.calls == [45.0]  # longer than one backoff step, but the server asked for it


async def test_connect_errors_are_retried_for_post_but_read_timeouts_are_not() -> None:
    handler, seen = sequence(httpx.ConnectError("Connection refused"), httpx.Response(201, json={"id": 3}))
    client, _ = make(handler)
    assert await client.request_json("POST", "things", json={"a": 1}) == {"id": 3}
    assert len(seen) == 2

    handler, seen = sequence(httpx.ReadTimeout("slow"), httpx.Response(201))
    client, _ = make(handler)
    with pytest.raises(Unreachable):
        await client.request("POST", "things")
    assert len(seen) == 1

    handler, seen = sequence(httpx.ReadTimeout("slow"), httpx.Response(200, json=[]))
    client, _ = make(handler)
    await client.request("GET", "things")
    assert len(seen) == 2


async def test_unreachable_message_is_readable() -> None:
    handler, seen = sequence(httpx.ConnectError("[Errno 111] Connection refused"))
    client, _ = make(handler, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(Unreachable) as info:
        await client.request("GET", "things")
    assert info.value.status == 0
    assert "cannot be reached" in info.value.message and "refused" in info.value.message
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthError), (403, AuthError), (404, NotFound), (400, ValidationFailed), (409, ValidationFailed)],
)
async def test_status_maps_to_error_class(status: int, cls: type[Exception]) -> None:
    handler, seen = sequence(httpx.Response(status, json={"message": "nope"}))
    client, _ = make(handler)
    with pytest.raises(cls):
        await client.request("GET", "things")
    assert len(seen) == 1  # client errors are never retried


async def test_concurrency_limit_holds() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={})

    client = ApiClient("https://api.example.test", transport=httpx.MockTransport(handler), concurrency=3)
    await asyncio.gather(*(client.request("GET", f"x/{i}") for i in range(12)))
    assert peak == 3
    await client.aclose()


async def test_secrets_never_in_messages() -> None:
    body = {"message": "bad token sekrit-value-123 for consumer_secret=cs_abcdef", "data": {"password": "hunter22"}}
    handler, _ = sequence(httpx.Response(401, json=body))
    client, _ = make(handler, secrets=["sekrit-value-123"])
    with pytest.raises(AuthError) as info:
        await client.request("GET", "things", params={"consumer_secret": "cs_abcdef"})
    text = info.value.message + repr(info.value.body)
    assert "sekrit-value-123" not in text and "cs_abcdef" not in text and "hunter22" not in text


def test_redact_patterns() -> None:
    assert "abc123def" not in redact("Authorization: Bearer abc123def")
    assert "dXNlcjpwYXNz" not in redact("sent Basic dXNlcjpwYXNz to the shop")
    assert "xyz789" not in redact("https://shop/?consumer_key=ck_1&consumer_secret=xyz789")
    assert "r0tate" not in redact('{"refresh_token": "r0tate", "client_secret": "s3cr3t"}')
    assert "s3cr3t" not in redact('{"refresh_token": "r0tate", "client_secret": "s3cr3t"}')
    assert "pw" not in redact("https://user:pw@host/x").split("@")[0].split("//")[1]
    assert redact("order 1234 for jan@example.nl") == "order 1234 for jan@example.nl"


async def test_json_bodies_in_any_declared_charset_and_non_json_is_a_readable_error() -> None:
    latin1 = '{"name": "Zoë"}'.encode("latin-1")
    handler, _ = sequence(
        httpx.Response(200, content=latin1, headers={"Content-Type": "application/json; charset=iso-8859-1"}),
        httpx.Response(200, content=b"<html>Maintenance</html>", headers={"Content-Type": "text/html"}),
    )
    client, _ = make(handler)
    assert await client.request_json("GET", "things") == {"name": "Zoë"}
    with pytest.raises(ApiError, match="not JSON"):
        await client.request_json("GET", "things")


async def test_a_mapped_number_is_sent_as_a_json_number() -> None:
    """number() in a map gives a Decimal; the body is sent with it as a JSON number instead of failing."""
    from decimal import Decimal

    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        assert request.headers["content-type"] == "application/json"
        return httpx.Response(201, json={"id": 7})

    client, _ = make(handler)
    answer = await client.request_json("POST", "things", json={"amount": Decimal("12.50"), "lines": [Decimal("3")]})
    assert answer == {"id": 7}
    assert bodies == [b'{"amount":12.50,"lines":[3]}']
