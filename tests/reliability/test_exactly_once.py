"""Exactly once under hostile workers: real PostgreSQL, Redis, ``koppel worker`` processes and a 2,000-order sandbox.

A worker is killed with SIGKILL at random points of runs, or frozen with SIGSTOP past the stale limit while a second
worker takes the run over and then woken with SIGCONT. Afterwards the sandbox's Asperion must hold every booked
order's invoice exactly once (counted by description) and every customer's debtor exactly once (by e-mail).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import delete, select

from engine.db import Database
from engine.jobs import enqueue_run
from engine.models import CredentialState, Run, RunStatus
from engine.service import DbTokenStore, create_run
from engine.templates import get_template
from nodes.connectors import make_client
from nodes.lookups.debtor_rules import normalize_email
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
KOPPEL = str(Path(sys.executable).parent / "koppel")
ORDERS = 2000
BOOKED = ("processing", "completed")
FAULTS_PER_RUN = ((5, 3), (5, 2))
"""(SIGKILLs, SIGSTOPs) per run: 10 and 5 trials in all, at random points of two runs."""

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(1200)]


class Sandbox:
    def __init__(self, base: str, connections: dict[str, Any]) -> None:
        self.base, self.connections = base, connections

    def stats(self) -> Counter[str]:
        return Counter(httpx.get(f"{self.base}/_sandbox/stats", timeout=30).json()["requests"])

    def invoices_posted(self) -> int:
        return self.stats()["POST /asperion/v1/salesinvoiceswithlines"]

    def reset_books(self) -> None:
        httpx.post(f"{self.base}/_sandbox/reset", json={"apps": ["asperion"]}, timeout=60).raise_for_status()
        httpx.delete(f"{self.base}/_sandbox/stats", timeout=30).raise_for_status()


@pytest.fixture(scope="module", name="sandbox")
def fx_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("sandbox")
    port = free_port()
    conn = tmp / "conn.json"
    with (tmp / "sandbox.log").open("wb") as log:
        proc = subprocess.Popen(
            [KOPPEL, "sandbox", "--port", str(port), "--orders", str(ORDERS), "--seed", "3", "--connections-out",
             str(conn)],
            cwd=tmp, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"the sandbox stopped: {(tmp / 'sandbox.log').read_text()[-2000:]}")
            try:
                if conn.exists() and httpx.get(f"{base}/_sandbox/stats", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polled until the started process answers
        yield Sandbox(base, json.loads(conn.read_text()))
    finally:
        proc.terminate()
        proc.wait(15)


class Workers:
    """``koppel worker`` processes with a short heartbeat and stale limit."""

    def __init__(self, pg_url: str, redis_url: str, log_dir: Path) -> None:
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=pg_url,
            REDIS_URL=redis_url,
            PYTHONPATH=str(ROOT),
            # Short enough for quick takeovers, long enough that a busy (not frozen) worker on a loaded machine
            # keeps its run most of the time.
            KOPPEL_STALE_AFTER_S="4",
            KOPPEL_HEARTBEAT_S="0.4",
        )
        self.log_dir = log_dir
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"worker{len(self.procs)}.log").open("wb") as log:
            proc = subprocess.Popen([KOPPEL, "worker"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.procs[proc.pid] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(name="workers")
def fx_workers(pg_url: str, redis_url: str, pg_db: Database, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(pg_url, redis_url, tmp_path)
    yield pool
    pool.stop_all()


def flow(name: str) -> dict[str, Any]:
    """orders (processing, completed) → map → debtor found/created by e-mail (guests: 9999) → sales invoice."""
    document = get_template("orders-to-sales-invoices")
    keep = {"orders", "status", "invoice", "debtor", "book"}
    document["nodes"] = [n for n in document["nodes"] if n["id"] in keep]
    document["edges"] = [e for e in document["edges"] if e["from"] in keep and e["to"] in keep]
    document["nodes"][0]["config"]["statuses"] = list(BOOKED)
    document["name"] = name
    return document


async def start_run(db: Database, redis_url: str, sandbox: Sandbox, name: str) -> str:
    sandbox.reset_books()
    async with db.session() as session, session.begin():  # the sandbox's refresh token starts over with its books
        await session.execute(delete(CredentialState))
    run = await create_run(db, document=flow(name), connections=sandbox.connections)
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        await enqueue_run(run.id, queue=redis)
    finally:
        await redis.aclose()
    return run.id


async def current(db: Database, run_id: str) -> Run:
    async with db.session() as session:
        run = await session.get(Run, run_id)
    assert run is not None
    return run


async def holder(db: Database, run_id: str, workers: Workers) -> subprocess.Popen[bytes]:
    """The worker process executing the run now."""
    async with asyncio.timeout(60):
        while True:
            run = await current(db, run_id)
            pid = int(run.worker.rsplit(":", 1)[1]) if run.worker and run.status == RunStatus.RUNNING else 0
            if pid in workers.procs and workers.procs[pid].poll() is None:
                return workers.procs[pid]
            await asyncio.sleep(0.05)


async def posted_at_least(sandbox: Sandbox, count: int, db: Database, run_id: str) -> None:
    async with asyncio.timeout(180):
        while sandbox.invoices_posted() < count:
            assert (await current(db, run_id)).status not in RunStatus.FINISHED, "the run ended before the fault"
            await asyncio.sleep(0.05)


async def finished(db: Database, run_id: str) -> Run:
    async with asyncio.timeout(300):
        while (run := await current(db, run_id)).status not in RunStatus.FINISHED:
            await asyncio.sleep(0.2)
    return run


async def books(db: Database, sandbox: Sandbox) -> tuple[Counter[str], Counter[str], set[str], set[str]]:
    """Invoices per description and debtors per e-mail in Asperion; the descriptions and e-mails expected."""
    asperion_spec = sandbox.connections["asperion"]
    asperion: Any = make_client(
        "asperion", asperion_spec, token_store=DbTokenStore(db, f"file:asperion:{asperion_spec['client_id']}")
    )
    woo: Any = make_client("woocommerce", sandbox.connections["woocommerce"])
    invoices: Counter[str] = Counter()
    debtors: Counter[str] = Counter()
    descriptions: set[str] = set()
    emails: set[str] = set()
    try:
        async for page in asperion.pages("/v1/salesinvoices"):
            invoices.update(str(item["description"]) for item in page)
        async for page in asperion.pages("/v1/debtors"):
            debtors.update(normalize_email(item.get("emailAddress")) for item in page if item.get("emailAddress"))
        page_number = 1
        while orders := await woo.get("orders", {"status": ",".join(BOOKED), "per_page": 100, "page": page_number}):
            for order in orders:
                descriptions.add(f"WooCommerce order {order['number']}")
                if order.get("customer_id"):
                    emails.add(normalize_email(order["billing"]["email"]))
            page_number += 1
    finally:
        await asperion.aclose()
        await woo.aclose()
    return invoices, debtors, descriptions, emails


async def assert_booked_exactly_once(db: Database, sandbox: Sandbox, run_id: str, *, min_attempts: int) -> None:
    run = await finished(db, run_id)
    assert run.status == RunStatus.SUCCEEDED, run.error
    invoices, debtors, descriptions, emails = await books(db, sandbox)
    duplicates = {d: n for d, n in invoices.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} orders booked twice or more: {sorted(duplicates)[:5]}"
    assert set(invoices) == descriptions, f"missing: {sorted(descriptions - set(invoices))[:5]}"
    twice = {e: n for e, n in debtors.items() if n > 1}
    assert not twice, f"{len(twice)} customers with two debtors or more: {sorted(twice)[:5]}"
    assert emails <= set(debtors), f"customers without a debtor: {sorted(emails - set(debtors))[:5]}"
    async with db.session() as session:
        assert (await session.execute(select(Run.attempt).where(Run.id == run_id))).scalar_one() >= min_attempts


def fault_points(randomness: random.Random, count: int) -> list[int]:
    """Increasing numbers of invoices posted (of about 1,400) at which to strike."""
    return sorted(randomness.sample(range(20, 1100), count))


async def kill(db: Database, run_id: str, workers: Workers) -> None:
    """SIGKILL the worker holding the run, and start another (two workers again)."""
    victim = await holder(db, run_id, workers)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    workers.start()


async def freeze(db: Database, run_id: str, workers: Workers, sandbox: Sandbox) -> None:
    """SIGSTOP the worker holding the run until the other one has taken it over and is delivering; then SIGCONT."""
    frozen = await holder(db, run_id, workers)
    attempt = (await current(db, run_id)).attempt
    frozen.send_signal(signal.SIGSTOP)
    try:
        try:
            async with asyncio.timeout(60):  # past the stale limit the other worker claims the run
                while (await current(db, run_id)).attempt == attempt:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            run = await current(db, run_id)
            alive = [pid for pid, proc in workers.procs.items() if proc.poll() is None]
            pytest.fail(
                f"no takeover: frozen {frozen.pid}, run attempt {run.attempt} worker {run.worker} "
                f"status {run.status} heartbeat {run.heartbeat_at}; workers alive {alive}; logs in {workers.log_dir}"
            )
        await posted_at_least(sandbox, sandbox.invoices_posted() + 30, db, run_id)
    finally:
        frozen.send_signal(signal.SIGCONT)  # it wakes up in the middle of its own deliveries


async def test_killed_and_frozen_workers_book_every_order_exactly_once(
    workers: Workers, pg_db: Database, redis_url: str, sandbox: Sandbox
) -> None:
    """10 SIGKILL and 5 SIGSTOP trials at random points of two runs (each fault meets a fresh takeover)."""
    randomness = random.Random(11)
    workers.start()
    workers.start()
    for number, (kills, stops) in enumerate(FAULTS_PER_RUN):
        faults = ["kill"] * kills + ["stop"] * stops
        randomness.shuffle(faults)
        run_id = await start_run(pg_db, redis_url, sandbox, f"faults {number}")
        for fault, point in zip(faults, fault_points(randomness, len(faults)), strict=True):
            await posted_at_least(sandbox, point, pg_db, run_id)
            if fault == "kill":
                await kill(pg_db, run_id, workers)
            else:
                await freeze(pg_db, run_id, workers, sandbox)
        await assert_booked_exactly_once(pg_db, sandbox, run_id, min_attempts=len(faults) + 1)
