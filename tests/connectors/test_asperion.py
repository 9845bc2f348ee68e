"""AsperionClient over httpx.MockTransport: token rotation and persistence, tenancy, paging, lookups, shapes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from nodes.connectors.asperion import AsperionClient, MemoryTokenStore, lines_of
from nodes.connectors.http import AuthError, RetryPolicy, ValidationFailed

API = "https://api.example.test"
IDENTITY = "https://identity.example.test"


class FakeAsperion:
    """Identity + API: refresh tokens rotate, access tokens expire, lists page by ``nextPage``."""

    def __init__(self, *, page_size: int = 2) -> None:
        self.valid_refresh = {"rt-0"}
        self.valid_access: set[str] = set()
        self.issued = 0
        self.token_calls: list[dict[str, list[str]]] = []
        self.api_calls: list[httpx.Request] = []
        self.page_size = page_size
        self.debtors = [
            {"id": 1, "customerNumber": "10001", "emailAddress": "xjan@example.nl"},
            {"id": 2, "customerNumber": "10002", "emailAddress": "Jan@Example.nl"},
            {"id": 3, "customerNumber": "10003", "emailAddress": "jan@example.nl.invalid"},
        ]
        self.posted: list[Any] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity.example.test":
            return self.token(request)
        self.api_calls.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_access:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        path = request.url.path
        if path == "/v1/debtors" and request.method == "GET":
            wanted = request.url.params.get("EmailAddress", "").lower()
            rows = [d for d in self.debtors if wanted in d["emailAddress"].lower()]
            return self.listing(request, rows)
        if request.method == "POST":
            body = json.loads(request.content)
            self.posted.append(body)
            return httpx.Response(201, json={"id": 77, **body})
        if path == "/v1/administrations":
            return self.listing(request, [{"id": 1001, "name": "Koppel Demo B.V."}, {"id": 1002, "name": "Tweede"}])
        return httpx.Response(404, json={"title": "Not Found", "status": 404})

    def listing(self, request: httpx.Request, rows: list[dict[str, Any]]) -> httpx.Response:
        page = int(request.url.params.get("page", 1))
        size = min(int(request.url.params.get("pageSize", 25)), self.page_size)
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        nxt = str(request.url.copy_set_param("page", page + 1)) if more else ""
        meta = {"nextPage": nxt, "totalCount": len(rows), "administrationId": 1001}
        return httpx.Response(200, json={"_data": chunk, "_meta": meta})

    def token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.token_calls.append(form)
        if form.get("client_secret") != ["secret-1"]:
            return httpx.Response(400, json={"error": "invalid_client"})
        refresh = form["refresh_token"][0]
        if refresh not in self.valid_refresh:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.valid_refresh.discard(refresh)
        self.issued += 1
        new_refresh, access = f"rt-{self.issued}", f"at-{self.issued}"
        self.valid_refresh.add(new_refresh)
        self.valid_access.add(access)
        return httpx.Response(
            200, json={"access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": new_refresh}
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def _nosleep(_: float) -> None:
    return None


def make(fake: FakeAsperion, store: MemoryTokenStore | None = None, **opts: Any) -> AsperionClient:
    opts.setdefault("retry", RetryPolicy(max_attempts=2))
    return AsperionClient(
        API,
        IDENTITY,
        "client-1",
        opts.pop("client_secret", "secret-1"),
        opts.pop("refresh_token", "rt-0"),
        opts.pop("tenant_id", 1001),
        store,
        transport=httpx.MockTransport(fake.handler),
        sleep=_nosleep,
        **opts,
    )


async def test_bearer_tenant_and_cached_token() -> None:
    fake = FakeAsperion()
    store = MemoryTokenStore()
    client = make(fake, store)
    await client.get("/v1/administrations")
    await client.get("administrations")
    assert len(fake.token_calls) == 1  # the access token is cached
    form = fake.token_calls[0]
    assert form["grant_type"] == ["refresh_token"] and form["client_id"] == ["client-1"]
    assert form["client_secret"] == ["secret-1"]
    request = fake.api_calls[0]
    assert request.headers["Authorization"] == "Bearer at-1"
    assert request.headers["X-Tenant-Id"] == "1001"
    assert store.tokens is not None and store.tokens["refresh_token"] == "rt-1"  # rotated one persisted


async def test_expiry_refreshes_and_persists_each_rotation() -> None:
    fake, clock, store = FakeAsperion(), Clock(), MemoryTokenStore()
    client = make(fake, store, clock=clock)
    await client.get("administrations")
    clock.now += 3600 - 30  # inside the safety margin before expiry
    await client.get("administrations")
    assert len(fake.token_calls) == 2
    assert fake.token_calls[1]["refresh_token"] == ["rt-1"]
    assert store.tokens is not None and store.tokens["refresh_token"] == "rt-2" and store.saves == 2


async def test_stored_token_preferred_over_constructor() -> None:
    fake = FakeAsperion()
    fake.valid_refresh = {"rt-stored"}
    store = MemoryTokenStore({"refresh_token": "rt-stored", "access_token": "", "expires_at": 0})
    client = make(fake, store, refresh_token="rt-stale")
    await client.get("administrations")
    assert fake.token_calls[0]["refresh_token"] == ["rt-stored"]


async def test_invalid_grant_reloads_token_rotated_by_another_worker() -> None:
    fake, clock = FakeAsperion(), Clock()
    store = MemoryTokenStore()
    worker_a = make(fake, store, clock=clock)
    worker_b = make(fake, store, clock=clock)
    await worker_a.get("administrations")  # a rotates rt-0 → rt-1 and stores it
    await worker_b.get("administrations")  # b loads the store: no refresh needed at all
    assert len(fake.token_calls) == 1

    clock.now += 7200
    await worker_a.get("administrations")  # a rotates rt-1 → rt-2
    fake.valid_access.clear()  # b's cached access token expired server-side
    await worker_b.get("administrations")  # b: 401 → refresh with rt-1 → invalid_grant → reload store → works
    assert [c["refresh_token"][0] for c in fake.token_calls][-2:] == ["rt-1", "rt-2"]
    assert store.tokens is not None and store.tokens["refresh_token"] == "rt-3"


async def test_refused_refresh_token_and_client_give_clear_errors() -> None:
    fake = FakeAsperion()
    fake.valid_refresh = set()
    with pytest.raises(AuthError, match="refresh token") as info:
        await make(fake).get("administrations")
    assert "rt-0" not in info.value.message

    result = await make(FakeAsperion(), client_secret="wrong-secret").test()
    assert not result.ok and "client id or client secret" in result.message
    assert "wrong-secret" not in result.message


async def test_401_on_a_call_refreshes_once_and_retries() -> None:
    fake = FakeAsperion()
    client = make(fake)
    await client.get("administrations")
    fake.valid_access.clear()  # revoked server-side
    await client.get("administrations")
    assert len(fake.token_calls) == 2
    fake.valid_access.clear()
    fake.valid_refresh.clear()
    with pytest.raises(AuthError):
        await client.get("administrations")


async def test_pages_follow_next_page_and_find_exact_rechecks_email() -> None:
    fake = FakeAsperion(page_size=1)
    client = make(fake)
    found = await client.find_debtor_by_email("jan@example.nl")
    assert found is not None and found["customerNumber"] == "10002"  # Contains matched 3, exact (any case) 1
    assert (await client.find_debtor_by_email("nobody@example.nl")) is None
    debtor_calls = [r for r in fake.api_calls if r.url.path == "/v1/debtors"]
    assert debtor_calls[0].url.params["EmailAddress"] == "jan@example.nl"
    assert debtor_calls[1].url.params["page"] == "2"  # followed nextPage


async def test_next_page_on_another_host_is_not_followed_with_the_token() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity.example.test":
            return httpx.Response(200, json={"access_token": "at", "expires_in": 3600, "refresh_token": "rt-x"})
        hosts.append(request.url.host)
        page = int(request.url.params.get("page", 1))
        nxt = "https://evil.example.test/v1/articles?page=2" if page == 1 else ""
        return httpx.Response(200, json={"_data": [{"id": page}], "_meta": {"nextPage": nxt}})

    client = AsperionClient(API, IDENTITY, "c", "s", "r", None, transport=httpx.MockTransport(handler))
    ids = [a["id"] async for page in client.pages("articles") for a in page]
    assert ids == [1, 2] and set(hosts) == {"api.example.test"}


async def test_lines_are_wrapped_when_posting() -> None:
    fake = FakeAsperion()
    client = make(fake)
    lines = [{"description": "A", "amount": 10.0}, {"description": "B", "amount": 5.0}]
    created = await client.create_invoice({"description": "1001", "debtorCustomerNumber": "10002", "lines": lines})
    assert fake.posted[0]["lines"] == {"_data": lines, "_meta": {"totalCount": 2}}
    assert [line["description"] for line in lines_of(created)] == ["A", "B"]
    assert fake.api_calls[-1].url.path == "/v1/salesinvoiceswithlines"


async def test_problem_details_become_field_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity.example.test":
            return httpx.Response(200, json={"access_token": "at", "expires_in": 3600, "refresh_token": "rt"})
        problem = {
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": {"DebtorCustomerNumber": ["Debiteur 123 bestaat niet."]},
        }
        return httpx.Response(400, json=problem)

    client = AsperionClient(API, IDENTITY, "c", "s", "r", 1001, transport=httpx.MockTransport(handler))
    with pytest.raises(ValidationFailed) as info:
        await client.create_invoice({"lines": []})
    assert info.value.field_errors == {"DebtorCustomerNumber": ["Debiteur 123 bestaat niet."]}
    assert "DebtorCustomerNumber: Debiteur 123 bestaat niet." in info.value.message


async def test_connection_test_reports_administration() -> None:
    result = await make(FakeAsperion()).test()
    assert result.ok and "Koppel Demo B.V." in result.message
    result = await make(FakeAsperion(), tenant_id=4242).test()
    assert not result.ok and "4242" in result.message and "1001" in result.message


async def test_connection_test_unreachable_identity() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    client = AsperionClient(API, IDENTITY, "c", "s", "r", 1001, transport=httpx.MockTransport(handler), sleep=_nosleep)
    result = await client.test()
    assert not result.ok and "cannot be reached" in result.message and "identity.example.test" in result.message
