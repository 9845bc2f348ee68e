"""Asperion simulator: it must never be a benchmark's bottleneck (a single invoice POST takes about a millisecond)."""

from __future__ import annotations

import asyncio
import time

import httpx

from sandbox.asperion import AsperionSim

INVOICE = {
    "date": "2024-01-22",
    "debtorCustomerNumber": "9999",
    "journalId": "70",
    "description": "Webshop order 1001",
    "lines": {
        "_data": [
            {"description": "Product", "amount": 100.00, "ledgerAccountId": 8000, "vatCode": "H21", "vatAmount": 21.0},
            {"description": "Boek", "amount": 41.32, "ledgerAccountId": 8000, "vatCode": "L9"},
            {"description": "Verzendkosten", "amount": 4.13, "ledgerAccountId": 8300, "vatCode": "H21"},
        ]
    },
}


def test_invoice_posts_and_list_pages_are_fast() -> None:
    sim = AsperionSim()
    headers = {"Authorization": f"Bearer {sim.issue_access_token()}"}

    async def run() -> tuple[float, float]:
        transport = httpx.ASGITransport(app=sim.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers) as client:
            for _ in range(20):  # warm up
                await client.post("/v1/salesinvoiceswithlines", json=INVOICE)
            started = time.perf_counter()
            for _ in range(200):
                answer = await client.post("/v1/salesinvoiceswithlines", json=INVOICE)
                assert answer.status_code == 201
            per_post = (time.perf_counter() - started) / 200
            started = time.perf_counter()
            for _ in range(20):
                page = await client.get("/v1/salesinvoiceswithlines", params={"pageSize": 100})
                assert len(page.json()["_data"]) == 100
            return per_post, (time.perf_counter() - started) / 20

    per_post, per_page = asyncio.run(run())
    # ~0.4 ms and ~2 ms on the 2-core dev box, including the in-process client; generous bounds for shared CI
    assert per_post < 0.005, f"{per_post * 1000:.2f} ms per invoice POST"
    assert per_page < 0.05, f"{per_page * 1000:.2f} ms per 100-invoice page"
