"""Connection tests say plainly what is wrong: never a remote body, honest before OAuth and with a cached token."""

from __future__ import annotations

import time

import httpx
import pytest

from nodes.connectors import MemoryTokenStore, make_client
from nodes.connectors.asperion import NOT_CONNECTED
from nodes.connectors.http import RetryPolicy
from tests.connectors.test_asperion import API, IDENTITY, FakeAsperion, make

WOO = {"app": "woocommerce", "url": "https://shop.example.test", "consumer_key": "ck_1", "consumer_secret": "cs_1"}
ASP = {
    "app": "asperion",
    "url": API,
    "identity_url": IDENTITY,
    "client_id": "client-1",
    "client_secret": "secret-1",
}
REMOTE_TEXT = "Fatal error in /var/www/wp-content/plugins/acme.php line 42 <b>stack</b>"
FAST = RetryPolicy(max_attempts=1)


async def test_asperion_before_connect_says_so_plainly() -> None:
    fake = FakeAsperion()
    client = make_client("asperion", ASP, transport=httpx.MockTransport(fake.handler), retry=FAST)
    result = await client.test()  # type: ignore[attr-defined]
    await client.aclose()
    assert not result.ok
    assert result.message == NOT_CONNECTED
    assert "Connect with Asperion" in result.message and "refresh_token" not in result.message
    assert fake.token_calls == []  # nothing was sent without a refresh token


async def test_asperion_after_connect_works_from_the_token_store() -> None:
    fake = FakeAsperion()
    store = MemoryTokenStore({"refresh_token": "rt-0", "access_token": "", "expires_at": 0})
    client = make_client("asperion", ASP, token_store=store, transport=httpx.MockTransport(fake.handler))
    result = await client.test()  # type: ignore[attr-defined]
    await client.aclose()
    assert result.ok and result.status == 200, result
    assert "Connected to Asperion administration" in result.message


async def test_asperion_wrong_client_secret_is_found_despite_a_cached_token() -> None:
    fake = FakeAsperion()
    good = make(fake, MemoryTokenStore())
    await good.get("/v1/administrations")  # a valid access token is now cached in the store
    store = good.token_store
    assert isinstance(store, MemoryTokenStore) and store.tokens and store.tokens["expires_at"] > time.time()
    wrong = make(fake, store, client_secret="not-the-secret")
    result = await wrong.test()
    await good.aclose()
    await wrong.aclose()
    assert not result.ok
    assert "client id or client secret" in result.message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 418, 500, 503])
async def test_woocommerce_test_never_echoes_a_remote_body(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"code": "x", "message": REMOTE_TEXT, "data": {"status": status}})

    client = make_client("woocommerce", WOO, transport=httpx.MockTransport(handler), retry=FAST)
    result = await client.test()  # type: ignore[attr-defined]
    await client.aclose()
    assert not result.ok and result.status == status
    assert "acme.php" not in result.message and "Fatal" not in result.message
    assert result.message


@pytest.mark.parametrize("status", [404, 500, 502])
async def test_asperion_test_never_echoes_a_remote_body(status: int) -> None:
    fake = FakeAsperion()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity.example.test":
            return fake.token(request)
        return httpx.Response(status, json={"title": REMOTE_TEXT, "detail": REMOTE_TEXT})

    client = make_client(
        "asperion", {**ASP, "refresh_token": "rt-0"}, transport=httpx.MockTransport(handler), retry=FAST
    )
    result = await client.test()  # type: ignore[attr-defined]
    await client.aclose()
    assert not result.ok and result.status == status
    assert "acme.php" not in result.message


async def test_asperion_refused_token_request_is_not_echoed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "server_error", "error_description": REMOTE_TEXT})

    client = make_client("asperion", {**ASP, "refresh_token": "rt-0"}, transport=httpx.MockTransport(handler))
    result = await client.test()  # type: ignore[attr-defined]
    await client.aclose()
    assert not result.ok and "acme.php" not in result.message
