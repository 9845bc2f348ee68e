"""Asking the application only when in doubt, counted at the sandbox: a clean run posts each invoice without an
"already there?" GET; after a worker lost its run mid-way (or the database was restored from a backup) the records
are looked up a page at once, and every order is booked once."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from engine.db import Database
from engine.models import Intent, Run, RunStatus, TargetTrust, utcnow
from engine.service import DbTokenStore, create_run, execute_run
from engine.templates import get_template
from tests.sandbox.server import SandboxURL, running_sandbox
from tests.templates.sandbox_runs import connections, tenant

INVOICE_GET = "GET /asperion/v1/salesinvoices"
INVOICE_POST = "POST /asperion/v1/salesinvoiceswithlines"


def simple_flow(name: str, concurrency: int = 4) -> dict[str, Any]:
    """orders (processing, completed; every run reads them all) → map → default debtor → sales invoice."""
    document = get_template("orders-to-sales-invoices")
    keep = {"orders", "status", "invoice", "debtor", "book"}
    document["nodes"] = [n for n in document["nodes"] if n["id"] in keep]
    document["edges"] = [e for e in document["edges"] if e["from"] in keep and e["to"] in keep]
    for node in document["nodes"]:
        if node["id"] == "orders":
            node["config"]["statuses"] = ["processing", "completed"]
            node["config"]["incremental"] = False
        if node["id"] == "debtor":
            node["config"]["always_default"] = True
    document["name"] = name
    document["settings"] = {"concurrency": concurrency}
    return document


@pytest.fixture(name="sandbox")
def fx_sandbox() -> Iterator[SandboxURL]:
    with running_sandbox(orders=300, customers=60, products=20, seed=7) as base:
        yield base


def requests_made(sandbox: SandboxURL) -> Counter[str]:
    return Counter(httpx.get(f"{sandbox}/_sandbox/stats", timeout=30).json()["requests"])


def forget_requests(sandbox: SandboxURL) -> None:
    httpx.delete(f"{sandbox}/_sandbox/stats", timeout=30).raise_for_status()


def invoices_per_description(sandbox: SandboxURL) -> Counter[str]:
    return Counter(str(invoice["description"]) for invoice in tenant(sandbox).invoices.values())


def booked_orders(sandbox: SandboxURL) -> int:
    woo = sandbox.app.woo
    orders = (woo.orders.get(oid) for oid in woo.orders.ids())
    return sum(1 for order in orders if order and order["status"] in ("processing", "completed"))


async def test_a_clean_run_posts_without_asking_and_the_next_run_asks_nothing(
    db: Database, sandbox: SandboxURL
) -> None:
    expected = booked_orders(sandbox)
    forget_requests(sandbox)
    run = await create_run(db, document=simple_flow("clean"), connections=connections(sandbox))
    finished = await execute_run(db, run.id)
    assert finished is not None and finished.status == "succeeded", finished and finished.error
    assert finished.counts()["ok"] == expected
    made = requests_made(sandbox)
    assert made[INVOICE_POST] == expected
    assert made[INVOICE_GET] == 2, "the newest invoice before and after the run (its mark), no GET per invoice"
    assert made["GET /asperion/v1/debtors"] == 1, "the default debtor is looked up once per run"
    assert set(invoices_per_description(sandbox).values()) == {1}
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Intent))).scalar_one() == 0
        trust = (await session.execute(select(TargetTrust))).scalar_one()
    assert (trust.node_id, trust.reason) == ("book", "empty")

    forget_requests(sandbox)
    again = await create_run(db, document=simple_flow("clean"), connections=connections(sandbox))
    second = await execute_run(db, again.id)
    assert second is not None and second.counts()["skipped"] == expected
    made = requests_made(sandbox)
    assert made[INVOICE_POST] == 0, "the idempotency map knows every record"
    assert made[INVOICE_GET] == 2, "only the newest invoice, before and after: it is still the one the map knows"


async def test_a_new_database_against_booked_invoices_asks_about_every_record_a_page_at_once(
    db: Database, sandbox: SandboxURL, tmp_path: Any
) -> None:
    expected = booked_orders(sandbox)
    first = await create_run(db, document=simple_flow("books"), connections=connections(sandbox))
    assert (await execute_run(db, first.id)) is not None
    # Another Koppel database (a new installation) meets an administration that holds the bookings already.
    from engine.db import migrate_sync

    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    await asyncio.to_thread(migrate_sync, url)
    other = Database(url)
    try:
        # The refresh token rotated in the first database: the new installation is connected with the newest one.
        for key in ("file:asperion:" + str(connections(sandbox)["asperion"]["client_id"]),):
            tokens = await DbTokenStore(db, key).load()
            assert tokens is not None
            await DbTokenStore(other, key).save(tokens)
        forget_requests(sandbox)
        run = await create_run(other, document=simple_flow("books"), connections=connections(sandbox))
        finished = await execute_run(other, run.id)
        assert finished is not None and finished.counts()["skipped"] == expected
        made = requests_made(sandbox)
        assert made[INVOICE_POST] == 0
        pages = math.ceil(expected / 100)  # the orders source reads 100 a page
        assert made[INVOICE_GET] == 2 + pages, "the newest invoice before and after, and one list per page"
        async with other.session() as session:
            trust = (await session.execute(select(TargetTrust))).scalar_one()
        assert trust.reason == "checked", "a complete run that asked about everything: later runs trust the map"
    finally:
        await other.dispose()
    assert set(invoices_per_description(sandbox).values()) == {1}


async def test_records_in_doubt_after_a_lost_run_are_looked_up_and_booked_once(
    db: Database, sandbox: SandboxURL
) -> None:
    expected = booked_orders(sandbox)
    sandbox.app.faults.config.update({"latency_ms": 5})
    run = await create_run(db, document=simple_flow("doubt"), connections=connections(sandbox))
    task = asyncio.create_task(execute_run(db, run.id))
    async with asyncio.timeout(120):
        while len(tenant(sandbox).invoices) < expected // 3:
            await asyncio.sleep(0.01)
    # Another worker takes the run over (as after a frozen worker's lease ran out): the first one must stop. The
    # application turns slow first, so the first worker cannot deliver the rest before its next fenced write (a log
    # batch or a page's intents) finds the run gone, however loaded the machine is.
    sandbox.app.faults.config.update({"latency_ms": 2000})
    async with db.writing() as conn:
        await conn.execute(
            update(Run)
            .where(Run.id == run.id)
            .values(attempt=Run.attempt + 1, heartbeat_at=utcnow() - timedelta(hours=1))
        )
    assert await task is None, "the worker that lost the run reports nothing"
    posted_by_first = len(tenant(sandbox).invoices)
    assert posted_by_first < expected
    async with db.session() as session:
        in_doubt = (await session.execute(select(func.count()).select_from(Intent))).scalar_one()
    assert in_doubt > 0
    async with db.writing() as conn:  # the takeover's claim needs a stale heartbeat and a running run
        await conn.execute(update(Run).where(Run.id == run.id).values(status=RunStatus.RUNNING))
    forget_requests(sandbox)
    sandbox.app.faults.config.update({"latency_ms": 0})
    finished = await execute_run(db, run.id)
    assert finished is not None and finished.status == "succeeded", finished and finished.error
    made = requests_made(sandbox)
    pages = math.ceil(expected / 100)  # the orders source reads 100 a page
    assert 0 < made[INVOICE_GET] <= 2 + pages, "the newest invoice before and after, and one list per page at most"
    assert made[INVOICE_GET] < in_doubt, "records in doubt are looked up a page at once, not one by one"
    assert made[INVOICE_POST] == expected - posted_by_first
    booked = invoices_per_description(sandbox)
    assert len(booked) == expected and set(booked.values()) == {1}, "no order missing, none booked twice"
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Intent))).scalar_one() == 0


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its WAL included), as a backup tool makes it."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


async def test_a_database_restored_from_a_backup_looks_up_what_was_booked_after_it(
    sqlite_url: str, sandbox: SandboxURL, tmp_path: Path
) -> None:
    expected = booked_orders(sandbox)
    live, backup = Path(sqlite_url.split(":///", 1)[1]), tmp_path / "backup.db"
    db = Database(sqlite_url)
    try:
        run = await create_run(
            db, document=simple_flow("restore"), connections=connections(sandbox), params={"limit": expected // 2}
        )
        half = await execute_run(db, run.id)
        assert half is not None and half.counts()["ok"] == expected // 2
        _copy_sqlite(live, backup)  # the nightly backup

        rest = await create_run(db, document=simple_flow("restore"), connections=connections(sandbox))
        finished = await execute_run(db, rest.id)
        assert finished is not None and finished.counts()["ok"] == expected - expected // 2
        key = "file:asperion:" + str(connections(sandbox)["asperion"]["client_id"])
        tokens = await DbTokenStore(db, key).load()
        assert tokens is not None
    finally:
        await db.dispose()

    _copy_sqlite(backup, live)  # the disk failed: Koppel's database is restored from last night's backup
    restored = Database(sqlite_url)
    try:
        await DbTokenStore(restored, key).save(tokens)  # reconnected with Asperion (its token rotated since)
        async with restored.session() as session:
            trust = (await session.execute(select(TargetTrust))).scalar_one()
        assert trust.mark, "the backup still trusts its idempotency map, with the mark it knew"
        forget_requests(sandbox)
        again = await create_run(restored, document=simple_flow("restore"), connections=connections(sandbox))
        after = await execute_run(restored, again.id)
        assert after is not None and after.status == "succeeded", after and after.error
        made = requests_made(sandbox)
        assert made[INVOICE_POST] == 0, "nothing booked after the backup is booked again"
        assert after.counts()["skipped"] == expected
        assert 0 < made[INVOICE_GET] <= 2 + math.ceil(expected / 100), "looked up a page at once"
        async with restored.session() as session:
            trust = (await session.execute(select(TargetTrust))).scalar_one()
        assert trust.reason == "checked", "a complete run checked every record: the map is trusted again"
    finally:
        await restored.dispose()
    booked = invoices_per_description(sandbox)
    assert len(booked) == expected and set(booked.values()) == {1}, "no order missing, none booked twice"
