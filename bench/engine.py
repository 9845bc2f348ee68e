"""Koppel against the minimal HTTP conversation of the same job, in the same process run, on the sandbox.

    .venv/bin/python bench/engine.py [--job simple|template] --orders 10000 [--concurrency 8] [--rounds 3]
        [--koppel-concurrency adaptive|N] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--bare-wide 32] [--json]

``--job simple``: every order → filter (processing, completed) → map → default debtor → sales invoice
(bench/simple-flow.json); the bare httpx script makes one GET per page and one POST per invoice. ``--job template``
(default): the orders → sales invoices template; the bare script makes only the calls the job needs (pages, the
refunds it must read, debtor find-or-create, invoice and credit posts), never Koppel's own checks. The bare script
keeps ``--concurrency`` requests in flight, and also runs with ``--bare-wide`` in flight, for comparison. Koppel runs
as a flow does by default (``--koppel-concurrency adaptive``): each connection starts at 8 requests in flight and
adapts (nodes/connectors/limiter.py), and the records in flight follow; a number fixes both, as a flow's
``settings.concurrency`` and a connection's ``concurrency`` do.
Requests are counted by the sandbox (GET /_sandbox/stats). ``--database-url`` runs Koppel on a new database on that
server (PostgreSQL: created for the round and dropped after; default: a new SQLite file).

The sandbox runs in its own process (seeded once); before each phase its Asperion side is emptied so that every
phase creates the same debtors and invoices. Peak RSS is this process' peak (the Koppel phase's; the bare phases stay
well below). The last line printed is one JSON object: {"job", "orders", "koppel_s", "bare_s", "ratio",
"records_per_s", "peak_rss_mb", "requests_koppel", "requests_bare", ...}, with the CPU seconds of both phases
(a figure that a loaded machine disturbs less than wall time).

On a shared machine the speed of the CPU drifts by tens of percent within minutes, so one pair of phases can say
1.2 or 1.7 for the same code. ``--rounds R`` runs the phases R times, alternating, and reports the round with
the median ratio (every round is printed and listed under "rounds").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KOPPEL = str(Path(sys.executable).parent / "koppel")
STATUSES = "processing,completed,refunded"  # as the template reads: refunded orders for their credit invoices
INVOICED = {"processing", "completed"}


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


SIMPLE_FLOW = Path(__file__).with_name("simple-flow.json")
"""The simple job: every order → filter (processing, completed) → map → default debtor → sales invoice."""


def flow_document(job: str, concurrency: int | None) -> dict[str, Any]:
    """The job's flow; ``concurrency`` fixes the records in flight (None: they follow the connections' limits)."""
    from engine.templates import get_template

    document = json.loads(SIMPLE_FLOW.read_text()) if job == "simple" else get_template("orders-to-sales-invoices")
    if concurrency is not None:
        document.setdefault("settings", {})["concurrency"] = concurrency
    return document


LIMITS: list[Any] = []
"""The adaptive limits of the Koppel phase's connections (to report how far each grew)."""


def watch_limits() -> None:
    """Keep every adaptive limit the connectors make, to print its peak after the Koppel phase."""
    from nodes.connectors import http, limiter

    class Watched(limiter.AdaptiveLimit):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            LIMITS.append(self)

    http.AdaptiveLimit = Watched  # type: ignore[attr-defined]


