"""One row per record in the run log: a run of the invoice template on the demo shop, where an order that was paid
and then refunded is booked as a sales invoice and credited in the same run, lists that order once — its outcome the
one the counters count, its sentence both bookings — and the counters agree with the rows, outcome by outcome."""

from __future__ import annotations

import asyncio
import html
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.demo_runs import run_invoice_template
from tests.sandbox.server import serve_app
from tests.web.conftest import ADMIN

COUNTERS = {"ok": "Delivered", "skipped": "Skipped", "waiting": "Waiting", "failed": "Failed"}


@pytest.fixture
def demo(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    from engine.db import migrate_sync
    from engine.settings import Settings
    from koppel.app import create_app

    base = f"http://127.0.0.1:{free_port()}"  # the demo connections point at the app's own address
    migrate_sync(sqlite_url)
    settings = Settings(
        var_dir=tmp_path, database_url=sqlite_url, redis_url=None, secret_key="rows-test", demo=True, base_url=base
    )
    with serve_app(create_app(settings), port=int(base.rsplit(":", 1)[1])):
        yield from _admin(base, sqlite_url)


def _admin(base: str, sqlite_url: str) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/setup")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        client.post(
            "/setup",
            data={"email": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1], "csrf_token": token.group(1)},
        )
        yield client, sqlite_url


def _run_template(database_url: str, limit: int) -> str:
    from engine.db import Database

    async def go() -> str:
        db = Database(database_url)
        try:  # cash on delivery has no payment condition: it waits
            methods = ("bacs", "cheque", "paypal", "stripe", "mollie_wc_gateway_ideal")
            conditions = dict.fromkeys(methods, "2")
            return await run_invoice_template(db, name="Orders to invoices (rows)", conditions=conditions, limit=limit)
        finally:
            await db.dispose()

    return asyncio.run(go())


def _rows(page: str) -> list[dict[str, str]]:
    rows = []
    for match in re.finditer(r'<tr class="log-row status-(\w+)"[^>]*>(.*?)</tr>', page, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", match[2], re.S)
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
        rows.append({"status": match[1], "record": cells[1], "message": cells[4]})
    return rows


def _counters(page: str) -> dict[str, int]:
    found = {}
    for status, label in COUNTERS.items():
        value = re.search(rf"<dt>{label}</dt><dd>([\d.,]+)</dd>", page)
        assert value, label
        found[status] = int(value[1].replace(",", "").replace(".", ""))
    read = re.search(r"<dt>Read</dt><dd>([\d.,]+)</dd>", page)
    assert read
    found["read"] = int(read[1].replace(",", "").replace(".", ""))
    return found


def test_a_refunded_invoiced_order_is_one_row_and_the_counters_match_the_rows(demo: tuple[httpx.Client, str]) -> None:
    client, database_url = demo
    run_id = _run_template(database_url, limit=40)
    page = client.get(f"/runs/{run_id}").text
    rows = _rows(page)
    counters = _counters(page)
    assert len(rows) == counters["read"] > 0
    assert len({r["record"] for r in rows}) == len(rows)  # no record twice
    assert Counter(r["status"] for r in rows) == Counter({s: n for s, n in counters.items() if s != "read" and n})
    both = [r for r in rows if re.search(r"sales invoice \d+.*; booked as credit invoice \d+", r["message"])]
    assert both, "\n".join(r["message"] for r in rows)
    assert all(r["status"] == "ok" for r in both)
    # the status filter filters records by their outcome
    for status, count in counters.items():
        if status == "read":
            continue
        filtered = _rows(client.get(f"/runs/{run_id}/rows", params={"status": status}).text)
        assert len(filtered) == count and {r["status"] for r in filtered} <= {status}
