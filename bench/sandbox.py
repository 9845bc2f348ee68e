"""How fast the sandbox answers: requests/s for a 100-order page GET and a single Asperion invoice POST.

Starts ``serve_sandbox`` in its own process (as ``koppel sandbox`` does), drives it with httpx from this one,
prints the figures and, as its last line, one JSON object::

    .venv/bin/python bench/sandbox.py --orders 2000 --seconds 5 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.credentials import (  # noqa: E402
    ASPERION_CLIENT_ID,
    ASPERION_CLIENT_SECRET,
    ASPERION_INITIAL_REFRESH_TOKEN,
    WOO_RW_KEY,
    WOO_RW_SECRET,
)

__all__ = ("main",)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(port: int, orders: int) -> tuple[subprocess.Popen[str], float]:
    code = f"from sandbox.server import serve_sandbox; serve_sandbox(port={port}, orders={orders})"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = started + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read() if proc.stdout else "sandbox exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sandbox", timeout=1).status_code == 200:
                return proc, time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("sandbox did not start")


async def _drive(
    call: Callable[[int], Awaitable[httpx.Response]], seconds: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal errors, counter
        while time.monotonic() < stop:
            counter += 1
            t0 = time.perf_counter()
            answer = await call(counter)
            latencies.append(time.perf_counter() - t0)
            if answer.status_code >= 400:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else 0.0,
        "p95_ms": round(sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000, 2) if latencies else 0.0,
        "errors": errors,
    }


def _invoice(n: int) -> dict[str, Any]:
    return {
        "date": "2026-10-01T00:00:00",
        "bookyear": 2026,
        "bookperiod": 10,
        "journalId": "70",
        "debtorCustomerNumber": "9999",
        "description": f"Webshop order {n}",
        "invoiceNumber": "",
        "paymentConditionId": 1,
        "lines": {
            "_data": [
                {
                    "description": "Koffiebonen",
                    "amount": 20.62,
                    "ledgerAccountId": 8000,
                    "vatCode": "H21",
                    "vatAmount": 4.33,
                },
                {
                    "description": "Verzendkosten",
                    "amount": 4.09,
                    "ledgerAccountId": 8300,
                    "vatCode": "H21",
                    "vatAmount": 0.86,
                },
            ]
        },
    }


async def _bench(base: str, seconds: float, concurrency: int, orders: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        rest = "/woocommerce/wp-json/wc/v3/orders"
        pages = max(1, (orders + 99) // 100)
        sample = await client.get(rest, params={"per_page": 100}, auth=(WOO_RW_KEY, WOO_RW_SECRET))
        page_bytes = len(sample.content)

        async def get_page(n: int) -> httpx.Response:
            return await client.get(
                rest, params={"per_page": 100, "page": n % pages + 1}, auth=(WOO_RW_KEY, WOO_RW_SECRET)
            )

        token = await client.post(
            "/asperion/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": ASPERION_INITIAL_REFRESH_TOKEN,
                "client_id": ASPERION_CLIENT_ID,
                "client_secret": ASPERION_CLIENT_SECRET,
            },
        )
        token.raise_for_status()
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}", "X-Tenant-Id": "1001"}

        async def post_invoice(n: int) -> httpx.Response:
            return await client.post("/asperion/v1/salesinvoiceswithlines", json=_invoice(n), headers=bearer)

        await _drive(get_page, 0.5, concurrency)  # warm-up
        page = await _drive(get_page, seconds, concurrency)
        invoice = await _drive(post_invoice, seconds, concurrency)
        # A month of a living shop (50 orders a day plus edits, refunds, payments) in one control call.
        started = time.perf_counter()
        life = await client.post("/_sandbox/simulate", json={"days": 30, "seed": 1, "orders_per_day": 50}, timeout=120)
        simulate_s = time.perf_counter() - started
        life.raise_for_status()
    return {"page": page, "invoice": invoice, "page_bytes": page_bytes, "simulate_s": simulate_s, "life": life.json()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (last line: JSON)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    port = _free_port()
    proc, start_s = _start(port, args.orders)
    try:
        result = asyncio.run(_bench(f"http://127.0.0.1:{port}", args.seconds, args.concurrency, args.orders))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    page, invoice = result["page"], result["invoice"]
    print(f"sandbox with {args.orders} orders started in {start_s:.2f} s (separate process, {os.cpu_count()} cores)")
    print(
        f"GET 100-order page ({result['page_bytes'] / 1024:.0f} KiB): {page['rps']} req/s, "
        f"p50 {page['p50_ms']} ms, p95 {page['p95_ms']} ms, errors {page['errors']}"
    )
    print(
        f"POST Asperion sales invoice: {invoice['rps']} req/s, p50 {invoice['p50_ms']} ms, "
        f"p95 {invoice['p95_ms']} ms, errors {invoice['errors']}"
    )
    print(
        f"POST /_sandbox/simulate 30 days × 50 orders: {result['simulate_s']:.2f} s ({result['life']['orders']} orders)"
    )
    print(
        json.dumps(
            {
                "orders": args.orders,
                "start_s": round(start_s, 2),
                "concurrency": args.concurrency,
                "order_page_rps": page["rps"],
                "order_page_p50_ms": page["p50_ms"],
                "order_page_bytes": result["page_bytes"],
                "invoice_post_rps": invoice["rps"],
                "invoice_post_p50_ms": invoice["p50_ms"],
                "errors": page["errors"] + invoice["errors"],
                "simulate_30_days_s": round(result["simulate_s"], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