@contextlib.contextmanager
def fresh_database(url: str | None, tmp: Path, round_no: int) -> Iterator[str]:
    """A new, empty database for one Koppel phase, dropped (or deleted) afterwards.

    No URL: a SQLite file in the temporary directory. A PostgreSQL URL names the server (and the database to connect
    to for CREATE/DROP DATABASE); the phase runs in a new database ``koppel_bench_<pid>_<round>`` on that server.
    A SQLite URL names the file; each round gets its own file beside it.
    """
    if not url:
        yield f"sqlite+aiosqlite:///{tmp / 'var' / f'bench-{round_no}.db'}"
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "bench.db")
        path = path.with_name(f"{path.stem}-{os.getpid()}-{round_no}{path.suffix or '.db'}")
        path.unlink(missing_ok=True)
        try:
            yield parsed.set(drivername="sqlite+aiosqlite", database=str(path)).render_as_string(hide_password=False)
        finally:
            path.unlink(missing_ok=True)
        return
    name = f"koppel_bench_{os.getpid()}_{round_no}"
    admin = parsed.set(drivername="postgresql", database=parsed.database or "postgres")

    async def admin_sql(statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin_sql(f"CREATE DATABASE {name}"))
    try:
        yield parsed.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def koppel_phase(
    job: str, connections: dict[str, Any], concurrency: int | None, tmp: Path, database_url: str
) -> tuple[float, float, dict[str, int]]:
    os.environ["KOPPEL_VAR_DIR"] = str(tmp / "var")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("KOPPEL_SECRET_KEY", "bench")
    from engine.db import Database, migrate
    from engine.jobs import prepare_worker_process
    from engine.service import create_run, execute_run
    from engine.settings import get_settings

    prepare_worker_process()  # as a worker does at start-up (the bare phase later runs under the same settings)
    get_settings.cache_clear()
    settings = get_settings()
    await migrate(settings)
    db = Database(settings.database_url)
    if concurrency is not None:
        for spec in connections.values():
            spec["concurrency"] = concurrency
    LIMITS.clear()
    run = await create_run(db, document=flow_document(job, concurrency), connections=connections, trigger="bench")
    started, cpu = time.perf_counter(), time.process_time()
    finished = await execute_run(db, run.id, settings)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peaks = ", ".join(f"{limit._label} {limit.peak} (ends at {limit.current})" for limit in LIMITS if limit.peak)
    print(
        f"koppel phase: {elapsed:.2f}s wall, {cpu:.2f}s CPU in this process; most in flight: {peaks}", file=sys.stderr
    )
    await db.dispose()
    assert finished is not None
    if finished.error:
        raise SystemExit(f"the Koppel run failed: {finished.error}")
    return elapsed, cpu, finished.counts()


# ---- the bare script: the minimal HTTP conversation of the job, no engine, no logs, no database ---------------

VAT_BY_RATE = {Decimal("21"): "H21", Decimal("9"): "L9"}
VAT_NUMBER_KEYS = ("_billing_vat_number", "_vat_number", "_billing_vat", "billing_eu_vat_number", "vat_number")


def business_guest(order: dict[str, Any]) -> bool:
    """A guest order with a company and a VAT number: the template gives it a debtor of its own."""
    if order["customer_id"] or not (order["billing"].get("company") or "").strip():
        return False
    return any(
        meta.get("key") in VAT_NUMBER_KEYS and str(meta.get("value") or "").strip()
        for meta in order.get("meta_data") or ()
    )


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


