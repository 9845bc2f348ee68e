"""``koppel sandbox`` start-up (seeded with 500 orders, connections file, printed credentials) and mounting
the sandbox inside another server under ``/sandbox``. How fast it starts is measured in ``bench/sandbox.py``, not
here: a shared, loaded machine must not fail a behaviour test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, asgi, get

from sandbox.app import create_sandbox_app
from sandbox.credentials import WOO_RW_KEY, WOO_RW_SECRET
from tests.sandbox.server import free_port, serve_app

ROOT = Path(__file__).resolve().parents[2]


def test_serve_sandbox_starts_seeded_with_a_connections_file(tmp_path: Path) -> None:
    port = free_port()
    conn = tmp_path / "conn.json"
    code = (
        "from sandbox.server import serve_sandbox; "
        f"serve_sandbox(port={port}, orders=500, connections_out={str(conn)!r})"
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/_sandbox", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() - started < 120.0, "sandbox did not start within 2 minutes"
            time.sleep(0.05)
        connections = json.loads(conn.read_text())
        woo = connections["woocommerce"]
        assert woo["url"] == f"{base}/woocommerce" and connections["asperion"]["identity_url"] == f"{base}/asperion"
        answer = httpx.get(f"{woo['url']}/wp-json/wc/v3/orders", auth=(woo["consumer_key"], woo["consumer_secret"]))
        assert answer.headers["x-wp-total"] == "500"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert WOO_RW_KEY in out and WOO_RW_SECRET in out and f"{base}/woocommerce/wp-json/wc/v3" in out


def test_mounted_under_sandbox_builds_urls_with_the_prefix() -> None:
    inner = create_sandbox_app()
    inner.seed(orders=3, customers=2, products=4, seed=1)

    @asgi("/sandbox", is_mount=True, copy_scope=True)
    async def mount(scope: Any, receive: Any, send: Any) -> None:
        await inner(scope, receive, send)

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    outer = Litestar([mount, health])
    with serve_app(outer) as base:
        rest = f"{base}/sandbox/woocommerce/wp-json/wc/v3"
        auth = (WOO_RW_KEY, WOO_RW_SECRET)
        listing = httpx.get(f"{rest}/orders", params={"per_page": 1}, auth=auth)
        assert listing.status_code == 200
        assert listing.headers["link"].startswith(f"<{rest}/orders?")
        order = listing.json()[0]
        assert order["_links"]["self"][0]["href"] == f"{rest}/orders/{order['id']}"
        assert order["payment_url"].startswith(f"{base}/sandbox/woocommerce/checkout/")
        created = httpx.post(f"{rest}/orders", json={}, auth=auth)
        assert created.headers["location"] == f"{rest}/orders/{created.json()['id']}"
        assert (
            httpx.get(f"{base}/sandbox/_sandbox").json()["woocommerce"] == f"{base}/sandbox/woocommerce/wp-json/wc/v3"
        )
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        token = httpx.post(f"{base}/sandbox/asperion/connect/token", data={"grant_type": "refresh_token"})
        assert token.status_code in (400, 401)  # the Asperion identity host answers under the mount
