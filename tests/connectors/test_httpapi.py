"""The generic HTTP API connector: every kind of authentication, retries with Retry-After, and a plain test."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from nodes.connectors import validate_spec
from nodes.connectors.base import Connector
from nodes.connectors.http import ApiError
from nodes.connectors.httpapi import ClientCredentials, HttpApiClient
from nodes.connectors.registry import get_connector

URL = "https://api.example.test/v1"


def client_for(spec: dict[str, Any], handler: Any, **opts: Any) -> HttpApiClient:
    client = get_connector("httpapi").client(
        {"app": "httpapi", "url": URL, **spec}, transport=httpx.MockTransport(handler), **opts
    )
    assert isinstance(client, HttpApiClient)
    return client


def test_registered_with_the_protocol() -> None:
    connector = get_connector("httpapi")
    assert isinstance(connector, Connector)
    assert {"token", "password", "client_secret"} <= set(connector.secret_fields)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"auth": "basic", "username": "u"}, "basic authentication needs: Password"),
        ({"auth": "api_key_query", "token": "k"}, "needs: API key name"),
        ({"auth": "oauth2", "client_id": "c"}, "needs: Token URL, Client secret"),
        ({"auth": "magic"}, "Authentication (auth)"),
        ({"url": "http://api.example.test"}, "https://"),
    ],
)
def test_incomplete_connections_are_explained(spec: dict[str, Any], fragment: str) -> None:
    problems = validate_spec("httpapi", {"app": "httpapi", "url": URL, **spec})
    assert any(fragment in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("spec", "check"),
    [
        ({}, lambda r: "authorization" not in r.headers and dict(r.url.params) == {"page": "2"}),
        (
            {"auth": "basic", "username": "ann", "password": "pw"},
            lambda r: r.headers["authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode(),
        ),
        ({"auth": "bearer", "token": "tok-1"}, lambda r: r.headers["authorization"] == "Bearer tok-1"),
        (
            {"auth": "api_key_header", "token": "k-1", "key_name": "X-API-Key"},
            lambda r: r.headers["x-api-key"] == "k-1",
        ),
        (
            {"auth": "api_key_query", "token": "k-2", "key_name": "api_key"},
            lambda r: r.url.params["api_key"] == "k-2" and r.url.params["page"] == "2",
        ),
    ],
)
async def test_each_kind_of_authentication_signs_the_request(spec: dict[str, Any], check: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    client = client_for(spec, handler)
    try:
        await client.request_json("GET", "items", params={"page": 2})
    finally:
        await client.aclose()
    assert check(seen[0]) and seen[0].url.path == "/v1/items"


async def test_oauth2_client_credentials_fetches_once_and_renews_after_a_401() -> None:
    tokens = iter(["t1", "t2"])
    issued: list[dict[str, str]] = []
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            issued.append(form)
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": 3600})
        calls.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer t1" and len(calls) == 3:
            return httpx.Response(401, json={"error": "expired"})
        return httpx.Response(200, json={"ok": True})

    spec = {
        "auth": "oauth2",
        "token_url": "https://auth.example.test/token",
        "client_id": "cid",
        "client_secret": "csecret",
        "scope": "read",
    }
    client = client_for(spec, handler)
    try:
        for _ in range(3):
            assert await client.request_json("GET", "me") == {"ok": True}
    finally:
        await client.aclose()
    assert calls == ["Bearer t1", "Bearer t1", "Bearer t1", "Bearer t2"]
    assert issued[0] == {
        "grant_type": "client_credentials",
        "client_id": "cid",
        "client_secret": "csecret",
        "scope": "read",
    }
    assert len(issued) == 2
    assert isinstance(client.http.auth, ClientCredentials)


async def test_retry_after_is_honoured_like_the_built_in_connectors() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"id": 1})])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = client_for({}, lambda request: next(answers), sleep=sleep)
    try:
        assert await client.request_json("POST", "things", json={"a": 1}) == {"id": 1}
    finally:
        await client.aclose()
    assert waits == [3.0]
    assert client.limiter is not None


@pytest.mark.parametrize(
    ("status", "ok", "words"),
    [(200, True, "answered (HTTP 200)"), (401, False, "refused the credentials (HTTP 401)"), (404, False, "404")],
)
async def test_connection_test_says_status_and_never_the_body(status: int, ok: bool, words: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/status"
        return httpx.Response(status, text="SECRET-BODY-TEXT <html>")

    client = client_for({"test_path": "status", "auth": "bearer", "token": "tok-secret"}, handler)
    try:
        result = await get_connector("httpapi").test(client)
    finally:
        await client.aclose()
    assert result.ok is ok and result.status == status
    assert words in result.message
    assert "SECRET-BODY" not in result.message and "tok-secret" not in result.message


async def test_connection_test_of_a_refused_token_request_is_plain() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text="bad client csecret")

    spec = {"auth": "oauth2", "token_url": "https://auth.example.test/token", "client_id": "c", "client_secret": "s3"}
    client = client_for(spec, handler)
    try:
        result = await get_connector("httpapi").test(client)
    finally:
        await client.aclose()
    assert not result.ok and result.status == 401 and "csecret" not in result.message


async def test_a_next_page_on_another_host_is_refused_so_the_credentials_stay_home() -> None:
    from nodes.connectors.httpapi import Paging

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 1}], headers={"Link": '<https://evil.example.test/p2>; rel="next"'})

    client = client_for({"auth": "bearer", "token": "tok-9"}, handler)
    pages: list[list[Any]] = []
    try:
        with pytest.raises(ApiError, match="another host"):
            async for page in client.pages("items", {}, Paging(style="link"), lambda body: list(body)):
                pages.append(page)
    finally:
        await client.aclose()
    assert pages == [[{"id": 1}]]


async def test_an_endless_list_stops_at_max_pages() -> None:
    from nodes.connectors.httpapi import Paging

    client = client_for({}, lambda request: httpx.Response(200, json={"items": [1], "next": "c"}))
    try:
        with pytest.raises(ApiError, match="stopped after 3 pages"):
            paging = Paging(style="cursor", next_path="next", max_pages=3)
            async for _ in client.pages("items", {}, paging, lambda body: body["items"]):
                pass
    finally:
        await client.aclose()
