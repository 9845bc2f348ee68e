"""MollieClient over httpx.MockTransport and against the sandbox: key auth, cursor paging, errors, retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from engine.flow import validate_flow
from engine.templates import get_template
from nodes.connectors import Connector, make_client, secret_fields, validate_spec
from nodes.connectors.http import ApiError, AuthError, RetryPolicy, ValidationFailed
from nodes.connectors.mollie import CONNECTOR, BearerKey, MollieClient, settlement_totals
from nodes.connectors.registry import connectors
from nodes.registry import get_node_type
from sandbox.credentials import MOLLIE_API_KEY
from tests.sandbox.server import running_sandbox

URL = "https://api.mollie.test"
KEY = "test_abcdefghijklmnopqrstuvwxyz1234"


async def _nosleep(_: float) -> None:
    return None


def client(handler: Callable[[httpx.Request], httpx.Response], **opts: Any) -> MollieClient:
    opts.setdefault("retry", RetryPolicy(max_attempts=3))
    return MollieClient(URL, KEY, transport=httpx.MockTransport(handler), sleep=_nosleep, **opts)


def hal(kind: str, items: list[dict[str, Any]], next_href: str | None) -> httpx.Response:
    body = {
        "count": len(items),
        "_embedded": {kind: items},
        "_links": {
            "self": {"href": "x"},
            "next": {"href": next_href, "type": "application/hal+json"} if next_href else None,
        },
    }
    return httpx.Response(200, json=body, headers={"Content-Type": "application/hal+json"})


async def test_pages_follow_links_next_with_the_key_and_stop_at_the_end() -> None:
    seen: list[httpx.Request] = []
    ids = [f"stl_{n}" for n in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        start = ids.index(request.url.params.get("from", ids[0]))
        limit = int(request.url.params["limit"])
        after = start + limit
        href = f"{URL}/v2/settlements?from={ids[after]}&limit={limit}" if after < len(ids) else None
        return hal("settlements", [{"id": i} for i in ids[start:after]], href)

    mollie = client(handler)
    pages = [[s["id"] for s in page] async for page in mollie.pages("settlements", "settlements", limit=2)]
    assert pages == [["stl_0", "stl_1"], ["stl_2", "stl_3"], ["stl_4"]]
    assert [r.url.path for r in seen] == ["/v2/settlements"] * 3
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in seen)
    assert KEY not in str(seen[0].url)


async def test_a_next_page_on_another_host_is_refused() -> None:
    mollie = client(lambda _: hal("payments", [{"id": "tr_1"}], "https://evil.example/v2/payments?from=tr_2"))
    with pytest.raises(ApiError, match="another host"):
        _ = [page async for page in mollie.pages("payments", "payments")]


async def test_errors_read_mollies_shape_and_never_show_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/settlements"):
            body = {"status": 401, "title": "Unauthorized Request", "detail": "Missing authentication, or failed"}
            return httpx.Response(401, json=body)
        body = {"status": 400, "title": "Bad Request", "detail": "The limit is too high.", "field": "limit"}
        return httpx.Response(400, json=body)

    mollie = client(handler)
    with pytest.raises(AuthError, match="Mollie answered 401: Missing authentication") as refused:
        await mollie.get("settlements")
    assert KEY not in str(refused.value)
    with pytest.raises(ValidationFailed) as bad:
        await mollie.get("payments", {"limit": 999})
    assert bad.value.field_errors == {"limit": ["The limit is too high."]}
    test = await mollie.test()
    assert not test.ok and "refused the key" in test.message and KEY not in test.message


REMOTE_TEXT = "Fatal error in /srv/mollie/api.php line 42 <b>stack</b>"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 418, 500, 503])
async def test_connection_test_never_echoes_a_remote_body(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"status": status, "title": REMOTE_TEXT, "detail": REMOTE_TEXT})

    mollie = client(handler, retry=RetryPolicy(max_attempts=1))
    result = await mollie.test()
    await mollie.aclose()
    assert not result.ok and result.status == status and result.message
    assert "api.php" not in result.message and "Fatal" not in result.message and KEY not in result.message
    if status == 403:
        assert "organization access token" in result.message


async def test_connection_test_refuses_an_address_that_is_not_mollie() -> None:
    mollie = client(lambda _: httpx.Response(200, json={"hello": REMOTE_TEXT}))
    result = await mollie.test()
    await mollie.aclose()
    assert not result.ok and "does not look like Mollie's API" in result.message and "Fatal" not in result.message


async def test_the_registry_finds_the_mollie_connector_by_its_package() -> None:
    assert connectors()["mollie"] is CONNECTOR
    assert isinstance(CONNECTOR, Connector) and CONNECTOR.label == "Mollie" and CONNECTOR.description
    assert [f.name for f in CONNECTOR.fields] == ["url", "api_key"]
    assert secret_fields("mollie") == ("api_key",)
    credentials, _ = CONNECTOR.parse({"app": "mollie", "api_key": KEY})
    assert credentials.url == "https://api.mollie.com" and KEY not in repr(credentials)
    auth = CONNECTOR.auth(credentials)
    assert isinstance(auth, BearerKey)
    mollie = CONNECTOR.client({"app": "mollie", "url": URL, "api_key": KEY, "concurrency": 3})
    try:
        assert mollie.http.auth is not None and type(mollie.http.auth) is type(auth) and mollie.concurrency == 3
        with pytest.raises(KeyError):
            await CONNECTOR.options(mollie, "no-such-list")
    finally:
        await mollie.aclose()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"api_key": "sk_not_mollie"}, "API key (api_key) must start with test_ or live_"),
        ({"api_key": KEY, "url": "http://api.mollie.test"}, "must use https://"),
        ({"api_key": KEY, "profile": "pfl_1"}, 'unknown field "profile" for Mollie'),
        ({"api_key": KEY, "app": "woocommerce"}, 'expected "mollie"'),
    ],
)
def test_invalid_mollie_connections_are_explained_without_the_key(spec: dict[str, str], fragment: str) -> None:
    problems = validate_spec("mollie", spec)
    assert any(fragment in p for p in problems), problems
    assert not any("sk_not_mollie" in p for p in problems)


def test_the_mollie_nodes_declare_their_connections_so_the_flow_is_checked() -> None:
    document = get_template("mollie-settlements-to-bank")
    assert validate_flow(document, {"mollie": "mollie", "asperion": "asperion"}) == []
    wrong_app = [p.as_dict() for p in validate_flow(document, {"mollie": "woocommerce", "asperion": "asperion"})]
    assert [(p["node"], p["field"]) for p in wrong_app] == [("settlements", "connection")]
    assert "is a woocommerce connection, not mollie" in wrong_app[0]["message"]
    missing = [p.as_dict() for p in validate_flow(document, {"mollie": "mollie"})]
    assert [(p["node"], p["field"]) for p in missing] == [("bank_entry", "connection"), ("book", "connection")]
    assert 'no connection named "asperion"' in missing[0]["message"]
    for node_type in ("mollie.settlements", "mollie.payments"):  # the canvas offers only Mollie connections
        cls = get_node_type(node_type)
        assert cls is not None and cls.connection_fields() == {"connection": "mollie"}
        prop = cls.config_model.model_json_schema()["properties"]["connection"]
        assert prop["ui"] == {"widget": "connection", "app": "mollie"}


async def test_rate_limits_are_retried_after_the_time_mollie_asks() -> None:
    waits: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), hal("payments", [{"id": "tr_1"}], None)])

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    mollie = MollieClient(URL, KEY, transport=httpx.MockTransport(lambda _: next(answers)), sleep=sleep)
    assert [p["id"] for p in await mollie.items("payments", "payments")] == ["tr_1"]
    assert waits == [3.0]


def test_keys_and_addresses_are_checked_before_use() -> None:
    with pytest.raises(ValueError, match="test_ or live_"):
        MollieClient(URL, "sk_not_mollie")
    with pytest.raises(ValueError, match="HTTPS"):
        MollieClient("http://api.mollie.test", KEY)
    assert MollieClient("http://127.0.0.1:9/mollie/v2", KEY).base_url == "http://127.0.0.1:9/mollie/v2"
    spec = {"app": "mollie", "url": URL}
    assert validate_spec("mollie", spec) == ["API key (api_key) is required"]
    assert isinstance(make_client("mollie", {**spec, "api_key": KEY}), MollieClient)


async def test_against_the_sandbox_every_settlement_adds_up() -> None:
    with running_sandbox(orders=150, customers=30, products=10, seed=2) as base:
        mollie = make_client("mollie", {"app": "mollie", "url": f"{base}/mollie", "api_key": MOLLIE_API_KEY})
        assert isinstance(mollie, MollieClient)
        try:
            test = await mollie.test()
            assert test.ok and "test mode" in test.message
            settlements = [s async for page in mollie.settlement_pages(limit=5) for s in page]
            assert len(settlements) == len(base.app.mounted["mollie"].book.settlements) > 5
            for settlement in settlements[:4]:
                totals = settlement_totals(settlement)
                assert totals.payout == totals.payments - totals.refunds - totals.chargebacks - totals.costs_gross
                assert f"{totals.payout:.2f}" == settlement["amount"]["value"]
                payments = await mollie.settlement_members(settlement["id"], "payments")
                assert len(payments) == totals.payment_count
            wrong = MollieClient(f"{base}/mollie", "test_wrongwrongwrongwrongwrongwrong")
            with pytest.raises(AuthError):
                await wrong.get("payments")
            await wrong.aclose()
        finally:
            await mollie.aclose()
