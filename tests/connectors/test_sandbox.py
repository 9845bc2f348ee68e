"""The connectors over real HTTP against the sandbox simulators (uvicorn on a free loopback port)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from nodes.connectors import MemoryTokenStore, RetryPolicy, make_client
from nodes.connectors.asperion import AsperionClient
from nodes.connectors.http import AuthError, ServerError
from nodes.connectors.woocommerce import WooCommerceClient
from sandbox.credentials import (
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_READ_KEY,
    WOO_READ_SECRET,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)
from tests.sandbox.server import SandboxURL, free_port, running_sandbox

FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=2.0, max_total_wait=10.0)


@pytest.fixture(name="sandbox", scope="module")
def fx_sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(orders=130, customers=12, products=12, seed=5) as url:
        yield url


@pytest.fixture(name="tokens", scope="module")
def fx_tokens() -> MemoryTokenStore:
    """One token store for the module: the sandbox's refresh token rotates like the real one."""
    return MemoryTokenStore()


def faults(sandbox: str, **values: float) -> None:
    body = {"latency_ms": 0, "fail_rate": 0, "rate_limit_per_s": 0, "timeout_rate": 0, "drop_rate": 0, **values}
    assert httpx.put(f"{sandbox}/_sandbox/faults", json=body).status_code == 200