async def bare_phase(job: str, connections: dict[str, Any], concurrency: int) -> tuple[float, float, int]:
    """Only the calls the job needs: the token, one GET per page of orders, one POST per invoice; the template adds
    the debtor find-or-create for customers and business guests (one GET per new e-mail address, a POST when
    missing), the refunds it must read (an order listing only refund summaries) and one POST per credit invoice.
    Nothing is checked in the application: the administration is known to be empty at the start."""
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
        sem = asyncio.Semaphore(concurrency)
        locks: dict[str, asyncio.Lock] = {}
        debtors: dict[str, str] = {}
        done = 0

        async def post_invoice(body: dict[str, Any]) -> None:
            answer = await client.post(f"{asp['url']}/v1/salesinvoiceswithlines", headers=ah, json=body)
            answer.raise_for_status()

        async def debtor_for(order: dict[str, Any]) -> str:
            """Guests → the default debtor (except business guests); else found by e-mail address, created when
            missing, remembered."""
            email = (order["billing"].get("email") or "").strip().lower()
            if not email or not (order["customer_id"] or business_guest(order)):
                return "9999"
            async with locks.setdefault(email, asyncio.Lock()):
                if email in debtors:
                    return debtors[email]
                found = (
                    await client.get(
                        f"{asp['url']}/v1/debtors",
                        headers=ah,
                        params={"EmailAddress": email, "EmailAddress_comparison": "Equals"},
                    )
                ).json()["_data"]
                if found:
                    number = str(found[0]["customerNumber"])
                else:
                    body = {"name": f"{order['billing']['first_name']} {order['billing']['last_name']}",
                            "emailAddress": email, "countryCode": order["billing"]["country"]}  # fmt: skip
                    answer = await client.post(f"{asp['url']}/v1/debtors", headers=ah, json=body)
                    number = str(answer.json()["customerNumber"])
                debtors[email] = number
                return number

        async def credit(order: dict[str, Any], debtor: str) -> None:
            """One credit invoice for the order's refunds (read from the store when the order lists only summaries)."""
            refunds = order["refunds"]
            if not all("amount" in refund or "line_items" in refund for refund in refunds):
                refunds = (await client.get(f"{wbase}/orders/{order['id']}/refunds", auth=wauth)).json()
            if not refunds:
                return
            ids = ", ".join(str(r["id"]) for r in sorted(refunds, key=lambda r: r["id"]))
            amount = sum(Decimal(str(r.get("amount") or r.get("total") or 0)).copy_abs() for r in refunds)
            body = bare_invoice(order, debtor)
            body["description"] = f"WooCommerce refund {ids} of order {order['number']}"
            line = {"description": "refund", "amount": float(-amount), "vatCode": "N0", "ledgerAccountId": 8000}
            body["lines"] = {"_data": [line], "_meta": {"totalCount": 1}}
            await post_invoice(body)

        async def one(order: dict[str, Any]) -> None:
            nonlocal done
            if order["status"] not in INVOICED:
                return  # refunded before this (first) run: never invoiced, nothing to credit
            async with sem:
                if job == "simple":
                    await post_invoice(bare_invoice(order, "9999"))
                    done += 1
                    return
                debtor = await debtor_for(order)
                await post_invoice(bare_invoice(order, debtor))
                done += 1
                if order.get("refunds"):
                    await credit(order, debtor)

        statuses = "any" if job == "simple" else STATUSES
        page = 1
        pending: set[asyncio.Task[None]] = set()
        while True:
            answer = await client.get(
                f"{wbase}/orders",
                auth=wauth,
                params={"status": statuses, "per_page": 100, "page": page, "orderby": "id", "order": "asc"},
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
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"bare phase ({concurrency} in flight): {elapsed:.2f}s wall, {cpu:.2f}s CPU", file=sys.stderr)
    return elapsed, cpu, done


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", choices=("simple", "template"), default="template")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight of the bare script")
    parser.add_argument(
        "--koppel-concurrency",
        default="adaptive",
        help="Koppel's records and requests in flight per connection: adaptive (a flow's default) or a number",
    )
    parser.add_argument(
        "--bare-wide", type=int, default=32, help="also time the bare script with this many in flight (0: not)"
    )
    parser.add_argument("--database-url", help="run Koppel on a fresh database on this server (default: SQLite)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run both phases this many times, alternating, and report the median ratio (a noisy machine)",
    )
    args = parser.parse_args()
    koppel_concurrency = None if args.koppel_concurrency == "adaptive" else int(args.koppel_concurrency)
    watch_limits()
    import logging

    logging.disable(logging.WARNING)
    rounds: list[dict[str, float]] = []
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        proc, base, connections = start_sandbox(args.orders, tmp)
        seed_s = time.perf_counter() - t0
        try:
            for round_no in range(1, args.rounds + 1):
                reset_asperion(base)
                with fresh_database(args.database_url, tmp, round_no) as url:
                    koppel_s, koppel_cpu, counts = asyncio.run(
                        koppel_phase(args.job, json.loads(json.dumps(connections)), koppel_concurrency, tmp, url)
                    )
                if round_no == 1:
                    koppel_rss = peak_rss_mb()  # nothing but Koppel has run in this process yet: its own peak
                koppel_calls = sandbox_requests(base)
                reset_asperion(base)
                bare_s, bare_cpu, bare_done = asyncio.run(bare_phase(args.job, connections, args.concurrency))
                bare_calls = sandbox_requests(base)
                one = {"koppel_s": koppel_s, "bare_s": bare_s, "ratio": koppel_s / bare_s}
                one["koppel_most_in_flight"] = max((limit.peak for limit in LIMITS), default=0)
                one.update(koppel_cpu_s=koppel_cpu, bare_cpu_s=bare_cpu, cpu_ratio=koppel_cpu / bare_cpu)
                if args.bare_wide:
                    reset_asperion(base)
                    one["bare_wide_s"] = asyncio.run(bare_phase(args.job, connections, args.bare_wide))[0]
                rounds.append(one)
                print(f"round {round_no}: koppel {koppel_s:.2f}s, bare {bare_s:.2f}s, ratio {koppel_s / bare_s:.3f}")
            rss = peak_rss_mb()  # the whole process: Koppel's rounds and the bare script's
        finally:
            proc.terminate()
            proc.wait(30)
    middle = sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]  # the median round (lower middle)
    koppel_s, bare_s = middle["koppel_s"], middle["bare_s"]
    requests_koppel, requests_bare = sum(koppel_calls.values()), sum(bare_calls.values())
    result: dict[str, Any] = {
        "job": args.job,
        "orders": args.orders,
        "koppel_s": round(koppel_s, 2),
        "bare_s": round(bare_s, 2),
        "ratio": round(koppel_s / bare_s, 3),
        "records_per_s": round(counts["read"] / koppel_s, 1),
        "koppel_cpu_s": round(middle["koppel_cpu_s"], 2),
        "bare_cpu_s": round(middle["bare_cpu_s"], 2),
        "cpu_ratio": round(middle["cpu_ratio"], 3),
        "peak_rss_mb": round(rss, 1),
        "koppel_peak_rss_mb": round(koppel_rss, 1),
        "requests_koppel": requests_koppel,
        "requests_bare": requests_bare,
        "requests_ratio": round(requests_koppel / max(requests_bare, 1), 4),
        "requests_by_kind": {
            key: [koppel_calls.get(key, 0), bare_calls.get(key, 0)]
            for key in sorted(set(koppel_calls) | set(bare_calls))
        },
        "records": counts,
        "bare_records": bare_done,
        "concurrency": args.concurrency,
        "koppel_concurrency": args.koppel_concurrency,
        "database": make_url(args.database_url).get_backend_name() if args.database_url else "sqlite",
        "load_average": f"{load_before} → {load_average()}",
        "sandbox_seed_s": round(seed_s, 1),
        "rounds": [{key: round(value, 3) for key, value in r.items()} for r in rounds],
    }
    if args.bare_wide:
        result["bare_wide"] = {"concurrency": args.bare_wide, "bare_s": round(middle["bare_wide_s"], 2)}
    if not args.json:
        print(f"job {args.job}, {args.orders} orders (seeded in {seed_s:.1f}s), records read: {counts['read']}")
        print(f"koppel: {koppel_s:.2f}s ({result['records_per_s']} records/s), {requests_koppel} requests")
        print(f"bare:   {bare_s:.2f}s, {requests_bare} requests ({args.concurrency} in flight)")
        if args.bare_wide:
            print(f"bare:   {middle['bare_wide_s']:.2f}s ({args.bare_wide} in flight)")
        print(f"CPU:    koppel {result['koppel_cpu_s']}s, bare {result['bare_cpu_s']}s: {result['cpu_ratio']}")
        print(
            f"ratio:  {result['ratio']}, requests {result['requests_ratio']}, peak RSS {result['peak_rss_mb']} MB"
            f" (Koppel's first round alone: {result['koppel_peak_rss_mb']} MB)"
        )
        print(f"load average (1/5/15 min) before → after: {result['load_average']}")
        if len(rounds) > 1:
            print(f"(the median of {len(rounds)} rounds: {', '.join(str(r['ratio']) for r in result['rounds'])})")
        print("  koppel    bare  request")
        for key in sorted(set(koppel_calls) | set(bare_calls)):
            print(f"  {koppel_calls.get(key, 0):6d}  {bare_calls.get(key, 0):6d}  {key}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
