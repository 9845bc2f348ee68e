"""Koppel's overhead over plain HTTP: the orders → sales invoices template against the sandbox, then a bare httpx
script making the same calls with the same concurrency, in the same process run.

    .venv/bin/python bench/engine.py --orders 10000 [--concurrency 8] [--rounds 3] [--json]

The sandbox runs in its own process (seeded once); between the two phases its Asperion side is emptied so that
both phases create the same debtors and invoices. Peak RSS is this process' peak during the Koppel phase (run
N = 10,000 and N = 100,000 as separate invocations to compare them). The last line printed is one JSON object:
{"orders", "koppel_s", "bare_s", "ratio", "records_per_s", "peak_rss_mb", ...}.

On a shared machine the speed of the CPU drifts by tens of percent within minutes, so one pair of phases can say
1.2 or 1.7 for the same code. ``--rounds R`` runs the two phases R times, alternating, and reports the round with
the median ratio (every round is printed and listed under "rounds").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, OrderedDict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KOPPEL = str(Path(sys.executable).parent / "koppel")
STATUSES = "processing,completed,refunded"  # as the template reads: refunded orders for their credit invoices
INVOICED = {"processing", "completed"}
MEMO_SIZE = 5_000  # the debtor lookup node remembers this many debtors per run (bounded memory)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(orders: int, tmp: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, Any]]:
    port = free_port()
    conn = tmp / "conn.json"
    log = (tmp / "sandbox.log").open("wb")
    proc = subprocess.Popen(
        [KOPPEL, "sandbox", "--port", str(port), "--orders", str(orders), "--customers", str(max(orders // 4, 10)),
         "--products", "40", "--seed", "1", "--connections-out", str(conn)],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox stopped: see {tmp / 'sandbox.log'}")
        try:
            if httpx.get(f"{base}/_sandbox/stats", timeout=2).status_code == 200 and conn.exists():
                return proc, base, json.loads(conn.read_text())
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the sandbox did not start")


def sandbox_requests(base: str) -> Counter[str]:
    stats = httpx.get(f"{base}/_sandbox/stats", timeout=30).json()
    return Counter(stats.get("requests", {}))


def reset_asperion(base: str) -> None:
    httpx.post(f"{base}/_sandbox/reset", json={"apps": ["asperion"]}, timeout=60).raise_for_status()
    httpx.delete(f"{base}/_sandbox/stats", timeout=30)


async def koppel_phase(
    connections: dict[str, Any], concurrency: int, tmp: Path, round_no: int = 1
) -> tuple[float, dict[str, int]]:
    os.environ["KOPPEL_VAR_DIR"] = str(tmp / "var")
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / 'var' / f'bench-{round_no}.db'}"  # a fresh one per round
    os.environ.setdefault("KOPPEL_SECRET_KEY", "bench")
    from engine.db import Database, migrate
    from engine.jobs import prepare_worker_process
    from engine.service import create_run, execute_run
    from engine.settings import get_settings
    from engine.templates import get_template

    prepare_worker_process()  # as a worker does at start-up (the bare phase later runs under the same settings)
    get_settings.cache_clear()
    settings = get_settings()
    await migrate(settings)
    db = Database(settings.database_url)
    document = get_template("orders-to-sales-invoices")
    document.setdefault("settings", {})["concurrency"] = concurrency
    for spec in connections.values():
        spec["concurrency"] = concurrency
    run = await create_run(db, document=document, connections=connections, trigger="bench")
    started, cpu = time.perf_counter(), time.process_time()
    finished = await execute_run(db, run.id, settings)
    elapsed = time.perf_counter() - started
    print(f"koppel phase: {elapsed:.2f}s wall, {time.process_time() - cpu:.2f}s CPU in this process", file=sys.stderr)
    await db.dispose()
    assert finished is not None
    if finished.error:
        raise SystemExit(f"the Koppel run failed: {finished.error}")
    return elapsed, finished.counts()


# ---- the bare script: the same HTTP conversation, no engine, no logs, no database ----------------------------

VAT_BY_RATE = {Decimal("21"): "H21", Decimal("9"): "L9"}


def bare_invoice(order: dict[str, Any], debtor: str) -> dict[str, Any]:
    lines = []
    for item in order["line_items"] + order["shipping_lines"] + order["fee_lines"]:
        total = Decimal(str(item.get("total") or 0))
        tax = Decimal(str(item.get("total_tax") or 0))
        rate = (tax / total * 100).quantize(Decimal("1")) if total else Decimal(0)
        lines.append(
            {
                "description": item.get("name") or item.get("method_title") or "line",
                "amount": float(total),
                "vatAmount": float(tax),
                "vatCode": VAT_BY_RATE.get(rate, "N0"),
                "ledgerAccountId": 8000,
            }
        )
    return {
        "date": order["date_created"][:10],
        "description": f"WooCommerce order {order['number']}",
        "journalId": "70",
        "debtorCustomerNumber": debtor,
        "paymentConditionId": 1,
        "lines": {"_data": lines, "_meta": {"totalCount": len(lines)}},
    }


async def bare_phase(connections: dict[str, Any], concurrency: int) -> tuple[float, int]:
    woo, asp = connections["woocommerce"], connections["asperion"]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started, cpu = time.perf_counter(), time.process_time()
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        token = (
            await client.post(
                f"{asp['identity_url']}/connect/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": asp["refresh_token"],
                    "client_id": asp["client_id"],
                    "client_secret": asp["client_secret"],
                },
            )
        ).json()["access_token"]
        ah = {"Authorization": f"Bearer {token}", "X-Tenant-Id": str(asp["tenant_id"])}
        wauth = (woo["consumer_key"], woo["consumer_secret"])
        wbase = f"{woo['url']}/wp-json/wc/v3"
        await client.get(f"{asp['url']}/v1/vatcodes", headers=ah, params={"pageSize": 250})
        await client.get(f"{asp['url']}/v1/debtors", headers=ah, params={"CustomerNumber": "9999"})
        sem = asyncio.Semaphore(concurrency)
        locks: dict[str, asyncio.Lock] = {}
        memos: dict[str, OrderedDict[str, str]] = {"invoice": OrderedDict(), "refund": OrderedDict()}
        done = 0

        async def debtor_for(order: dict[str, Any], branch: str) -> str:
            """The lookup node: guests → default debtor; else by e-mail, created when missing; a bounded memo."""
            email = (order["billing"].get("email") or "").strip().lower()
            if not order["customer_id"] or not email:
                return "9999"
            memo = memos[branch]
            async with locks.setdefault(f"{branch}:{email}", asyncio.Lock()):
                if email in memo:
                    memo.move_to_end(email)
                    return memo[email]
                found = (
                    await client.get(
                        f"{asp['url']}/v1/debtors",
                        headers=ah,
                        params={"EmailAddress": email, "EmailAddress_comparison": "Equals"},
                    )
                ).json()["_data"]
                if found:
                    number = found[0]["customerNumber"]
                else:
                    body = {"name": f"{order['billing']['first_name']} {order['billing']['last_name']}",
                            "emailAddress": email, "countryCode": order["billing"]["country"]}  # fmt: skip
                    number = (await client.post(f"{asp['url']}/v1/debtors", headers=ah, json=body)).json()[
                        "customerNumber"
                    ]
                memo[email] = number
                if len(memo) > MEMO_SIZE:
                    memo.popitem(last=False)
                return str(number)

        async def one(order: dict[str, Any]) -> None:
            nonlocal done
            async with sem:
                if order["status"] in INVOICED:
                    debtor = await debtor_for(order, "invoice")
                    if not await find_invoice(f"WooCommerce order {order['number']}"):
                        answer = await client.post(
                            f"{asp['url']}/v1/salesinvoiceswithlines", headers=ah, json=bare_invoice(order, debtor)
                        )
                        answer.raise_for_status()
                    done += 1
                if order.get("refunds"):
                    await credit(order, await debtor_for(order, "refund"))

        async def find_invoice(description: str) -> bool:
            answer = await client.get(
                f"{asp['url']}/v1/salesinvoices",
                headers=ah,
                params={"Description": description, "Description_comparison": "Equals"},
            )
            return bool(answer.json()["_data"])

        async def credit(order: dict[str, Any], debtor: str) -> None:
            """The refund branch: read the refunds, check the order's invoice, ask which refunds are credited, book
            one credit invoice for the rest."""
            refunds = (await client.get(f"{wbase}/orders/{order['id']}/refunds", auth=wauth)).json()
            if not await find_invoice(f"WooCommerce order {order['number']}"):
                return  # refunded before it was ever invoiced: nothing to credit
            new = []
            for refund in refunds:
                if not await find_invoice(f"WooCommerce refund {refund['id']} of order {order['number']}"):
                    new.append(refund)
            if not new:
                return
            ids = ", ".join(str(r["id"]) for r in sorted(new, key=lambda r: r["id"]))
            description = f"WooCommerce refund {ids} of order {order['number']}"
            if await find_invoice(description):
                return
            amount = sum(Decimal(str(r["amount"])) for r in new)
            body = bare_invoice(order, debtor)
            body["description"] = description
            line = {"description": "refund", "amount": float(-amount), "vatCode": "N0", "ledgerAccountId": 8000}
            body["lines"] = {"_data": [line], "_meta": {"totalCount": 1}}
            answer = await client.post(f"{asp['url']}/v1/salesinvoiceswithlines", headers=ah, json=body)
            answer.raise_for_status()

        page = 1
        pending: set[asyncio.Task[None]] = set()
        while True:
            answer = await client.get(
                f"{wbase}/orders",
                auth=wauth,
                params={"status": STATUSES, "per_page": 100, "page": page, "orderby": "id", "order": "asc"},
            )
            orders = answer.json()
            if not orders:
                break
            for order in orders:
                pending.add(asyncio.create_task(one(order)))
            # Read ahead at most two pages, as the engine does.
            while len(pending) > 2 * 100:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()
            page += 1
            if page > int(answer.headers.get("X-WP-TotalPages", page)):
                break
        for task in pending:
            await task
    elapsed = time.perf_counter() - started
    print(f"bare phase: {elapsed:.2f}s wall, {time.process_time() - cpu:.2f}s CPU in this process", file=sys.stderr)
    return elapsed, done


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run both phases this many times, alternating, and report the median ratio (a noisy machine)",
    )
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        proc, base, connections = start_sandbox(args.orders, tmp)
        seed_s = time.perf_counter() - t0
        try:
            for round_no in range(1, args.rounds + 1):
                if round_no > 1:
                    reset_asperion(base)
                koppel_s, counts = asyncio.run(
                    koppel_phase(json.loads(json.dumps(connections)), args.concurrency, tmp, round_no)
                )
                koppel_calls = sandbox_requests(base)
                reset_asperion(base)
                bare_s, bare_done = asyncio.run(bare_phase(connections, args.concurrency))
                bare_calls = sandbox_requests(base)
                rounds.append({"koppel_s": koppel_s, "bare_s": bare_s, "ratio": koppel_s / bare_s})
                print(f"round {round_no}: koppel {koppel_s:.2f}s, bare {bare_s:.2f}s, ratio {koppel_s / bare_s:.3f}")
            rss = peak_rss_mb()  # the bare phases stay well below the Koppel phase's peak
        finally:
            proc.terminate()
            proc.wait(30)
    middle = sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]  # the median round (lower middle)
    koppel_s, bare_s = middle["koppel_s"], middle["bare_s"]
    result = {
        "orders": args.orders,
        "koppel_s": round(koppel_s, 2),
        "bare_s": round(bare_s, 2),
        "ratio": round(koppel_s / bare_s, 3),
        "records_per_s": round(counts["read"] / koppel_s, 1),
        "peak_rss_mb": round(rss, 1),
        "records": counts,
        "bare_records": bare_done,
        "concurrency": args.concurrency,
        "koppel_requests": sum(koppel_calls.values()),
        "bare_requests": sum(bare_calls.values()),
        "sandbox_seed_s": round(seed_s, 1),
        "rounds": [{key: round(value, 3) for key, value in r.items()} for r in rounds],
    }
    if not args.json:
        print(f"orders seeded: {args.orders} in {seed_s:.1f}s; records read by the flow: {counts['read']}")
        print(f"koppel: {koppel_s:.2f}s ({result['records_per_s']} records/s), {result['koppel_requests']} requests")
        print(f"bare:   {bare_s:.2f}s, {result['bare_requests']} requests")
        print(f"ratio:  {result['ratio']}   peak RSS (Koppel phase): {result['peak_rss_mb']} MB")
        if len(rounds) > 1:
            print(f"(the median of {len(rounds)} rounds: {', '.join(str(r['ratio']) for r in result['rounds'])})")
        for key in sorted(set(koppel_calls) | set(bare_calls)):
            print(f"  {koppel_calls.get(key, 0):7d} {bare_calls.get(key, 0):7d}  {key}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