def stats(sandbox: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{sandbox}/_sandbox/stats").json()
    return answer


def woo_spec(sandbox: str, key: str = WOO_RW_KEY, secret: str = WOO_RW_SECRET) -> dict[str, Any]:
    return {"app": "woocommerce", "url": f"{sandbox}/woocommerce", "consumer_key": key, "consumer_secret": secret}


def asp_spec(sandbox: str, **overrides: Any) -> dict[str, Any]:
    spec = {
        "app": "asperion",
        "url": f"{sandbox}/asperion",
        "identity_url": f"{sandbox}/asperion",
        "client_id": ASPERION_CLIENT_ID,
        "client_secret": ASPERION_CLIENT_SECRET,
        "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
        "tenant_id": 1001,
    }
    return {**spec, **overrides}


@pytest.fixture(name="woo")
async def fx_woo(sandbox: SandboxURL) -> AsyncIterator[WooCommerceClient]:
    faults(sandbox)
    client = make_client("woocommerce", woo_spec(sandbox), retry=FAST)
    assert isinstance(client, WooCommerceClient)
    yield client
    await client.aclose()
    faults(sandbox)


@pytest.fixture(name="asp")
async def fx_asp(sandbox: SandboxURL, tokens: MemoryTokenStore) -> AsyncIterator[AsperionClient]:
    faults(sandbox)
    client = make_client("asperion", asp_spec(sandbox), token_store=tokens, retry=FAST)
    assert isinstance(client, AsperionClient)
    yield client
    await client.aclose()
    faults(sandbox)


async def test_woocommerce_connection_tests(sandbox: SandboxURL) -> None:
    cases = [
        (woo_spec(sandbox), True, "read and write"),
        (woo_spec(sandbox, WOO_READ_KEY, WOO_READ_SECRET), True, "read only"),
        (woo_spec(sandbox, WOO_RW_KEY, "cs_wrong"), False, "secret is wrong"),
        (woo_spec(sandbox, "ck_unknown", "cs_unknown"), False, "does not know this consumer key"),
        ({**woo_spec(sandbox), "url": f"http://127.0.0.1:{free_port()}/shop"}, False, "cannot be reached"),
        ({**woo_spec(sandbox), "url": f"{sandbox}/asperion"}, False, "does not look like a WooCommerce store"),
    ]
    for spec, ok, fragment in cases:
        client = make_client("woocommerce", spec)
        result = await client.test()
        await client.aclose()
        assert result.ok is ok, (spec["url"], result)
        assert fragment in result.message, result.message
        assert spec["consumer_secret"] not in result.message
    read_only = make_client("woocommerce", woo_spec(sandbox, WOO_READ_KEY, WOO_READ_SECRET))
    assert (await read_only.test()).can_write is False
    await read_only.aclose()


async def test_woocommerce_paging_totals_and_keyset(woo: WooCommerceClient) -> None:
    total = await woo.total("orders", {"status": "any"})
    assert total == 130
    by_page = [o["id"] async for page in woo.pages("orders", {"orderby": "id", "order": "asc"}) for o in page]
    assert len(by_page) == 130 and by_page == sorted(by_page)
    by_change = [o async for page in woo.modified_pages("orders", per_page=40) for o in page]
    assert sorted(o["id"] for o in by_change) == sorted(by_page)
    stamps = [o["date_modified_gmt"] for o in by_change]
    assert stamps == sorted(stamps)


async def test_woocommerce_batch_and_options(woo: WooCommerceClient) -> None:
    products = [p async for page in woo.pages("products", {"type": "simple"}) for p in page][:3]
    updates = [{"id": p["id"], "manage_stock": True, "stock_quantity": 7} for p in products]
    result = await woo.batch("products", update=[*updates, {"id": 999999, "stock_quantity": 1}])
    assert [p["stock_quantity"] for p in result.updated] == [7, 7, 7]
    assert len(result.errors) == 1 and result.errors[0].index == 3
    assert {"value": "processing", "label": "Processing"} in await woo.options("order_statuses")
    assert any(o["value"] == "NL" for o in await woo.options("countries"))
    assert await woo.options("payment_gateways")
    assert await woo.options("tax_classes")


async def test_woocommerce_retries_injected_faults(sandbox: SandboxURL, woo: WooCommerceClient) -> None:
    before = stats(sandbox)
    faults(sandbox, fail_rate=0.3, rate_limit_per_s=20)
    for _ in range(40):
        assert isinstance(await woo.get("orders", {"per_page": 1}), list)  # every call ends well
    after = stats(sandbox)
    assert after["faults_injected"] > before["faults_injected"]  # ... although the store failed some attempts


async def test_post_is_not_repeated_after_a_server_error(sandbox: SandboxURL, woo: WooCommerceClient) -> None:
    faults(sandbox, fail_rate=1.0)
    with pytest.raises(ServerError):
        await woo.post("customers", {"email": "once@example.nl"})
    faults(sandbox)
    found = await woo.get("customers", {"email": "once@example.nl"})
    assert found == []  # the fault answered before the store: nothing was created, and nothing was retried


async def test_asperion_connection_tests(sandbox: SandboxURL, tokens: MemoryTokenStore) -> None:
    good = make_client("asperion", asp_spec(sandbox), token_store=tokens)
    result = await good.test()
    await good.aclose()
    assert result.ok and "1001" in result.message, result.message
    cases = [
        (asp_spec(sandbox, client_secret="wrong"), "client id or client secret"),
        (asp_spec(sandbox, refresh_token="rt-never-issued"), "refresh token"),
        (asp_spec(sandbox, tenant_id=4242), "4242"),
        (asp_spec(sandbox, identity_url=f"http://127.0.0.1:{free_port()}"), "cannot be reached"),
    ]
    for spec, fragment in cases:
        store = tokens if spec["tenant_id"] == 4242 else None
        client = make_client("asperion", spec, token_store=store)
        result = await client.test()
        await client.aclose()
        assert not result.ok and fragment in result.message, result.message
        assert spec["client_secret"] not in result.message and spec["refresh_token"] not in result.message


async def test_asperion_tokens_rotate_and_persist(asp: AsperionClient, tokens: MemoryTokenStore) -> None:
    await asp.vat_codes()
    stored = await tokens.load()
    assert stored and stored["refresh_token"] != ASPERION_INITIAL_REFRESH_TOKEN
    stale = AsperionClient(
        asp.base_url, asp.token_url.removesuffix("/connect/token"), ASPERION_CLIENT_ID, ASPERION_CLIENT_SECRET,
        ASPERION_INITIAL_REFRESH_TOKEN, 1001,
    )  # fmt: skip
    with pytest.raises(AuthError, match="invalid_grant"):
        await stale.get("/v1/journals")  # the initial token was used up by the rotation
    await stale.aclose()


async def test_asperion_debtors_invoices_and_lookups(asp: AsperionClient) -> None:
    assert await asp.find_debtor_by_email("nobody-here@example.nl") is None
    debtor = await asp.create_debtor(
        {"name": "Bakkerij Test", "attentionTo": "Jan", "emailAddress": "Jan.Test@Example.nl", "countryCode": "NL"}
    )
    found = await asp.find_debtor_by_email("jan.test@example.nl")
    assert found is not None and found["customerNumber"] == debtor["customerNumber"]
    updated = await asp.update_debtor(debtor["id"], {**found, "city": "Utrecht"})
    assert updated["city"] == "Utrecht"
    invoice = await asp.create_invoice(
        {
            "date": "2026-01-05",
            "description": "Webshop order 4711",
            "debtorCustomerNumber": debtor["customerNumber"],
            "journalId": "70",
            "lines": [
                {"description": "Mok", "amount": 10.0, "ledgerAccountId": 8000, "vatCode": "H21", "vatAmount": 2.1}
            ],
        }
    )
    assert invoice["id"]
    again = await asp.find_invoice_by_description("Webshop order 4711")
    assert again is not None and again["id"] == invoice["id"]
    assert await asp.find_invoice_by_description("Webshop order 471") is None
    entry = await asp.create_journal_entry(
        {
            "journalId": "90",
            "date": "2026-01-06",
            "description": "Betaling 4711",
            "lines": [
                {"amount": 12.1, "ledgerAccountId": 1100, "description": "PSP"},
                {"amount": -12.1, "ledgerAccountId": 1300, "description": "Debiteur"},
            ],
        }
    )
    found_entry = await asp.find_journal_entry(description="Betaling 4711", journal_id="90")
    assert found_entry is not None and found_entry["id"] == entry["id"]


async def test_asperion_articles_sales_orders_and_options(asp: AsperionClient) -> None:
    article = await asp.create_article({"code": "CONN-1", "description": "Connector test", "salesPrice": 5})
    assert (await asp.find_article_by_code("conn-1")) is None  # codes are exact and case-sensitive
    assert (await asp.find_article_by_code("CONN-1"))["id"] == article["id"]  # type: ignore[index]
    changed = await asp.update_article(article["id"], {**article, "description": "Gewijzigd"})
    assert changed["description"] == "Gewijzigd"
    order = await asp.create_sales_order(
        {
            "debtorCustomerNumber": "9999",
            "date": "2026-01-07",
            "description": "Webshop order 4712",
            "lines": [{"articleId": article["id"], "quantity": 2, "unitPrice": 5.0}],
        }
    )
    assert (await asp.find_sales_order_by_description("Webshop order 4712"))["id"] == order["id"]  # type: ignore[index]
    orders = [o async for page in asp.sales_order_pages(status="open") for o in page]
    assert any(o["id"] == order["id"] and isinstance(o["lines"], list) for o in orders)
    assert {"H21", "L9", "ICP"} <= {o["value"] for o in await asp.options("vatcodes")}
    assert {"8000", "1300"} <= {o["value"] for o in await asp.options("ledgeraccounts")}
    assert {"70", "90"} <= {o["value"] for o in await asp.options("journals")}
    assert await asp.options("paymentconditions") and await asp.options("debtorkinds")
